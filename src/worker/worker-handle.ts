// The main thread's side of one worker: its Piscina (one thread), the op
// port and the control port of the current incarnation, the operations in
// flight there, the reservations it holds, and the stats it last pushed.
// What crosses to and from the worker is specified in protocol.ts.
//
// Lifecycle. start() runs the one piscina task that hands the worker its
// ports and configuration, and the worker is 'ready' when it resolves. When
// the thread exits unexpectedly (crash, terminate(), resourceLimits), the
// worker is 'down': the router reclaims its coordinator permits at once,
// its reservations are marked dead, each operation it had is handed back
// to the router (retried elsewhere, or failed with a retryable error), and
// a replacement incarnation starts with the same worker id (piscina has
// already begun starting a new thread, since minThreads is 1). Repeated
// quick deaths back off, up to 5 s between starts.
import type { MessagePort, Worker } from 'node:worker_threads';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { SelectionLogRecord } from '../cluster/selection-log.js';
import { MgoError, NetworkError } from '../errors.js';
import type { ServerStats } from '../pool/stats.js';
import type { Reservation } from '../router/router.js';
import { deadline } from '../util/deadline.js';
import { ControlClient } from './control.js';
import { FairDrain } from '../util/fair-drain.js';
import {
  CHECK,
  CLEARED,
  UNKNOWN,
  LOG,
  DEAD,
  DECODED,
  EVENT,
  FAILED,
  Outbox,
  RELEASE,
  REPLY,
  RESERVE,
  RESERVED,
  RUN,
  STATS,
  STAT_KEYS,
  rowToStats,
  type FailedMessage,
  type FromWorker,
  type ReplyMessage,
  type ReservedMessage,
  type StatsRow,
  type ToWorker,
  type WorkerEvent,
  type UnknownReport,
  type WorkerConfig,
  type WorkerInit,
  type WorkerStarted,
} from './protocol.js';

export type WorkerState = 'idle' | 'starting' | 'ready' | 'down' | 'closing' | 'closed';

/** An answer to a RUN or RESERVE. */
export type Answer = ReplyMessage | FailedMessage | ReservedMessage;

/** What the router wants done with one request. */
export interface Pending {
  answer(message: Answer): void;
  /**
   * The worker died first. `delivered`: the request may have reached the
   * worker (it may have run); false: it never left this thread.
   */
  lost(error: MgoError, delivered: boolean): void;
}

/** What a worker tells its router. */
export interface WorkerHost {
  /** A fresh configuration for an incarnation about to start (topology replay, slots). */
  configFor(workerId: number): WorkerConfig;
  /** The worker is gone: reclaim its permits now. */
  workerLost(workerId: number): void;
  /** The lost worker's messages are all handled and its requests are about to fail with `error`: commands it started end with it. */
  commandsLost(worker: WorkerHandle, error: MgoError): void;
  /** A CMAP event of the worker's pools (only while the router asked for them). */
  workerEvent(worker: WorkerHandle, event: WorkerEvent): void;
  poolCleared(worker: WorkerHandle, address: string, interruptInUse: boolean, message: string): void;
  checkRequested(address: string): void;
  /** An application error made a server Unknown in the worker (SDAM "Error handling"). */
  markedUnknown(worker: WorkerHandle, report: UnknownReport): void;
  /** A server selection log record of the worker (only while the router's mask asked for them). */
  selectionLogged(worker: WorkerHandle, record: SelectionLogRecord): void;
  /** The worker's pools changed (its STATS arrived): a socket may be idle or a permit free now. */
  poolsChanged(worker: WorkerHandle): void;
}

export interface WorkerHandleOptions {
  filename: string;
  resourceLimits?: Worker['resourceLimits'];
  /** How long a worker may take to start (load its code and answer the first task). */
  startTimeoutMS: number;
  /** How long close() waits for the worker to close its pools. */
  closeTimeoutMS: number;
}

/** A reservation bound to the worker (and incarnation) that holds the socket. */
export class WorkerReservation implements Reservation {
  dead = false;
  constructor(
    readonly id: number,
    readonly address: string,
    readonly writable: boolean,
    readonly worker: WorkerHandle,
    /** The id the worker knows it by. */
    readonly remoteId: number,
    readonly incarnation: number,
  ) {}
}

