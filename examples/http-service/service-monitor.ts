// What the service measures about itself over a window, for a benchmark
// that drives it from another process (bench/scenarios/http.ts): the main
// thread's event-loop delay (timers and health checks wait that long), how
// busy the main thread was, and the CPU of the whole process (worker
// threads included). A parent that forked the service asks over IPC:
//   { type: 'measure' }  starts a window;
//   { type: 'report' }   answers { type: 'report', report: ServiceReport };
//   { type: 'drain' }    answers { type: 'drained' } once no /page request
//                        is being handled (the last run's have finished).
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { HandlerCounters } from './handler.js';

export interface ServiceReport {
  wallMS: number;
  /** p99 and max event-loop delay of the main thread, ms (1 ms timer resolution). */
  eventLoopDelayP99MS: number;
  eventLoopDelayMaxMS: number;
  /** Share of the window the main thread's event loop was busy (0..1). */
  mainThreadBusy: number;
  /** CPU seconds per second of the whole process, worker threads included. */
  processCores: number;
  /** /page requests received, answered (pages) and failed (errors) in the window; /health requests answered. */
  received: number;
  pages: number;
  health: number;
  errors: number;
  /**
   * /page requests being handled now. A load generator that stops leaves
   * the requests it sent last still running in the service: the next
   * measurement waits for 0.
   */
  inFlight: number;
}

export type MonitorRequest = { type: 'measure' } | { type: 'report' } | { type: 'drain' };
export type MonitorReply = { type: 'report'; report: ServiceReport } | { type: 'drained' };

export class ServiceMonitor {
  readonly #delay = monitorEventLoopDelay({ resolution: 1 });
  #t0 = 0;
  #elu0 = performance.eventLoopUtilization();
  #cpu0 = process.cpuUsage();
  #counts0: HandlerCounters = { received: 0, pages: 0, health: 0, errors: 0, inFlight: 0 };

  constructor(
    private readonly counters: HandlerCounters,
    private readonly whenIdle: () => Promise<void>,
  ) {
    this.#delay.enable();
    this.measure();
  }

  /** Starts a window. */
  measure(): void {
    this.#delay.reset();
    this.#t0 = performance.now();
    this.#elu0 = performance.eventLoopUtilization();
    this.#cpu0 = process.cpuUsage();
    this.#counts0 = { ...this.counters };
  }

  /** The window so far. */
  report(): ServiceReport {
    const wallMS = performance.now() - this.#t0;
    const cpu = process.cpuUsage(this.#cpu0);
    const count = this.#delay.count;
    return {
      wallMS,
      eventLoopDelayP99MS: count > 0 ? this.#delay.percentile(99) / 1e6 : Number.NaN,
      eventLoopDelayMaxMS: count > 0 ? this.#delay.max / 1e6 : Number.NaN,
      mainThreadBusy: performance.eventLoopUtilization(this.#elu0).utilization,
      processCores: (cpu.user + cpu.system) / 1000 / wallMS,
      received: this.counters.received - this.#counts0.received,
      pages: this.counters.pages - this.#counts0.pages,
      health: this.counters.health - this.#counts0.health,
      errors: this.counters.errors - this.#counts0.errors,
      inFlight: this.counters.inFlight,
    };
  }

  /** Answers a parent's requests on the IPC channel, if the service was forked with one. */
  serveIpc(): void {
    if (!process.send) return;
    process.on('message', (message: MonitorRequest) => {
      if (message?.type === 'measure') this.measure();
      else if (message?.type === 'report') process.send!({ type: 'report', report: this.report() } satisfies MonitorReply);
      else if (message?.type === 'drain') void this.whenIdle().then(() => process.send?.({ type: 'drained' } satisfies MonitorReply));
    });
  }

  stop(): void {
    this.#delay.disable();
  }
}
