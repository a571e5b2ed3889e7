// Background upkeep: idle and lifetime reaping, minPoolSize, LIFO reuse, unref'd timer.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { PoolFixture, readyPool } from '../../fixtures/cmap-pool-fixture.js';
import { waitFor } from '../../fixtures/wait.js';

/**
 * Idle and lifetime expiry is a timer armed for the expiry itself; the
 * periodic maintenance run (maintenanceIntervalMS) only rechecks. With the
 * interval at a minute, a reap within the 10 s deadline can only come from
 * that timer, so no upper bound on the time is needed (or asserted: a loaded
 * machine can delay any timer); the lower bound shows it is not early.
 */
const LONG_INTERVAL_MS = 60_000;
const REAP_WAIT_MS = 10_000;

describe('pool upkeep', () => {
  it('closes idle connections at maxIdleTimeMS, without a checkout, not before', async () => {
    const fixture = readyPool({ maxIdleTimeMS: 100, maintenanceIntervalMS: LONG_INTERVAL_MS });
    const { pool } = fixture;
    const conns = await fixture.checkOutMany(2);
    const idleAt = performance.now();
    for (const c of conns) pool.checkIn(c);
    const closed = await fixture.waitFor('ConnectionClosed', 2, REAP_WAIT_MS);
    const elapsed = performance.now() - idleAt;
    assert.deepEqual(
      closed.map((e) => e.reason),
      ['idle', 'idle'],
    );
    assert.ok(elapsed >= 100, `reaped ${elapsed} ms after check-in, before maxIdleTimeMS`);
    assert.equal(pool.stats().idleClosed, 2);
    assert.equal(pool.stats().open, 0);
    assert.ok(conns.every((c) => c.isClosed));
    await pool.destroy();
  });

  it('closes an idle connection at maxLifetimeMS, not before', async () => {
    const fixture = readyPool({ maxLifetimeMS: 150, maintenanceIntervalMS: LONG_INTERVAL_MS });
    const { pool } = fixture;
    const createdAt = performance.now();
    pool.checkIn(await pool.checkOut());
    const [closed] = await fixture.waitFor('ConnectionClosed', 1, REAP_WAIT_MS);
    const elapsed = performance.now() - createdAt;
    assert.equal(closed!.reason, 'lifetime');
    assert.ok(elapsed >= 150, `reaped ${elapsed} ms after creation, before maxLifetimeMS`);
    assert.equal(pool.stats().lifetimeClosed, 1);
    await pool.destroy();
  });

  it('closes a connection past maxLifetimeMS at check-in', async () => {
    const fixture = readyPool({ maxLifetimeMS: 40 });
    const { pool } = fixture;
    const conn = await pool.checkOut();
    await sleep(60);
    pool.checkIn(conn);
    assert.equal(fixture.of('ConnectionClosed')[0]?.reason, 'lifetime');
    assert.ok(conn.isClosed);
    assert.equal(pool.stats().open, 0);
    await pool.destroy();
  });

  it('reuses the most recently checked-in connection first', async () => {
    const fixture = readyPool();
    const { pool } = fixture;
    const [a, b, c] = await fixture.checkOutMany(3);
    pool.checkIn(a!);
    pool.checkIn(b!);
    pool.checkIn(c!);
    assert.equal(await pool.checkOut(), c);
    assert.equal(await pool.checkOut(), b);
    await pool.destroy();
  });

  it('opens minPoolSize connections only once ready, paced by maxConnecting', async () => {
    const fixture = new PoolFixture({ minPoolSize: 4, maxConnecting: 1, delayMS: 10 });
    const { pool } = fixture;
    await sleep(30);
    assert.equal(fixture.connector.dials, 0, 'a paused pool does not populate');
    pool.ready();
    await fixture.waitFor('ConnectionReady', 4);
    assert.equal(fixture.connector.maxDialing, 1);
    assert.deepEqual(
      { open: pool.stats().open, idle: pool.stats().idle },
      { open: 4, idle: 4 },
    );
    await sleep(30);
    assert.equal(fixture.connector.dials, 4, 'no more than minPoolSize');
    await pool.destroy();
  });

  it('refills minPoolSize after connections close', async () => {
    const fixture = readyPool({ minPoolSize: 2 });
    const { pool } = fixture;
    await fixture.waitFor('ConnectionReady', 2);
    const conn = await pool.checkOut();
    conn.fail();
    pool.checkIn(conn);
    await fixture.waitFor('ConnectionReady', 3);
    assert.equal(pool.stats().open, 2);
    assert.equal(pool.stats().errorClosed, 1);
    await pool.destroy();
  });

  it('reports a failed background dial and does not redial in a loop', async () => {
    const failedAt: number[] = [];
    const fixture = readyPool({
      minPoolSize: 1,
      maintenanceIntervalMS: 100,
      failWith: () => new Error('ECONNREFUSED'),
      onBackgroundError: () => failedAt.push(performance.now()),
    });
    // Not in a loop: the next try waits for the next maintenance run, so
    // consecutive failures are at least maintenanceIntervalMS apart (a lower
    // bound: a loaded machine can only make them further apart).
    await waitFor('three failed background dials', () => failedAt.length >= 3, 10_000);
    await fixture.pool.destroy();
    for (let i = 1; i < failedAt.length; i++) {
      const gap = failedAt[i]! - failedAt[i - 1]!;
      assert.ok(gap >= 90, `background dial ${i + 1} failed ${gap.toFixed(1)} ms after the one before`);
    }
    assert.equal(fixture.connector.dials, failedAt.length, 'every dial reported, one at a time');
  });

  it('does not keep the process alive while idle (unref’d timer)', () => {
    const script = resolve(import.meta.dirname, '../../fixtures/idle-pool-exits.ts');
    // The pool's timers are a minute long (idle-pool-exits.ts); a ref'd one would hold the child past the kill.
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { timeout: 30_000, encoding: 'utf8' });
    assert.equal(child.error, undefined, `${String(child.error)}: the child did not exit by itself within 30 s`);
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /idle 2/);
  });
});