/**
 * The labels of the error an operation fails with when its worker is lost
 * (beside RetryableError). ShardWorkerLost is the label's name from before
 * the thread was called a worker everywhere: it stays, so that code checking
 * for it still matches.
 */
export const WORKER_LOST_LABELS = ['WorkerLost', 'ShardWorkerLost'] as const;

/**
 * What reaches the main thread from a worker, in the order it arrived: a
 * message, or the hand-back of the requests a lost worker had (queued
 * behind whatever that worker sent before it died, so that a reply that
 * arrived is never reported lost).
 */
export type Delivery = [worker: WorkerHandle, item: FromWorker | (() => void)];

/**
 * The main thread's one queue of deliveries from every worker, settled in
 * time-bounded slices (fair-drain.ts): a burst of replies never holds the
 * main thread for longer than a slice.
 */
export function deliveryQueue(): FairDrain<Delivery> {
  return new FairDrain<Delivery>(([worker, item]) => (typeof item === 'function' ? item() : worker.handle(item)));
}

const CUMULATIVE = ['waitCount', 'waitDurationMS', 'timeouts', 'idleClosed', 'lifetimeClosed', 'errorClosed'] as const;

export class WorkerHandle {
  state: WorkerState = 'idle';
  /** Bumped each time this worker's thread is lost. */
  incarnation = 0;
  /** Threads lost so far. */
  restarts = 0;
  /** Why the last one was lost. */
  lastLoss: string | undefined;
  threadId = -1;
  private piscina: Piscina;
  private currentThread: Worker | undefined;
  private port: MessagePort | undefined;
  private control: ControlClient | undefined;
  private readonly outbox = new Outbox<ToWorker>(queueMicrotask);
  private readonly pending = new Map<number, Pending>();
  private readonly reservations = new Map<number, WorkerReservation>();
  /** Live (not dead) reservations per server: the sockets sessions hold here, for placement. */
  private readonly heldByAddress = new Map<string, number>();
  private lastId = 0;
  /** The rows the worker last pushed (decoded only when asked for). */
  private statsRows: StatsRow[] = [];
  /** Cumulative counters of the incarnations lost, so that the sums never go backwards. */
  private readonly retired = new Map<string, Pick<ServerStats, (typeof CUMULATIVE)[number]>>();
  private startedAt = 0;
  /** Settles when the current incarnation's thread has exited. */
  private exited: Promise<void> = Promise.resolve();
  private restartTimer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  private lastError: Error | undefined;

  constructor(
    readonly id: number,
    private readonly host: WorkerHost,
    private readonly options: WorkerHandleOptions,
    private readonly inbox: FairDrain<Delivery>,
  ) {
    this.piscina = this.newPiscina();
  }

  get name(): string {
    return `worker ${this.id}`;
  }

  /** Requests in flight (and queued for a starting worker): the load figure for placement. */
  get load(): number {
    return this.pending.size;
  }

  /** The worker thread of the current incarnation (tests end it to simulate a crash). */
  get thread(): Worker | undefined {
    return this.currentThread;
  }

