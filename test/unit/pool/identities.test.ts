// Identities: a connection serves only checkouts of the identity it was
// dialed (authenticated) as, and all identities share one limit.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { InvalidOptionError } from '../../../src/errors.js';
import { gate } from '../../fixtures/cmap-fake-connection.js';
import { outcome, readyPool, type TestPoolOptions } from '../../fixtures/cmap-pool-fixture.js';
import { withTimeout } from '../../fixtures/wait.js';

const randomInt = (max: number): number => Math.floor(Math.random() * (max + 1));

/**
 * A ready pool that records the identity each dial was given (ConnectInit),
 * by connection id, and counts open connections by the pool's own events.
 */
function identityPool(options: TestPoolOptions & { dialMS?: () => number } = {}) {
  const { dialMS, ...poolOptions } = options;
  const dialedAs = new Map<number, number>();
  const fixture = readyPool({
    delayMS: (init) => {
      dialedAs.set(init.id, init.identity);
      return dialMS?.() ?? 0;
    },
    ...poolOptions,
  });
  let open = 0;
  const peak = { open: 0 };
  fixture.pool.on('ConnectionCreated', () => (peak.open = Math.max(peak.open, ++open)));
  fixture.pool.on('ConnectionClosed', () => open--);
  return { fixture, pool: fixture.pool, dialedAs, peak };
}

