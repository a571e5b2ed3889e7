// stats() and the typed event API.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { POOL_EVENT_TYPES, type ConnectionCheckedOutEvent } from '../../../src/pool/index.js';
import { outcome, PoolFixture, readyPool, TEST_ADDRESS } from '../../fixtures/cmap-pool-fixture.js';
import { withTimeout } from '../../fixtures/wait.js';

describe('pool stats', () => {
  it('reports counts and cumulative counters', async () => {
    const fixture = readyPool({ maxPoolSize: 2, maxIdleTimeMS: 30, maxLifetimeMS: 0, waitQueueTimeoutMS: 40, delayMS: 10 });
    const { pool } = fixture;
    assert.deepEqual(pool.stats(), {
      maxOpen: 2, open: 0, inUse: 0, idle: 0, connecting: 0,
      waitCount: 0, waitDurationMS: 0, timeouts: 0, idleClosed: 0, lifetimeClosed: 0, errorClosed: 0,
    });

    const dialing = pool.checkOut();
    assert.deepEqual({ open: pool.stats().open, connecting: pool.stats().connecting }, { open: 1, connecting: 1 });
    const a = await dialing;
    const b = await pool.checkOut();
    assert.deepEqual({ open: pool.stats().open, inUse: pool.stats().inUse, connecting: pool.stats().connecting }, { open: 2, inUse: 2, connecting: 0 });

    // One wait that is served after 20 ms or more, one that times out after 40 ms or more.
    // (The 20 ms timer fires before the 40 ms queue timer, however late both are.)
    const served = pool.checkOut();
    setTimeout(() => pool.checkIn(a), 20);
    const c = await withTimeout(served, 10_000, 'the served wait');
    assert.equal(c, a);
    const timedOut = await withTimeout(outcome(pool.checkOut()), 10_000, 'the wait that times out');
    assert.equal(timedOut.ok, false);
    let stats = pool.stats();
    assert.equal(stats.waitCount, 2);
    assert.ok(stats.waitDurationMS >= 55, `waitDurationMS ${stats.waitDurationMS}: less than the two waits`);
    assert.equal(stats.timeouts, 1);

    b.fail();
    pool.checkIn(b);
    pool.checkIn(c);
    stats = pool.stats();
    assert.deepEqual({ open: stats.open, idle: stats.idle, inUse: stats.inUse, errorClosed: stats.errorClosed }, { open: 1, idle: 1, inUse: 0, errorClosed: 1 });
    await fixture.waitFor('ConnectionClosed', 2);
    assert.equal(pool.stats().idleClosed, 1);
    assert.equal(pool.stats().open, 0);
    await pool.destroy();
  });
});

describe('pool events', () => {
  it('emits typed events with address, ids and durations', async () => {
    const fixture = new PoolFixture({ maxPoolSize: 5, minPoolSize: 0, delayMS: 15 });
    const { pool } = fixture;
    const created = fixture.of('ConnectionPoolCreated')[0]!;
    assert.deepEqual(created, { type: 'ConnectionPoolCreated', address: TEST_ADDRESS, options: { maxPoolSize: 5, minPoolSize: 0 } });
    pool.ready();
    const conn = await pool.checkOut();
    pool.checkIn(conn);
    assert.deepEqual(
      fixture.events.map((e) => e.type),
      ['ConnectionPoolCreated', 'ConnectionPoolReady', 'ConnectionCheckOutStarted', 'ConnectionCreated', 'ConnectionReady', 'ConnectionCheckedOut', 'ConnectionCheckedIn'],
    );
    const ready = fixture.of('ConnectionReady')[0]!;
    const checkedOut = fixture.of('ConnectionCheckedOut')[0]!;
    assert.ok(ready.durationMS >= 14, `ready after ${ready.durationMS} ms`);
    assert.ok(checkedOut.durationMS >= ready.durationMS, 'checkout includes the dial');
    assert.ok(fixture.events.every((e) => e.address === TEST_ADDRESS));
    assert.equal(structuredClone(checkedOut).connectionId, 1, 'events are plain, cloneable objects');
    await pool.destroy();
  });

  it('supports on/once/off per event type', async () => {
    const fixture = readyPool();
    const { pool } = fixture;
    const seen: number[] = [];
    const onOut = (e: ConnectionCheckedOutEvent): void => void seen.push(e.connectionId);
    let onceCount = 0;
    pool.on('ConnectionCheckedOut', onOut).once('ConnectionCheckedOut', () => onceCount++);
    assert.equal(pool.listenerCount('ConnectionCheckedOut'), 2);
    pool.checkIn(await pool.checkOut());
    pool.checkIn(await pool.checkOut());
    assert.deepEqual(seen, [1, 1]);
    assert.equal(onceCount, 1);
    pool.off('ConnectionCheckedOut', onOut);
    assert.equal(pool.listenerCount('ConnectionCheckedOut'), 0);
    assert.equal(POOL_EVENT_TYPES.length, 11);
    await pool.destroy();
  });

  it('builds no event for a monitor that does not want them (monitorWanted), and does again once it does', async () => {
    let wanted = false;
    let asked = 0;
    const fixture = new PoolFixture({
      monitorWanted: () => {
        asked++;
        return wanted;
      },
    });
    const { pool } = fixture;
    pool.ready();
    pool.checkIn(await pool.checkOut());
    assert.ok(asked >= 5, `asked ${asked} times`);
    assert.equal(fixture.events.length, 0, 'nobody wanted them: none built');
    wanted = true;
    pool.checkIn(await pool.checkOut());
    assert.deepEqual(
      fixture.events.map((e) => e.type),
      ['ConnectionCheckOutStarted', 'ConnectionCheckedOut', 'ConnectionCheckedIn'],
    );
    await pool.destroy();
  });

  it('a throwing listener does not corrupt the pool; its error surfaces on the next tick', async () => {
    const fixture = readyPool();
    const { pool } = fixture;
    pool.on('ConnectionCheckedIn', () => {
      throw new Error('listener bug');
    });
    const deferred: (() => void)[] = [];
    const originalNextTick = process.nextTick;
    process.nextTick = ((fn: () => void) => void deferred.push(fn)) as typeof process.nextTick;
    let conn;
    try {
      conn = await pool.checkOut();
      pool.checkIn(conn);
    } finally {
      process.nextTick = originalNextTick;
    }
    assert.equal(deferred.length, 1);
    assert.throws(deferred[0]!, /listener bug/);
    assert.equal(pool.stats().idle, 1, 'the check-in completed');
    assert.equal(await pool.checkOut(), conn);
    await sleep(1);
    await pool.destroy();
  });
});