  /** Starts the worker; resolves once it serves its ports. */
  start(): Promise<void> {
    this.starting ??= this.startIncarnation().finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** Queues a request; `build` gets the request id. */
  send(build: (id: number) => ToWorker, transfer: readonly ArrayBuffer[] | undefined, pending: Pending): void {
    if (this.state === 'closing' || this.state === 'closed') {
      pending.lost(new MgoError('ERR_POOL_CLOSED', `${this.name} is closed`), false);
      return;
    }
    const id = ++this.lastId;
    this.pending.set(id, pending);
    if (this.pending.size === 1) this.port?.ref();
    this.outbox.push(build(id), transfer);
  }

  /** Queues a message that expects no answer. Dropped unless a worker is, or is about to be, there to get it. */
  post(message: ToWorker): void {
    if (this.state === 'starting' || this.state === 'ready') this.outbox.push(message);
  }

  adopt(remoteId: number, address: string, writable: boolean, id: number): WorkerReservation {
    const reservation = new WorkerReservation(id, address, writable, this, remoteId, this.incarnation);
    this.reservations.set(remoteId, reservation);
    this.heldByAddress.set(address, this.held(address) + 1);
    return reservation;
  }

  /** Sockets of `address` that sessions hold here (live reservations). */
  held(address: string): number {
    return this.heldByAddress.get(address) ?? 0;
  }

  holds(reservation: WorkerReservation): boolean {
    return reservation.incarnation === this.incarnation && this.reservations.get(reservation.remoteId) === reservation;
  }

  release(reservation: WorkerReservation): void {
    if (!this.holds(reservation)) return;
    this.reservations.delete(reservation.remoteId);
    if (!reservation.dead) this.unhold(reservation);
    this.post([RELEASE, reservation.remoteId]);
  }

  private unhold(reservation: WorkerReservation): void {
    this.heldByAddress.set(reservation.address, this.held(reservation.address) - 1);
  }

  /** The last stats the worker pushed, plus the cumulative counters of lost incarnations. */
  serverStats(): ServerStats[] {
    return this.withRetired(this.statsRows.map(rowToStats));
  }

  /** The worker's stats asked for now over the control plane (the pushed ones if it is not serving). */
  async fetchStats(timeoutMS: number): Promise<ServerStats[]> {
    if (this.state !== 'ready' || this.control === undefined) return this.serverStats();
    return this.withRetired(await this.control.call('stats', timeoutMS));
  }

  /**
   * Has a serving worker's pools apply a new connection limit (already in
   * the coordinator). A worker not serving has nothing to apply: one that
   * starts reads the limit from the coordinator and its configuration, and
   * a lost one's sockets died with it; so losing it meanwhile is no failure.
   */
  async setPoolLimit(limit: number, timeoutMS: number): Promise<void> {
    const control = this.control;
    if (this.state !== 'ready' || control === undefined) return;
    try {
      await control.call('setPoolLimit', timeoutMS, limit);
    } catch (error) {
      if (this.control === control) throw error;
    }
  }

  private withRetired(current: ServerStats[]): ServerStats[] {
    const byAddress = new Map<string, ServerStats>();
    for (const stats of current) byAddress.set(stats.address, { ...stats });
    for (const [address, retired] of this.retired) {
      const stats = byAddress.get(address);
      if (stats === undefined) {
        const zero = rowToStats([address, ...STAT_KEYS.map(() => 0)]);
        byAddress.set(address, { ...zero, ...retired });
      } else {
        for (const key of CUMULATIVE) stats[key] += retired[key];
      }
    }
    return [...byAddress.values()];
  }

  /** Finishes the worker's operations, closes its pools and sockets, ends the thread. */
  async close(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    this.state = 'closing';
    clearTimeout(this.restartTimer);
    if (wasReady && this.control) {
      try {
        await this.control.call('drain', this.options.closeTimeoutMS);
        await this.control.call('close', this.options.closeTimeoutMS);
        this.takeQueued();
      } catch {
        // A worker that cannot close in time is ended anyway: its sockets die with it.
      }
    }
    await this.end(new MgoError('ERR_POOL_CLOSED', `${this.name} was closed`));
  }

  /**
   * Moves the messages still queued on the operations port into the inbox.
   * The worker posts its last batch there (its pools' ConnectionClosed and
   * ConnectionPoolClosed events) before it answers 'close' on the control
   * port, but two ports keep no order between them: the answer may be read
   * first, and end() would close the port with that batch unread (a
   * worker's "Connection pool closed" lost in about one close in four).
   */
  private takeQueued(): void {
    const port = this.port;
    if (port === undefined) return;
    for (let queued = receiveMessageOnPort(port); queued !== undefined; queued = receiveMessageOnPort(port)) {
      for (const message of queued.message as FromWorker[]) this.inbox.push([this, message]);
    }
  }

  /** Ends the worker now: its sockets die with the thread. */
  async destroy(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closing';
    clearTimeout(this.restartTimer);
    await this.end(new MgoError('ERR_POOL_CLOSED', `${this.name} was destroyed`));
  }

  // ------------------------------------------------------------ lifecycle

  private newPiscina(): Piscina {
    const piscina = new Piscina({
      filename: this.options.filename,
      minThreads: 1,
      maxThreads: 1,
      // 'sync' would park an idle worker in Atomics.wait, stalling its sockets.
      atomics: 'disabled',
      idleTimeout: Number.MAX_SAFE_INTEGER,
      recordTiming: false,
      resourceLimits: this.options.resourceLimits,
      execArgv: workerExecArgv(process.execArgv),
    });
    // Without a listener, a worker crash between tasks would throw here; the exit is handled below.
    piscina.on('error', (error: Error) => (this.lastError = error));
    return piscina;
  }

  private async startIncarnation(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'starting';
    this.startedAt = performance.now();
    const incarnation = this.incarnation;
    const ops = new MessageChannel();
    const control = new MessageChannel();
    // The configuration is taken now: broadcasts from here on are queued for this incarnation.
    const init: WorkerInit = { port: ops.port2, control: control.port2, config: this.host.configFor(this.id) };
    let threadId: number;
    try {
      const started = this.piscina.run(init, { transferList: [ops.port2, control.port2] }) as Promise<WorkerStarted>;
      const timeoutMS = this.options.startTimeoutMS;
      ({ threadId } = await deadline(started, timeoutMS, () => new MgoError('ERR_NETWORK_TIMEOUT', `${this.name} did not start within ${timeoutMS} ms`)));
    } catch (error) {
      ops.port1.close();
      control.port1.close();
      if (this.incarnation !== incarnation || this.state !== 'starting') return;
      // Piscina gives up on a worker that fails while booting: start over with a new one.
      const broken = this.piscina;
      this.piscina = this.newPiscina();
      void broken.destroy();
      const message = error instanceof Error ? error.message : String(error);
      this.lose(() => `it failed to start: ${message}`);
      throw error;
    }
    if (this.incarnation !== incarnation || this.state !== 'starting') {
      ops.port1.close();
      control.port1.close();
      return;
    }
    const thread = this.piscina.threads.find((t) => t.threadId === threadId);
    this.currentThread = thread;
    this.threadId = threadId;
    this.control = new ControlClient(control.port1, this.name);
    this.port = ops.port1;
    this.port.on('message', (batch: FromWorker[]) => {
      for (const message of batch) this.inbox.push([this, message]);
    });
    // Whichever comes first: the port closes as the thread ends, before 'exit'.
    const onGone = () => this.onWorkerGone(incarnation);
    this.port.once('close', onGone);
    if (thread) {
      thread.once('error', (error) => (this.lastError = error));
      this.exited = new Promise((resolve) => thread.once('exit', () => resolve()));
      void this.exited.then(onGone);
    }
    if (this.pending.size === 0) this.port.unref();
    this.state = 'ready';
    this.outbox.attach(this.port);
    if (thread !== undefined && thread.threadId < 0) onGone();
  }

  private onWorkerGone(incarnation: number): void {
    if (this.incarnation !== incarnation || this.state === 'closing' || this.state === 'closed') return;
    this.lose(() => `its thread ended${this.lastError ? `: ${this.lastError.message}` : ''}`);
  }

  /**
   * The current incarnation is gone: its permits are reclaimed and its
   * reservations marked dead at once; its requests are handed back once the
   * thread's exit is known (the op port closes a moment before the 'error'
   * and 'exit' events that say why, e.g. out of memory), and a replacement
   * is started.
   */
  private lose(why: () => string): void {
    const lived = performance.now() - this.startedAt;
    this.incarnation++;
    this.restarts++;
    this.state = 'down';
    this.host.workerLost(this.id);
    // Its op port is gone; if the thread somehow still runs, it is of no use.
    const exited = this.exited;
    void this.currentThread?.terminate();
    // From here until the pending requests are handed back, new ones queue (undelivered).
    this.outbox.detach();
    this.detach(new NetworkError('ERR_CONNECTION_CLOSED', `${this.name} was lost`));
    this.retireStats();
    for (const reservation of this.reservations.values()) reservation.dead = true;
    this.reservations.clear();
    this.heldByAddress.clear();
    const incarnation = this.incarnation;
    // piscina replaces the thread on its 'exit': the replacement's first task waits for that too.
    const handBack = () => {
      if (this.incarnation !== incarnation || this.state !== 'down') return;
      const reason = why();
      this.lastLoss = reason;
      this.lastError = undefined;
      const error = new NetworkError('ERR_CONNECTION_CLOSED', `${this.name} was lost with the operation in flight (${reason}); it may or may not have run`, {
        errorLabels: ['RetryableError', ...WORKER_LOST_LABELS],
      });
      const undelivered = new Set<number>();
      for (const message of this.outbox.reset()) if (message[0] === RUN || message[0] === RESERVE) undelivered.add(message[1]);
      const pending = [...this.pending];
      this.pending.clear();
      this.host.commandsLost(this, error);
      for (const [id, request] of pending) request.lost(error, !undelivered.has(id));
      // Quick successive deaths back off: a worker that dies on arrival must not spin.
      const delay = lived > 1_000 || this.restarts <= 1 ? 0 : Math.min(5_000, 100 * 2 ** Math.min(this.restarts, 6));
      this.restartTimer = setTimeout(() => this.start().catch(() => {}), delay);
    };
    void Promise.race([exited, sleep(1_000)]).then(() => this.inbox.push([this, handBack]));
  }

  private detach(error: MgoError): void {
    this.control?.lose(error);
    this.control = undefined;
    this.port?.removeAllListeners();
    this.port?.close();
    this.port = undefined;
    this.currentThread = undefined;
    this.threadId = -1;
  }

  private retireStats(): void {
    for (const stats of this.statsRows.map(rowToStats)) {
      const retired = this.retired.get(stats.address) ?? { waitCount: 0, waitDurationMS: 0, timeouts: 0, idleClosed: 0, lifetimeClosed: 0, errorClosed: 0 };
      for (const key of CUMULATIVE) retired[key] += stats[key];
      this.retired.set(stats.address, retired);
    }
    this.statsRows = [];
  }

  private async end(error: MgoError): Promise<void> {
    this.incarnation++;
    this.detach(error);
    for (const reservation of this.reservations.values()) reservation.dead = true;
    this.reservations.clear();
    this.heldByAddress.clear();
    this.outbox.reset();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const request of pending) request.lost(error, true);
    const piscina = this.piscina;
    await piscina.destroy();
    this.state = 'closed';
  }

