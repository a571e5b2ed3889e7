// Socket reservations: shared by clone(), not by copy(); given back on
// refresh() and close(); a dead one replaced on the next operation; a
// failed operation never leaves the session on a broken socket.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkError, ServerError } from '../../../src/errors.js';
import { QueryError } from '../../../src/session/errors.js';
import { Mode } from '../../../src/session/modes.js';
import { openSession } from '../../../src/session/session.js';
import { FakeRouter } from '../../fixtures/fake-router.js';
import { waitFor } from '../../fixtures/wait.js';

describe('clone and copy', () => {
  test('clone() shares the reservation; it is released when the last sharer closes', async () => {
    const router = new FakeRouter();
    const parent = openSession(router);
    await parent.ping();
    const clone = parent.clone();
    await clone.ping();
    assert.equal(router.reservations.length, 1);
    assert.equal(router.requests[1]!.reservation, router.reservations[0]);
    await parent.close();
    assert.equal(router.held.length, 1, 'the clone still holds it');
    await clone.ping();
    await clone.close();
    assert.equal(router.held.length, 0);
    assert.deepEqual(router.releases, [router.reservations[0]!.id]);
  });

  test('clone() of a refreshed sharer: the parent refreshing does not take the socket from the clone', async () => {
    const router = new FakeRouter();
    const parent = openSession(router);
    await parent.ping();
    const clone = parent.clone();
    parent.refresh();
    assert.equal(router.held.length, 1);
    await parent.ping();
    assert.equal(router.reservations.length, 2, 'the parent reserved a new socket');
    await clone.ping();
    assert.equal(router.requests.at(-1)!.reservation, router.reservations[0]);
    clone.refresh();
    assert.deepEqual(router.held, [router.reservations[1]]);
  });

  test('copy() and new() start without a reservation and keep the settings', async () => {
    const router = new FakeRouter();
    const parent = openSession(router, { mode: Mode.Monotonic, safe: { w: 2 } });
    await parent.ping();
    for (const other of [parent.copy(), parent.new()]) {
      assert.equal(other.mode(), Mode.Monotonic);
      assert.deepEqual(other.safe(), { w: 2 });
      await other.ping();
    }
    assert.equal(router.reservations.length, 3);
  });

  test('the last session to close closes the router', async () => {
    const router = new FakeRouter();
    const first = openSession(router);
    const second = first.copy();
    await first.close();
    assert.equal(router.closed, false);
    await first.close(); // idempotent: does not count twice
    assert.equal(router.closed, false);
    await second[Symbol.asyncDispose]();
    assert.equal(router.closed, true);
  });

  test('concurrent first operations share one reservation', async () => {
    const router = new FakeRouter();
    router.reserveDelayMS = 5;
    const session = openSession(router);
    await Promise.all([session.ping(), session.ping(), session.ping()]);
    assert.equal(router.reservations.length, 1);
  });

  test('refresh() while reserving gives the late reservation back', async () => {
    const router = new FakeRouter();
    router.reserveDelayMS = 5;
    const session = openSession(router);
    const ping = session.ping();
    session.refresh();
    await ping;
    assert.equal(router.reservations.length, 2);
    assert.equal(router.reservations[0]!.released, true);
    assert.equal(router.requests[0]!.reservation, router.reservations[1]);
  });
});

