// Session.setPoolLimit(n), mgo's per-session limit, for workers 0 and 2:
// the session's operations wait while n or more sockets of the server are
// in use; other sessions do not wait for it; a wait ends as a pool wait does.
// The bridge (test/fixtures/bridge) holds each find on its socket
// (failCommand with blockConnection) and records when each command arrived
// and was answered: the most finds of the limited session at the server at
// once is read from those records, every one of them, nothing sampled.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dial, Mode, MgoError, openSession, PoolTimeoutError, resolveOptions, type Session } from '../../src/index.js';
import { LocalRouter } from '../../src/router/local-router.js';
import { WorkerRouter } from '../../src/worker/worker-router.js';
import { startBridge, type Bridge, type CommandRecord } from '../fixtures/bridge/index.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { waitFor, withTimeout } from '../fixtures/wait.js';

const DB = `mgo_session_limit_${process.pid}`;
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
});

function hold(bridge: Bridge, ms: number): void {
  bridge.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['find'], blockConnection: true, blockTimeMS: ms } });
}

/** The most records overlapping at once (each from its arrival to its answer at the bridge). */
function mostAtOnce(records: CommandRecord[]): number {
  const edges = records.flatMap((r) => [
    { at: r.startedAt, delta: 1 },
    { at: r.finishedAt ?? Infinity, delta: -1 },
  ]);
  // An answer and an arrival at the same instant: the answer first.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let open = 0;
  let most = 0;
  for (const edge of edges) most = Math.max(most, (open += edge.delta));
  return most;
}

async function setup(workers: number, waitQueueTimeoutMS: number) {
  const bridge = await startBridge({ backend: { host: server.host, port: server.port }, topology: 'standalone' });
  // Polling monitors: no awaitable hello waits at the bridge.
  const session = await dial(bridge.uri, { workers, poolLimit: 20, waitQueueTimeoutMS, serverMonitoringMode: 'poll' });
  session.setMode(Mode.Eventual, true);
  await session.db(DB).c('docs').upsert({ _id: 1 }, { _id: 1 });
  return { bridge, session };
}

async function teardown(bridge: Bridge, session: Session): Promise<void> {
  bridge.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'off' });
  await session.db(DB).dropDatabase().catch(() => {});
  await session.close();
  await bridge.close();
}

/**
 * A Strong session over a router the test can look into, and a copy of it
 * limited to `sessionLimit` (copies made from it after share the limit).
 */
async function limitedFamily(workers: number, dialOptions: { poolLimit: number; waitQueueTimeoutMS: number }, sessionLimit: number) {
  const options = await resolveOptions(server.uri, { workers, ...dialOptions });
  const router = workers > 0 ? await WorkerRouter.create(options) : await LocalRouter.create(options);
  const session = openSession(router, { mode: Mode.Strong });
  const limited = session.copy();
  limited.setPoolLimit(sessionLimit);
  return { router, session, limited };
}