  // ------------------------------------------------------------ messages

  /** @internal One message from this worker, taken from the delivery queue. */
  handle(message: FromWorker): void {
    {
      switch (message[0]) {
        case REPLY:
        case DECODED:
        case FAILED:
        case RESERVED: {
          const request = this.pending.get(message[1]);
          if (request === undefined) break;
          this.pending.delete(message[1]);
          if (this.pending.size === 0) this.port?.unref();
          request.answer(message);
          break;
        }
        case DEAD: {
          const reservation = this.reservations.get(message[1]);
          if (reservation && !reservation.dead) {
            reservation.dead = true;
            this.unhold(reservation);
            this.host.poolsChanged(this);
          }
          break;
        }
        case STATS:
          this.statsRows = message[1];
          this.host.poolsChanged(this);
          break;
        case EVENT:
          this.host.workerEvent(this, message[1]);
          break;
        case CLEARED:
          this.host.poolCleared(this, message[1], message[2], message[3]);
          break;
        case CHECK:
          this.host.checkRequested(message[1]);
          break;
        case UNKNOWN:
          this.host.markedUnknown(this, message[1]);
          break;
        case LOG:
          this.host.selectionLogged(this, message[1]);
          break;
      }
    }
  }
}

/**
 * The process's flags a worker thread inherits: the module loaders and
 * module-resolution flags (--import tsx, --require, --loader, --conditions),
 * and flags that only change warnings or source maps. Other flags are left
 * out: Node refuses per-process ones in a Worker's execArgv (a service run
 * with `node --expose-gc` would get ERR_WORKER_INVALID_EXEC_ARGV and no
 * worker at all), and `--input-type=module -e` would make every worker
 * fail to load its file.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const name = arg.split('=', 1)[0]!;
    if (WITH_VALUE.has(name)) {
      out.push(arg);
      // "--import tsx": the value is the next argument.
      if (!arg.includes('=') && i + 1 < execArgv.length) out.push(execArgv[++i]!);
    } else if (INHERITED.has(name) || name.startsWith('--experimental-')) {
      out.push(arg);
    }
  }
  return out;
}

const WITH_VALUE = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader', '--conditions', '-C']);
const INHERITED = new Set(['--enable-source-maps', '--no-warnings', '--no-deprecation', '--trace-warnings', '--trace-deprecation', '--preserve-symlinks']);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
