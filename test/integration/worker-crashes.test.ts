// Worker threads that die, against FerretDB with real workers: terminate()
// and an uncaught exception (test/fixtures/crashing-worker.ts: the real
// worker, plus a command that makes its thread throw), not out of memory
// (workers.test.ts has that one).
//
//   - A long-lived Strong session whose worker dies, then continues. The
//     design (src/session/session.ts #run/#attempt/#socketFor, and
//     WorkerRouter.dispatch / sendReserve): a reservation of a lost worker
//     is dead; an operation in flight there fails with a retryable
//     NetworkError (ERR_CONNECTION_CLOSED, labels RetryableError and
//     WorkerLost), which the session retries once where the retryable
//     reads/writes rules allow (a find: yes; an insert on a standalone: no,
//     it fails once); the next operation reserves a new socket on a serving
//     worker, without an error.
//   - An uncaught exception under load: reads never fail, writes fail only
//     retryably, no acknowledged write is lost.
//   - The resend path: requests queued for a worker after it died and
//     before its loss was handled never reached it, so they are sent again
//     (WorkerRouter.losses.resent), whatever they are; none is reported lost.
//   - A worker that never becomes ready: creating the router fails with
//     ERR_NETWORK_TIMEOUT within its start deadline, and no thread is left
//     running (the process exits by itself).
//
// After each death: no permit leaked (the coordinator counts exactly the
// sockets the pools hold, nothing in use, nobody queued) and the server
// holds exactly those sockets plus the monitor's, never more than the limit
// plus the monitor's: counted at the server's side, exactly, by the counting
// proxy (test/fixtures/counting-proxy.ts: from accept to FIN) or the bridge.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Document } from 'bson';
import { MgoError } from '../../src/errors.js';
import { Mode } from '../../src/session/modes.js';
import { openSession, type Session } from '../../src/session/session.js';
import type { WorkerRouter } from '../../src/worker/worker-router.js';
import { runChildScript } from '../fixtures/child-script.js';
import { CRASH_COMMAND } from '../fixtures/crashing-worker.js';
import { monitoringSockets } from '../fixtures/server-sockets.js';
import { waitFor } from '../fixtures/wait.js';
import { MAX_MONITORING_SOCKETS as MAX_MONITORING, waitForBaseline } from '../fixtures/worker-baseline.js';
import { workerTestEnv } from '../fixtures/worker-env.js';

const DB = `mgo_worker_crashes_${process.pid}`;
const env = workerTestEnv(DB);
const CRASHING_WORKER = fileURLToPath(new URL('../fixtures/crashing-worker.ts', import.meta.url));
const STUCK_WORKER = fileURLToPath(new URL('../fixtures/stuck-worker.ts', import.meta.url));

/** A WorkerRouter on `uri` whose workers can be made to throw (crashing-worker.ts). */
function crashableRouter(uri: string, options: Record<string, unknown>): Promise<WorkerRouter> {
  return env.router(uri, options, { filename: CRASHING_WORKER });
}

/** The server's side of the sockets: the counting proxy's or the bridge member's exact counts. */
interface ServerSide {
  address: string;
  open(): number;
  maxOpen(): number;
}

function sideOf(member: { address: string; openConnections(): number; maxOpenConnections(): number }): ServerSide {
  return { address: member.address, open: () => member.openConnections(), maxOpen: () => member.maxOpenConnections() };
}

type Death = 'terminate()' | 'an uncaught exception';

/**
 * Ends worker `workerId`: terminate(), or the crash command sent on
 * `session` (whose reserved socket must be on that worker). Resolves with
 * how the crash command settled (undefined for terminate()).
 */
function kill(router: WorkerRouter, workerId: number, how: Death, session: Session, why: string): Promise<unknown> {
  if (how === 'terminate()') {
    void router.workerThread(workerId)!.terminate();
    return Promise.resolve(undefined);
  }
  return session.run({ [CRASH_COMMAND]: why }).then(
    () => assert.fail('the crash command returned'),
    (error: unknown) => error,
  );
}

/** The worker holding `session`'s one reserved socket (the only socket in use). */
function holderOf(router: WorkerRouter): number {
  const inUse = router.workerStats().map((w) => w.servers.reduce((sum, s) => sum + s.inUse, 0));
  assert.equal(inUse.reduce((a, b) => a + b, 0), 1, `one socket in use: ${inUse.join(' + ')}`);
  return inUse.indexOf(1);
}

async function socketOf(session: Session): Promise<string> {
  return String((await session.run({ whatsmyuri: 1 })).you);
}