describe('Session.setPoolLimit', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: never more than n of the session's operations at the server; an unlimited session does not wait`, { timeout: 60_000 }, async () => {
      const { bridge, session } = await setup(workers, 60_000);
      const finds: CommandRecord[] = [];
      const unsubscribe = bridge.onCommand((record) => {
        if (record.commandName === 'find' && record.command.find === 'limited') finds.push(record);
      });
      try {
        const limited = session.copy();
        limited.setPoolLimit(3);
        hold(bridge, 600);
        let done = 0;
        const operations = Array.from({ length: 12 }, (_, i) =>
          (i % 2 ? limited.clone() : limited).db(DB).c('limited').find({ _id: i }).all().finally(() => done++),
        );
        await waitFor('3 finds held at the bridge', () => bridge.members[0]!.pendingCommands() >= 3, 30_000);
        // Another session, without a limit, is not held back by the limited one's waiters.
        const other = session.copy();
        await other.db(DB).c('other').insert({ at: 'while the limited session waits' });
        assert.ok(done < 12, `the unlimited insert finished while the limited finds still waited (${done} of 12 done)`);
        await other.close();
        await Promise.all(operations);
        await limited.close();
        assert.equal(finds.length, 12);
        assert.ok(mostAtOnce(finds) <= 3, `at most 3 of the limited session's finds at the server at once, saw ${mostAtOnce(finds)}`);
        assert.equal(mostAtOnce(finds), 3, 'the limit is reached, not only respected');
      } finally {
        unsubscribe();
        await teardown(bridge, session);
      }
    });

    test(`workers ${workers}: Strong copies (mgo's per-request Copy) hold their socket until closed, and count against the limit meanwhile`, { timeout: 60_000 }, async () => {
      const { bridge, session } = await setup(workers, 60_000);
      const finds: CommandRecord[] = [];
      const unsubscribe = bridge.onCommand((record) => {
        if (record.commandName === 'find' && record.command.find === 'strong') finds.push(record);
      });
      try {
        const root = session.copy();
        root.setMode(Mode.Strong, true);
        root.setPoolLimit(2);
        hold(bridge, 300);
        await Promise.all(
          Array.from({ length: 6 }, async (_, i) => {
            const copy = root.copy();
            try {
              await copy.db(DB).c('strong').find({ _id: i }).all();
            } finally {
              await copy.close();
            }
          }),
        );
        await root.close();
        assert.equal(finds.length, 6);
        assert.equal(mostAtOnce(finds), 2, `2 of the copies' finds at the server at once at most, and 2 reached; saw ${mostAtOnce(finds)}`);
      } finally {
        unsubscribe();
        await teardown(bridge, session);
      }
    });

    test(`workers ${workers}: a limited session's operations waiting at its limit do not hold back another session's reservation while permits are free`, { timeout: 60_000 }, async () => {
      // maxPoolSize 4; the limited family holds 2 reservations (its limit)
      // and 3 more of its copies wait at the limit: 2 of the 4 permits stay
      // unused, and an unlimited Strong session must get one. (Found in
      // review: with workers, the main thread's placement took the 3
      // waiting at the session limit for requests waiting for permits, saw
      // no permit left and parked the unlimited reservation until
      // waitQueueTimeoutMS.)
      const { router, session, limited } = await limitedFamily(workers, { poolLimit: 4, waitQueueTimeoutMS: 10_000 }, 2);
      const copies = Array.from({ length: 5 }, () => limited.copy());
      const unlimited = session.copy();
      let waiting: Promise<void>[] = [];
      try {
        // Strong: each copy's first operation reserves a socket and keeps it.
        await Promise.all(copies.slice(0, 2).map((copy) => copy.ping()));
        // Each gives its socket back once served, for the next one.
        waiting = copies.slice(2).map((copy) => copy.ping().finally(() => copy.close()));
        const waitingNow = () =>
          router instanceof WorkerRouter
            ? router.workerStats().reduce((sum, w) => sum + w.inFlight, 0)
            : router.gatedOperations();
        await waitFor('3 copies waiting at the session limit', () => waitingNow() >= 3, 30_000);
        await unlimited.ping();
        await unlimited.close();
        for (const copy of copies.slice(0, 2)) await copy.close();
        await Promise.all(waiting);
      } finally {
        await unlimited.close();
        for (const copy of copies.slice(0, 2)) await copy.close();
        await Promise.allSettled(waiting);
        await limited.close();
        await session.close();
      }
    });

    test(`workers ${workers}: setGlobalPoolLimit lowered to the session's limit: its operation waiting at that limit keeps its place ahead of its later ones`, { timeout: 60_000 }, async () => {
      // maxPoolSize 6, the session's limit 3: 3 Strong copies hold their
      // sockets and a 4th waits at the session's limit. Lowered to 3, the
      // session's limit no longer gates (the pool's limit is the same): a
      // later operation of the session goes straight to the pool's queue.
      // The 4th must not stay behind it at a count that such operations keep
      // up (found in review: it did, and was served after the later one, or
      // not at all under a steady load of them).
      const { router, session, limited } = await limitedFamily(workers, { poolLimit: 6, waitQueueTimeoutMS: 30_000 }, 3);
      const holders = Array.from({ length: 3 }, () => limited.copy());
      const first = limited.copy();
      const later = limited.copy();
      later.setMode(Mode.Eventual, true);
      const served: string[] = [];
      let pending: Promise<unknown>[] = [];
      try {
        await Promise.all(holders.map((copy) => copy.ping()));
        const firstPing = first.ping().then(() => served.push('first'));
        pending.push(firstPing);
        const gated = () => (router instanceof WorkerRouter ? router.coordinatorSnapshot().reduce((sum, slot) => sum + slot.gated, 0) : router.gatedOperations());
        await waitFor('the 4th copy waiting at the session limit', () => gated() >= 1, 30_000);
        await session.setGlobalPoolLimit(3);
        const laterPing = later.ping().then(() => served.push('later'));
        pending.push(laterPing);
        if (router instanceof WorkerRouter) {
          await waitFor('the later operation waiting in a worker', () => router.workerStats().reduce((sum, w) => sum + w.inFlight, 0) >= 2, 30_000);
        }
        // One socket comes back: it goes to the oldest waiter.
        await holders[0]!.close();
        await withTimeout(Promise.race(pending), 30_000, 'one of the two served');
        assert.deepEqual(served, ['first'], 'the operation that waited first is served first');
        await first.close();
        await withTimeout(Promise.all(pending), 30_000, 'both served');
      } finally {
        for (const copy of holders) await copy.close();
        await Promise.allSettled(pending);
        pending = [];
        await first.close();
        await later.close();
        await limited.close();
        await session.close();
      }
    });

    test(`workers ${workers}: a wait at the session's limit ends with PoolTimeoutError after waitQueueTimeoutMS`, { timeout: 60_000 }, async () => {
      const { bridge, session } = await setup(workers, 300);
      try {
        const limited = session.copy();
        limited.setPoolLimit(1);
        hold(bridge, 3_000);
        const first = limited.db(DB).c('docs').find({ _id: 1 }).one();
        await waitFor('the first find held at the bridge', () => bridge.members[0]!.pendingCommands() >= 1, 30_000);
        await assert.rejects(limited.db(DB).c('docs').find({ _id: 1 }).one(), (error: unknown) => {
          assert.ok(error instanceof PoolTimeoutError && error instanceof MgoError, String(error));
          assert.equal(error.code, 'ERR_POOL_TIMEOUT');
          assert.match(error.message, /the session's pool limit 1/);
          return true;
        });
        await first;
        await limited.close();
      } finally {
        await teardown(bridge, session);
      }
    });
  }
});
