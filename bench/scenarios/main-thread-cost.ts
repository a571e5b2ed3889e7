// Scenario 4: main-thread cost per operation by document size (small_doc,
// tweet, 16 KB, large_doc), reads (find one) and writes (insert one),
// against the canned-reply server, with no application work: the main
// thread's event-loop active time per operation (load.ts).
//
// Where the reply is decoded. With workers 0 the main thread owns the
// socket and decodes. With workers > 0 a reply of 512 bytes or more is
// decoded in the worker and crosses as a typed clone (src/worker/typed-clone.ts:
// structured clone plus the BSON types restored), smaller ones as their
// BSON bytes. The probe rows measure, per document, the main-thread half of
// each placement in isolation: BSON.deserialize of the bytes, and receiving
// the typed clone (v8.deserialize plus restoring the types), which gives the
// same result.
import { serialize as v8Serialize, deserialize as v8Deserialize } from 'node:v8';
import { BSON, ObjectId, type Document } from 'bson';
import { fromTypedClone, toTypedClone, type TypedClone } from '../../src/worker/typed-clone.js';
import type { BenchClient } from '../lib/clients.js';
import { EVENT_LOOP_DELAY_P99, MAIN_CPU_US_PER_OP, MAIN_US_PER_OP, OPS_PER_SECOND, runCells, type Cell } from '../lib/cells.js';
import { DOC_NAMES, benchDocs, type DocName } from '../lib/docs.js';
import { log, type Results } from '../lib/results.js';

export interface MainThreadCostConfig {
  reps: number;
  durationMS: number;
  /** Unrecorded warm-up window per variant and cell. */
  warmupMS: number;
  concurrency: number;
  /** Concurrency for large_doc (2.5 MB a document). */
  largeConcurrency: number;
  /** Time spent per probe measurement. */
  probeMS: number;
}

export const costScenario = (kind: 'read' | 'write', doc: DocName): string => `main-thread cost: ${kind} ${doc}`;
export const PROBE_SCENARIO = 'decode placement probe';
export const PROBE_BSON = { name: 'probe: BSON.deserialize (main, today)', workers: null };
export const PROBE_CLONE = { name: 'probe: typed-clone receive (worker decode)', workers: null };

/** µs per call of `f`, over repeated calls for about `ms`. */
function microsPerCall(f: () => unknown, ms: number): number {
  let calls = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    f();
    calls++;
    t = performance.now();
  }
  return ((t - t0) * 1000) / calls;
}

function runProbes(config: MainThreadCostConfig, results: Results): void {
  const docs = benchDocs();
  for (const name of DOC_NAMES) {
    const doc: Document = { _id: new ObjectId(), ...docs[name] };
    const reply = BSON.serialize({ cursor: { firstBatch: [doc], id: 0, ns: 'bench.c' }, ok: 1 });
    const cloned = v8Serialize(toTypedClone(BSON.deserialize(reply)));
    const receive = () => fromTypedClone(v8Deserialize(cloned) as TypedClone);
    const bsonRuns: number[] = [];
    const cloneRuns: number[] = [];
    // Warm-up (JIT), not recorded.
    microsPerCall(() => BSON.deserialize(reply), config.probeMS);
    microsPerCall(receive, config.probeMS);
    for (let rep = 0; rep < config.reps; rep++) {
      bsonRuns.push(microsPerCall(() => BSON.deserialize(reply), config.probeMS));
      cloneRuns.push(microsPerCall(receive, config.probeMS));
    }
    const bsonM = results.add(`${PROBE_SCENARIO}: ${name}`, PROBE_BSON, 'main_thread_per_doc', 'µs', bsonRuns);
    const cloneM = results.add(`${PROBE_SCENARIO}: ${name}`, PROBE_CLONE, 'main_thread_per_doc', 'µs', cloneRuns);
    log(`${PROBE_SCENARIO} ${name}: BSON.deserialize ${bsonM.median.toFixed(1)} µs, typed-clone receive ${cloneM.median.toFixed(1)} µs`);
  }
}

export async function runMainThreadCost(clients: BenchClient[], config: MainThreadCostConfig, results: Results): Promise<void> {
  const docs = benchDocs();
  const cells: Cell[] = [];
  for (const name of DOC_NAMES) {
    const concurrency = name === 'large_doc' ? config.largeConcurrency : config.concurrency;
    const window = { concurrency, durationMS: config.durationMS };
    cells.push({ scenario: costScenario('read', name), op: (c) => () => c.findOne('bench', name, { _id: 1 }), window });
    // The same document every time (the canned server keeps nothing): no copy of it is timed.
    const doc = { _id: new ObjectId(), ...docs[name] };
    cells.push({ scenario: costScenario('write', name), op: (c) => () => c.insertOne('bench', name, doc), window });
  }
  await runCells(clients, cells, config.reps, config.warmupMS, [MAIN_US_PER_OP, MAIN_CPU_US_PER_OP, OPS_PER_SECOND, EVENT_LOOP_DELAY_P99], results);
  runProbes(config, results);
}
