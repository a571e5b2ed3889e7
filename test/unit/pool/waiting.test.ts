// Waiting for a connection: FIFO, hand-off on check-in, timeout, abort.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { PoolTimeoutError } from '../../../src/errors.js';
import { gate } from '../../fixtures/cmap-fake-connection.js';
import { outcome, readyPool, TEST_ADDRESS } from '../../fixtures/cmap-pool-fixture.js';
import { withTimeout } from '../../fixtures/wait.js';

describe('pool wait queue', () => {
  it('serves waiters in the order they arrived', async () => {
    const { pool } = readyPool({ maxPoolSize: 1 });
    let conn = await pool.checkOut();
    const order: number[] = [];
    const waiters = Array.from({ length: 20 }, (_, i) =>
      pool.checkOut().then((c) => {
        order.push(i);
        return c;
      }),
    );
    assert.equal(pool.waiting, 20);
    for (const waiter of waiters) {
      pool.checkIn(conn);
      conn = await waiter;
    }
    assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i));
    pool.checkIn(conn);
    await pool.destroy();
  });

  it('hands a checked-in connection straight to the oldest waiter; a newcomer cannot overtake', async () => {
    const fixture = readyPool({ maxPoolSize: 1 });
    const { pool } = fixture;
    const conn = await pool.checkOut();
    const waiter = pool.checkOut();
    pool.checkIn(conn);
    const newcomer = pool.checkOut(); // issued right after the check-in, before the waiter resumed
    assert.equal(pool.waiting, 1, 'the newcomer queues');
    const got = await waiter;
    assert.equal(got, conn, 'same connection, no dial');
    assert.equal(fixture.connector.dials, 1);
    const types = fixture.events.map((e) => e.type);
    const checkedIn = types.indexOf('ConnectionCheckedIn');
    assert.equal(types[checkedIn + 1], 'ConnectionCheckedOut');
    pool.checkIn(got);
    assert.equal(await newcomer, conn);
    await pool.destroy();
  });

  it('times out with a PoolTimeoutError naming the pool state, not before waitQueueTimeoutMS', async () => {
    const fixture = readyPool({ maxPoolSize: 2, waitQueueTimeoutMS: 60 });
    const { pool } = fixture;
    const held = await fixture.checkOutMany(2);
    const started = performance.now();
    const first = outcome(pool.checkOut());
    // Timers run in deadline order: the second queues before the first's 60 ms are up, however late both fire.
    await sleep(15);
    const second = outcome(pool.checkOut());
    const result = await withTimeout(first, 10_000, 'the first checkout timing out');
    const elapsed = performance.now() - started;
    assert.equal(result.ok, false);
    const error = (result as { error: unknown }).error;
    assert.ok(error instanceof PoolTimeoutError);
    assert.equal(error.code, 'ERR_POOL_TIMEOUT');
    assert.equal(error.address, TEST_ADDRESS);
    assert.ok(elapsed >= 60, `timed out after ${elapsed} ms, before waitQueueTimeoutMS`);
    assert.match(error.message, /^Timed out while checking out a connection from connection pool/);
    assert.ok(error.message.includes(TEST_ADDRESS));
    assert.match(error.message, /after \d+ ms/);
    assert.match(error.message, /maxPoolSize 2: 2 open, 2 in use, 0 idle, 0 connecting; 2 waiting including this one/);
    assert.equal((await withTimeout(second, 10_000, 'the second checkout timing out')).ok, false);
    assert.deepEqual(
      fixture.of('ConnectionCheckOutFailed').map((e) => e.reason),
      ['timeout', 'timeout'],
    );
    assert.equal(pool.stats().timeouts, 2);
    assert.equal(pool.waiting, 0);
    for (const c of held) pool.checkIn(c);
    await pool.destroy();
  });

  it('times a later waiter out at its own deadline after the head was served early', async () => {
    // The queue timer is armed for the head's deadline and left alone when
    // the head leaves early; when it fires it must re-arm for the next
    // waiter's own deadline, neither failing it then nor forgetting it.
    // The head is served at once (no race with its deadline); the second
    // queues later, while the head's timer is still armed, and must wait its
    // full waitQueueTimeoutMS (a lower bound, however loaded the machine).
    const { pool } = readyPool({ maxPoolSize: 1, waitQueueTimeoutMS: 500 });
    const conn = await pool.checkOut();
    const first = pool.checkOut();
    pool.checkIn(conn);
    const served = await first;
    await sleep(50);
    const secondStarted = performance.now();
    const result = await withTimeout(outcome(pool.checkOut()), 10_000, 'the second waiter timing out');
    const waited = performance.now() - secondStarted;
    assert.ok(result.ok === false && result.error instanceof PoolTimeoutError);
    assert.ok(waited >= 500, `second waiter timed out after ${waited} ms, before its own deadline`);
    pool.checkIn(served);
    await pool.destroy();
  });

  it('leaves the queue when the caller aborts', async () => {
    const fixture = readyPool({ maxPoolSize: 1 });
    const { pool } = fixture;
    const conn = await pool.checkOut();
    const controller = new AbortController();
    const aborted = outcome(pool.checkOut({ signal: controller.signal }));
    const next = pool.checkOut();
    assert.equal(pool.waiting, 2);
    controller.abort(new Error('deadline'));
    const result = await aborted;
    assert.equal(result.ok, false);
    assert.equal((result as { error: Error }).error.message, 'deadline');
    assert.equal(pool.waiting, 1);
    pool.checkIn(conn);
    assert.equal(await next, conn, 'the aborted caller did not take a turn');
    // An already aborted signal fails at once.
    const pre = await outcome(pool.checkOut({ signal: AbortSignal.abort() }));
    assert.equal(pre.ok, false);
    assert.equal(fixture.of('ConnectionCheckOutFailed').length, 2);
    await pool.destroy();
  });

  it('lets a dial outlive an aborted checkout; the connection joins the pool', async () => {
    const dial = gate();
    const fixture = readyPool({ holdUntil: () => dial.promise });
    const { pool } = fixture;
    const controller = new AbortController();
    const aborted = outcome(pool.checkOut({ signal: controller.signal }));
    await fixture.waitFor('ConnectionCreated');
    controller.abort();
    assert.equal((await aborted).ok, false);
    dial.open();
    await fixture.waitFor('ConnectionReady');
    assert.equal(pool.stats().idle, 1);
    const conn = await pool.checkOut();
    assert.equal(conn.id, 1);
    assert.equal(fixture.connector.dials, 1);
    await pool.destroy();
  });

  it('fails fast on a paused pool without queueing', async () => {
    const fixture = readyPool();
    fixture.pool.clear();
    const result = await outcome(fixture.pool.checkOut());
    assert.equal(result.ok, false);
    assert.equal((result as { error: Error }).error.name, 'PoolClearedError');
    assert.equal(fixture.pool.stats().waitCount, 0);
    await fixture.pool.destroy();
  });
});