describe('broken sockets', () => {
  test('a reservation that died while idle is replaced on the next operation', async () => {
    const router = new FakeRouter();
    const session = openSession(router);
    await session.ping();
    const first = router.reservations[0]!;
    router.kill(first);
    await session.ping();
    assert.equal(router.reservations.length, 2);
    assert.equal(first.released, true);
    assert.equal(router.requests[1]!.reservation, router.reservations[1]);
  });

  test('a network error fails that operation only: the next one runs on a new socket', async () => {
    const router = new FakeRouter();
    const session = openSession(router);
    await session.ping();
    router.failNext(new NetworkError('ERR_CONNECTION_CLOSED', 'connection reset'));
    await assert.rejects(session.ping(), { code: 'ERR_CONNECTION_CLOSED' });
    assert.equal(router.reservations[0]!.released, true, 'the broken socket is given back at once');
    await session.ping();
    assert.equal(router.reservations.length, 2);
    assert.equal(router.requests.at(-1)!.reservation, router.reservations[1]);
  });

  test('a clone sharing a socket that died drops it on its own next operation', async () => {
    const router = new FakeRouter();
    const parent = openSession(router);
    await parent.ping();
    const clone = parent.clone();
    router.failNext(new NetworkError('ERR_NETWORK', 'boom'));
    await assert.rejects(parent.ping());
    await clone.ping();
    assert.equal(router.requests.at(-1)!.reservation, router.reservations[1]);
    assert.equal(router.reservations.length, 2);
  });

  test('a server error keeps the socket and arrives as a QueryError that is a ServerError', async () => {
    const router = new FakeRouter();
    router.on('ping', () => ({ ok: 0, errmsg: 'no ping today', code: 8000, codeName: 'AtlasError', errorLabels: ['X'] }));
    const session = openSession(router);
    const err = await session.ping().then(
      () => assert.fail('ping should fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof QueryError);
    assert.ok(err instanceof ServerError);
    assert.equal(err.code, 'ERR_QUERY');
    assert.equal(err.serverCode, 8000);
    assert.equal(err.codeName, 'AtlasError');
    assert.ok(err.hasErrorLabel('X'));
    assert.equal(router.held.length, 1);
  });

  test('setSocketTimeout fails a slow operation with ERR_NETWORK_TIMEOUT and drops its socket', async () => {
    const router = new FakeRouter();
    router.on('ping', () => new Promise((resolve) => setTimeout(() => resolve({ ok: 1 }), 200)));
    const session = openSession(router);
    session.setSocketTimeout(20);
    await assert.rejects(session.ping(), { code: 'ERR_NETWORK_TIMEOUT' });
    assert.equal(router.reservations[0]!.released, true);
  });

  test('setSyncTimeout bounds reserving and gives back a reservation that comes late', async () => {
    const router = new FakeRouter();
    router.reserveDelayMS = 60;
    const session = openSession(router);
    session.setSyncTimeout(10);
    await assert.rejects(session.ping(), { code: 'ERR_SYNC_TIMEOUT' });
    await waitFor('the late reservation given back', () => router.reservations[0]?.released === true, 10_000);
    assert.equal(router.reservations.length, 1);
    assert.equal(router.reservations[0]!.released, true);
    assert.equal(router.requests.length, 0);
  });
});

describe('settings', () => {
  test('use after close() fails with ERR_SESSION_CLOSED', async () => {
    const router = new FakeRouter();
    const session = openSession(router);
    const c = session.db('d').c('c');
    await session.close();
    await assert.rejects(session.ping(), { code: 'ERR_SESSION_CLOSED', message: /ping\(\): the session is closed/ });
    await assert.rejects(c.insert({ a: 1 }), { code: 'ERR_SESSION_CLOSED' });
    assert.throws(() => c.find(), { code: 'ERR_SESSION_CLOSED' });
    assert.throws(() => session.db('x'), { code: 'ERR_SESSION_CLOSED' });
    assert.throws(() => session.copy(), { code: 'ERR_SESSION_CLOSED' });
    assert.throws(() => session.clone(), { code: 'ERR_SESSION_CLOSED' });
    assert.throws(() => session.setSafe({}), { code: 'ERR_SESSION_CLOSED' });
    assert.throws(() => session.refresh(), { code: 'ERR_SESSION_CLOSED' });
    assert.equal(router.requests.length, 0);
  });

  test("setPoolLimit is the session's, and its later copies' and clones': every request and reservation carries it", async () => {
    const router = new FakeRouter();
    const session = openSession(router, { mode: Mode.Eventual });
    const before = session.copy();
    session.setPoolLimit(3);
    const copy = session.copy();
    const clone = session.clone();
    for (const s of [session, before, copy, clone]) await s.ping();
    assert.deepEqual(
      router.requests.map((r) => r.poolLimit),
      [3, undefined, 3, 3],
    );
    const strong = openSession(router, { mode: Mode.Strong });
    strong.setPoolLimit(2);
    await strong.ping();
    assert.deepEqual(router.reservePoolLimits, [2]);
    // 0 is mgo's "no limit": it removes the session's own limit, for it and later copies.
    session.setPoolLimit(0);
    await session.ping();
    await session.copy().ping();
    assert.deepEqual(router.requests.slice(-2).map((r) => r.poolLimit), [undefined, undefined]);
    assert.throws(() => session.setPoolLimit(-1), { code: 'ERR_INVALID_ARGUMENT', message: /setPoolLimit/ });
    assert.throws(() => session.setPoolLimit(2.5), { code: 'ERR_INVALID_ARGUMENT' });
  });

  test('db() without a name uses the dialed database, else "test"', () => {
    assert.equal(openSession(new FakeRouter()).db().name, 'test');
    assert.equal(openSession(new FakeRouter(), { database: 'app' }).db().name, 'app');
  });

  test('liveServers() and stats() come from the router', () => {
    const session = openSession(new FakeRouter());
    assert.deepEqual(session.liveServers(), ['primary.test:27017']);
    assert.deepEqual(session.stats(), []);
  });
});