function total(stats: { inUse: number }[]): number {
  return stats.reduce((sum, s) => sum + s.inUse, 0);
}

/** What a request lost with its worker fails with. */
function assertWorkerLost(error: unknown, why?: string): void {
  assert.ok(error instanceof MgoError, String(error));
  assert.equal(error.code, 'ERR_CONNECTION_CLOSED', error.message);
  assert.ok(error.hasErrorLabel('RetryableError') && error.hasErrorLabel('WorkerLost'), `labels of: ${error.message}`);
  if (why !== undefined) assert.match(error.message, new RegExp(`was lost with the operation in flight \\(its thread ended: ${why}\\)`));
}

/**
 * No permit leaked: back to baseline in the workers and the coordinator,
 * and the server holds exactly the pools' sockets plus the monitor's; it
 * never held more than the limit plus the monitor's.
 */
async function assertNoLeak(router: WorkerRouter, side: ServerSide, limit: number, what: string): Promise<void> {
  const settled = await waitForBaseline(router, side.address, what);
  const expected = settled.coordinated + monitoringSockets(router.stats(), side.address);
  await waitFor(`${what}: the server holds ${expected} sockets (${settled.coordinated} pooled + the monitor's)`, () => side.open() === expected, 15_000).catch((error: Error) => {
    throw new Error(`${error.message}; it holds ${side.open()}`);
  });
  assert.ok(side.maxOpen() <= limit + MAX_MONITORING, `${what}: the server saw ${side.maxOpen()} sockets at once: over ${limit} pooled + ${MAX_MONITORING} monitoring`);
}

