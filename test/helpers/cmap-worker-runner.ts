// The CMAP spec runner with real worker threads as its "threads"
// (test/spec/cmap-workers.test.ts says which spec files run, and how their
// expected events map onto this model).
//
// The model is the product's worker mode (issue 5): each spec thread, and the
// spec's main thread too, is a worker thread (cmap-worker.ts) with its own
// Pool for the one server, and all of them draw permits (maxPoolSize) and
// dial slots (maxConnecting) from one Coordinator buffer, through
// WorkerCoordinator.permits() exactly as WorkerRuntime does. The main thread of
// the test only orchestrates:
//   - an operation with `thread` is appended to that thread's worker chain;
//     one without runs on the worker of the spec's main thread and is
//     awaited, except checkIn, which goes to the worker whose pool the
//     labelled connection came from (a socket cannot change threads);
//   - ready, clear and close address "the pool", which here is the server's
//     pool in every worker (WorkerRouter propagates a clear to every worker,
//     and every worker's pool becomes ready from the process's one monitor):
//     they run in each worker in turn, in worker-id order;
//   - waitForEvent counts the events of every worker; waitForThread joins a
//     worker's chain and rethrows its first failure;
//   - minPoolSize is shared out among the workers as WorkerRuntime does.
// Events are merged on the main thread in the order they happened: each is
// numbered when emitted by Atomics.add on a counter shared by all workers of
// the run, a true total order (no clock comparison across threads). The
// expected events are those before the end of the operations: the counter's
// value then is the cut, and every worker is flushed before it is applied.
//
// Workers are reused across spec files (starting one costs ~0.4 s of CPU on
// this machine); each file is a "run" with its own coordinator buffer.
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { POOL_DEFAULTS, type PoolEvent, type PoolEventType } from '../../src/pool/index.js';
import { EventLog } from './cmap-event-log.js';
import { assertMatches, type CmapOperation, type CmapTest } from './cmap-runner.js';
import { COUNTERS, C_MAX_DIALING, C_MAX_OPEN, C_OPEN, type ErrorRecord, type FromWorker, type RunSetup, type ToWorker, type WorkerOperation } from './cmap-worker-protocol.js';
import { tsWorker } from './ts-worker.js';

const WORKER_FILE = new URL('./cmap-worker.ts', import.meta.url);
/** waitForEvent without a timeout blocks in the spec; bounded here (as in cmap-runner.ts). */
const DEFAULT_EVENT_WAIT_MS = 10_000;
/** Any one request to a worker (a waitForThread included). */
const REQUEST_TIMEOUT_MS = 15_000;
const START_TIMEOUT_MS = 30_000;

// ----------------------------------------------------------------- workers

class Host {
  readonly worker: Worker;
  readonly started: Promise<void>;
  #nextId = 0;
  readonly #pending = new Map<number, (error: ErrorRecord | undefined) => void>();
  #dead: Error | undefined;
  /** Receives the events of the current run. */
  onEvent: ((message: Extract<FromWorker, { type: 'event' }>) => void) | undefined;

  constructor() {
    this.worker = tsWorker(WORKER_FILE);
    this.started = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`cmap worker not started within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      this.worker.on('message', (message: FromWorker) => {
        if (message.type === 'started') {
          clearTimeout(timer);
          resolve();
        } else if (message.type === 'event') {
          this.onEvent?.(message);
        } else {
          const settle = this.#pending.get(message.id);
          this.#pending.delete(message.id);
          settle?.(message.error);
        }
      });
      const fail = (error: Error): void => {
        clearTimeout(timer);
        this.#dead ??= error;
        for (const settle of this.#pending.values()) settle({ name: 'Error', message: `cmap worker died: ${error.message}` });
        this.#pending.clear();
        reject(error);
      };
      this.worker.on('error', fail);
      this.worker.on('exit', (code) => fail(new Error(`cmap worker exited with code ${code}`)));
    });
    this.started.catch(() => {}); // observed through request()
  }

  get dead(): boolean {
    return this.#dead !== undefined;
  }

  /** Sends a message; resolves with the worker's error record, or undefined when it succeeded. */
  request(make: (id: number) => ToWorker): Promise<ErrorRecord | undefined> {
    if (this.#dead) return Promise.resolve({ name: 'Error', message: `cmap worker died: ${this.#dead.message}` });
    const id = ++this.#nextId;
    const message = make(id);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ name: 'Error', message: `cmap worker did not answer ${message.type} within ${REQUEST_TIMEOUT_MS} ms` });
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(id, (error) => {
        clearTimeout(timer);
        resolve(error);
      });
      this.worker.postMessage(message);
    });
  }

  /** Fire and forget (a scheduled thread operation). */
  send(message: ToWorker): void {
    if (!this.#dead) this.worker.postMessage(message);
  }
}

