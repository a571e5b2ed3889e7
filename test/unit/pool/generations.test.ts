// clear(), generations, stale and errored connections, ready().

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { NetworkError, PoolClearedError } from '../../../src/errors.js';
import { Pool } from '../../../src/pool/index.js';
import { FakeConnection, gate } from '../../fixtures/cmap-fake-connection.js';
import { outcome, readyPool } from '../../fixtures/cmap-pool-fixture.js';
import { withTimeout } from '../../fixtures/wait.js';

describe('pool generations', () => {
  it('clear() pauses, fails waiters, closes idle now and checked-out ones at check-in', async () => {
    const fixture = readyPool({ maxPoolSize: 2 });
    const { pool } = fixture;
    const [kept, returned] = await fixture.checkOutMany(2);
    pool.checkIn(returned!);
    const busy = await pool.checkOut(); // the idle one again
    const waiter = outcome(pool.checkOut());
    const cause = new NetworkError('ERR_NETWORK', 'connection reset by peer');
    pool.clear({ cause });

    assert.equal(pool.generation, 1);
    assert.equal(pool.state, 'paused');
    const failed = await waiter;
    assert.equal(failed.ok, false);
    const error = (failed as { error: unknown }).error;
    assert.ok(error instanceof PoolClearedError);
    assert.equal(error.code, 'ERR_POOL_CLEARED');
    assert.ok(error.hasErrorLabel('RetryableWriteError'));
    assert.match(error.message, /was cleared because another operation failed with: connection reset by peer/);
    assert.equal(fixture.of('ConnectionCheckOutFailed')[0]?.reason, 'connectionError');

    pool.checkIn(busy);
    pool.checkIn(kept!);
    assert.deepEqual(
      fixture.of('ConnectionClosed').map((e) => e.reason),
      ['stale', 'stale'],
    );
    assert.equal(pool.stats().open, 0);

    // Paused: checkouts fail fast until ready().
    assert.equal((await outcome(pool.checkOut())).ok, false);
    pool.ready();
    const fresh = await pool.checkOut();
    assert.equal(fresh.generation, 1);
    await pool.destroy();
  });

  it('closes stale idle connections at clear() time', async () => {
    const fixture = readyPool({ maxIdleTimeMS: 0 });
    const { pool } = fixture;
    const conns = await fixture.checkOutMany(3);
    for (const c of conns) pool.checkIn(c);
    pool.clear();
    assert.equal(pool.stats().idle, 0);
    assert.ok(conns.every((c) => c.isClosed));
    assert.equal(fixture.of('ConnectionPoolCleared').length, 1);
    // Clearing a paused pool emits nothing but still bumps the generation (CMAP).
    pool.clear();
    assert.equal(fixture.of('ConnectionPoolCleared').length, 1);
    assert.equal(pool.generation, 2);
    await pool.destroy();
  });

  it('interrupts checked-out connections and pending dials with interruptInUseConnections', async () => {
    // The second dial is held until the test ends: only an abort can settle its checkout.
    const never = gate();
    const fixture = readyPool({ holdUntil: (init) => (init.id === 1 ? undefined : never.promise) });
    const { pool } = fixture;
    const inUse = await pool.checkOut();
    const dialing = outcome(pool.checkOut());
    await fixture.waitFor('ConnectionCreated', 2);
    pool.clear({ interruptInUseConnections: true });
    assert.equal(fixture.of('ConnectionPoolCleared')[0]?.interruptInUseConnections, true);
    assert.ok(inUse.isClosed);
    assert.ok(inUse.destroyReason instanceof PoolClearedError);
    assert.match(inUse.destroyReason.message, /interrupted due to server monitor timeout/);

    const result = await withTimeout(dialing, 10_000, 'the interrupted dial (aborted, not awaited)');
    assert.equal(result.ok, false);
    assert.ok((result as { error: unknown }).error instanceof PoolClearedError);
    pool.checkIn(inUse);
    assert.deepEqual(
      fixture.of('ConnectionClosed').map((e) => [e.connectionId, e.reason]),
      [
        [2, 'stale'],
        [1, 'stale'],
      ],
    );
    assert.equal(fixture.connector.open, 0);
    await pool.destroy();
  });

  it('discards a dial that completes after a clear; its checkout fails retryably', async () => {
    const dial = gate();
    const fixture = readyPool({ holdUntil: () => dial.promise });
    const { pool } = fixture;
    const pending = outcome(pool.checkOut());
    await fixture.waitFor('ConnectionCreated');
    pool.clear();
    pool.ready();
    dial.open();
    const result = await pending;
    assert.equal(result.ok, false);
    assert.ok((result as { error: unknown }).error instanceof PoolClearedError);
    assert.equal(fixture.of('ConnectionClosed')[0]?.reason, 'stale');
    assert.equal(fixture.of('ConnectionReady').length, 0, 'never offered as ready');
    assert.equal(pool.stats().open, 0);
    await pool.destroy();
  });

  it('discards a connection that is closed at check-in and frees its permit', async () => {
    const fixture = readyPool({ maxPoolSize: 1 });
    const { pool } = fixture;
    const conn = await pool.checkOut();
    const waiter = pool.checkOut();
    conn.fail();
    pool.checkIn(conn);
    assert.equal(fixture.of('ConnectionClosed')[0]?.reason, 'error');
    const next = await waiter;
    assert.notEqual(next, conn);
    assert.equal(pool.stats().errorClosed, 1);
    assert.equal(fixture.connector.maxOpen, 1);
    await pool.destroy();
  });

  it('skips an idle connection that died while idle', async () => {
    const fixture = readyPool();
    const { pool } = fixture;
    const conn = await pool.checkOut();
    pool.checkIn(conn);
    conn.fail();
    const next = await pool.checkOut();
    assert.notEqual(next, conn);
    assert.equal(fixture.of('ConnectionClosed')[0]?.reason, 'error');
    await pool.destroy();
  });

  it('fails the checkout when a dial resolves with an already closed connection', async () => {
    const closedEvents: string[] = [];
    const pool = new Pool<FakeConnection>({
      address: 'db.example:27017',
      maxPoolSize: 1,
      connect: async ({ id, generation, address }) => {
        const conn = new FakeConnection(id, generation, address, () => {});
        if (id === 1) conn.fail(); // died during its handshake
        return conn;
      },
      monitor: (e) => void (e.type === 'ConnectionClosed' && closedEvents.push(e.reason)),
    });
    pool.ready();
    const result = await outcome(pool.checkOut());
    assert.ok(result.ok === false && result.error instanceof NetworkError);
    assert.equal(result.error.code, 'ERR_CONNECTION_CLOSED');
    assert.deepEqual(closedEvents, ['error']);
    assert.equal((await pool.checkOut()).id, 2, 'the permit was released');
    await pool.destroy();
  });

  it('ready() is a no-op unless paused', async () => {
    const fixture = readyPool();
    fixture.pool.ready();
    assert.equal(fixture.of('ConnectionPoolReady').length, 1);
    await fixture.pool.close();
    fixture.pool.ready();
    assert.equal(fixture.pool.state, 'closed');
  });
});
