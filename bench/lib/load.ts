// A timed window of operations on the main thread, and what it cost that
// thread: `concurrency` loops each running `op` back to back for
// `durationMS`, optionally beside synthetic application work that keeps the
// main thread busy for a set fraction of the time (AppLoad).
//
// Main-thread cost per operation is the event loop's active time
// (performance.eventLoopUtilization()) during the window, minus the
// application work's own time, over the operations completed: the time the
// driver took from the application, wherever in the loop it was spent.
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { percentile } from './stats.js';

/**
 * Synthetic application work (arithmetic, no allocation) that keeps the main
 * thread busy for `fraction` of the wall time since start(). It runs where
 * an application's own work would: after each operation completes (as a
 * request handler continues after its database reply), and from a
 * setImmediate/timer tick while no operation completes. Each call catches
 * up with the fraction, in slices of at most `maxSliceMS`.
 */
export class AppLoad {
  /** Wall time spent in the work, and main-thread CPU time (which excludes time spent waiting for a core). */
  busyMS = 0;
  cpuMS = 0;
  #started = 0;
  #running = false;
  #sink = 0;

  constructor(
    readonly fraction: number,
    readonly maxSliceMS = 5,
  ) {}

  start(): void {
    if (this.fraction <= 0) return;
    this.#running = true;
    this.#started = performance.now();
    this.busyMS = 0;
    this.cpuMS = 0;
    this.#tick();
  }

  stop(): void {
    this.#running = false;
  }

  /** Does the work owed so far (at most one slice); true if some was still owed before. */
  work(): boolean {
    if (!this.#running) return false;
    const now = performance.now();
    const owed = this.fraction * (now - this.#started) - this.busyMS;
    if (owed <= 0) return false;
    const cpu0 = mainThreadCpuMS();
    const end = now + Math.min(owed, this.maxSliceMS);
    let x = this.#sink;
    let t = now;
    while (t < end) {
      for (let i = 0; i < 100; i++) x = (x * 1_103_515_245 + 12_345) % 2_147_483_647;
      t = performance.now();
    }
    this.#sink = x;
    this.busyMS += t - now;
    this.cpuMS += mainThreadCpuMS() - cpu0;
    return true;
  }

  #tick = (): void => {
    if (!this.#running) return;
    if (this.work()) setImmediate(this.#tick);
    else setTimeout(this.#tick, 1);
  };
}

/** CPU time of the main thread so far, ms: /proc/self/schedstat (the thread-group leader's own), NaN elsewhere. */
export function mainThreadCpuMS(): number {
  try {
    return Number(readFileSync('/proc/self/schedstat', 'latin1').split(' ')[0]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

export interface WindowOptions {
  concurrency: number;
  durationMS: number;
  /** Fraction of the main thread taken by application work (0: none). */
  appFraction?: number;
  /** Application CPU per request: each loop burns this many µs after each reply, as a request handler would (0: none). */
  appMicrosPerOp?: number;
}

/** Burns `us` microseconds of arithmetic on the main thread; returns the wall ms spent. */
function burn(us: number): number {
  const t0 = performance.now();
  const end = t0 + us / 1000;
  let x = 1;
  let t = t0;
  while (t < end) {
    for (let i = 0; i < 20; i++) x = (x * 1_103_515_245 + 12_345) % 2_147_483_647;
    t = performance.now();
  }
  if (x === -1) console.log(x);
  return t - t0;
}

export interface WindowResult {
  ops: number;
  opsPerSecond: number;
  /** Main-thread µs per operation (event-loop active time), application work excluded. */
  mainMicrosPerOp: number;
  /**
   * Main-thread CPU µs per operation, application work excluded: the same
   * without the time the thread was active but waiting for a CPU, which
   * the event-loop figure counts when other threads and processes compete
   * for the cores.
   */
  mainCpuMicrosPerOp: number;
  /** p99 event-loop delay during the window, ms (monitorEventLoopDelay, 1 ms resolution). */
  eventLoopDelayP99MS: number;
  latencyP50MS: number;
  latencyP99MS: number;
  /** The application work's achieved share of the window. */
  appFraction: number;
}

/**
 * Runs `op` from `concurrency` loops: they start operations for
 * `durationMS`, then the window ends when the last one has completed, so
 * that every operation counted is paid for in full in the window.
 */
export async function runWindow(op: () => Promise<unknown>, options: WindowOptions): Promise<WindowResult> {
  const app = new AppLoad(options.appFraction ?? 0);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const latencies: number[] = [];
  const perOpUS = options.appMicrosPerOp ?? 0;
  let perOpMS = 0;
  let perOpCpuMS = 0;
  let ops = 0;
  let deadline = Infinity;
  // The loops check the clock themselves rather than wait for a timer: while
  // reply messages keep arriving on a worker's MessagePort, the main thread
  // can stay in their handling and not reach its timers (seen here: a 250 ms
  // window of large_doc reads with one worker ran for 100 s when it ended on
  // a timer), and a window must end on time even then.
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await op();
      latencies.push(performance.now() - t0);
      ops++;
      if (perOpUS > 0) {
        const cpu0 = mainThreadCpuMS();
        perOpMS += burn(perOpUS);
        perOpCpuMS += mainThreadCpuMS() - cpu0;
      }
      app.work();
    }
  };
  delay.enable();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const cpu0 = mainThreadCpuMS();
  app.start();
  deadline = t0 + options.durationMS;
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  const elapsedMS = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  const cpuMS = mainThreadCpuMS() - cpu0;
  delay.disable();
  app.stop();
  const appMS = app.busyMS + perOpMS;
  const appCpuMS = app.cpuMS + perOpCpuMS;
  return {
    ops,
    opsPerSecond: ops / (elapsedMS / 1000),
    mainMicrosPerOp: ops > 0 ? ((elu.active - appMS) * 1000) / ops : Number.NaN,
    mainCpuMicrosPerOp: ops > 0 ? ((cpuMS - appCpuMS) * 1000) / ops : Number.NaN,
    eventLoopDelayP99MS: delay.count > 0 ? delay.percentile(99) / 1e6 : Number.NaN,
    latencyP50MS: percentile(latencies, 50),
    latencyP99MS: percentile(latencies, 99),
    appFraction: appMS / elapsedMS,
  };
}
