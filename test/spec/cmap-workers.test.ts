// The CMAP spec files (connection-monitoring-and-pooling/tests/cmap-format,
// read from $MGO_SPECS_DIR or ../shared/specs, never copied) with real worker
// threads as their "threads": issue 5, "the CMAP runner also runs with real
// workers as its threads, sharing one coordinator".
//
// The model (test/fixtures/cmap-worker-runner.ts): every spec thread, the
// spec's main thread included, is a worker thread with its own Pool for the
// server and fake connections (integration files: real connections to the
// scripted fake wire server, whose fail point blocks their handshakes); all
// of them take permits (maxPoolSize) and dial slots (maxConnecting) from one
// Coordinator buffer through WorkerCoordinator.permits(), as workers
// do. One pool per thread, one limit across threads. Events of all workers
// are merged in a true total order (a shared Atomics counter, taken at each
// emit).
//
// What this model changes in the expected events, and how each change is
// mapped (expectedOverWorkers in the runner), all of it checked, none of it
// ignored:
//
// 1. Pool-level events. ready, clear and close address "the pool", i.e. the
//    server's pool in every worker (WorkerRouter propagates a clear to every
//    worker; each worker's pool becomes ready from the process's monitor).
//    Every worker's pool emits its own ConnectionPoolCreated / Ready /
//    Cleared / Closed, so each such expected event is expected once per
//    worker, consecutively.
//
// 2. Hand-offs between threads: the check-in rule. A connection cannot move
//    to another thread; its permit can. Cross-worker FIFO comes from the
//    coordinator's ring (one queue of permit requests across workers) plus
//    a check-in rule in Pool.checkIn: when the oldest queued request is
//    another worker's (PermitSource.othersWaiting()), the connection being
//    checked in is closed with reason 'yielded' and its permit goes straight
//    to that worker, which dials a connection of its own. So where the spec
//    expects CheckedIn (thread A) then CheckedOut of that connection
//    (thread B), this model gives CheckedIn (A), ConnectionClosed{yielded}
//    (A), ConnectionCreated + ConnectionReady (B), CheckedOut (B) of a new
//    connection; the ones in the file's ignore list are left out. The pool
//    emits ConnectionClosed before it releases the permit, so A's Closed
//    always comes before B's dial, in that order. Every hand-off is also
//    counted in the raw log: one 'yielded' close and one new dial each.
//
// 3. maxConnecting across threads. The coordinator's dial slots make it one
//    limit for all workers. A worker emits ConnectionReady before it
//    releases its dial slot, so the next worker's ConnectionCreated always
//    follows it: the spec's order holds as written.
//
// Whatever the mapping, every file that runs also checks, counted at the
// connectors of all workers together (not from events): connections open at
// once <= maxPoolSize, dials at once <= maxConnecting.
//
// Files whose expected events assume one pool shared by the threads do not
// keep their meaning and are skipped, each with the reason (SKIPPED below).
// Files without spec threads run in one worker: one thread, one pool, the
// coordinator's permits; they keep their meaning as they are.
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { loadCmapTests, skipReason, type CmapEnvironment, type CmapTest } from '../fixtures/cmap-runner.js';
import {
  WorkerHosts,
  assertEventsOverWorkers,
  expectedOverWorkers,
  runOverWorkers,
  threadsOf,
  type Mapping,
  type WorkerEnvironment,
  type WorkerRunResult,
} from '../fixtures/cmap-worker-runner.js';
import { startFakeServer, type FailPoint, type FakeServer } from '../fixtures/fake-server.js';

/** Spec files with threads that assume one pool shared by the threads. */
const SKIPPED: Record<string, string> = {
  'pool-checkout-minPoolSize-connection-maxConnecting':
    'its point is that threads blocked by maxConnecting check out the pool\'s 2 minPoolSize connections instead of dialing more (2 ConnectionCreated in all); ' +
    'over workers minPoolSize is shared out (main 1, thread1 1, thread2 0, as WorkerRuntime does), so thread2\'s pool has none to take and dials a third: ' +
    'a connection of another thread\'s pool cannot be checked out',
  'pool-checkout-returned-connection-maxConnecting':
    'expects conn0, checked in by the main thread, to be checked out by a thread blocked on maxConnecting (connectionId 1); ' +
    'over workers it stays in the main thread\'s pool (nobody waits for a permit, so the check-in rule does not yield it) and the blocked thread waits for a dial slot',
};

/** How the files with threads map onto the model (see 2 and 3 above); files not listed map by rule 1 alone. */
const MAPPINGS: Record<string, Mapping & { why: string }> = {
  'pool-create-max-size': {
    handoffs: [14],
    why: 'conn1 checked in by the main thread goes to thread1 waiting at maxPoolSize 3: a yielded close and a dial in thread1',
  },
  'wait-queue-fairness': {
    handoffs: [6, 8, 10, 12],
    why: 'each check-in hands the one permit (maxPoolSize 1) to the oldest waiting thread: 4 yielded closes, 4 dials (Closed/Created/Ready are in the ignore list)',
  },
};

