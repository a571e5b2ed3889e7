// Session.setGlobalPoolLimit(): the connection limit per server, changed
// live, for workers 0 and 2. Sockets are counted at the server's side by the
// counting proxy (test/fixtures/counting-proxy.ts) in front of the bridge
// (test/fixtures/bridge), whose failCommand fail point holds each find on
// its socket (blockConnection), so that a test knows how many sockets are in
// use. The monitoring sockets the process keeps are not pool sockets:
// counts at the proxy are compared with the limit plus those
// (stats().monitoringConnections), as the seed experiment does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dial, Mode, MgoError, openSession, resolveOptions, type Session } from '../../src/index.js';
import { LocalRouter } from '../../src/router/local-router.js';
import { WorkerRouter } from '../../src/worker/worker-router.js';
import { startBridge, type Bridge } from '../fixtures/bridge/index.js';
import { startCountingProxy, type CountingProxy } from '../fixtures/counting-proxy.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { waitFor, withTimeout } from '../fixtures/wait.js';

const DB = `mgo_global_limit_${process.pid}`;
/** How long the bridge holds each find: long enough for a loaded machine to see them all held at once. */
const HOLD_MS = 3_000;
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
});

function hold(bridge: Bridge): void {
  bridge.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['find'], blockConnection: true, blockTimeMS: HOLD_MS } });
}

function unhold(bridge: Bridge): void {
  bridge.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'off' });
}

/** The pool's figures for the proxied server, summed over workers. */
function poolOf(session: Session, address: string) {
  const rows = session.stats().filter((row) => row.address === address);
  return {
    open: rows.reduce((sum, row) => sum + row.open, 0),
    maxOpen: rows[0]?.maxOpen ?? -1,
    monitoring: Math.max(0, ...rows.map((row) => row.monitoringConnections)),
  };
}

/** `count` finds of one document each, at most `concurrency` at a time (a bounded load). */
async function load(session: Session, count: number, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        await session.db(DB).c('docs').find({ _id: 1 }).one();
      }
    }),
  );
}

describe('setGlobalPoolLimit', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: lowered, sockets close down to the limit and no more are opened; raised, waiters get the new ones`, { timeout: 60_000 }, async () => {
      const bridge = await startBridge({ backend: { host: server.host, port: server.port }, topology: 'standalone' });
      const proxy: CountingProxy = await startCountingProxy({ host: '127.0.0.1', port: bridge.members[0]!.port });
      // Polling monitors: no awaitable hello waits at the bridge among the held finds.
      const session = await dial(proxy.uri('?connect=direct'), { workers, poolLimit: 8, waitQueueTimeoutMS: 60_000, serverMonitoringMode: 'poll' });
      const member = bridge.members[0]!;
      try {
        // Eventual: each operation takes a socket of its own from the pool.
        session.setMode(Mode.Eventual, true);
        await session.db(DB).c('docs').upsert({ _id: 1 }, { _id: 1 });

        // 8 finds held on 8 sockets, then the limit goes down to 3.
        hold(bridge);
        const held = Array.from({ length: 8 }, () => session.db(DB).c('docs').find({ _id: 1 }).one());
        await waitFor('8 finds held at the bridge', () => member.pendingCommands() >= 8, 30_000);
        await session.setGlobalPoolLimit(3);
        assert.equal(poolOf(session, proxy.address).maxOpen, 3, 'stats() reports the new limit');
        unhold(bridge);
        await Promise.all(held);
        // The 5 above the limit close as they are checked in.
        await waitFor('3 pool sockets left', () => poolOf(session, proxy.address).open <= 3, 30_000);
        const { monitoring } = poolOf(session, proxy.address);
        await waitFor('3 sockets left at the server (+ monitoring)', () => proxy.open() <= 3 + monitoring, 30_000);

        // A bounded load with the limit at 3: never more open.
        proxy.resetMaxOpen();
        await load(session, 300, 24);
        assert.ok(proxy.maxOpen() <= 3 + monitoring, `the server saw ${proxy.maxOpen()} sockets at once: over 3 pool + ${monitoring} monitoring`);

        // 10 finds at limit 3: 3 held, 7 wait in the pools; raised to 6, 3 more are served.
        proxy.resetMaxOpen();
        hold(bridge);
        const waiting = Array.from({ length: 10 }, () => session.db(DB).c('docs').find({ _id: 1 }).one());
        await waitFor('3 finds held at the bridge', () => member.pendingCommands() >= 3, 30_000);
        assert.ok(poolOf(session, proxy.address).open <= 3, 'no socket above the limit');
        await session.setGlobalPoolLimit(6);
        await waitFor('6 finds held at the bridge', () => member.pendingCommands() >= 6, 30_000);
        unhold(bridge);
        await Promise.all(waiting);
        assert.ok(proxy.maxOpen() <= 6 + monitoring, `the server saw ${proxy.maxOpen()} sockets at once: over 6 pool + ${monitoring} monitoring`);
      } finally {
        unhold(bridge);
        await session.db(DB).dropDatabase().catch(() => {});
        await session.close();
        await proxy.close();
        await bridge.close();
      }
    });
  }

  for (const workers of [0, 2]) {
    test(`workers ${workers}: raised, reservations waiting at the old limit get sockets`, { timeout: 60_000 }, async () => {
      // Rare checks: nothing else (a check's broadcast) wakes the parked reservations meanwhile.
      const options = await resolveOptions(server.uri, { workers, poolLimit: 2, waitQueueTimeoutMS: 60_000, heartbeatFrequencyMS: 120_000 });
      const router = workers > 0 ? await WorkerRouter.create(options) : await LocalRouter.create(options);
      const session = openSession(router, { mode: Mode.Strong });
      const copies = Array.from({ length: 4 }, () => session.copy());
      try {
        // Strong: each copy's first operation reserves a socket and keeps it.
        await Promise.all(copies.slice(0, 2).map((copy) => copy.ping()));
        let served = 0;
        const waiting = copies.slice(2).map((copy) => copy.ping().then(() => served++));
        // Waiting in a pool (workers 0, or a worker) or parked on this thread for a spare socket (workers: placement.ts).
        const waitingNow = () =>
          router instanceof WorkerRouter
            ? router.parkedReservations() + router.workerStats().reduce((sum, w) => sum + w.inFlight, 0)
            : session.stats().reduce((sum, row) => sum + row.waitCount, 0);
        await waitFor('both waiting for a socket', () => waitingNow() >= 2, 30_000);
        assert.equal(served, 0, 'no socket beyond the limit');
        await session.setGlobalPoolLimit(4);
        await withTimeout(Promise.all(waiting), 30_000, 'the waiting reservations');
        assert.equal(served, 2);
      } finally {
        for (const copy of copies) await copy.close();
        await session.close();
      }
    });
  }

  test('the limit is an integer >= 1 and >= minPoolSize; the error names the method', async () => {
    const session = await dial(server.uri, { minPoolSize: 2 });
    try {
      for (const bad of [0, 1.5, Number.NaN, 1]) {
        await assert.rejects(session.setGlobalPoolLimit(bad), (error: unknown) => {
          assert.ok(error instanceof MgoError && error.code === 'ERR_INVALID_ARGUMENT', String(error));
          assert.match(error.message, /setGlobalPoolLimit/);
          return true;
        });
      }
    } finally {
      await session.close();
    }
  });
});