/** Worker threads kept across spec files, started as a file first needs them. */
export class WorkerHosts {
  readonly #hosts: Host[] = [];

  async acquire(count: number): Promise<Host[]> {
    for (let i = 0; i < this.#hosts.length; i++) if (this.#hosts[i]!.dead) this.#hosts[i] = new Host();
    while (this.#hosts.length < count) this.#hosts.push(new Host());
    const hosts = this.#hosts.slice(0, count);
    await Promise.all(hosts.map((host) => host.started));
    return hosts;
  }

  async close(): Promise<void> {
    await Promise.all(this.#hosts.splice(0).map((host) => host.worker.terminate()));
  }
}

function toError(record: ErrorRecord): Error {
  const error = new Error(record.message);
  error.name = record.name;
  if (record.code !== undefined) (error as Error & { code?: string }).code = record.code;
  return error;
}

// ------------------------------------------------------------------ running

export interface MergedEvent {
  /** Position in the total order of the run. */
  seq: number;
  /** The spec thread whose worker emitted it ('main' for the spec's main thread). */
  thread: string;
  event: PoolEvent;
}

export interface WorkerRunResult {
  /** 'main' first, then the spec threads in order of appearance; a thread's index is its coordinator worker id. */
  threads: string[];
  /** Every event emitted before the operations ended, in the order they happened (ignore list not applied). */
  events: MergedEvent[];
  /** The first error of a main-thread operation (waitForThread rethrows a thread's). */
  mainFailure: { error: unknown } | undefined;
  /** Connections open at once across every worker, counted at the connector (dial start to destroy). */
  maxOpen: number;
  /** Dials in progress at once across every worker. */
  maxDialing: number;
  /** Connections still open when the operations ended. */
  openAtEnd: number;
  /** The limits the coordinator held. */
  maxPoolSize: number;
  maxConnecting: number;
}

export interface WorkerEnvironment {
  address: string;
  /** Integration files: the fake wire server the workers dial. */
  server?: { host: string; port: number; address: string };
  enableFailPoint?(failPoint: Record<string, unknown>): Promise<() => Promise<void>>;
}

/** 'main', then every spec thread in order of first appearance (start, thread, waitForThread). */
export function threadsOf(test: CmapTest): string[] {
  const threads = ['main'];
  for (const op of test.operations) {
    for (const name of [op.name === 'start' || op.name === 'waitForThread' ? op.target : undefined, op.thread]) {
      if (name !== undefined && !threads.includes(name)) threads.push(name);
    }
  }
  return threads;
}

let lastRun = 0;

/**
 * A worker's pool options: minPoolSize is the process's, shared out as
 * WorkerRuntime's workerOptions() does (worker k keeps floor(min / N), plus
 * one for the first min % N workers), so that the workers together keep
 * minPoolSize connections.
 */
function sharedOut(options: Record<string, unknown>, workerId: number, workers: number): Record<string, unknown> {
  const min = options.minPoolSize;
  if (typeof min !== 'number') return options;
  return { ...options, minPoolSize: Math.floor(min / workers) + (workerId < min % workers ? 1 : 0) };
}

function workerOperation(op: CmapOperation): WorkerOperation {
  const { name, label, connection, interruptInUseConnections, ms } = op;
  return { name: name as WorkerOperation['name'], label, connection, interruptInUseConnections, ms };
}

/** Runs one CMAP spec file over worker threads; the caller checks the result against the file. */
export async function runOverWorkers(test: CmapTest, env: WorkerEnvironment, hostPool: WorkerHosts): Promise<WorkerRunResult> {
  const threads = threadsOf(test);
  const hosts = await hostPool.acquire(threads.length);
  const run = ++lastRun;
  const options = test.poolOptions ?? {};
  const maxPoolSize = (options.maxPoolSize as number | undefined) ?? POOL_DEFAULTS.maxPoolSize;
  const maxConnecting = (options.maxConnecting as number | undefined) ?? POOL_DEFAULTS.maxConnecting;
  // CMAP's maxPoolSize 0 means unlimited; a coordinator limit of 0 means no permit at all.
  if (maxPoolSize === 0) throw new Error('maxPoolSize 0 (unlimited) has no meaning for the coordinator');
  const coordinator = Coordinator.create({ maxWorkers: threads.length, maxServers: 2 });
  const slot = coordinator.slotFor(env.address, maxPoolSize);
  const dialSlot = coordinator.slotFor(`${env.address} dial`, maxConnecting);
  const sequence = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  const counters = new Int32Array(new SharedArrayBuffer(COUNTERS * Int32Array.BYTES_PER_ELEMENT));

  const log = new EventLog();
  const merged: MergedEvent[] = [];
  for (const host of hosts) {
    host.onEvent = (message) => {
      if (message.run !== run) return;
      merged.push({ seq: message.seq, thread: message.thread, event: message.event });
      log.record(message.event);
    };
  }
  const hostOf = (thread: string): Host => {
    const index = threads.indexOf(thread);
    if (index < 0) throw new Error(`no thread ${thread}`);
    return hosts[index]!;
  };
  const must = async (pending: Promise<ErrorRecord | undefined>): Promise<void> => {
    const error = await pending;
    if (error !== undefined) throw toError(error);
  };

  const setupErrors = await Promise.all(
    hosts.map((host, workerId) => {
      const setup: RunSetup = {
        run,
        thread: threads[workerId]!,
        workerId,
        buffer: coordinator.buffer,
        slot,
        dialSlot,
        sequence,
        counters: counters.buffer as SharedArrayBuffer,
        address: env.address,
        poolOptions: sharedOut(options, workerId, threads.length),
        ...(env.server && { server: env.server }),
      };
      return host.request((id) => ({ type: 'setup', id, setup }));
    }),
  );
  const disableFailPoint = test.failPoint !== undefined ? await env.enableFailPoint!(test.failPoint) : undefined;

  /** Which worker holds each labelled connection. */
  const owners = new Map<string, Host>();
  const execute = async (op: CmapOperation): Promise<void> => {
    switch (op.name) {
      case 'start':
        hostOf(op.target!);
        return;
      case 'wait':
        await sleep(op.ms!);
        return;
      case 'waitForThread':
        await must(hostOf(op.target!).request((id) => ({ type: 'join', run, id })));
        return;
      case 'waitForEvent':
        await log.waitFor(op.event as PoolEventType, op.count!, op.timeout ?? DEFAULT_EVENT_WAIT_MS);
        return;
      case 'checkOut': {
        const host = hostOf('main');
        if (op.label !== undefined) owners.set(op.label, host);
        await must(host.request((id) => ({ type: 'execute', run, id, op: workerOperation(op) })));
        return;
      }
      case 'checkIn': {
        const host = owners.get(op.connection!);
        if (host === undefined) throw new Error(`checkIn: no connection labelled ${op.connection}`);
        owners.delete(op.connection!);
        await must(host.request((id) => ({ type: 'execute', run, id, op: workerOperation(op) })));
        return;
      }
      case 'ready':
      case 'clear':
      case 'close':
        // The server's pool in every worker, one worker after the other.
        for (const host of hosts) await must(host.request((id) => ({ type: 'execute', run, id, op: workerOperation(op) })));
        return;
      default:
        throw new Error(`unknown CMAP operation ${op.name}`);
    }
  };
  const schedule = (op: CmapOperation): void => {
    const host = hostOf(op.thread!);
    if (op.name === 'checkOut') {
      if (op.label !== undefined) owners.set(op.label, host);
    } else if (op.name === 'checkIn') {
      if (owners.get(op.connection!) !== host) throw new Error(`thread ${op.thread} checks in ${op.connection}, which another thread's pool holds`);
      owners.delete(op.connection!);
    } else {
      throw new Error(`operation ${op.name} in a thread is not supported over workers`);
    }
    host.send({ type: 'schedule', run, id: 0, op: workerOperation(op) });
  };

  let mainFailure: { error: unknown } | undefined;
  let events: MergedEvent[];
  let openAtEnd: number;
  try {
    const setupError = setupErrors.find((e) => e !== undefined);
    if (setupError !== undefined) throw toError(setupError);
    for (const op of test.operations) {
      try {
        if (op.thread !== undefined) schedule(op);
        else await execute(op);
      } catch (error) {
        mainFailure = { error };
        break;
      }
    }
    // The cut: events numbered before it happened during the operations.
    const cut = Atomics.load(new Int32Array(sequence), 0);
    openAtEnd = Atomics.load(counters, C_OPEN);
    await Promise.all(hosts.map((host) => host.request((id) => ({ type: 'flush', run, id }))));
    events = merged.filter((e) => e.seq < cut).sort((a, b) => a.seq - b.seq);
    const numbers = events.map((e) => e.seq);
    assert.deepEqual(numbers, Array.from({ length: cut }, (_, i) => i), 'every event before the cut arrived, each once');
  } finally {
    await Promise.all(hosts.map((host) => host.request((id) => ({ type: 'teardown', run, id }))));
    for (const host of hosts) host.onEvent = undefined;
    await disableFailPoint?.();
  }
  return {
    threads,
    events,
    mainFailure,
    maxOpen: Atomics.load(counters, C_MAX_OPEN),
    maxDialing: Atomics.load(counters, C_MAX_DIALING),
    openAtEnd,
    maxPoolSize,
    maxConnecting,
  };
}

// ------------------------------------------------------ expected events

/** One expected event (the spec's MATCH pattern), or events of several workers in an order not fixed between them. */
export type Expected = { event: Record<string, unknown>; note?: string };

/** Pool-level events: every worker's pool emits its own. */
export const POOL_LEVEL_EVENTS = new Set(['ConnectionPoolCreated', 'ConnectionPoolReady', 'ConnectionPoolCleared', 'ConnectionPoolClosed']);

export interface Mapping {
  /**
   * Indices (in the file's `events`) of ConnectionCheckedIn events whose
   * connection the spec hands to a waiting thread with the next
   * ConnectionCheckedOut. Over workers the connection cannot move: the pool
   * closes it ('yielded') and the waiting worker, granted its permit, dials
   * its own: ConnectionClosed{yielded} in the one worker, and
   * ConnectionCreated, ConnectionReady in the other, before its CheckedOut.
   */
  handoffs?: number[];
}

/**
 * The file's expected events over `workers` workers: pool-level events once
 * per worker (consecutively: the runner applies ready/clear/close worker by
 * worker, and every pool is created before the first operation), hand-offs
 * and concurrent pairs as `mapping` says. Events of the file's ignore list
 * are left out of what is inserted.
 */
export function expectedOverWorkers(test: CmapTest, workers: number, mapping: Mapping = {}): Expected[] {
  const ignore = new Set(test.ignore ?? []);
  const events = test.events ?? [];
  const out: Expected[] = [];
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    if (mapping.handoffs?.includes(i)) {
      assert.equal(event.type, 'ConnectionCheckedIn', `mapping: event ${i} is not a check-in`);
      const next = events[i + 1]!;
      assert.equal(next.type, 'ConnectionCheckedOut', `mapping: event ${i + 1} is not a checkout`);
      out.push({ event });
      const closing = [{ type: 'ConnectionClosed', reason: 'yielded' }].filter((e) => !ignore.has(e.type));
      // The next checkout's connection is a new one: its connectionId is that pool's.
      const dialing = [{ type: 'ConnectionCreated' }, { type: 'ConnectionReady' }].filter((e) => !ignore.has(e.type));
      const { connectionId: _sameConnection, ...checkedOut } = next;
      // In this order: the pool emits ConnectionClosed before it releases the
      // permit, and the waiting worker can only dial once it has the permit.
      out.push(...closing.map((e) => ({ event: e, note: `hand-off after event ${i}: the yielded close` })));
      out.push(...dialing.map((e) => ({ event: e, note: `hand-off after event ${i}: the waiting worker's dial` })), { event: checkedOut });
      i++;
      continue;
    }
    const copies = POOL_LEVEL_EVENTS.has(String(event.type)) ? workers : 1;
    for (let c = 0; c < copies; c++) out.push({ event, ...(copies > 1 && { note: `pool-level, 1 of ${copies} workers` }) });
  }
  return out;
}

/**
 * Asserts that `actual` (ignore list applied) is `expected`, event for event
 * (and no more: the same strictness as cmap.test.ts), in the true total order
 * of the shared sequence counter.
 */
export function assertEventsOverWorkers(actual: MergedEvent[], expected: Expected[]): void {
  const listing = (): string => actual.map((e) => `${String(e.seq).padStart(3)} ${e.thread.padEnd(8)} ${JSON.stringify(e.event)}`).join('\n  ');
  expected.forEach((item, i) => {
    const got = actual[i];
    assert.ok(got !== undefined, `expected[${i}] (${String(item.event.type)}) missing; got:\n  ${listing()}`);
    try {
      assertMatches(got.event, item.event, `expected[${i}]${item.note ? ` (${item.note})` : ''} vs event seq ${got.seq}`);
    } catch (error) {
      assert.fail(`${(error as Error).message}\nactual events (seq, thread, event):\n  ${listing()}`);
    }
  });
  assert.equal(actual.length, expected.length, `${actual.length - expected.length} events more than expected; actual events (seq, thread, event):\n  ${listing()}`);
}
