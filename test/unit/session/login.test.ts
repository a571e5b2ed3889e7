// mgo's Login/LogoutAll over a fake router: which identity each operation
// and reservation carries, what copies, clones and new() inherit, and that a
// refused login leaves the session as it was.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MgoError } from '../../../src/errors.js';
import { Mode } from '../../../src/session/modes.js';
import { openSession } from '../../../src/session/session.js';
import { FakeRouter, type FakeReservation } from '../../fixtures/fake-router.js';

function lastIdentity(router: FakeRouter): number | undefined {
  const request = router.requests.at(-1)!;
  return request.reservation ? (request.reservation as FakeReservation).identity : request.identity;
}

describe('login', () => {
  test('runs the session as the user from then on, checked with a ping on a socket of that identity', async () => {
    const router = new FakeRouter();
    const session = openSession(router, { loginSource: 'app' });
    await session.ping();
    assert.equal(lastIdentity(router), 0);
    const first = router.reservations[0]!;
    await session.login({ username: 'ada', password: 'pw' });
    assert.deepEqual(router.logins, [{ mechanism: undefined, username: 'ada', password: 'pw', source: 'app' }]);
    assert.ok(first.released, 'the socket reserved as the previous identity was given back');
    assert.equal(router.requests.at(-1)!.command.ping, 1);
    assert.equal(lastIdentity(router), 1);
    await session.db('app').c('c').find({}).one().catch(() => {});
    assert.equal(lastIdentity(router), 1);
  });

  test('Eventual operations carry the identity without reserving', async () => {
    const router = new FakeRouter();
    const session = openSession(router, { mode: Mode.Eventual });
    await session.login({ username: 'ada', password: 'pw', source: 'admin', mechanism: 'SCRAM-SHA-1' });
    await session.ping();
    assert.equal(router.reservations.length, 0);
    assert.equal(router.requests.at(-1)!.identity, 1);
    assert.equal(router.logins[0]!.mechanism, 'SCRAM-SHA-1');
  });

  test('a refused credential fails the login and leaves the session as it was', async () => {
    const router = new FakeRouter();
    const session = openSession(router, { mode: Mode.Eventual });
    router.failNext(new MgoError('ERR_AUTH', 'authentication failed'), (request) => request.identity === 1);
    await assert.rejects(session.login({ username: 'ada', password: 'wrong' }), { code: 'ERR_AUTH' });
    await session.ping();
    assert.equal(router.requests.at(-1)!.identity, 0);
  });

  test('copy() and clone() keep the login, new() goes back to the dial credential', async () => {
    const router = new FakeRouter();
    router.dialIdentity = 7;
    const session = openSession(router, { mode: Mode.Eventual });
    await session.ping();
    assert.equal(lastIdentity(router), 7);
    await session.login({ username: 'ada', password: 'pw' });
    for (const [other, expected] of [
      [session.copy(), 8],
      [session.clone(), 8],
      [session.new(), 7],
    ] as const) {
      await other.ping();
      assert.equal(lastIdentity(router), expected);
      await other.close();
    }
  });

  test('logoutAll() runs unauthenticated, the dial credential included; Database.logout() only for its own database', async () => {
    const router = new FakeRouter();
    router.dialIdentity = 1;
    const session = openSession(router, { mode: Mode.Eventual, dialSource: 'admin' });
    session.db('other').logout();
    await session.ping();
    assert.equal(lastIdentity(router), 1, 'logged in on admin, not on other');
    session.db('admin').logout();
    await session.ping();
    assert.equal(lastIdentity(router), 0);
    await session.db('app').login('ada', 'pw');
    assert.equal(router.logins[0]!.source, 'app');
    session.logoutAll();
    await session.ping();
    assert.equal(lastIdentity(router), 0);
  });

  test('bad input is refused before anything is sent', async () => {
    const router = new FakeRouter();
    const session = openSession(router);
    await assert.rejects(session.login({ password: 'pw' }), { code: 'ERR_INVALID_OPTION' });
    await assert.rejects(session.login(null as never), { code: 'ERR_INVALID_ARGUMENT' });
    assert.equal(router.requests.length, 0);
  });
});
