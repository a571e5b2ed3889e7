// The connection limit is exact, counting dials, however many callers race.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { outcome, readyPool, type TestPoolOptions } from '../../fixtures/cmap-pool-fixture.js';
import { gate } from '../../fixtures/cmap-fake-connection.js';
import { withTimeout } from '../../fixtures/wait.js';

const randomInt = (max: number): number => Math.floor(Math.random() * (max + 1));

/**
 * `callers` tasks each check out, hold for a random time, sometimes break the
 * connection, and check in. Tracks the most connections ever counted by the
 * pool's own events, next to the fake connector's independent socket count.
 */
async function race(options: TestPoolOptions, callers: number, breakEvery = 0): Promise<{ maxByEvents: number; fixture: ReturnType<typeof readyPool> }> {
  const fixture = readyPool({ waitQueueTimeoutMS: 20_000, delayMS: () => randomInt(3), ...options });
  const { pool } = fixture;
  let open = 0;
  let maxByEvents = 0;
  pool.on('ConnectionCreated', () => (maxByEvents = Math.max(maxByEvents, ++open)));
  pool.on('ConnectionClosed', () => open--);
  // Bounded in time (not a speed claim: a hang fails here, not at the runner's timeout).
  await withTimeout(
    Promise.all(
      Array.from({ length: callers }, async (_, i) => {
        const conn = await pool.checkOut();
        if (randomInt(1) === 1) await sleep(randomInt(2));
        if (breakEvery > 0 && i % breakEvery === 0) conn.fail();
        pool.checkIn(conn);
      }),
    ),
    30_000,
    `${callers} racing checkouts`,
  );
  return { maxByEvents, fixture };
}

describe('pool limit', () => {
  it('never exceeds maxPoolSize with 1000 racing checkouts and random dial delays', async () => {
    const { maxByEvents, fixture } = await race({ maxPoolSize: 10, maxConnecting: 10 }, 1000);
    assert.ok(fixture.connector.maxOpen <= 10, `fake sockets peaked at ${fixture.connector.maxOpen}`);
    assert.ok(maxByEvents <= 10, `pool events counted ${maxByEvents}`);
    // It did reach the limit: the race is real.
    assert.equal(fixture.connector.maxOpen, 10);
    assert.equal(fixture.pool.stats().open, fixture.connector.open);
    await fixture.pool.destroy();
    assert.equal(fixture.connector.open, 0);
  });

  it('stays exact while connections break and are re-dialled', async () => {
    const { maxByEvents, fixture } = await race({ maxPoolSize: 5, maxConnecting: 3 }, 1000, 7);
    assert.ok(fixture.connector.maxOpen <= 5, `fake sockets peaked at ${fixture.connector.maxOpen}`);
    assert.ok(maxByEvents <= 5);
    assert.ok(fixture.connector.dials > 100, 'broken connections were replaced');
    assert.equal(fixture.pool.stats().errorClosed, fixture.connector.dials - fixture.pool.stats().open);
    await fixture.pool.destroy();
  });

  it('holds a limit of 1 against 1000 callers', async () => {
    const { fixture } = await race({ maxPoolSize: 1 }, 1000);
    assert.equal(fixture.connector.maxOpen, 1);
    assert.equal(fixture.connector.dials, 1);
    await fixture.pool.destroy();
  });

  it('releases the permit when a dial fails', async () => {
    let fail = true;
    const fixture = readyPool({ maxPoolSize: 1, failWith: () => (fail ? new Error('connect ECONNREFUSED') : undefined) });
    const { pool } = fixture;
    const first = await outcome(pool.checkOut());
    assert.equal(first.ok, false);
    assert.match(String((first as { error: Error }).error.message), /ECONNREFUSED/);
    assert.equal(pool.stats().open, 0);
    assert.deepEqual(
      fixture.of('ConnectionClosed').map((e) => e.reason),
      ['error'],
    );
    assert.equal(fixture.of('ConnectionCheckOutFailed')[0]!.reason, 'connectionError');
    fail = false;
    const conn = await pool.checkOut();
    assert.equal(conn.id, 2);
    assert.equal(pool.stats().errorClosed, 1);
    await pool.destroy();
  });

  it('gives the freed permit to the next waiter after a failed dial', async () => {
    const fixture = readyPool({ maxPoolSize: 1, delayMS: 5, failWith: (init) => (init.id === 1 ? new Error('boom') : undefined) });
    const { pool } = fixture;
    const a = outcome(pool.checkOut());
    const b = pool.checkOut();
    const c = pool.checkOut();
    assert.equal((await a).ok, false);
    const connB = await b;
    assert.equal(connB.id, 2);
    pool.checkIn(connB);
    assert.equal((await c).id, 2, 'hand-off, no new dial');
    assert.equal(fixture.connector.maxOpen, 1);
    await pool.destroy();
  });

  it('bounds concurrent dials by maxConnecting', async () => {
    const fixture = readyPool({ maxPoolSize: 50, maxConnecting: 3, delayMS: 20 });
    const conns = await Promise.all(Array.from({ length: 20 }, () => fixture.pool.checkOut()));
    assert.equal(conns.length, 20);
    assert.equal(fixture.connector.maxDialing, 3);
    assert.equal(new Set(conns.map((c) => c.id)).size, 20);
    await fixture.pool.destroy();
  });

  it('gives a connection checked in during a dial-slot wait to the waiting caller', async () => {
    const dial = gate();
    const fixture = readyPool({ maxPoolSize: 10, maxConnecting: 1, holdUntil: (init) => (init.id === 1 ? undefined : dial.promise) });
    const { pool } = fixture;
    const conn0 = await pool.checkOut();
    const dialer = pool.checkOut(); // takes the only dial slot, held open
    const waiter = pool.checkOut(); // waits for a slot
    await fixture.waitFor('ConnectionCreated', 2);
    assert.equal(pool.waiting, 1);
    pool.checkIn(conn0);
    assert.equal(await waiter, conn0, 'served by the check-in while the dial is still held');
    dial.open();
    assert.equal((await dialer).id, 2);
    assert.equal(fixture.connector.dials, 2);
    await pool.destroy();
  });

  it('treats maxPoolSize 0 as unlimited', async () => {
    const fixture = readyPool({ maxPoolSize: 0, maxConnecting: 1000 });
    const conns = await Promise.all(Array.from({ length: 300 }, () => fixture.pool.checkOut()));
    assert.equal(fixture.pool.stats().open, 300);
    assert.equal(fixture.pool.stats().maxOpen, 0);
    for (const c of conns) fixture.pool.checkIn(c);
    await fixture.pool.destroy();
  });
});
