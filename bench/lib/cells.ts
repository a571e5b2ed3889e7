// Runs timed windows (load.ts) for every variant, cell by cell: one short
// unrecorded warm-up window per variant (`warmupMS`), then the repetitions with the
// variants in rotated order, and records the chosen metrics of each.
import { largestSlice, type BenchClient } from './clients.js';
import { runWindow, type WindowOptions, type WindowResult } from './load.js';
import { log, rotated, type Results } from './results.js';

export interface Cell {
  /** The scenario name the measurements are recorded under. */
  scenario: string;
  /** The operation a variant runs, made once per window. */
  op(c: BenchClient): () => Promise<unknown>;
  window: WindowOptions;
}

export interface CellMetric {
  metric: string;
  unit: string;
  pick(r: WindowResult): number;
}

export const OPS_PER_SECOND: CellMetric = { metric: 'throughput', unit: 'ops/s', pick: (r) => r.opsPerSecond };
export const MAIN_US_PER_OP: CellMetric = { metric: 'main_thread_per_op', unit: 'µs', pick: (r) => r.mainMicrosPerOp };
export const MAIN_CPU_US_PER_OP: CellMetric = { metric: 'main_thread_cpu_per_op', unit: 'µs', pick: (r) => r.mainCpuMicrosPerOp };
export const EVENT_LOOP_DELAY_P99: CellMetric = { metric: 'event_loop_delay_p99', unit: 'ms', pick: (r) => r.eventLoopDelayP99MS };
/** Recorded for worker variants only: the longest slice the main thread spent settling replies in a window. */
export const LARGEST_SLICE = 'largest_slice';

export async function runCells(clients: BenchClient[], cells: Cell[], reps: number, warmupMS: number, metrics: CellMetric[], results: Results): Promise<void> {
  for (const [i, cell] of cells.entries()) {
    const runs = new Map<BenchClient, WindowResult[]>(clients.map((c) => [c, []]));
    const slices = new Map<BenchClient, number[]>();
    for (const c of clients) await runWindow(cell.op(c), { ...cell.window, durationMS: warmupMS });
    for (let rep = 1; rep <= reps; rep++) {
      const line: string[] = [];
      for (const c of rotated(clients, rep)) {
        largestSlice(c);
        const r = await runWindow(cell.op(c), cell.window);
        runs.get(c)!.push(r);
        const slice = largestSlice(c);
        if (slice !== undefined) slices.set(c, [...(slices.get(c) ?? []), slice]);
        line.push(`${c.variant.name} ${r.opsPerSecond.toFixed(0)} ops/s ${r.mainMicrosPerOp.toFixed(0)}/${r.mainCpuMicrosPerOp.toFixed(0)} µs`);
      }
      log(`${cell.scenario} (${i + 1}/${cells.length}) rep ${rep}/${reps}: ${line.join(', ')} (main thread per op: active/CPU)`);
    }
    for (const c of clients) {
      for (const m of metrics) results.add(cell.scenario, c.variant, m.metric, m.unit, runs.get(c)!.map(m.pick));
      const sliceRuns = slices.get(c);
      if (sliceRuns) results.add(cell.scenario, c.variant, LARGEST_SLICE, 'ms', sliceRuns);
    }
  }
}
