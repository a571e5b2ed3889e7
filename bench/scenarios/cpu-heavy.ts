// Scenario 2: a CPU-heavy application. The main thread runs synthetic
// application work (load.ts AppLoad: 1 ms busy slices) for 0 %, 50 % and
// 90 % of the time while `concurrency` loops run find-one operations
// against the canned-reply server (so that neither a server nor the
// server's CPU is the bottleneck), for a small document (the 1.6 KB tweet)
// and a 16 KB one with BSON types in every item (typed16kb). Reported per
// variant: ops/s, the main thread's time per operation (application work
// excluded), p99 event-loop delay, operation latency p50/p99, the
// application's achieved share of the main thread, and for worker variants
// the longest slice the main thread spent settling replies.
//
// Scenario 2b, the request handler: every loop does 200 µs of application
// CPU after each reply, as a request handler continues after its database
// call; requests per second is the figure (the ceiling is 1e6 / (200 +
// the driver's main-thread µs per request) per second).
import type { BenchClient } from '../lib/clients.js';
import { EVENT_LOOP_DELAY_P99, MAIN_CPU_US_PER_OP, MAIN_US_PER_OP, OPS_PER_SECOND, runCells, type Cell, type CellMetric } from '../lib/cells.js';
import type { Results } from '../lib/results.js';

export interface CpuHeavyConfig {
  reps: number;
  durationMS: number;
  /** Unrecorded warm-up window per variant and cell. */
  warmupMS: number;
  concurrency: number;
  busyFractions: number[];
  /** Application CPU per request in the request-handler cell (µs). */
  handlerMicros: number;
}

/** The documents read: small and 16 KB. */
export const CPU_DOCS = ['tweet', 'typed16kb'] as const;
export type CpuDoc = (typeof CPU_DOCS)[number];

export const cpuHeavyScenario = (busy: number, doc: CpuDoc = 'tweet'): string =>
  `cpu-heavy: find one ${doc === 'tweet' ? '' : `${doc} `}, app ${Math.round(busy * 100)}% busy`.replace(' ,', ',');
export const handlerScenario = (micros: number): string => `request handler: find one tweet + ${micros} µs app CPU per request`;

const METRICS: CellMetric[] = [
  OPS_PER_SECOND,
  MAIN_US_PER_OP,
  MAIN_CPU_US_PER_OP,
  EVENT_LOOP_DELAY_P99,
  { metric: 'latency_p50', unit: 'ms', pick: (r) => r.latencyP50MS },
  { metric: 'latency_p99', unit: 'ms', pick: (r) => r.latencyP99MS },
  { metric: 'app_busy', unit: 'fraction', pick: (r) => r.appFraction },
];

export async function runCpuHeavy(clients: BenchClient[], config: CpuHeavyConfig, results: Results): Promise<void> {
  const cells: Cell[] = [];
  for (const doc of CPU_DOCS) {
    for (const busy of config.busyFractions) {
      cells.push({
        scenario: cpuHeavyScenario(busy, doc),
        op: (c) => () => c.findOne('bench', doc, { _id: 1 }),
        window: { concurrency: config.concurrency, durationMS: config.durationMS, appFraction: busy },
      });
    }
  }
  cells.push({
    scenario: handlerScenario(config.handlerMicros),
    op: (c) => () => c.findOne('bench', 'tweet', { _id: 1 }),
    window: { concurrency: config.concurrency, durationMS: config.durationMS, appMicrosPerOp: config.handlerMicros },
  });
  await runCells(clients, cells, config.reps, config.warmupMS, METRICS, results);
}