describe('worker crashes', () => {
  for (const how of ['terminate()', 'an uncaught exception'] as const) {
    test(`a long-lived Strong session whose worker dies of ${how} continues on a new socket, and so does its clone; no permit leaked`, { timeout: 60_000 }, async () => {
      const proxy = await env.countingProxy();
      const router = await crashableRouter(proxy.uri(), { workers: 2, poolLimit: 6 });
      const session = openSession(router, { mode: Mode.Strong, database: DB });
      let clone: Session | undefined;
      try {
        const c = session.db(DB).c(`strong_${how.length}`);
        await c.insert({ _id: 1 });
        // Cloned once the session holds its socket: the clone shares it.
        clone = session.clone();
        const before = await socketOf(session);
        assert.equal(await socketOf(clone), before, 'the clone shares the reserved socket');
        const worker = holderOf(router);

        const crash = kill(router, worker, how, session, 'boom in a Strong session');
        if (how === 'an uncaught exception') {
          // The crash command itself was in flight there: it fails once, retryably.
          assertWorkerLost(await crash, 'boom in a Strong session');
        } else {
          // Straight after terminate(), before or after the router saw the
          // loss: a read goes through either way (retried, or reserved anew).
          assert.deepEqual(await c.find({}).all(), [{ _id: 1 }]);
        }
        await waitFor('the router saw the loss', () => router.workerStats()[worker]!.restarts === 1, 15_000);
        // The session goes on: a write, a read, the clone, on one new socket.
        await c.insert({ _id: 2 });
        assert.deepEqual(await c.find({}).sort('_id').all(), [{ _id: 1 }, { _id: 2 }]);
        const after = await socketOf(session);
        assert.notEqual(after, before, 'a new socket');
        // As in mgo, a clone shares the socket its parent held when cloned,
        // not the parent's later ones: once that one is dead, each reserves its own.
        const cloneNow = await socketOf(clone);
        assert.ok(cloneNow !== before && cloneNow !== after, `the clone on a new socket of its own: ${cloneNow}`);
        assert.deepEqual(await clone.db(DB).c(`strong_${how.length}`).find({}).sort('_id').all(), [{ _id: 1 }, { _id: 2 }]);
        assert.equal(total(router.stats()), 2, 'two sockets reserved, one each');
        const detail = router.workerStats()[worker]!;
        if (how === 'an uncaught exception') assert.match(detail.lastLoss ?? '', /boom in a Strong session/);
        await clone.close();
        session.refresh(); // gives the socket back; the session stays open (its close() would close the router)
        await waitFor('the replacement is serving', () => router.workerStats()[worker]!.state === 'ready', 30_000);
        await assertNoLeak(router, proxy, 6, `after ${how}`);
      } finally {
        await Promise.all([clone?.close(), session.close()]);
        await router.destroy();
      }
    });
  }

  for (const how of ['terminate()', 'an uncaught exception'] as const) {
    test(`a Strong session with a find and an insert in flight when its worker dies of ${how}: the find is retried, the insert fails once (retryable, never ran), then the session goes on`, { timeout: 60_000 }, async () => {
      // The bridge holds the two commands at the server's side, so they are in flight when the worker dies.
      const bridge = await env.bridge();
      const router = await crashableRouter(bridge.uri, { workers: 2, poolLimit: 6 });
      const session = openSession(router, { mode: Mode.Strong, database: DB });
      try {
        const c = session.db(DB).c(`inflight_${how.length}`);
        await c.insert({ _id: 'seed' });
        const worker = holderOf(router);
        const member = bridge.members[0]!;
        const baseline = member.pendingCommands();
        bridge.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: { times: 2 }, data: { failCommands: ['find', 'insert'], blockConnection: true, blockTimeMS: 2_000 } });
        const found = c.find({}).all();
        const inserted = c.insert({ _id: 'held' }).then(
          () => undefined,
          (error: unknown) => error,
        );
        await waitFor('the find and the insert are held at the server', () => member.pendingCommands() === baseline + 2, 15_000);
        const crash = kill(router, worker, how, session, 'boom with two in flight');

        assert.deepEqual(await found, [{ _id: 'seed' }], 'the read is retried on a new socket');
        assertWorkerLost(await inserted, how === 'an uncaught exception' ? 'boom with two in flight' : undefined);
        if (how === 'an uncaught exception') assertWorkerLost(await crash, 'boom with two in flight');
        // The insert that failed never ran (its socket closed while the server held it): the same _id goes in now.
        await c.insert({ _id: 'held' });
        assert.deepEqual(
          (await c.find({}).sort('_id').all()).map((d: Document) => d._id),
          ['held', 'seed'],
        );
        session.refresh();
        await waitFor('the replacement is serving', () => router.workerStats()[worker]!.state === 'ready', 30_000);
        await assertNoLeak(router, sideOf(member), 6, `after ${how}`);
      } finally {
        await session.close();
        await router.destroy();
      }
    });
  }

  test('a worker dying of an uncaught exception under load: reads never fail, writes fail only retryably, no acknowledged write is lost; a replacement serves; no permit leaked', { timeout: 60_000 }, async () => {
    const proxy = await env.countingProxy();
    const router = await crashableRouter(proxy.uri(), { workers: 2, poolLimit: 10, waitQueueTimeoutMS: 30_000 });
    const session = openSession(router, { mode: Mode.Eventual, database: DB });
    const c = session.db(DB).c('load');
    try {
      await c.insert(...Array.from({ length: 5 }, (_, i) => ({ _id: `r${i}` })));
      const acknowledged: string[] = [];
      const readFailures: unknown[] = [];
      const writeFailures: unknown[] = [];
      let reads = 0;
      let stop = false;
      let next = 0;
      // 8 read loops and 8 write loops, each at most 500 operations.
      const loops = Array.from({ length: 16 }, async (_, loop) => {
        for (let i = 0; i < 500 && !stop; i++) {
          if (loop % 2 === 0) {
            try {
              assert.equal((await c.find({ _id: { $regex: '^r' } }).all()).length, 5);
              reads++;
            } catch (error) {
              readFailures.push(error);
            }
          } else {
            const id = `w${next++}`;
            try {
              await c.insert({ _id: id });
              acknowledged.push(id);
            } catch (error) {
              writeFailures.push(error);
            }
          }
        }
      });
      await waitFor('load under way', () => reads + acknowledged.length > 100, 20_000);
      // The crash command goes to the worker a Strong copy reserved a socket on.
      const crasher = session.copy();
      crasher.setMode(Mode.Strong, true);
      await crasher.ping();
      // The worker is whichever holds the copy's socket: the one that dies.
      assertWorkerLost(await kill(router, -1, 'an uncaught exception', crasher, 'boom under load'), 'boom under load');
      const worker = router.workerStats().findIndex((w) => w.restarts === 1);
      assert.ok(worker >= 0, 'a worker died');
      await waitFor('the replacement is serving', () => router.workerStats()[worker]!.state === 'ready', 30_000);
      const after = reads + acknowledged.length;
      await waitFor('the load goes on after the replacement', () => reads + acknowledged.length > after + 100, 20_000);
      stop = true;
      await Promise.all(loops);
      await crasher.close();

      assert.deepEqual(readFailures, [], 'reads in flight on the dead worker are retried');
      for (const error of writeFailures) assertWorkerLost(error, 'boom under load');
      // The bound is what the router counted as lost at the death itself (reads among them
      // were retried): a count of in-flight requests taken before the crash command was sent
      // misses those the loops sent to that worker in between (CI: 6 failed, 5 sampled).
      assert.ok(writeFailures.length <= router.losses.lost, `${writeFailures.length} writes failed, ${router.losses.lost} requests were lost with the worker`);
      const stored = new Set((await c.find({ _id: { $regex: '^w' } }).all()).map((d: Document) => d._id as string));
      const lost = acknowledged.filter((id) => !stored.has(id));
      assert.deepEqual(lost, [], `${acknowledged.length} acknowledged writes, all stored`);
      const detail = router.workerStats()[worker]!;
      assert.equal(detail.restarts, 1);
      assert.match(detail.lastLoss ?? '', /its thread ended: boom under load/);
      await assertNoLeak(router, proxy, 10, 'after the crash under load');
    } finally {
      await session.close();
      await router.destroy();
    }
  });

  for (const how of ['terminate()', 'an uncaught exception'] as const) {
    test(`requests queued for a worker that died of ${how}, before its loss was handled, are resent and run once; none is reported lost`, { timeout: 60_000 }, async () => {
      // One worker: whatever is sent while it is down waits for its replacement.
      const proxy = await env.countingProxy();
      const router = await crashableRouter(proxy.uri(), { workers: 1, poolLimit: 30 });
      const session = openSession(router, { mode: Mode.Eventual, database: DB });
      const strong = session.copy();
      strong.setMode(Mode.Strong, true);
      const c = session.db(DB).c(`resend_${how.length}`);
      try {
        await c.insert({ _id: 'seed' });
        await strong.ping();
        // Inserts are not retried on a standalone: one reported lost would fail.
        // They are sent from inside the loss (WorkerHost.workerLost runs as
        // the worker is marked down, before its requests are handed back).
        let queued: Promise<unknown[]> | undefined;
        const workerLost = router.workerLost.bind(router);
        router.workerLost = (id: number) => {
          workerLost(id);
          queued ??= Promise.all([
            ...Array.from({ length: 20 }, (_, i) => c.insert({ _id: i })),
            ...Array.from({ length: 5 }, () => c.find({ _id: 'seed' }).one()),
          ]);
        };
        const crash = kill(router, 0, how, strong, 'boom before the resend');
        await waitFor('the loss', () => queued !== undefined, 15_000);
        const results = await queued!;
        assert.equal(results.length, 25);
        if (how === 'an uncaught exception') assertWorkerLost(await crash, 'boom before the resend');
        assert.deepEqual(router.losses, { resent: 25, lost: how === 'an uncaught exception' ? 1 : 0 }, 'each queued request resent once; only the crash command lost');
        const ids = (await c.find({}).all()).map((d: Document) => d._id).sort((a, b) => String(a).localeCompare(String(b)));
        assert.equal(ids.length, 21, 'each insert ran exactly once');
        await strong.close();
        await assertNoLeak(router, proxy, 30, `after ${how}`);
      } finally {
        await Promise.all([strong.close(), session.close()]);
        await router.destroy();
      }
    });
  }

  test('a worker that never becomes ready: creating the router fails with ERR_NETWORK_TIMEOUT within its start deadline, and no thread is left running', { timeout: 60_000 }, async () => {
    // In a child process: one that exits by itself left no thread (nor timer, nor socket) running.
    const script = `
      const { WorkerRouter } = await import(${JSON.stringify(new URL('../../src/worker/worker-router.ts', import.meta.url).href)});
      const { resolveOptions } = await import(${JSON.stringify(new URL('../../src/uri/resolve.ts', import.meta.url).href)});
      const options = await resolveOptions(process.env.MGO_CRASHES_URI, { workers: 2 });
      try {
        await WorkerRouter.create(options, { filename: process.env.MGO_STUCK_WORKER, startTimeoutMS: 1000 });
        console.log(JSON.stringify({ created: true }));
      } catch (error) {
        console.log(JSON.stringify({ code: error.code, message: error.message }));
      }
    `;
    const { code, signal, stdout, stderr } = await runChildScript(script, { env: { MGO_CRASHES_URI: env.server.uri, MGO_STUCK_WORKER: STUCK_WORKER } });
    assert.equal(signal, null, `the child did not exit by itself (killed after 30 s): a thread or handle was left; stdout ${stdout}; stderr ${stderr}`);
    assert.equal(code, 0, stderr);
    const outcome = JSON.parse(stdout.trim()) as { code?: string; message?: string; created?: boolean };
    assert.equal(outcome.code, 'ERR_NETWORK_TIMEOUT', stdout);
    assert.match(outcome.message!, /^worker [01] did not start within 1000 ms$/);
  });
});