/** File-specific checks beyond the events. */
const EXTRA: Record<string, (result: WorkerRunResult, t: TestContext) => void> = {
  'wait-queue-fairness': (result) => {
    // The order in which threads got a connection is the order they queued.
    const got = result.events.filter((e) => e.event.type === 'ConnectionCheckedOut').map((e) => e.thread);
    assert.deepEqual(got, ['main', 'thread1', 'thread2', 'thread3', 'thread4'], 'connections issued in queue order across workers');
    const queued = result.events.filter((e) => e.event.type === 'ConnectionCheckOutStarted').map((e) => e.thread);
    assert.deepEqual(queued, ['main', 'thread1', 'thread2', 'thread3', 'thread4']);
    countHandoffs(result, 4, 5);
  },
  'pool-create-max-size': (result) => {
    countHandoffs(result, 1, 4);
    assert.equal(result.maxOpen, 3, 'the limit of 3 was reached across the two workers and never exceeded');
  },
  'wait-queue-timeout': (result) => {
    const failed = result.events.find((e) => e.event.type === 'ConnectionCheckOutFailed');
    assert.equal(failed?.thread, 'thread1', 'the waiter in the other worker timed out');
  },
  'pool-clear-clears-waitqueue': (result) => {
    const failed = result.events.filter((e) => e.event.type === 'ConnectionCheckOutFailed').map((e) => e.thread);
    assert.deepEqual(failed, ['thread1', 'thread2', 'thread3'], 'the clear reached the waiters of every worker');
  },
};

/** Each hand-off: one 'yielded' close, and one more connection dialed (by the worker that got the permit). */
function countHandoffs(result: WorkerRunResult, handoffs: number, dials: number): void {
  const yielded = result.events.filter((e) => e.event.type === 'ConnectionClosed' && e.event.reason === 'yielded');
  assert.equal(yielded.length, handoffs, `${handoffs} hand-offs, each a yielded close`);
  const created = result.events.filter((e) => e.event.type === 'ConnectionCreated');
  assert.equal(created.length, dials, `${dials} connections dialed`);
  const closed = result.events.filter((e) => e.event.type === 'ConnectionClosed');
  assert.equal(closed.length, handoffs, 'no other connection closed');
}

const hosts = new WorkerHosts();
after(() => hosts.close());

const ADDRESS = 'localhost:27017';

async function runFile(name: string, spec: CmapTest, env: WorkerEnvironment, t: TestContext): Promise<void> {
  const threads = threadsOf(spec);
  const mapping = MAPPINGS[name];
  const result = await runOverWorkers(spec, env, hosts);

  if (spec.error !== undefined) {
    const error = result.mainFailure?.error;
    assert.ok(error instanceof Error, `expected the main thread to fail with ${String(spec.error.type)}, but it did not fail`);
    const name = spec.error.type === 'WaitQueueTimeoutError' ? 'PoolTimeoutError' : String(spec.error.type);
    assert.equal(error.name, name, `expected ${name}, got ${error.name}: ${error.message}`);
    if (typeof spec.error.message === 'string') assert.ok(error.message.startsWith(spec.error.message), error.message);
  } else if (result.mainFailure !== undefined) {
    throw result.mainFailure.error;
  }

  const ignore = new Set(spec.ignore ?? []);
  const actual = result.events.filter((e) => !ignore.has(e.event.type));
  assertEventsOverWorkers(actual, expectedOverWorkers(spec, threads.length, mapping));
  assert.ok(result.maxOpen <= result.maxPoolSize, `${result.maxOpen} connections open at once across workers, maxPoolSize ${result.maxPoolSize}`);
  assert.ok(result.maxDialing <= result.maxConnecting, `${result.maxDialing} dials at once across workers, maxConnecting ${result.maxConnecting}`);
  EXTRA[name]?.(result, t);

  t.diagnostic(
    `${threads.length} worker${threads.length > 1 ? 's' : ''} (${threads.join(', ')}); ${result.events.length} events; ` +
      `max open ${result.maxOpen}/${result.maxPoolSize}, max dialing ${result.maxDialing}/${result.maxConnecting}` +
      (mapping ? `; mapped: ${mapping.why}` : ''),
  );
}

const files = loadCmapTests();
for (const { name, test: spec } of files) {
  test(name, { timeout: 30_000 }, async (t) => {
    const reason = SKIPPED[name];
    if (reason !== undefined) {
      t.skip(`one shared pool assumed: ${reason}`);
      return;
    }
    if (spec.style !== 'integration') {
      await runFile(name, spec, { address: ADDRESS }, t);
      return;
    }
    // One fake server per integration file, as in cmap.test.ts; the workers dial it over TCP.
    const server: FakeServer = await startFakeServer();
    try {
      const env: WorkerEnvironment = {
        address: server.address,
        server: { host: server.host, port: server.port, address: server.address },
        enableFailPoint: async (failPoint) => {
          server.configureFailPoint(failPoint as unknown as FailPoint);
          return async () => server.configureFailPoint({ configureFailPoint: 'failCommand', mode: 'off' });
        },
      };
      const cannot = skipReason(spec, { ...env, serverVersion: server.serverVersion, connectFor: () => assert.fail('not used') } as CmapEnvironment);
      if (cannot !== undefined) {
        t.skip(cannot);
        return;
      }
      await runFile(name, spec, env, t);
    } finally {
      await server.close();
    }
  });
}

test('every spec file is accounted for', () => {
  const names = new Set(files.map((f) => f.name));
  for (const name of [...Object.keys(SKIPPED), ...Object.keys(MAPPINGS), ...Object.keys(EXTRA)]) {
    assert.ok(names.has(name), `${name} is mapped here but is not a spec file`);
  }
  assert.ok(files.length > 0, 'no spec files found');
});
