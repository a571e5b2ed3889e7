// Messages between the CMAP-over-workers runner (cmap-worker-runner.ts, main
// thread) and its worker threads (cmap-worker.ts). Plain data only: every
// message crosses a MessagePort by structured clone.
import type { PoolEvent } from '../../src/pool/index.js';

/** Shared counters of a run (Int32Array over RunSetup.counters), summed over every worker. */
export const C_OPEN = 0;
export const C_MAX_OPEN = 1;
export const C_DIALING = 2;
export const C_MAX_DIALING = 3;
export const COUNTERS = 4;

export interface WorkerOperation {
  name: 'checkOut' | 'checkIn' | 'ready' | 'clear' | 'close' | 'wait';
  label?: string;
  connection?: string;
  interruptInUseConnections?: boolean;
  ms?: number;
}

export interface RunSetup {
  /** Which spec file run this is; stale messages of an earlier run are told apart by it. */
  run: number;
  /** The spec thread this worker plays ('main' for the spec's main thread). */
  thread: string;
  /** Coordinator worker id (0 = main, then the spec threads in order of appearance). */
  workerId: number;
  /** The coordinator buffer (src/coordinator/layout.ts), shared by every worker of the run. */
  buffer: SharedArrayBuffer;
  /** Coordinator slot of the server's connections (limit maxPoolSize). */
  slot: number;
  /** Coordinator slot of the server's dial slots (limit maxConnecting). */
  dialSlot: number;
  /** Int32[1]: the event sequence counter, Atomics.add'ed at every event: a total order across workers. */
  sequence: SharedArrayBuffer;
  /** Int32[COUNTERS]: connections open and dialing across every worker, with maxima. */
  counters: SharedArrayBuffer;
  address: string;
  /** The spec file's poolOptions, as they are (backgroundThreadIntervalMS and appName included). */
  poolOptions: Record<string, unknown>;
  /** Integration files: the fake wire server to dial (on the main thread); unit files use fake connections. */
  server?: { host: string; port: number; address: string };
}

export type ToWorker =
  | { type: 'setup'; id: number; setup: RunSetup }
  /** Appends to the thread's own chain (a spec op with `thread`); no reply. */
  | { type: 'schedule'; run: number; id: number; op: WorkerOperation }
  /** Runs now and replies when done (a spec main-thread op). */
  | { type: 'execute'; run: number; id: number; op: WorkerOperation }
  /** Replies once the thread's chain has settled, with its first failure. */
  | { type: 'join'; run: number; id: number }
  /** Replies at once: every event posted before the reply has then arrived. */
  | { type: 'flush'; run: number; id: number }
  | { type: 'teardown'; run: number; id: number };

export interface ErrorRecord {
  name: string;
  message: string;
  code?: string;
}

export type FromWorker =
  | { type: 'started' }
  | { type: 'event'; run: number; seq: number; thread: string; event: PoolEvent }
  | { type: 'done'; run: number; id: number; error?: ErrorRecord };
