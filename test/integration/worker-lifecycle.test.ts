// close() and destroy() of a WorkerRouter with operations in flight in its
// workers (src/util/lifecycle.ts, WorkerRouter.close/destroy, WorkerHandle
// close/destroy, WorkerRuntime.close), against FerretDB through the bridge
// (test/fixtures/bridge), whose failCommand fail point holds the commands
// at the server's side: they are in flight in the workers, on their
// sockets or queued for one, when close() or destroy() is called. The
// bridge also counts the client sockets it holds: the server's view of
// "every socket closed".
//
// Every wait is on an event (a count, a settled promise) under a generous
// deadline; the blocks are long enough that the operations are still held
// when close() or destroy() comes, whatever the machine's load.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'bson';
import { MgoError } from '../../src/errors.js';
import { dial } from '../../src/session/dial.js';
import { Mode } from '../../src/session/modes.js';
import { openSession, type Session } from '../../src/session/session.js';
import type { WorkerRouter, WorkerRouterInternals } from '../../src/worker/worker-router.js';
import type { Bridge } from '../fixtures/bridge/index.js';
import { waitFor } from '../fixtures/wait.js';
import { workerTestEnv } from '../fixtures/worker-env.js';

const DB = `mgo_worker_lifecycle_${process.pid}`;
const env = workerTestEnv(DB);

/** A standalone bridge in front of FerretDB, a WorkerRouter on it, and an Eventual session. */
async function setup(options: Record<string, unknown>, internals: WorkerRouterInternals = {}): Promise<{ bridge: Bridge; router: WorkerRouter; session: Session }> {
  const bridge = await env.bridge();
  const router = await env.router(bridge.uri, { workers: 2, ...options }, internals);
  return { bridge, router, session: openSession(router, { mode: Mode.Eventual, database: DB }) };
}

/**
 * For the destroy() tests: a worker's close() would wait this long for its
 * drain (10 minutes, as long as the commands are held), so only an abort
 * settles the operations within the test's timeout.
 */
const NEVER: WorkerRouterInternals = { closeTimeoutMS: 600_000 };

/** Holds every find and insert at the bridge for `ms` before it runs (the connection stays open). */
function holdCommands(bridge: Bridge, ms: number): void {
  bridge.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['find', 'insert'], blockConnection: true, blockTimeMS: ms } });
}

function release(bridge: Bridge): void {
  bridge.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'off' });
}

/** How an operation settled; `afterClose`: close() had already resolved by then. */
type Outcome = ({ ok: true; value: unknown } | { ok: false; error: MgoError }) & { afterClose: boolean };

function settle(operation: Promise<unknown>, closed: () => boolean = () => false): Promise<Outcome> {
  return operation.then(
    (value) => ({ ok: true, value, afterClose: closed() }),
    (error: MgoError) => ({ ok: false, error, afterClose: closed() }),
  );
}

function describeOutcomes(outcomes: Outcome[]): string {
  return outcomes.map((o) => (o.ok ? 'ok' : `${o.error.code}: ${o.error.message}`)).join('; ');
}

/**
 * `reads` finds and `writes` inserts on `session`, started at once; resolves
 * once `held` of them have reached the bridge and are held there.
 */
async function startHeldLoad(bridge: Bridge, session: Session, collection: string, reads: number, writes: number, held: number, closed?: () => boolean) {
  const c = session.db(DB).c(collection);
  const baseline = bridge.members[0]!.pendingCommands();
  const finds = Array.from({ length: reads }, () => settle(c.find({ _id: 'seed' }).all(), closed));
  const inserts = Array.from({ length: writes }, (_, i) => settle(c.insert({ _id: `w${i}` }), closed));
  await waitFor(`${held} commands held at the bridge`, () => bridge.members[0]!.pendingCommands() >= baseline + held, 20_000);
  return { finds, inserts };
}

const isClosedError = (outcome: Outcome, codes: readonly string[]) => !outcome.ok && outcome.error instanceof MgoError && codes.includes(outcome.error.code);

