// The HTTP scenario's measuring tools, on the benchmark's side:
//   - the load generators, each in its own process: autocannon
//     (http-load-child.ts) for the closed loop, vegeta (vegeta.ts) for the
//     open loop at a constant arrival rate;
//   - a /health probe at a fixed rate from this process (idle during a run,
//     so its timers fire on time): what a health checker sees while the
//     service is under load;
//   - the open-loop rate: a fraction of the official driver's closed-loop
//     throughput measured in the same repetition.
import { fork } from 'node:child_process';
import { Agent, get } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { LoadRequest, LoadResult } from './http-load-child.js';
import { percentile } from './stats.js';
import { runOpenLoop } from './vegeta.js';

const CHILD = fileURLToPath(new URL('./http-load-child.ts', import.meta.url));

export type { LoadRequest, LoadResult };

export interface LoadGenerator {
  /** The closed loop's process (autocannon); each open-loop run starts a vegeta process of its own. */
  pid: number;
  /** A closed-loop run, or with `overallRate` an open-loop one (vegeta; `connections` does not apply). */
  run(request: LoadRequest): Promise<LoadResult>;
  stop(): Promise<void>;
}

export async function startLoadGenerator(timeoutMS = 60_000): Promise<LoadGenerator> {
  const child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the load generator did not start within ${timeoutMS} ms`));
    }, timeoutMS);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error('the load generator exited before it was ready'));
    });
  });
  const closedLoop = (request: LoadRequest) =>
    new Promise<LoadResult>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the load generator exited (code ${code}) during a run`));
      child.once('exit', onExit);
      child.once('message', (message: { type: string; result?: LoadResult; message?: string }) => {
        child.off('exit', onExit);
        if (message.type === 'result') resolve(message.result!);
        else reject(new Error(`load generator: ${message.message}`));
      });
      child.send({ type: 'run', request });
    });
  return {
    pid: child.pid!,
    run: (request) =>
      request.overallRate !== undefined ? runOpenLoop({ url: request.url, rate: request.overallRate, durationS: request.durationS }) : closedLoop(request),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.disconnect();
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The open-loop rate: `fraction` of the official driver's closed-loop req/s, whole requests, at least 1; NaN without a measurement. */
export function openLoopRate(officialClosedRequestsPerSecond: number, fraction = 0.8): number {
  if (!Number.isFinite(officialClosedRequestsPerSecond) || officialClosedRequestsPerSecond <= 0) return Number.NaN;
  return Math.max(1, Math.round(officialClosedRequestsPerSecond * fraction));
}

export interface ProbeResult {
  /** Probes answered, and those that failed (error or status other than 200). */
  answered: number;
  failed: number;
  p99MS: number;
  maxMS: number;
}

/**
 * GET `url` every 1000 / `perSecond` ms, whether or not earlier probes are
 * answered (a health checker does not wait for the last check), each on a
 * kept-alive connection when one is free, timed from the send to the
 * response's end.
 */
export class HealthProbe {
  readonly #agent = new Agent({ keepAlive: true });
  readonly #latencies: number[] = [];
  readonly #pending = new Set<Promise<void>>();
  #failed = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly url: string,
    readonly perSecond = 50,
    /** A probe unanswered this long fails (a health checker gives up too), so stop() always ends. */
    readonly timeoutMS = 10_000,
  ) {}

  start(): void {
    this.#timer = setInterval(() => this.#probe(), 1000 / this.perSecond);
  }

  #probe(): void {
    const t0 = performance.now();
    const done = new Promise<void>((resolve) => {
      const req = get(this.url, { agent: this.#agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) this.#latencies.push(performance.now() - t0);
          else this.#failed++;
          resolve();
        });
      });
      req.setTimeout(this.timeoutMS, () => req.destroy(new Error('health probe timed out')));
      req.on('error', () => {
        this.#failed++;
        resolve();
      });
    });
    this.#pending.add(done);
    void done.then(() => this.#pending.delete(done));
  }

  /** Stops probing; waits for the probes in flight. */
  async stop(): Promise<ProbeResult> {
    clearInterval(this.#timer);
    await Promise.all(this.#pending);
    this.#agent.destroy();
    return {
      answered: this.#latencies.length,
      failed: this.#failed,
      p99MS: percentile(this.#latencies, 99),
      maxMS: this.#latencies.length ? Math.max(...this.#latencies) : Number.NaN,
    };
  }
}
