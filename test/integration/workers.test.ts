// Workers against the real test server: the session API through
// WorkerRouter, the same results as in-thread, socket affinity, stats summed
// over workers, a worker killed mid-load, a clean process exit after close,
// and the global connection limit counted from the server's side.
//
// Every load is bounded in count and in time (the tests' own timeouts,
// waitQueueTimeoutMS, the deadlines below).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Binary, Double, Int32, Long, ObjectId, type Document } from 'bson';
import { MgoError } from '../../src/errors.js';
import { WorkerRouter } from '../../src/worker/worker-router.js';
import { dial } from '../../src/session/dial.js';
import { isDup } from '../../src/session/errors.js';
import { Mode } from '../../src/session/modes.js';
import { openSession, type Session } from '../../src/session/session.js';
import { resolveOptions } from '../../src/uri/resolve.js';
import { monitoringSockets } from '../fixtures/server-sockets.js';
import { startCountingProxy } from '../fixtures/counting-proxy.js';
import { runChildScript } from '../fixtures/child-script.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { waitFor } from '../fixtures/wait.js';
import { onPoolEvents } from '../fixtures/pool-events.js';

let server: TestServer;
const DB = `mgo_workers_it_${process.pid}`;
const routers = new Set<WorkerRouter>();

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await Promise.allSettled([...routers].map((r) => r.destroy()));
  const cleanup = await dial(server.uri).catch(() => undefined);
  await cleanup?.db(DB).dropDatabase().catch(() => {});
  await cleanup?.close();
  await server?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A WorkerRouter and a session on it (tests reach the router's diagnostics). */
async function workerSession(options: Record<string, unknown>, mode: Mode = Mode.Strong, uri = server.uri): Promise<{ router: WorkerRouter; session: Session }> {
  const router = await WorkerRouter.create(await resolveOptions(uri, options));
  routers.add(router);
  return { router, session: openSession(router, { mode, database: DB }) };
}

async function socketOf(session: Session): Promise<string> {
  return String((await session.run({ whatsmyuri: 1 })).you);
}

function total(stats: { inUse: number }[]): number {
  return stats.reduce((sum, s) => sum + s.inUse, 0);
}

/**
 * Strong copies, made at once, for every socket open now and two more (up
 * to the limit): reservations go to spare sockets first, wherever they are
 * (src/worker/placement.ts), so only those beyond them show which worker
 * takes new sockets. Each has pinged: it holds its socket.
 */
async function reserveBeyondOpen(router: WorkerRouter, session: Session): Promise<Session[]> {
  const { open, limit } = router.coordinatorSnapshot()[0]!;
  const copies = Array.from({ length: Math.min(open + 2, limit) }, () => {
    const copy = session.copy();
    copy.setMode(Mode.Strong, true);
    return copy;
  });
  await Promise.all(copies.map((copy) => copy.ping()));
  return copies;
}

// ------------------------------------------------------------------------
// The same operation sequence, recorded: results and errors (class, codes, message).

const docs = (): Document[] => [
  { _id: 1, g: 1, n: new Int32(5), oid: new ObjectId('65a1b2c3d4e5f60718293a4b'), when: new Date('2024-01-02T03:04:05.006Z') },
  { _id: 2, g: 2, n: new Double(3), long: Long.fromString('9007199254740993'), bin: new Binary(Buffer.from([1, 2, 3]), 0) },
  { _id: 3, g: 1, n: 9, dec: 'no Decimal128 on FerretDB', nested: { a: [1, { b: new Double(2.5) }] } },
  { _id: 4, g: 2, n: 1, tags: ['x', 'y'] },
  { _id: 5, g: 1, n: 7 },
];

async function transcript(session: Session, collection: string): Promise<unknown[]> {
  const out: unknown[] = [];
  const record = async (label: string, body: () => Promise<unknown>) => {
    try {
      out.push([label, await body()]);
    } catch (e) {
      const error = e as MgoError & { serverCode?: number; codeName?: string };
      out.push([label, 'error', error.name, error.code, error.serverCode, error.codeName, error.message, isDup(error)]);
    }
  };
  const c = session.db(DB).c(collection);
  await record('insert', () => c.insert(...docs()));
  await record('duplicate', () => c.insert({ _id: 1 }));
  await record('find sorted', () => c.find({}).sort('_id').all());
  await record('find raw types', () => c.find({ _id: 2 }).one());
  await record('projection', () => c.find({ g: 1 }).select({ n: 1 }).sort('-n').all());
  await record('count', () => c.find({ g: 1 }).count());
  await record('iter in batches of 2', async () => {
    const seen: unknown[] = [];
    for await (const doc of c.find({}).sort('_id').batch(2).iter()) seen.push(doc);
    return seen;
  });
  await record('update', () => c.update({ _id: 2 }, { $set: { n: 10 } }));
  await record('updateAll', () => c.updateAll({ g: 1 }, { $inc: { n: 1 } }));
  await record('upsert', () => c.upsert({ _id: 6 }, { $set: { g: 3 } }));
  await record('update missing', () => c.update({ _id: 99 }, { $set: { n: 1 } }));
  await record('removeAll', () => c.removeAll({ g: 2 }));
  await record('one missing', () => c.find({ _id: 99 }).one());
  await record('pipe', () => c.pipe([{ $match: { g: 1 } }, { $sort: { _id: -1 } }, { $project: { n: 1 } }]).all());
  await record('distinct', () => c.find({}).distinct('g'));
  await record('bulk', async () => {
    const bulk = c.bulk();
    bulk.unordered();
    bulk.insert({ _id: 10 }, { _id: 1 }, { _id: 11 });
    bulk.update({ _id: 10 }, { $set: { x: 1 } });
    return bulk.run();
  });
  await record('unacknowledged insert then read on the same socket', async () => {
    const clone = session.clone();
    clone.setSafe(null);
    await clone.db(DB).c(collection).insert({ _id: 20, w: 0 });
    await clone.close();
    return c.find({ _id: 20 }).one();
  });
  await record('unknown command', () => session.run({ noSuchCommand: 1 }));
  await record('bad query', () => c.find({ $bad: 1 }).all());
  await record('after all that', () => c.find({}).sort('_id').all());
  await record('indexes', async () => {
    await c.ensureIndexKey('g', '-n');
    return (await c.indexes()).map((index) => index.key);
  });
  await record('drop', () => c.dropCollection());
  return out;
}

// ------------------------------------------------------------------------

describe('workers', () => {
  test('dial with workers 1 runs the session API', { timeout: 60_000 }, async () => {
    const session = await dial(server.uri, { workers: 1 });
    try {
      assert.deepEqual(session.liveServers(), [server.address]);
      const c = session.db(DB).c('one');
      await c.insert({ _id: 1, a: 1 }, { _id: 2, a: 2 });
      assert.deepEqual(await c.find({}).sort('-_id').all(), [
        { _id: 2, a: 2 },
        { _id: 1, a: 1 },
      ]);
      assert.equal(await c.count(), 2);
      const [stats] = session.stats();
      assert.equal(stats!.address, server.address);
      assert.ok(stats!.open >= 1);
      assert.equal(stats!.maxOpen, 100);
      await c.dropCollection();
    } finally {
      await session.close();
    }
  });

  test('workers: 0 and workers: 2 give identical results for the same operation sequence', { timeout: 90_000 }, async () => {
    const local = await dial(server.uri, { workers: 0 });
    const threaded = await dial(server.uri, { workers: 2 });
    try {
      // One collection name: server messages name it. Each run ends by dropping it.
      const expected = await transcript(local, 'same');
      const actual = await transcript(threaded, 'same');
      assert.equal(actual.length, expected.length);
      for (let i = 0; i < expected.length; i++) assert.deepEqual(actual[i], expected[i]);
      // The sequence did meet errors, and types that structured clone would have lost.
      const found = expected.find((entry) => (entry as unknown[])[0] === 'find raw types') as [string, Document];
      assert.ok(found[1].long instanceof Long || typeof found[1].long === 'number');
      assert.ok(found[1].bin instanceof Binary);
      assert.ok(expected.some((entry) => (entry as unknown[])[1] === 'error'));
    } finally {
      await Promise.all([local.close(), threaded.close()]);
    }
  });

  test('clone() stays on its parent’s socket; copies spread over the workers', { timeout: 60_000 }, async () => {
    const { router, session } = await workerSession({ workers: 2 });
    try {
      const mine = await socketOf(session);
      const clone = session.clone();
      assert.equal(await socketOf(clone), mine, 'the clone uses the parent’s reserved socket');
      assert.equal(await socketOf(session), mine);
      const copies = [session.copy(), session.copy(), session.copy(), session.copy()];
      const sockets = await Promise.all(copies.map((copy) => socketOf(copy)));
      assert.equal(new Set([mine, ...sockets]).size, 5, 'each copy reserves its own socket');
      const perWorker = router.workerStats().map((w) => total(w.servers));
      assert.ok(
        perWorker.every((inUse) => inUse >= 2),
        `five reservations, least-loaded placement: ${perWorker.join(' + ')} in use`,
      );
      assert.equal(await socketOf(clone), mine, 'still the same socket after the copies');
      await Promise.all([clone.close(), ...copies.map((copy) => copy.close())]);
    } finally {
      await session.close();
    }
  });

  test('stats() sums every worker: reservations in use, per-worker detail, the one global limit', { timeout: 60_000 }, async () => {
    const { router, session } = await workerSession({ workers: 2, poolLimit: 7 });
    const held: Session[] = [];
    try {
      for (let i = 0; i < 6; i++) held.push(session.copy());
      await Promise.all(held.map((s) => s.ping()));
      const stats = session.stats();
      assert.equal(stats.length, 1);
      assert.equal(stats[0]!.inUse, 6, 'pushed with the replies: current once the pings returned');
      assert.equal(stats[0]!.maxOpen, 7, 'the global limit, not a sum');
      const detail = router.workerStats();
      assert.equal(detail.length, 2);
      assert.deepEqual(
        detail.map((w) => w.state),
        ['ready', 'ready'],
      );
      const inUse = detail.map((w) => total(w.servers));
      assert.deepEqual(inUse, [3, 3]);
      assert.deepEqual(
        (await router.workerStatsNow()).map((w) => w.servers),
        detail.map((w) => w.servers),
        'the pushed snapshots are what the workers report when asked',
      );
      assert.equal(stats[0]!.open, detail.reduce((sum, w) => sum + w.servers[0]!.open, 0));
      const coordinated = router.coordinatorSnapshot().find((slot) => slot.address === server.address)!;
      assert.equal(coordinated.open, stats[0]!.open, 'the coordinator counts the same sockets');
      assert.deepEqual(coordinated.leases, detail.map((w) => w.servers[0]!.open));
      await Promise.all(held.splice(0).map((s) => s.close()));
      await waitFor('inUse back to 0', () => total(session.stats()) === 0, 10_000);
    } finally {
      await Promise.all(held.map((s) => s.close()));
      await session.close();
    }
  });

  test('CMAP events of the workers reach main-thread listeners', { timeout: 60_000 }, async () => {
    const { router, session } = await workerSession({ workers: 2 });
    try {
      const events: string[] = [];
      const stop = onPoolEvents(router.events, (event) => events.push(event.type));
      const copy = session.copy();
      await copy.ping();
      await copy.close();
      await waitFor('CheckedIn', () => events.includes('ConnectionCheckedIn'), 10_000);
      assert.ok(events.includes('ConnectionCheckOutStarted'));
      assert.ok(events.includes('ConnectionCheckedOut'));
      stop();
      const count = events.length;
      // A listener still subscribed sees the next check-in; events reach the
      // listeners together, so by then the unsubscribed one would have too.
      let checkedInAgain = false;
      const stopWitness = onPoolEvents(router.events, (event) => (checkedInAgain ||= event.type === 'ConnectionCheckedIn'));
      const another = session.copy();
      await another.ping();
      await another.close();
      await waitFor('the next CheckedIn, at a listener still subscribed', () => checkedInAgain, 10_000);
      stopWitness();
      assert.equal(events.length, count, 'nothing after unsubscribing');
    } finally {
      await session.close();
    }
  });

  test('a worker killed mid-load: only its in-flight operations fail, retryably; reads are retried; a replacement serves', { timeout: 90_000 }, async (t) => {
    // poolLimit above the 32 concurrent loops: this test is about a worker's
    // death, not about permits running out (see the report on cross-worker
    // fairness: a replacement that starts with no permit, while the other
    // worker keeps every one busy, waits for one).
    // The invariant is watched on both sides throughout (a counting proxy in
    // front of the server, and stats().sockets), and after the load the idle
    // sockets go (maxIdleTimeMS) until exactly minPoolSize stay open across
    // both workers: no permit, and no socket in the count, leaked with the
    // dead worker.
    const proxy = await startCountingProxy(server);
    const { router, session } = await workerSession(
      { workers: 2, poolLimit: 40, waitQueueTimeoutMS: 10_000, minPoolSize: 4, maxIdleTimeMS: 500 },
      Mode.Eventual,
      proxy.uri(),
    );
    try {
      await killMidLoad(router, session, t);
      const sockets = () => session.stats()[0]!.sockets;
      const settledMS = await waitFor(
        'open back to minPoolSize (4) after the idle timeout, on both sides',
        () => router.coordinatorSnapshot()[0]!.open === 4 && sockets().open === 4 && proxy.open() === 4 + monitoringSockets(session.stats(), proxy.address),
        20_000,
      );
      const monitoring = monitoringSockets(session.stats(), proxy.address);
      t.diagnostic(
        `open back to minPoolSize 4 after ${settledMS.toFixed(0)} ms; most open during the run: server side ${proxy.maxOpen()}, client side ${sockets().maxOpen} (limit 40 + ${monitoring} monitoring)`,
      );
      assert.ok(monitoring >= 1, 'the process monitors the server');
      assert.ok(proxy.maxOpen() <= 40 + monitoring, `the server saw ${proxy.maxOpen()} sockets at once: over 40 pool + ${monitoring} monitoring`);
      assert.ok(sockets().maxOpen <= 40, `${sockets().maxOpen} pool sockets open at once at the client: over 40`);
    } finally {
      await session.close();
      await router.destroy();
      await proxy.close();
    }
  });

  test('a worker that runs out of memory (resourceLimits) is replaced; the reads it had are retried', { timeout: 90_000 }, async () => {
    const marker = join(tmpdir(), `mgo-oom-${process.pid}`);
    writeFileSync(marker, '');
    process.env.MGO_TEST_OOM_MARKER = marker;
    process.env.MGO_TEST_OOM_AFTER_MS = '400';
    const options = await resolveOptions(server.uri, { workers: 2 });
    const router = await WorkerRouter.create(options, {
      filename: fileURLToPath(new URL('../fixtures/oom-worker.ts', import.meta.url)),
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 },
    });
    routers.add(router);
    const session = openSession(router, { mode: Mode.Eventual, database: DB });
    try {
      const c = session.db(DB).c('oom');
      await c.insert({ _id: 1 });
      let reads = 0;
      const failures: unknown[] = [];
      const deadline = performance.now() + 30_000;
      const loops = Array.from({ length: 8 }, async () => {
        while (router.workerStats()[0]!.restarts === 0 && performance.now() < deadline) {
          try {
            assert.equal((await c.find({}).all()).length, 1);
            reads++;
          } catch (error) {
            failures.push(error);
          }
        }
      });
      await Promise.all(loops);
      assert.equal(router.workerStats()[0]!.restarts, 1, 'worker 0 died');
      assert.match(router.workerStats()[0]!.lastLoss ?? '', /out of memory/i);
      assert.deepEqual(failures, []);
      await waitFor('the replacement', () => router.workerStats()[0]!.state === 'ready', 30_000);
      const strong = await reserveBeyondOpen(router, session);
      const held = router.workerStats().map((w) => total(w.servers));
      assert.ok(held[0]! >= 1 && held[0]! + held[1]! === strong.length, `both workers serve: ${held.join(' + ')} reservations held`);
      await Promise.all(strong.map((s) => s.close()));
      assert.ok(reads > 0, `${reads} reads; ${router.losses.lost} requests lost with the worker, retried by the session`);
    } finally {
      delete process.env.MGO_TEST_OOM_MARKER;
      rmSync(marker, { force: true });
      await session.close();
    }
  });

  test('the caller’s deserialize options apply to replies; close() and destroy() are idempotent', { timeout: 60_000 }, async () => {
    const { router, session } = await workerSession({ workers: 1 });
    const c = session.db(DB).c('raw');
    await c.insert({ _id: 1, n: Long.fromNumber(5), d: new Double(2), i: new Int32(3) });
    const { reply } = await router.run({
      db: DB,
      command: { find: 'raw', filter: {} },
      readPreference: { mode: 'primary' },
      deserialize: { promoteValues: false },
    });
    const [doc] = reply.cursor.firstBatch as Document[];
    assert.ok(doc!.n instanceof Long && doc!.d instanceof Double && doc!.i instanceof Int32);
    const promoted = await router.run({ db: DB, command: { find: 'raw', filter: {} }, readPreference: { mode: 'primary' } });
    assert.equal(typeof promoted.reply.cursor.firstBatch[0].d, 'number');
    await c.dropCollection();
    const closing = [session.close(), router.close(), router.close()];
    await Promise.all(closing);
    await router.destroy();
    await router.close();
    await assert.rejects(router.run({ db: DB, command: { ping: 1 }, readPreference: { mode: 'primary' } }), { code: 'ERR_POOL_CLOSED' });
    assert.deepEqual(
      router.workerStats().map((w) => w.state),
      ['closed'],
    );
  });

  test('close() lets the process exit by itself', { timeout: 60_000 }, async (t) => {
    const entry = new URL('../../src/session/dial.ts', import.meta.url).href;
    const script = `
      const { dial } = await import(${JSON.stringify(entry)});
      const session = await dial(process.env.MGO_WORKERS_TEST_URI, { workers: 2, minPoolSize: 2, maxIdleTimeMS: 60000 });
      const c = session.db(${JSON.stringify(DB)}).c('exit');
      await c.insert({ x: 1 });
      const copies = Array.from({ length: 8 }, () => session.copy());
      await Promise.all(copies.map((s) => s.db(${JSON.stringify(DB)}).c('exit').find({}).all()));
      await Promise.all(copies.map((s) => s.close()));
      await session.close();
      await new Promise((resolve) => setImmediate(resolve));
      console.log(JSON.stringify({ resources: process.getActiveResourcesInfo() }));
    `;
    const { code, signal, stdout, stderr, lingerMS } = await runChildScript(script, { env: { MGO_WORKERS_TEST_URI: server.uri } });
    assert.equal(signal, null, `child killed after 30 s: it did not exit by itself; stdout ${stdout}; stderr ${stderr}`);
    assert.equal(code, 0, `child failed: ${stderr}`);
    const { resources } = JSON.parse(stdout) as { resources: string[] };
    t.diagnostic(`child exited ${lingerMS.toFixed(0)} ms after close(); active then: ${resources.join(', ')}`);
    // What could hold it for a while but less than the kill: a ref'd timer. None is left (how soon it exits is a diagnostic).
    assert.ok(!resources.includes('Timeout'), `a timer keeps the child alive after close(): ${resources.join(', ')}`);
  });

  test('2,000 concurrent sessions at poolLimit 20 over 2 workers: never more than 20 pool sockets, counted at the client and at the server (+ the monitoring sockets)', { timeout: 120_000 }, async (t) => {
    // Counted on both sides: at a counting proxy in front of the server, and
    // at the connector (stats().sockets, one count for both workers).
    const proxy = await startCountingProxy(server);
    const { router, session } = await workerSession({ workers: 2, poolLimit: 20, waitQueueTimeoutMS: 60_000 }, Mode.Strong, proxy.uri());
    const c = session.db(DB).c('limit');
    await c.insert({ _id: 1 });
    let completed = 0;
    const failures: unknown[] = [];
    const started = performance.now();
    try {
      proxy.resetMaxOpen();
      await Promise.all(
        Array.from({ length: 2_000 }, async () => {
          const copy = session.copy();
          try {
            const found = await copy.db(DB).c('limit').find({}).all();
            assert.equal(found.length, 1);
            await sleep(50);
            completed++;
          } catch (error) {
            failures.push(error);
          } finally {
            await copy.close();
          }
        }),
      );
    } catch (error) {
      await proxy.close();
      throw error;
    }
    const elapsedMS = performance.now() - started;
    const serverMax = proxy.maxOpen();
    const stats = session.stats()[0]!;
    const monitoring = monitoringSockets(session.stats(), proxy.address);
    t.diagnostic(
      `2000 sessions in ${elapsedMS.toFixed(0)} ms: most open at once ${serverMax} at the server, ${stats.sockets.maxOpen} pool sockets at the client ` +
        `(${stats.sockets.opened} opened); per worker open ${router.workerStats().map((w) => w.servers[0]?.open).join('/')}; waitCount ${stats.waitCount}, timeouts ${stats.timeouts}`,
    );
    assert.deepEqual(failures.slice(0, 3), []);
    assert.equal(completed, 2_000);
    assert.ok(monitoring >= 1, 'the process monitors the server');
    assert.ok(serverMax <= 20 + monitoring, `the server saw ${serverMax} sockets at once: over 20 pool + ${monitoring} monitoring`);
    assert.ok(stats.sockets.maxOpen <= 20, `${stats.sockets.maxOpen} pool sockets open at once at the client: over 20`);
    assert.ok(serverMax >= 15, `the load used only ${serverMax} sockets: the limit was not exercised`);
    assert.equal(stats.timeouts, 0);
    await session.close();
    // close() resolves once every pool socket is closed; the server's side sees the last FINs a moment later.
    assert.equal(router.stats()[0]!.sockets.open, 0, 'pool sockets open at the client after close()');
    await waitFor('no socket left at the server', () => proxy.open() === 0, 10_000);
    await proxy.close();
  });
});

