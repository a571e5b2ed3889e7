// Scenario 2: a CPU-heavy application. The main thread runs synthetic
// application work (load.ts AppLoad: 1 ms busy slices) for 0 %, 50 % and
// 90 % of the time while `concurrency` loops run find-one operations (a
// 1.5 KB tweet) against the canned-reply server, so that neither a server
// nor the server's CPU is the bottleneck. Reported per variant: ops/s, the
// main thread's time per operation (application work excluded), p99
// event-loop delay, operation latency p50/p99, and the application's
// achieved share of the main thread.
import type { BenchClient } from '../lib/clients.js';
import { MAIN_CPU_US_PER_OP, MAIN_US_PER_OP, OPS_PER_SECOND, runCells, type Cell, type CellMetric } from '../lib/cells.js';
import type { Results } from '../lib/results.js';

export interface CpuHeavyConfig {
  reps: number;
  durationMS: number;
  /** Unrecorded warm-up window per variant and cell. */
  warmupMS: number;
  concurrency: number;
  busyFractions: number[];
}

export const cpuHeavyScenario = (busy: number): string => `cpu-heavy: find one, app ${Math.round(busy * 100)}% busy`;

const METRICS: CellMetric[] = [
  OPS_PER_SECOND,
  MAIN_US_PER_OP,
  MAIN_CPU_US_PER_OP,
  { metric: 'event_loop_delay_p99', unit: 'ms', pick: (r) => r.eventLoopDelayP99MS },
  { metric: 'latency_p50', unit: 'ms', pick: (r) => r.latencyP50MS },
  { metric: 'latency_p99', unit: 'ms', pick: (r) => r.latencyP99MS },
  { metric: 'app_busy', unit: 'fraction', pick: (r) => r.appFraction },
];

export async function runCpuHeavy(clients: BenchClient[], config: CpuHeavyConfig, results: Results): Promise<void> {
  const cells: Cell[] = config.busyFractions.map((busy) => ({
    scenario: cpuHeavyScenario(busy),
    op: (c) => () => c.findOne('bench', 'tweet', { _id: 1 }),
    window: { concurrency: config.concurrency, durationMS: config.durationMS, appFraction: busy },
  }));
  await runCells(clients, cells, config.reps, config.warmupMS, METRICS, results);
}
