// close() drains, destroy() aborts, check-in rules.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { PoolClosedError } from '../../../src/errors.js';
import { FakeConnection, gate } from '../../fixtures/cmap-fake-connection.js';
import { outcome, readyPool } from '../../fixtures/cmap-pool-fixture.js';
import { withTimeout } from '../../fixtures/wait.js';

describe('pool close and destroy', () => {
  it('close() rejects waiters and closes idle connections now', async () => {
    const fixture = readyPool({ maxPoolSize: 1 });
    const { pool } = fixture;
    const conn = await pool.checkOut();
    const queued = outcome(pool.checkOut());
    void pool.close();
    const failed = await queued;
    assert.ok((failed as { error: unknown }).error instanceof PoolClosedError);
    assert.equal(fixture.of('ConnectionCheckOutFailed')[0]?.reason, 'poolClosed');
    pool.checkIn(conn);
    assert.ok(conn.isClosed);
  });

  it('close() resolves once checked-out connections come back', async () => {
    const fixture = readyPool();
    const { pool } = fixture;
    const [a, b, c] = await fixture.checkOutMany(3);
    pool.checkIn(c!);
    let drained = false;
    const closing = pool.close().then(() => (drained = true));
    assert.ok(c!.isClosed, 'idle connection closed at once');
    assert.equal(fixture.of('ConnectionPoolClosed').length, 1);
    await sleep(5);
    assert.equal(drained, false, 'still waiting for checked-out connections');
    pool.checkIn(a!);
    assert.ok(a!.isClosed);
    pool.checkIn(b!);
    await closing;
    assert.ok(fixture.of('ConnectionClosed').every((e) => e.reason === 'poolClosed'));
    assert.equal(fixture.connector.open, 0);

    const after = await outcome(pool.checkOut());
    assert.match(String((after as { error: Error }).error.message), /^Attempted to check out a connection from closed connection pool/);
    await pool.close(); // idempotent
    assert.equal(fixture.of('ConnectionPoolClosed').length, 1);
  });

  it('close() waits for a dial in progress and fails its checkout', async () => {
    const dial = gate();
    const fixture = readyPool({ holdUntil: () => dial.promise });
    const { pool } = fixture;
    const pending = outcome(pool.checkOut());
    await fixture.waitFor('ConnectionCreated');
    let drained = false;
    const closing = pool.close().then(() => (drained = true));
    await sleep(5);
    assert.equal(drained, false, 'waits for the dial');
    dial.open();
    await closing;
    const result = await pending;
    assert.ok((result as { error: unknown }).error instanceof PoolClosedError);
    assert.equal(fixture.of('ConnectionClosed')[0]?.reason, 'poolClosed');
    assert.equal(fixture.connector.open, 0);
  });

  it('destroy() aborts checked-out connections, dials and waiters now', async () => {
    // The second dial is held for good: destroy() settles only if it aborts it rather than awaiting it.
    const never = gate();
    const fixture = readyPool({ maxPoolSize: 2, holdUntil: (init) => (init.id === 1 ? undefined : never.promise) });
    const { pool } = fixture;
    const inUse = await pool.checkOut();
    const dialing = outcome(pool.checkOut());
    const waiting = outcome(pool.checkOut());
    await fixture.waitFor('ConnectionCreated', 2);
    await withTimeout(pool.destroy(), 10_000, 'destroy() with a dial held');
    assert.ok(inUse.isClosed);
    assert.equal((await dialing).ok, false);
    assert.equal((await waiting).ok, false);
    assert.equal(fixture.connector.open, 0);
    assert.equal(pool.stats().open, 0);
    // The destroyed connection's check-in is still accepted, once.
    pool.checkIn(inUse);
    assert.throws(() => pool.checkIn(inUse), /not checked out/);
    await pool.destroy(); // idempotent
    assert.equal(fixture.of('ConnectionPoolClosed').length, 1);
  });

  it('refuses connections from elsewhere and double check-ins', async () => {
    const fixture = readyPool();
    const { pool } = fixture;
    const conn = await pool.checkOut();
    const stranger = new FakeConnection(conn.id, 0, conn.address, () => {});
    assert.throws(() => pool.checkIn(stranger), /was not checked out from the pool/);
    pool.checkIn(conn);
    assert.throws(() => pool.checkIn(conn), /is not checked out \(it is idle\)/);
    await pool.destroy();
  });
});