describe('pool identities', () => {
  it('dials for the checkout identity and hands idle connections only to the same identity, most recently used first', async () => {
    const { fixture, pool, dialedAs } = identityPool();
    const a1 = await pool.checkOut({ identity: 1 });
    const b = await pool.checkOut({ identity: 2 });
    const a2 = await pool.checkOut({ identity: 1 });
    assert.deepEqual([...dialedAs], [[1, 1], [2, 2], [3, 1]]);
    pool.checkIn(a1);
    pool.checkIn(a2);
    pool.checkIn(b); // idle stack, oldest first: a1, a2, b
    assert.equal(await pool.checkOut({ identity: 1 }), a2, 'the most recently used of identity 1, below b');
    assert.equal(await pool.checkOut({ identity: 1 }), a1);
    assert.equal(await pool.checkOut({ identity: 2 }), b);
    const anonymous = await pool.checkOut(); // defaultIdentity 0: nothing idle of it
    assert.equal(anonymous.id, 4);
    assert.equal(dialedAs.get(4), 0);
    assert.equal(fixture.connector.dials, 4);
    assert.equal(fixture.of('ConnectionClosed').length, 0);
    await pool.destroy();
  });

  it('uses defaultIdentity for checkouts that name none and for minPoolSize dials', async () => {
    const { fixture, pool, dialedAs } = identityPool({ defaultIdentity: 3, minPoolSize: 2 });
    await fixture.waitFor('ConnectionReady', 2);
    assert.deepEqual([...dialedAs.values()], [3, 3]);
    const first = await pool.checkOut();
    const second = await pool.checkOut({ identity: 3 });
    assert.deepEqual([first.id, second.id].sort(), [1, 2]);
    assert.equal(fixture.connector.dials, 2, 'both served by the background dials');
    const other = await pool.checkOut({ identity: 0 });
    assert.equal(dialedAs.get(other.id), 0);
    await pool.destroy();
  });

  it('at the limit, closes an idle connection of another identity ("yielded") so that a waiter dials its own', async () => {
    const { fixture, pool, dialedAs, peak } = identityPool({ maxPoolSize: 1, waitQueueTimeoutMS: 2_000 });
    const a = await pool.checkOut({ identity: 1 });
    pool.checkIn(a);
    const b = await pool.checkOut({ identity: 2 });
    assert.equal(b.id, 2);
    assert.equal(dialedAs.get(2), 2, 'the dial was given the waiter identity');
    assert.ok(a.isClosed);
    assert.deepEqual(
      fixture.of('ConnectionClosed').map((e) => [e.connectionId, e.reason]),
      [[1, 'yielded']],
    );
    const types = fixture.events.map((e) => e.type);
    assert.ok(types.indexOf('ConnectionClosed') < types.lastIndexOf('ConnectionCreated'), 'closed before the new dial');
    assert.equal(fixture.connector.maxOpen, 1);
    assert.equal(peak.open, 1);
    assert.equal(pool.stats().open, 1);
    assert.equal(pool.stats().timeouts, 0);
    pool.checkIn(b);
    await pool.destroy();
  });

  it('yields an idle connection checked in while the oldest waiter wants another identity, not hand it to a later waiter', async () => {
    const { fixture, pool, dialedAs, peak } = identityPool({ maxPoolSize: 2 });
    const a1 = await pool.checkOut({ identity: 1 });
    const a2 = await pool.checkOut({ identity: 1 });
    const served: string[] = [];
    const first = pool.checkOut({ identity: 2 }).then((c) => (served.push('first'), c));
    const second = pool.checkOut({ identity: 1 }).then((c) => (served.push('second'), c));
    assert.equal(pool.waiting, 2);
    pool.checkIn(a1); // identity 1, but the head wants 2: yielded for its dial
    const forFirst = await first;
    assert.equal(forFirst.id, 3);
    assert.equal(dialedAs.get(3), 2);
    assert.ok(a1.isClosed);
    assert.deepEqual(
      fixture.of('ConnectionClosed').map((e) => [e.connectionId, e.reason]),
      [[1, 'yielded']],
    );
    assert.equal(pool.waiting, 1, 'the identity-1 waiter did not take a1');
    pool.checkIn(a2);
    assert.equal(await second, a2);
    assert.deepEqual(served, ['first', 'second']);
    assert.equal(fixture.connector.maxOpen, 2);
    assert.equal(peak.open, 2);
    await pool.destroy();
  });

  it('does not let a later waiter take an idle connection of its identity while the head waits', async () => {
    const dial = gate();
    const { fixture, pool } = identityPool({ maxPoolSize: 3, maxConnecting: 1, holdUntil: (init) => (init.id === 2 ? dial.promise : undefined) });
    const a = await pool.checkOut({ identity: 1 });
    pool.checkIn(a); // idle, identity 1
    const dialer = pool.checkOut({ identity: 3 }); // takes the only dial slot, held open
    await fixture.waitFor('ConnectionCreated', 2);
    const head = pool.checkOut({ identity: 2 }); // below the limit but no dial slot: waits, yields nothing
    const later = pool.checkOut({ identity: 1 });
    await new Promise(setImmediate); // a wrong hand-off would happen synchronously or in a microtask
    assert.equal(pool.waiting, 2, 'the identity-1 waiter queues behind the head');
    assert.equal(pool.stats().idle, 1);
    assert.equal(fixture.of('ConnectionClosed').length, 0, 'nothing yielded below the limit');
    dial.open();
    assert.equal((await dialer).id, 2);
    assert.equal(await later, a, 'served once the head had started its dial');
    assert.equal((await head).id, 3);
    assert.equal(fixture.connector.dials, 3);
    await pool.destroy();
  });

  it('closes perished idle connections of any identity met on the way', async () => {
    const { fixture, pool } = identityPool();
    const a1 = await pool.checkOut({ identity: 1 });
    const a2 = await pool.checkOut({ identity: 1 });
    const b = await pool.checkOut({ identity: 2 });
    pool.checkIn(a1);
    pool.checkIn(a2);
    pool.checkIn(b); // stack, oldest first: a1, a2, b
    b.fail();
    a2.fail();
    assert.equal(await pool.checkOut({ identity: 1 }), a1);
    assert.deepEqual(
      fixture.of('ConnectionClosed').map((e) => [e.connectionId, e.reason]),
      [
        [3, 'error'],
        [2, 'error'],
      ],
    );
    assert.equal(pool.stats().errorClosed, 2);
    assert.equal(pool.stats().idle, 0);
    await pool.destroy();
  });

  it('closeIdle closes the least recently used first, whatever the identity', async () => {
    const { fixture, pool } = identityPool();
    const [a1, b, a2] = [await pool.checkOut({ identity: 1 }), await pool.checkOut({ identity: 2 }), await pool.checkOut({ identity: 1 })];
    for (const c of [a1, b, a2]) pool.checkIn(c!);
    assert.equal(pool.closeIdle(2), 2);
    assert.deepEqual(
      fixture.of('ConnectionClosed').map((e) => [e.connectionId, e.reason]),
      [
        [1, 'yielded'],
        [2, 'yielded'],
      ],
    );
    assert.equal(await pool.checkOut({ identity: 1 }), a2);
    await pool.destroy();
  });

  it('rejects a checkout identity that is not an integer >= 0, before any event', async () => {
    const { fixture, pool } = identityPool();
    for (const identity of [-1, 1.5, NaN]) {
      const result = await outcome(pool.checkOut({ identity }));
      assert.ok(!result.ok && result.error instanceof InvalidOptionError && result.error.code === 'ERR_INVALID_OPTION');
      assert.match((result.error as Error).message, /identity/);
    }
    assert.equal(fixture.events.filter((e) => e.type !== 'ConnectionPoolCreated' && e.type !== 'ConnectionPoolReady').length, 0);
    await pool.destroy();
  });

  it('serves 600 checkouts of 4 identities at limit 3 without exceeding it or mixing identities', async () => {
    const { fixture, pool, dialedAs, peak } = identityPool({
      maxPoolSize: 3,
      maxConnecting: 2,
      waitQueueTimeoutMS: 20_000,
      dialMS: () => randomInt(2),
    });
    let mixed = 0;
    // Bounded in time (not a speed claim: a hang fails here, not at the runner's timeout).
    await withTimeout(
      Promise.all(
        Array.from({ length: 600 }, async (_, i) => {
          const identity = i % 4;
          const conn = await pool.checkOut({ identity });
          if (dialedAs.get(conn.id) !== identity) mixed++;
          if (randomInt(1) === 1) await sleep(randomInt(2));
          pool.checkIn(conn);
        }),
      ),
      30_000,
      '600 checkouts of 4 identities',
    );
    assert.equal(mixed, 0, 'a connection was handed to another identity');
    assert.ok(fixture.connector.maxOpen <= 3, `fake sockets peaked at ${fixture.connector.maxOpen}`);
    assert.ok(peak.open <= 3, `pool events counted ${peak.open}`);
    assert.ok(fixture.of('ConnectionClosed').some((e) => e.reason === 'yielded'), 'identities took turns through yields');
    assert.equal(pool.stats().timeouts, 0);
    assert.equal(pool.stats().open, fixture.connector.open);
    await pool.destroy();
    assert.equal(fixture.connector.open, 0);
  });
});
