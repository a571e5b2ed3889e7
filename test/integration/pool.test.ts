// Pool<Connection> through the real connector against the test server
// (embedded FerretDB, or MONGODB_URI): real sockets, counted on the server's
// side of the wire and on the client's.
//
// How sockets are counted, exactly and on both sides, nothing sampled:
// - the server's side by a counting proxy (test/fixtures/counting-proxy.ts)
//   in front of the server, in a thread of its own: every pool here dials
//   the proxy, which counts a socket from its accept until its FIN or RST
//   arrives and takes the most open at once once per event-loop turn;
// - the client's side at the connector (WindowedSocketTally, a
//   LocalSocketTally): from each socket's creation to its 'close' event,
//   independently of the pool's own stats().
// Only the pool under test dials the proxy (the seeding connection goes to
// the server directly), and afterEach waits for the proxy's count to return
// to 0 so that no test sees another's sockets.
//
// Every load is bounded in count (a fixed number of operations) and in time
// (runConcurrent's deadline, waitQueueTimeoutMS, socketTimeoutMS, the test's
// own timeout).
import { after, afterEach, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { MinKey, type Document } from 'bson';
import {
  connectionPool,
  findOne,
  ping,
  runConcurrent,
  seedLoadCollection,
  trackMaxOpen,
  WindowedSocketTally,
  type PoolOperation,
} from '../fixtures/pool-load.js';
import { startCountingProxy, type CountingProxy } from '../fixtures/counting-proxy.js';
import type { Connection } from '../../src/connection/connection.js';
import { MgoError, PoolClosedError } from '../../src/errors.js';
import type { ConnectionClosedEvent, Pool, PoolOptions } from '../../src/pool/index.js';
import { runChildScript } from '../fixtures/child-script.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { waitFor, withTimeout } from '../fixtures/wait.js';

let server: TestServer;
/** In front of `server`: every pool of this file dials it. */
let proxy: CountingProxy;
const pools = new Set<Pool<Connection>>();

type TestPoolOptions = Omit<PoolOptions<Connection>, 'address' | 'connect'>;

/** A ready pool to the test server (through the proxy), destroyed after the test whatever happens. */
function newPool(options: TestPoolOptions, tally?: WindowedSocketTally): Pool<Connection> {
  const pool = connectionPool(proxy, options, tally);
  pools.add(pool);
  return pool;
}

function closedEvents(pool: Pool<Connection>): ConnectionClosedEvent[] {
  const events: ConnectionClosedEvent[] = [];
  pool.on('ConnectionClosed', (event) => events.push(event));
  return events;
}

/** findOne, checking that the one seeded document came back. */
const findSeeded: PoolOperation = async (conn) => {
  const reply = (await findOne(conn)) as Document;
  assert.equal(reply.cursor.firstBatch.length, 1);
};

/** `count` concurrent operations that each fail if handed one of `dead`. */
async function assertNeverHandedOut(pool: Pool<Connection>, dead: Connection[], count = 50): Promise<void> {
  const load = await runConcurrent(
    pool,
    count,
    async (conn) => {
      assert.ok(!dead.includes(conn), `dead connection ${conn.id} handed out again`);
      assert.ok(!conn.isClosed, `closed connection ${conn.id} handed out`);
      await ping(conn);
    },
    10_000,
  );
  assert.equal(load.failed, 0, String(load.firstError));
}

before(async () => {
  server = await startTestServer();
  await seedLoadCollection(server);
  proxy = await startCountingProxy(server);
});

afterEach(async () => {
  await Promise.all([...pools].map((pool) => withTimeout(pool.destroy(), 10_000, 'pool.destroy()')));
  pools.clear();
  await waitFor('no socket left at the server', () => proxy.open() === 0, 10_000);
});

after(async () => {
  await proxy?.close();
  await server?.stop();
});

describe('Pool<Connection> against the test server', () => {
  describe('the limit is exact: maxPoolSize 20, 2,000 concurrent operations', () => {
    const LIMIT = 20;
    const OPS = 2_000;
    const cases: [string, TestPoolOptions][] = [
      ['default maxConnecting (2)', {}],
      ['maxConnecting 20: every dial at once', { maxConnecting: LIMIT }],
      ['maxLifetimeMS 50: sockets closed and redialled during the load', { maxLifetimeMS: 50, maxConnecting: LIMIT }],
    ];
    for (const [label, extra] of cases) {
      test(label, { timeout: 90_000 }, async (t) => {
        const tally = new WindowedSocketTally();
        const pool = newPool({ maxPoolSize: LIMIT, waitQueueTimeoutMS: 60_000, ...extra }, tally);
        const opened = trackMaxOpen(pool);
        proxy.resetMaxOpen();
        const acceptedBefore = proxy.accepted(); // accepted() counts since the proxy started
        const accepted = (): number => proxy.accepted() - acceptedBefore;
        const load = await runConcurrent(pool, OPS, findSeeded, 60_000);
        // A dial the load no longer needed may still be connecting: the two
        // sides count the same sockets once it is through. Every socket the
        // client created reached the server, and nothing else did.
        await waitFor('the proxy to have accepted every socket the client opened', () => accepted() >= tally.counts().opened, 10_000);
        assert.equal(accepted(), tally.counts().opened);
        const serverMax = proxy.maxOpen();
        const serverNow = proxy.open();
        const client = tally.counts();
        const stats = pool.stats();
        t.diagnostic(
          `${load.elapsedMS.toFixed(0)} ms; server side: max ${serverMax}, ${serverNow} after, ${accepted()} accepted; ` +
            `client side: max ${client.maxOpen}, ${client.opened} opened; pool: open max ${opened.max}, ` +
            `${opened.created} created, ${opened.closed} closed; stats ${JSON.stringify(stats)}`,
        );
        assert.equal(load.failed, 0, `first failure: ${String(load.firstError)}`);
        assert.equal(load.completed, OPS);
        assert.ok(serverMax <= LIMIT, `the server had ${serverMax} sockets open at once at maxPoolSize ${LIMIT}`);
        assert.ok(client.maxOpen <= LIMIT, `the client had ${client.maxOpen} sockets open at once`);
        assert.ok(opened.max <= LIMIT, `stats().open reached ${opened.max}`);
        // ...and the limit was actually reached, by the pool and at the client.
        assert.equal(opened.max, LIMIT);
        assert.equal(client.maxOpen, LIMIT);
        if (extra.maxLifetimeMS === undefined) {
          // Every socket carried a command through the proxy, after its
          // accept had been counted: the server held all 20 at once.
          assert.equal(serverMax, LIMIT);
          assert.equal(serverNow, LIMIT, 'all 20 sockets still open after the load');
          assert.equal(opened.created, LIMIT, 'no socket replaced');
          assert.equal(client.opened, LIMIT, 'no socket replaced');
        } else {
          // Sockets live 50 ms, so one may be gone before the last of a
          // round is accepted: the server's most at once can fall short of
          // 20, but the load did reach it.
          assert.ok(serverMax >= LIMIT / 2, `the server saw at most ${serverMax} sockets at once`);
          assert.ok(stats.lifetimeClosed > 0, 'sockets were replaced during the load');
          // A closed connection stays in open (its permit held) until its
          // socket's 'close', which comes after its ConnectionClosed event.
          await waitFor('the pool count agreeing with its events once every close is done', () => opened.created - opened.closed === pool.stats().open, 10_000);
        }
        assert.equal(stats.errorClosed, 0);
        assert.equal(stats.timeouts, 0);
      });
    }
  });

  describe('a socket killed under the pool is never handed out again and its permit is released', () => {
    // maxPoolSize 1: a leaked permit would leave the next checkout waiting
    // until waitQueueTimeoutMS (10 s) and fail with PoolTimeoutError.
    async function poolOfOne(): Promise<{ pool: Pool<Connection>; closed: ConnectionClosedEvent[]; dead: Connection }> {
      const pool = newPool({ maxPoolSize: 1, waitQueueTimeoutMS: 10_000 });
      const closed = closedEvents(pool);
      const dead = await pool.checkOut(); // to be killed
      await ping(dead);
      return { pool, closed, dead };
    }

    async function assertReplaced(pool: Pool<Connection>, dead: Connection, fresh: Connection, closed: ConnectionClosedEvent[]): Promise<void> {
      assert.notEqual(fresh, dead);
      assert.ok(fresh.id > dead.id, `fresh connection ${fresh.id} after dead ${dead.id}`);
      assert.ok(!fresh.isClosed);
      await ping(fresh);
      assert.deepEqual(
        closed.map((e) => [e.connectionId, e.reason]),
        [[dead.id, 'error']],
      );
      const stats = pool.stats();
      assert.equal(stats.errorClosed, 1);
      assert.equal(stats.open, 1);
      assert.equal(stats.inUse, 1);
      pool.checkIn(fresh);
      await assertNeverHandedOut(pool, [dead]);
      await waitFor('the server down to the one fresh socket', () => proxy.open() === 1, 10_000);
    }

    test('destroyed by the user while checked out, with a checkout queued behind it', { timeout: 30_000 }, async () => {
      const { pool, closed, dead } = await poolOfOne();
      const waiter = pool.checkOut(); // queued: the only permit is taken
      dead.destroy();
      await assert.rejects(ping(dead), (err: unknown) => err instanceof MgoError && err.code === 'ERR_CONNECTION_CLOSED');
      pool.checkIn(dead);
      await assertReplaced(pool, dead, await waiter, closed);
    });

    test('dropped by the server in the middle of a command', { timeout: 30_000 }, async (t: TestContext) => {
      // FerretDB 1.24 drops the connection when sent a MinKey (README,
      // "FerretDB 1.24 gaps"): a genuine server-side close of a socket that
      // is checked out and has a command in flight.
      const { pool, closed, dead } = await poolOfOne();
      const waiter = pool.checkOut();
      const insert = dead.command('mgo_threads_pool', { insert: 'minkey' }, { sequences: [{ identifier: 'documents', documents: [{ m: new MinKey() }] }] });
      const outcome = await insert.then(
        () => undefined,
        (err: unknown) => err,
      );
      if (outcome === undefined) {
        pool.checkIn(dead);
        pool.checkIn(await waiter);
        t.skip('this server stores MinKey instead of dropping the connection');
        return;
      }
      assert.ok(outcome instanceof MgoError && outcome.code === 'ERR_CONNECTION_CLOSED', String(outcome));
      assert.ok(dead.isClosed);
      pool.checkIn(dead);
      await assertReplaced(pool, dead, await waiter, closed);
    });

    test('killed server-side (ss -K) while idle in the pool', { timeout: 30_000 }, async (t: TestContext) => {
      const { pool, closed, dead } = await poolOfOne();
      pool.checkIn(dead);
      await waitFor('the one socket at the server', () => proxy.open() === 1, 10_000);
      // Destroys the far end of the one socket on the proxy's port (the
      // pool's peer, as the server's end would be without the proxy); the
      // kernel sends the client a RST. Needs CAP_NET_ADMIN and
      // CONFIG_INET_DIAG_DESTROY.
      const kill = spawnSync('ss', ['-K', '-Htn', 'state', 'established', `( sport = :${proxy.port} )`], { timeout: 5_000 });
      const killed = await waitFor('idle connection closed', () => dead.isClosed, 10_000).then(
        () => true,
        () => false,
      );
      if (!killed) {
        t.skip(`ss -K did not kill the socket here (status ${kill.status}, ${kill.error?.message ?? kill.stderr?.toString().trim()})`);
        return;
      }
      t.diagnostic(`idle after the kill, before the next checkout: ${pool.stats().idle}`);
      const fresh = await pool.checkOut();
      await assertReplaced(pool, dead, fresh, closed);
    });
  });

  describe('maxIdleTimeMS 200: idle sockets close, seen from the server', () => {
    // How soon (maxIdleTimeMS plus a timer's lateness) is a speed figure,
    // printed as a diagnostic; the deadlines only catch a socket that never
    // goes, and the close reasons say it went for being idle.
    test('without minPoolSize, the count on the port drops to 0 once the sockets are idle', { timeout: 60_000 }, async (t) => {
      const pool = newPool({ maxPoolSize: 10, maxIdleTimeMS: 200, maxConnecting: 10 });
      const opened = trackMaxOpen(pool);
      const closed = closedEvents(pool);
      const load = await runConcurrent(pool, 300, findSeeded, 30_000);
      assert.equal(load.failed, 0, String(load.firstError));
      const peak = proxy.open();
      const dropMS = await waitFor('the server-side sockets closed for being idle', () => proxy.open() === 0, 20_000);
      t.diagnostic(`${peak} server-side sockets after the load, 0 after ${dropMS.toFixed(0)} ms`);
      assert.ok(peak > 1, `only ${peak} sockets open after the load`);
      // The server sees the FIN before the client sees its socket's 'close', which ends its count in open.
      await waitFor('the sockets closed at the pool', () => pool.stats().open === 0, 10_000);
      const stats = pool.stats();
      assert.equal(stats.idleClosed, opened.created);
      assert.deepEqual(new Set(closed.map((e) => e.reason)), new Set(['idle']));
    });

    test('with minPoolSize 3: refilled to 3 in the background, back to 3 after the load', { timeout: 60_000 }, async (t) => {
      const tally = new WindowedSocketTally();
      const pool = newPool({ maxPoolSize: 10, minPoolSize: 3, maxIdleTimeMS: 200, maxConnecting: 10 }, tally);
      const opened = trackMaxOpen(pool);
      const atMinimum = (): boolean => pool.stats().open === 3 && tally.counts().open === 3 && proxy.open() === 3;
      // No checkout yet: the pool opens minPoolSize sockets by itself.
      const fillMS = await waitFor('3 sockets at the server', () => proxy.open() === 3, 10_000);
      assert.equal(pool.stats().inUse, 0);
      proxy.resetMaxOpen();
      const load = await runConcurrent(pool, 300, findSeeded, 30_000);
      assert.equal(load.failed, 0, String(load.firstError));
      const peak = proxy.maxOpen();
      const dropMS = await waitFor('the server back to at most 3 sockets', () => proxy.open() <= 3, 20_000);
      await waitFor('pool, client and server back at 3', atMinimum, 10_000);
      const stats = pool.stats();
      t.diagnostic(
        `3 sockets ${fillMS.toFixed(0)} ms after ready(); peak ${peak} during the load (pool ${opened.max}, client ${tally.counts().maxOpen}); ` +
          `<= 3 ${dropMS.toFixed(0)} ms after it; idleClosed ${stats.idleClosed}`,
      );
      assert.ok(peak > 3, `the load opened no socket beyond minPoolSize (peak ${peak})`);
      assert.ok(stats.idleClosed >= opened.max - 3, `idleClosed ${stats.idleClosed} for a peak of ${opened.max}`);
      // It stays at minPoolSize, never above: idle sockets past maxIdleTimeMS
      // are still replaced (CMAP), so the count may dip while one is
      // redialled, but a replacement is dialled only once the socket it
      // replaces has closed. Watched over two rounds of replacements of all
      // three sockets, on both sides.
      proxy.resetMaxOpen();
      tally.resetMaxOpen();
      const idleClosedBefore = stats.idleClosed;
      await waitFor('6 more idle sockets replaced', () => pool.stats().idleClosed >= idleClosedBefore + 6, 20_000);
      t.diagnostic(`over ${pool.stats().idleClosed - idleClosedBefore} more idle closes: most open at once at the server ${proxy.maxOpen()}, at the client ${tally.windowMaxOpen()}`);
      assert.ok(proxy.maxOpen() <= 3, `server saw ${proxy.maxOpen()} sockets with an idle pool at minPoolSize 3`);
      assert.ok(tally.windowMaxOpen() <= 3, `the client had ${tally.windowMaxOpen()} sockets open with an idle pool at minPoolSize 3`);
      await waitFor('pool, client and server at 3', atMinimum, 10_000);
    });
  });

  describe('close()', () => {
    test('closes idle sockets at once and checked-out ones at check-in; the server count goes to 0', { timeout: 30_000 }, async () => {
      const tally = new WindowedSocketTally();
      const pool = newPool({ maxPoolSize: 10, maxConnecting: 10 }, tally);
      const closed = closedEvents(pool);
      const load = await runConcurrent(pool, 200, findSeeded, 30_000);
      assert.equal(load.failed, 0, String(load.firstError));
      const open = pool.stats().open;
      assert.ok(open > 2, `only ${open} open`);
      await waitFor(`the ${open} sockets at the server`, () => proxy.open() === open, 10_000);
      const held = [await pool.checkOut(), await pool.checkOut()];
      let drained = false;
      const closing = pool.close().then(() => {
        drained = true;
      });
      await waitFor('the server down to the checked-out sockets', () => proxy.open() === held.length, 10_000);
      assert.ok(!drained, 'close() resolved with connections still checked out');
      await ping(held[0]!); // a checked-out connection stays usable until its check-in
      await assert.rejects(pool.checkOut(), PoolClosedError);
      for (const conn of held) pool.checkIn(conn);
      await withTimeout(closing, 10_000, 'close() after the last check-in');
      await waitFor('no socket left at the server', () => proxy.open() === 0, 10_000);
      assert.equal(pool.stats().open, 0);
      assert.equal(tally.counts().open, 0, 'pool sockets open at the client after close()');
      assert.equal(closed.length, open);
      assert.deepEqual(new Set(closed.map((e) => e.reason)), new Set(['poolClosed']));
    });

    test('leaves no handle behind: a process that used a pool and closed it exits by itself', { timeout: 60_000 }, async (t) => {
      // Every timer the pool can arm is in play: minPoolSize and
      // maxIdleTimeMS (maintenance), a queue of waiters (waitQueueTimeoutMS).
      const helpers = new URL('../fixtures/pool-load.ts', import.meta.url).href;
      const script = `
        const { connectionPool, ping, runConcurrent } = await import(${JSON.stringify(helpers)});
        const server = JSON.parse(process.env.MGO_POOL_TEST_SERVER);
        const pool = connectionPool(server, { maxPoolSize: 5, minPoolSize: 2, maxIdleTimeMS: 60000, maxLifetimeMS: 60000, waitQueueTimeoutMS: 30000 });
        const load = await runConcurrent(pool, 200, ping, 30000);
        const used = pool.stats();
        await pool.close();
        await new Promise((resolve) => setImmediate(resolve));
        console.log(JSON.stringify({ completed: load.completed, used, closed: pool.stats(), resources: process.getActiveResourcesInfo() }));
      `;
      const { code, signal, stdout, stderr, lingerMS } = await runChildScript(script, {
        env: { MGO_POOL_TEST_SERVER: JSON.stringify({ host: proxy.host, port: proxy.port, address: proxy.address }) },
      });
      assert.equal(signal, null, `child killed after 30 s: it did not exit by itself; stdout ${stdout}; stderr ${stderr}`);
      assert.equal(code, 0, `child failed: ${stderr}`);
      const report = JSON.parse(stdout) as { completed: number; used: { open: number; waitCount: number }; closed: { open: number }; resources: string[] };
      t.diagnostic(`child exited ${lingerMS.toFixed(0)} ms after pool.close(); used ${JSON.stringify(report.used)}; active after close: ${report.resources.join(', ')}`);
      assert.equal(report.completed, 200);
      assert.ok(report.used.waitCount > 0, 'the load never queued: the queue timer was not exercised');
      assert.equal(report.closed.open, 0);
      // What could hold it for a while but less than the kill: a ref'd timer. None is left (how soon it exits is a diagnostic).
      assert.ok(!report.resources.includes('Timeout'), `a timer keeps the child alive after pool.close(): ${report.resources.join(', ')}`);
      await waitFor("no socket of the child's left at the server", () => proxy.open() === 0, 10_000);
    });
  });
});