async function killMidLoad(router: WorkerRouter, session: Session, t: TestContext): Promise<void> {
  const c = session.db(DB).c('kill');
  await c.insert(...Array.from({ length: 20 }, (_, i) => ({ _id: i, pad: 'p'.repeat(100) })));
  let lostAt = 0;
  const workerLost = router.workerLost.bind(router);
  router.workerLost = (id: number) => {
    lostAt ||= performance.now();
    workerLost(id);
  };
  const outcomes = { reads: 0, readFailures: [] as unknown[], writes: 0, writeFailures: [] as MgoError[] };
  const deadline = performance.now() + 20_000;
  let stop = false;
  let nextId = 1000;
  // 32 loops: half read through the Eventual session (no reservation), half
  // write through Strong copies (reserve, insert, close).
  const loops = Array.from({ length: 32 }, async (_, loop) => {
    for (let i = 0; i < 400 && !stop && performance.now() < deadline; i++) {
      if (loop % 2 === 0) {
        try {
          const found = await c.find({ _id: { $lt: 5 } }).all();
          assert.equal(found.length, 5);
          outcomes.reads++;
        } catch (error) {
          outcomes.readFailures.push(error);
        }
      } else {
        const writer = session.copy();
        writer.setMode(Mode.Strong, true);
        try {
          await writer.db(DB).c('kill').insert({ _id: nextId++ });
          outcomes.writes++;
        } catch (error) {
          outcomes.writeFailures.push(error as MgoError);
        } finally {
          await writer.close();
        }
      }
    }
  });
  await waitFor('load under way', () => outcomes.reads + outcomes.writes > 200, 20_000);
  const inFlight = router.workerStats()[0]!.inFlight;
  const killedAt = performance.now();
  await router.workerThread(0)!.terminate();
  await waitFor('the worker reported lost', () => lostAt > 0, 20_000);
  const replacedMS = await waitFor('a replacement worker', () => router.workerStats()[0]!.state === 'ready', 30_000);
  // Some load after the replacement (unless the loops already ran out).
  const before = outcomes.reads + outcomes.writes;
  let loopsDone = false;
  const finished = Promise.all(loops).then(() => (loopsDone = true));
  await waitFor('operations after the replacement', () => loopsDone || outcomes.reads + outcomes.writes >= before + 64, 20_000);
  stop = true;
  await finished;

  const reclaimMS = lostAt - killedAt;
  const lease = router.coordinatorSnapshot()[0]!.leases[0];
  t.diagnostic(
    `killed worker 0 with ${inFlight} requests in flight: reclaimed after ${reclaimMS.toFixed(1)} ms, replacement ready ${replacedMS.toFixed(0)} ms later; ` +
      `reads ${outcomes.reads} (lost and retried ${router.losses.lost}), writes ${outcomes.writes}, failed ${outcomes.writeFailures.length}, resent ${router.losses.resent}`,
  );
  // How soon is a speed figure (printed above); the order is the claim: reclaimed on the loss that the kill caused.
  assert.ok(lostAt >= killedAt, 'the worker was reported lost after the kill, not before');
  assert.deepEqual(outcomes.readFailures, [], 'reads are retried on the other worker');
  assert.ok(outcomes.writeFailures.length <= inFlight, `${outcomes.writeFailures.length} failures, ${inFlight} in flight`);
  for (const error of outcomes.writeFailures) {
    assert.equal(error.code, 'ERR_CONNECTION_CLOSED', error.message);
    assert.ok(error.hasErrorLabel('RetryableError') && error.hasErrorLabel('WorkerLost'), error.message);
    // The label's old name stays beside the new one, for code that checks it.
    assert.ok(error.hasErrorLabel('ShardWorkerLost'), error.message);
  }
  assert.ok(router.losses.lost >= outcomes.writeFailures.length, `${router.losses.lost} requests lost with the worker, ${outcomes.writeFailures.length} of them writes reported`);
  assert.ok(lease !== undefined && lease >= 0);

  // The replacement (same id) serves new reservations.
  const detail = router.workerStats();
  assert.equal(detail[0]!.restarts, 1);
  const strong = await reserveBeyondOpen(router, session);
  assert.ok(total(router.workerStats()[0]!.servers) >= 1, 'the new worker 0 holds reservations');
  await Promise.all(strong.map((s) => s.close()));
  // No permit leaked: the coordinator's count is what the workers hold.
  await waitFor('permits settle', () => {
    const open = router.workerStats().reduce((sum, w) => sum + (w.servers[0]?.open ?? 0), 0);
    return router.coordinatorSnapshot()[0]!.open === open;
  }, 10_000);
}
