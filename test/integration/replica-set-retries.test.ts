// Retries against the replica-set bridge beyond the failover run
// (failover.test.ts): a write in flight on a worker that dies is retried
// once, with its txnNumber, and the bridge's record of executed statements
// answers a retry of a write that had run, so that nothing is written twice;
// and a sharded topology (the bridge's mongos mode) rides out a router going
// down, for workers 0 and 2.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dial, Mode, type MgoError } from '../../src/index.js';
import { openSession } from '../../src/session/session.js';
import { resolveOptions } from '../../src/uri/resolve.js';
import { WorkerRouter } from '../../src/worker/worker-router.js';
import { startBridge, type Bridge } from '../fixtures/bridge/index.js';
import { testServerForFile } from '../fixtures/file-server.js';
import { waitFor } from '../fixtures/wait.js';

const DB = `mgo_rs_retries_${process.pid}`;
const server = testServerForFile(DB);

/** The ids stored in the collection, read straight from FerretDB. */
async function storedIds(collection: string): Promise<string[]> {
  const direct = await dial(server.uri);
  try {
    return (await direct.db(DB).c(collection).find({}).select({ _id: 1 }).all()).map((d) => String(d._id));
  } finally {
    await direct.close();
  }
}

describe('retries against a replica set', () => {
  test('a worker killed with writes in flight: each is retried once with its txnNumber, none fails, none is written twice', { timeout: 120_000 }, async (t) => {
    const bridge = await startBridge({ backend: { host: server.host, port: server.port }, topology: 'replicaset', members: 3 });
    const router = await WorkerRouter.create(await resolveOptions(bridge.uri, { workers: 2, maxPoolSize: 20 }));
    const session = openSession(router, { mode: Mode.Strong, database: DB });
    try {
      const acked: string[] = [];
      const failures: MgoError[] = [];
      let stop = false;
      // The loops run until `stop`; their own time bound only ends a run
      // whose waits below all failed (they may take 80 s together on a
      // loaded machine, and the last one needs the loops still running).
      const deadline = performance.now() + 90_000;
      const loops = Array.from({ length: 16 }, async (_, loop) => {
        for (let i = 0; i < 2_000 && !stop && performance.now() < deadline; i++) {
          const writer = session.copy();
          try {
            await writer.db(DB).c('killed').insert({ _id: `${loop}-${i}` });
            acked.push(`${loop}-${i}`);
          } catch (error) {
            failures.push(error as MgoError);
          } finally {
            await writer.close();
          }
        }
      });
      await waitFor('writes under way', () => acked.length > 200, 20_000);
      await waitFor('writes in flight on worker 0', () => router.workerStats()[0]!.inFlight > 0, 10_000);
      const inFlight = router.workerStats()[0]!.inFlight;
      await router.workerThread(0)!.terminate();
      await waitFor('a replacement worker', () => router.workerStats()[0]!.state === 'ready', 30_000);
      const after = acked.length;
      await waitFor('writes after the replacement', () => acked.length > after + 100, 20_000);
      stop = true;
      await Promise.all(loops);
      t.diagnostic(`${acked.length} writes acknowledged, ${inFlight} in flight on the killed worker, ${router.losses.lost} lost with it and retried, ${bridge.retryTableHits()} answered from the retry table`);
      assert.deepEqual(
        failures.map((e) => `${e.code}: ${e.message}`),
        [],
      );
      assert.ok(router.losses.lost > 0, 'requests were lost with the worker');
      const stored = await storedIds('killed');
      assert.equal(stored.length, new Set(stored).size);
      const storedSet = new Set(stored);
      assert.deepEqual(
        acked.filter((id) => !storedSet.has(id)),
        [],
        'every acknowledged write is stored',
      );
    } finally {
      await session.close();
      await bridge.close();
    }
  });

  for (const workers of [0, 2]) {
    test(`workers ${workers}: a sharded cluster (two mongos) rides out a router going down and coming back`, { timeout: 90_000 }, async (t) => {
      const bridge: Bridge = await startBridge({ backend: { host: server.host, port: server.port }, topology: 'sharded', members: 2 });
      const session = await dial(`${bridge.uri}${bridge.uri.includes('?') ? '&' : '?'}heartbeatFrequencyMS=500`, { workers, poolLimit: 10 });
      try {
        const collection = `sharded_${workers}`;
        const acked: string[] = [];
        const failures: string[] = [];
        let stop = false;
        // Until `stop`; the time bound outlasts the three waits below (60 s together at worst).
        const deadline = performance.now() + 70_000;
        const loops = Array.from({ length: 8 }, async (_, loop) => {
          for (let i = 0; i < 5_000 && !stop && performance.now() < deadline; i++) {
            const s = session.copy();
            try {
              await s.db(DB).c(collection).insert({ _id: `${loop}-${i}` });
              acked.push(`${loop}-${i}`);
              await s.db(DB).c(collection).find({ _id: `${loop}-${i}` }).one();
            } catch (error) {
              failures.push(`${(error as MgoError).code}: ${(error as Error).message}`);
            } finally {
              await s.close();
            }
          }
        });
        await waitFor('load on both routers', () => acked.length > 100, 20_000);
        await bridge.down(0);
        const down = acked.length;
        await waitFor('writes through the other router', () => acked.length > down + 100, 20_000);
        await bridge.up(0);
        const up = acked.length;
        await waitFor('writes after the router came back', () => acked.length > up + 100, 20_000);
        stop = true;
        await Promise.all(loops);
        t.diagnostic(`workers ${workers}: ${acked.length} writes, ${bridge.retryTableHits()} answered from the retry table, failures ${failures.length}`);
        assert.deepEqual(failures, []);
        const stored = new Set(await storedIds(collection));
        assert.deepEqual(
          acked.filter((id) => !stored.has(id)),
          [],
        );
      } finally {
        await session.close();
        await bridge.close();
      }
    });
  }
});