describe('WorkerRouter close() and destroy() with operations in flight in the workers', () => {
  test('close() drains: every operation in flight completes before close resolves, then every socket is closed; later calls fail with ERR_POOL_CLOSED / ERR_SESSION_CLOSED', { timeout: 60_000 }, async () => {
    // poolLimit 4 under 10 operations: 4 are held on sockets at the bridge,
    // 6 wait in the workers' pools for one of those sockets.
    const { bridge, router, session } = await setup({ poolLimit: 4, waitQueueTimeoutMS: 30_000 });
    await session.db(DB).c('drain').insert({ _id: 'seed' });
    holdCommands(bridge, 3_000);
    let closed = false;
    const { finds, inserts } = await startHeldLoad(bridge, session, 'drain', 5, 5, 4, () => closed);
    assert.equal(
      router.workerStats().reduce((sum, w) => sum + w.inFlight, 0),
      10,
      'all ten are in the workers (held at the bridge, or waiting there for a socket)',
    );

    // The last session's close() closes the router (after endSessions); router.close() is the same close.
    const closing = Promise.all([session.close(), router.close()]).then(() => (closed = true));
    // Late callers are refused at once, while the drain goes on.
    await assert.rejects(async () => session.ping(), { code: 'ERR_SESSION_CLOSED' });
    await assert.rejects(router.run({ db: DB, command: { ping: 1 }, readPreference: { mode: 'primary' } }), { code: 'ERR_POOL_CLOSED' });
    await assert.rejects(router.reserve({ mode: 'primary' }), { code: 'ERR_POOL_CLOSED' });
    release(bridge); // the held ones run when their block ends, the queued ones unblocked after them

    const outcomes = await Promise.all([...finds, ...inserts]);
    assert.ok(
      outcomes.every((o) => o.ok),
      `every operation in flight completes: ${describeOutcomes(outcomes)}`,
    );
    assert.ok(
      outcomes.every((o) => !o.afterClose),
      'close() resolved only after every operation it drained had settled',
    );
    for (const found of outcomes.slice(0, 5)) assert.deepEqual((found as { value: Document[] }).value, [{ _id: 'seed' }]);
    await closing;
    assert.deepEqual(
      router.workerStats().map((w) => w.state),
      ['closed', 'closed'],
    );
    await waitFor('the bridge holds no client socket (pools and monitor closed)', () => bridge.members[0]!.openConnections() === 0, 10_000);

    // Idempotent, and destroy() after close() is a no-op.
    await Promise.all([router.close(), session.close(), router.destroy()]);
    await assert.rejects(router.run({ db: DB, command: { ping: 1 }, readPreference: { mode: 'primary' } }), { code: 'ERR_POOL_CLOSED' });
    await assert.rejects(async () => session.db(DB).c('drain').find({}).all(), { code: 'ERR_SESSION_CLOSED' });

    // What close() drained did run: the writes are there.
    const check = await dial(env.server.uri);
    try {
      const written = await check.db(DB).c('drain').find({}).sort('_id').all();
      assert.deepEqual(
        written.map((d) => d._id),
        ['seed', 'w0', 'w1', 'w2', 'w3', 'w4'],
      );
      await check.db(DB).dropDatabase();
    } finally {
      await check.close();
    }
  });

  test('destroy() aborts: every operation in flight fails with ERR_POOL_CLOSED at once, the workers end, every socket is closed; idempotent', { timeout: 60_000 }, async () => {
    // Held far longer than the test's timeout: only an abort settles them.
    const { bridge, router, session } = await setup({ poolLimit: 4, waitQueueTimeoutMS: 300_000 }, NEVER);
    await session.db(DB).c('abort').insert({ _id: 'seed' });
    holdCommands(bridge, 600_000);
    const { finds, inserts } = await startHeldLoad(bridge, session, 'abort', 5, 5, 4);
    const destroying = [router.destroy(), router.destroy()];
    await Promise.all(destroying);
    const outcomes = await Promise.all([...finds, ...inserts]);
    assert.ok(
      outcomes.every((o) => isClosedError(o, ['ERR_POOL_CLOSED'])),
      `every operation fails with ERR_POOL_CLOSED: ${describeOutcomes(outcomes)}`,
    );
    assert.deepEqual(
      router.workerStats().map((w) => w.state),
      ['closed', 'closed'],
    );
    await waitFor('the bridge holds no client socket (they died with the workers)', () => bridge.members[0]!.openConnections() === 0, 10_000);
    await Promise.all([router.destroy(), router.close()]);
    await assert.rejects(router.run({ db: DB, command: { ping: 1 }, readPreference: { mode: 'primary' } }), { code: 'ERR_POOL_CLOSED' });
    await assert.rejects(router.reserve({ mode: 'primary' }), { code: 'ERR_POOL_CLOSED' });
    release(bridge);
  });

  test('destroy() while close() drains: the drain is cut short, both resolve, the operations fail with ERR_POOL_CLOSED', { timeout: 60_000 }, async () => {
    const { bridge, router, session } = await setup({ poolLimit: 4, waitQueueTimeoutMS: 300_000 }, NEVER);
    await session.db(DB).c('cut').insert({ _id: 'seed' });
    holdCommands(bridge, 600_000);
    // Strong copies too: a reservation held, and one waiting for a socket on this thread (placement.ts).
    const strong = Array.from({ length: 2 }, () => {
      const copy = session.copy();
      copy.setMode(Mode.Strong, true);
      return copy;
    });
    const { finds, inserts } = await startHeldLoad(bridge, session, 'cut', 4, 4, 4);
    const reserved = strong.map((copy) => settle(copy.db(DB).c('cut').find({}).all()));
    let closeSettled = false;
    const closing = router.close().then(() => (closeSettled = true));
    await assert.rejects(router.run({ db: DB, command: { ping: 1 }, readPreference: { mode: 'primary' } }), { code: 'ERR_POOL_CLOSED' });
    // Nothing can end the held operations but an abort (they are held for 10 minutes).
    assert.equal(closeSettled, false, 'close() waits for the held operations');
    await router.destroy();
    await closing;
    const outcomes = await Promise.all([...finds, ...inserts, ...reserved]);
    assert.ok(
      outcomes.every((o) => isClosedError(o, ['ERR_POOL_CLOSED'])),
      `every operation fails with ERR_POOL_CLOSED: ${describeOutcomes(outcomes)}`,
    );
    await waitFor('the bridge holds no client socket', () => bridge.members[0]!.openConnections() === 0, 10_000);
    release(bridge);
  });
});
