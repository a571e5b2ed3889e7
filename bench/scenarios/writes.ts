// Scenario 5: write throughput. `concurrency` loops insert the 16 KB
// document (tweets) one at a time against the canned-reply server, with the
// main thread idle and with application work taking half of it. Reported
// per variant: inserts/s, the main thread's time per insert, p99 event-loop
// delay, and for worker variants the longest slice spent settling replies.
import { ObjectId } from 'bson';
import type { BenchClient } from '../lib/clients.js';
import { EVENT_LOOP_DELAY_P99, MAIN_CPU_US_PER_OP, MAIN_US_PER_OP, OPS_PER_SECOND, runCells, type Cell } from '../lib/cells.js';
import { benchDocs } from '../lib/docs.js';
import type { Results } from '../lib/results.js';

export interface WritesConfig {
  reps: number;
  durationMS: number;
  warmupMS: number;
  concurrency: number;
  busyFractions: number[];
}

export const writesScenario = (busy: number): string => `write throughput: insert 16kb, app ${Math.round(busy * 100)}% busy`;

export async function runWrites(clients: BenchClient[], config: WritesConfig, results: Results): Promise<void> {
  // The same document every time (the canned server keeps nothing): no copy of it is timed.
  const doc = { _id: new ObjectId(), ...benchDocs()['16kb'] };
  const cells: Cell[] = config.busyFractions.map((busy) => ({
    scenario: writesScenario(busy),
    op: (c) => () => c.insertOne('bench', '16kb', doc),
    window: { concurrency: config.concurrency, durationMS: config.durationMS, appFraction: busy },
  }));
  await runCells(clients, cells, config.reps, config.warmupMS, [OPS_PER_SECOND, MAIN_US_PER_OP, MAIN_CPU_US_PER_OP, EVENT_LOOP_DELAY_P99], results);
}
