// Background upkeep: idle and lifetime reaping, minPoolSize, LIFO reuse, unref'd timer.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { PoolFixture, readyPool } from '../../fixtures/cmap-pool-fixture.js';

/** Margin for "within 1 s of expiry", minus headroom for a loaded CI machine. */
const REAP_MARGIN_MS = 900;

describe('pool upkeep', () => {
  it('closes idle connections within a second of maxIdleTimeMS, without a checkout', async () => {
    const fixture = readyPool({ maxIdleTimeMS: 100 });
    const { pool } = fixture;
    const conns = await fixture.checkOutMany(2);
    const idleAt = performance.now();
    for (const c of conns) pool.checkIn(c);
    const closed = await fixture.waitFor('ConnectionClosed', 2, 100 + REAP_MARGIN_MS + 500);
    const elapsed = performance.now() - idleAt;
    assert.deepEqual(
      closed.map((e) => e.reason),
      ['idle', 'idle'],
    );
    assert.ok(elapsed >= 100 && elapsed < 100 + REAP_MARGIN_MS, `reaped ${elapsed} ms after check-in`);
    assert.equal(pool.stats().idleClosed, 2);
    assert.equal(pool.stats().open, 0);
    assert.ok(conns.every((c) => c.isClosed));
    await pool.destroy();
  });

  it('closes an idle connection within a second of maxLifetimeMS', async () => {
    const fixture = readyPool({ maxLifetimeMS: 150 });
    const { pool } = fixture;
    const createdAt = performance.now();
    pool.checkIn(await pool.checkOut());
    const [closed] = await fixture.waitFor('ConnectionClosed', 1, 150 + REAP_MARGIN_MS + 500);
    const elapsed = performance.now() - createdAt;
    assert.equal(closed!.reason, 'lifetime');
    assert.ok(elapsed >= 145 && elapsed < 150 + REAP_MARGIN_MS, `reaped ${elapsed} ms after creation`);
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
    const errors: unknown[] = [];
    const fixture = readyPool({
      minPoolSize: 1,
      maintenanceIntervalMS: 100,
      failWith: () => new Error('ECONNREFUSED'),
      onBackgroundError: (error) => errors.push(error),
    });
    await sleep(250);
    assert.ok(errors.length >= 1 && errors.length <= 4, `${errors.length} background errors in 250 ms`);
    assert.ok(fixture.connector.dials <= 4, `${fixture.connector.dials} dials in 250 ms`);
    await fixture.pool.destroy();
  });

  it('does not keep the process alive while idle (unref’d timer)', () => {
    const script = resolve(import.meta.dirname, '../../fixtures/idle-pool-exits.ts');
    const started = performance.now();
    const child = spawnSync(process.execPath, ['--import', 'tsx', script], { timeout: 20_000, encoding: 'utf8' });
    assert.equal(child.error, undefined, String(child.error));
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /idle 2/);
    assert.ok(performance.now() - started < 15_000);
  });
});
