// Modes: mgo's numbering, the read preference of each, which modes reserve
// a socket, and Monotonic's move to the primary at its first write.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Mode, allowsSecondaryReads, modeOfReadPreference, readPreferenceOf, reservesSocket } from '../../../src/session/modes.js';
import { openSession } from '../../../src/session/session.js';
import { FakeRouter, PRIMARY_ADDRESS, REPLICA_SET, SECONDARY_ADDRESS, commandName } from '../../fixtures/fake-router.js';

describe('Mode constants', () => {
  test('use mgo numbering: Strong and Primary are the same value', () => {
    assert.deepEqual(
      { ...Mode },
      { Eventual: 0, Monotonic: 1, Strong: 2, Primary: 2, PrimaryPreferred: 3, Secondary: 4, SecondaryPreferred: 5, Nearest: 6 },
    );
  });

  test('map to read preferences', () => {
    const modes = [Mode.Eventual, Mode.Monotonic, Mode.Strong, Mode.PrimaryPreferred, Mode.Secondary, Mode.SecondaryPreferred, Mode.Nearest];
    assert.deepEqual(
      modes.map((m) => readPreferenceOf(m).mode),
      ['secondaryPreferred', 'secondaryPreferred', 'primary', 'primaryPreferred', 'secondary', 'secondaryPreferred', 'nearest'],
    );
  });

  test('every mode but Eventual reserves; only Strong refuses secondaries', () => {
    assert.equal(reservesSocket(Mode.Eventual), false);
    for (const m of [Mode.Monotonic, Mode.Strong, Mode.PrimaryPreferred, Mode.Secondary, Mode.SecondaryPreferred, Mode.Nearest]) {
      assert.equal(reservesSocket(m), true, `mode ${m}`);
    }
    assert.equal(allowsSecondaryReads(Mode.Strong), false);
    assert.equal(allowsSecondaryReads(Mode.Nearest), true);
  });

  test('tags and max staleness apply to non-primary reads only', () => {
    const selection = { tags: [{ dc: 'ny' }], maxStalenessSeconds: 120 };
    assert.deepEqual(readPreferenceOf(Mode.Strong, selection), { mode: 'primary' });
    assert.deepEqual(readPreferenceOf(Mode.Nearest, selection), { mode: 'nearest', tags: [{ dc: 'ny' }], maxStalenessSeconds: 120 });
  });

  test('URL read preferences map back to modes', () => {
    assert.equal(modeOfReadPreference('primary'), Mode.Strong);
    assert.equal(modeOfReadPreference('secondaryPreferred'), Mode.SecondaryPreferred);
  });
});

describe('routing by mode', () => {
  test('Strong reserves one primary socket and sends every operation on it', async () => {
    const router = new FakeRouter({ servers: REPLICA_SET });
    const session = openSession(router);
    const c = session.db('d').c('c');
    await c.insert({ a: 1 });
    await c.find().count();
    await session.ping();
    assert.equal(router.reservations.length, 1);
    assert.deepEqual(router.reservations[0]!.readPreference, { mode: 'primary' });
    assert.ok(router.requests.every((r) => r.reservation === router.reservations[0]));
    assert.ok(router.requests.every((r) => r.readPreference.mode === 'primary'));
  });

  test('Eventual never reserves: reads go by secondaryPreferred, writes by primary', async () => {
    const router = new FakeRouter({ servers: REPLICA_SET });
    const session = openSession(router, { mode: Mode.Eventual });
    const c = session.db('d').c('c');
    await Promise.all([c.find().count(), c.find().count(), c.insert({ a: 1 })]);
    assert.equal(router.reservations.length, 0);
    const byName = Object.fromEntries(router.requests.map((r) => [commandName(r), r]));
    assert.equal(byName.count!.readPreference.mode, 'secondaryPreferred');
    assert.equal(byName.count!.reservation, undefined);
    assert.equal(byName.insert!.readPreference.mode, 'primary');
  });

  test('Secondary reads reserve a secondary; its writes reserve the primary', async () => {
    const router = new FakeRouter({ servers: REPLICA_SET });
    const session = openSession(router, { mode: Mode.Secondary, selection: { tags: [{ dc: 'ny' }] } });
    const c = session.db('d').c('c');
    await c.find().count();
    await c.insert({ a: 1 });
    await c.find().count();
    assert.deepEqual(
      router.reservations.map((r) => [r.readPreference, r.address]),
      [
        [{ mode: 'secondary', tags: [{ dc: 'ny' }] }, SECONDARY_ADDRESS],
        [{ mode: 'primary' }, PRIMARY_ADDRESS],
      ],
    );
    const [, , lastCount] = router.requests;
    assert.equal(lastCount!.reservation!.address, SECONDARY_ADDRESS);
  });

  test('Monotonic reads from a secondary until the first write, then only from the primary', async () => {
    const router = new FakeRouter({ servers: REPLICA_SET });
    const session = openSession(router, { mode: Mode.Monotonic });
    const c = session.db('d').c('c');
    await c.find().count();
    await c.find().count();
    await c.update({ a: 1 }, { $set: { b: 1 } }).catch(() => {});
    await c.find().count();
    const addresses = router.requests.map((r) => [commandName(r), r.reservation?.address, r.readPreference.mode]);
    assert.deepEqual(addresses, [
      ['count', SECONDARY_ADDRESS, 'secondaryPreferred'],
      ['count', SECONDARY_ADDRESS, 'secondaryPreferred'],
      ['update', PRIMARY_ADDRESS, 'primary'],
      ['count', PRIMARY_ADDRESS, 'primary'],
    ]);
    // refresh() restarts the guarantees: secondary reads again.
    session.refresh();
    await c.find().count();
    assert.equal(router.requests.at(-1)!.reservation!.address, SECONDARY_ADDRESS);
  });

  test('setMode(Strong) without refresh gives back a secondary socket and reads from the primary', async () => {
    const router = new FakeRouter({ servers: REPLICA_SET });
    const session = openSession(router, { mode: Mode.Nearest });
    router.servers = [...REPLICA_SET].reverse(); // nearest = the secondary
    const c = session.db('d').c('c');
    await c.find().count();
    const secondary = router.reservations[0]!;
    assert.equal(secondary.address, SECONDARY_ADDRESS);
    session.setMode(Mode.Strong);
    assert.equal(secondary.released, true);
    await c.find().count();
    assert.equal(router.requests.at(-1)!.reservation!.address, PRIMARY_ADDRESS);
    assert.equal(session.mode(), Mode.Strong);
  });

  test('setMode(mode, true) releases the reservation; an unknown mode is refused', async () => {
    const router = new FakeRouter();
    const session = openSession(router);
    await session.ping();
    session.setMode(Mode.Eventual, true);
    assert.equal(router.held.length, 0);
    await session.ping();
    assert.equal(router.reservations.length, 1);
    assert.throws(() => session.setMode(9 as Mode), { code: 'ERR_INVALID_ARGUMENT' });
  });
});
