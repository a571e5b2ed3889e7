// What runs inside a worker: a LocalRouter (the same cluster, pool
// and connection code as the single-thread mode) whose permits come from
// the process's shared coordinator and whose server descriptions come from
// the process's one monitor per server, serving the op protocol
// (protocol.ts) on the port its first task handed over, and the control
// plane (control.ts) on a second port. What it is started with and every
// message it sends or receives are specified in protocol.ts.
import { threadId, type MessagePort } from 'node:worker_threads';
import { describeCheck } from '../cluster/topology-monitor.js';
import { dialSlotKey } from '../coordinator/layout.js';
import { WorkerCoordinator } from '../coordinator/worker-coordinator.js';
import { PoolClosedError } from '../errors.js';
import type { PoolEvent } from '../pool/events.js';
import { KIND_BIT, WANT_SELECTION_LOG, kindOf, type EventSink } from '../monitoring/events.js';
import type { PermitSource } from '../pool/permits.js';
import type { InUseGate } from '../pool/in-use-gate.js';
import type { SocketTally } from '../connection/socket-tally.js';
import type { ServerStats } from '../pool/stats.js';
import { PRIMARY } from '../read-preference.js';
import { LocalRouter, type RawRouterRequest } from '../router/local-router.js';
import type { ResolvedOptions } from '../uri/resolve.js';
import { Lifecycle } from '../util/lifecycle.js';
import { exposeControl } from './control.js';
import { FairDrain } from '../util/fair-drain.js';
import {
  CHECK,
  CLEARED,
  UNKNOWN,
  LOG,
  DEAD,
  EVENT,
  EVENTS,
  FAILED,
  MORE_TO_COME,
  Outbox,
  RELEASE,
  REPLY,
  LOGIN,
  RESERVE,
  RESERVED,
  RUN,
  SLOTS,
  STATS,
  TOPOLOGY,
  WRITE,
  decodeRun,
  encodeReply,
  sameRows,
  rowToStats,
  statsToRow,
  toErrorRecord,
  type CheckBroadcast,
  type FromWorker,
  type ReserveMessage,
  type RunMessage,
  type StatsRow,
  type ToWorker,
  toWorkerEvent,
  type UnknownReport,
  type WorkerConfig,
  type WorkerControl,
  type WorkerInit,
} from './protocol.js';

/**
 * Replies per postMessage at most: the main thread receives each message
 * whole, and its replies (each a transferred byte array) are then settled
 * in slices (fair-drain.ts).
 */
const REPLY_BATCH = 256;

export class WorkerRuntime implements WorkerControl {
  private readonly name: string;
  private readonly coordinator: WorkerCoordinator;
  private readonly slots = new Map<string, number>();
  private readonly outbox: Outbox<FromWorker>;
  /** The requests it is serving; close() drains them (they are refused by the router once it closes, not here). */
  private readonly lifecycle: Lifecycle;
  /** Servers a check was asked for since the last flush (one CHECK each per batch). */
  private readonly checksAsked = new Set<string>();
  private router!: LocalRouter;
  /** The kinds of events the main thread wants forwarded (WANT_* bits; EVENTS messages). */
  private eventMask: number;
  private statsDirty = true;
  private lastStats: StatsRow[] = [];
  /** Set while applying what the main thread sent: a pool clear it causes is not reported back. */
  private applyingRemote = false;

  private constructor(
    private readonly port: MessagePort,
    private readonly config: WorkerConfig,
  ) {
    this.name = `worker ${config.workerId}`;
    this.lifecycle = new Lifecycle(() => new PoolClosedError(`${this.name} is closed`));
    this.coordinator = new WorkerCoordinator(config.buffer, config.workerId);
    for (const [address, slot] of config.slots) this.slots.set(address, slot);
    this.eventMask = config.events;
    // Replies go out once per event-loop turn: all that arrived in one poll phase, in one message.
    this.outbox = new Outbox<FromWorker>((flush) => setImmediate(flush), port, () => this.beforeFlush(), REPLY_BATCH);
  }

  static async start(init: WorkerInit): Promise<WorkerRuntime> {
    const runtime = new WorkerRuntime(init.port, init.config);
    runtime.router = await LocalRouter.create(workerOptions(init.config.options, init.config.workerId), {
      monitoring: 'external',
      permits: (address) => runtime.permitsFor(address),
      dialSlots: (address) => runtime.dialSlotsFor(address),
      sockets: (address) => runtime.socketsFor(address),
      inUse: (address) => runtime.inUseFor(address),
      requestCheck: (address) => runtime.askForCheck(address),
      forwardUnknown: (report, apply) => runtime.forwardUnknown(report, apply),
      onReservationDead: (id) => runtime.outbox.push([DEAD, id]),
      onPoolEvent: (event) => runtime.onPoolEvent(event),
    }, runtime.forwarder());
    for (const [identity, credential] of init.config.identities) runtime.router.learnIdentity(identity, credential);
    for (const check of init.config.checks) runtime.applyCheck(check);
    // A burst of requests is started in time-bounded slices, so that this
    // thread's sockets are read (and their replies sent) in between.
    const inbox = new FairDrain<ToWorker>((message) => runtime.handle(message));
    init.port.on('message', (batch: ToWorker[]) => inbox.pushAll(batch));
    exposeControl(runtime, init.control);
    return runtime;
  }

  // ------------------------------------------------------------ control

  /** This worker's stats as its pushed rows carry them (rowToStats: the process-wide figures are the main thread's to fill in). */
  stats(): ServerStats[] {
    return this.router.stats().map((stats) => rowToStats(statsToRow(stats)));
  }

  drain(): Promise<void> {
    return this.lifecycle.drained();
  }

  close(): Promise<void> {
    return this.lifecycle.close(async () => {
      await this.router.close();
      this.coordinator.close();
      this.outbox.flush();
    });
  }

  ping(): number {
    return threadId;
  }

  setPoolLimit(limit: number): Promise<void> {
    return this.router.setGlobalPoolLimit(limit);
  }

  // ---------------------------------------------------------- op protocol

  private handle(message: ToWorker): void {
    switch (message[0]) {
      case RUN:
        this.run(message);
        break;
      case RESERVE:
        this.reserve(message);
        break;
      case RELEASE:
        this.router.releaseById(message[1]);
        break;
      case TOPOLOGY:
        this.applyCheck(message[1]);
        break;
      case SLOTS:
        for (const [address, slot] of message[1]) this.slots.set(address, slot);
        break;
      case EVENTS:
        this.eventMask = message[1];
        break;
      case LOGIN:
        this.router.learnIdentity(message[1], message[2]);
        break;
    }
  }

  private run(message: RunMessage): void {
    const [, id, flags, db, commandBytes, wireSequences, readPreference, reservation, address, decode, identity, deprioritized, poolLimit] = message;
    let request: RawRouterRequest;
    try {
      const { command, sequences } = decodeRun(commandBytes, wireSequences);
      request = { db, command, readPreference: readPreference ?? PRIMARY, identity };
      if (sequences) request.sequences = sequences;
      if (flags & WRITE) request.write = true;
      if (flags & MORE_TO_COME) request.moreToCome = true;
      if (reservation !== 0) request.reservationId = reservation;
      if (address !== null) request.address = address;
      if (deprioritized !== null) request.deprioritized = deprioritized;
      if (poolLimit > 0) request.poolLimit = poolLimit;
    } catch (error) {
      this.outbox.push([FAILED, id, toErrorRecord(error, this.name)]);
      return;
    }
    this.track(
      // Decoded here when the caller's options allow it and the reply is worth it, else checked (protocol.ts).
      this.router.runRaw(request, (body) => encodeReply(body, decode)).then(
        (reply) => {
          if (reply.result === undefined) {
            this.outbox.push([REPLY, id, reply.address, null]);
          } else {
            const [kind, bytes] = reply.result;
            this.outbox.push([kind, id, reply.address, bytes], bytes.buffer as ArrayBuffer);
          }
        },
        (error: unknown) => this.outbox.push([FAILED, id, toErrorRecord(error, this.name)]),
      ),
    );
  }

  private reserve(message: ReserveMessage): void {
    const [, id, readPreference, identity, deprioritized, poolLimit, operation] = message;
    this.track(
      this.router.reserve(readPreference, identity, deprioritized ?? undefined, poolLimit > 0 ? poolLimit : undefined, operation ?? undefined).then(
        (reservation) => this.outbox.push([RESERVED, id, reservation.id, reservation.address, reservation.writable]),
        (error: unknown) => this.outbox.push([FAILED, id, toErrorRecord(error, this.name)]),
      ),
    );
  }

  private track(operation: Promise<void>): void {
    void this.lifecycle.track(operation);
  }

  // ------------------------------------------------------ shared state

  /** The coordinator's permits for a server; undefined (the pool's own count) only for a server without a slot. */
  private permitsFor(address: string): PermitSource | undefined {
    const slot = this.slots.get(address);
    if (slot === undefined) return undefined;
    return this.coordinator.permits(slot, () => this.giveBack(address));
  }

  /** The coordinator's dial slots (maxConnecting across all workers) for a server. */
  private dialSlotsFor(address: string): PermitSource | undefined {
    const slot = this.slots.get(dialSlotKey(address));
    if (slot === undefined) return undefined;
    // A dial slot is only held during a handshake: there is nothing idle to give back.
    return this.coordinator.permits(slot, () => false);
  }

  /** The server slot's socket tally, counted with every worker's; undefined (the server's own) only for a server without a slot. */
  private socketsFor(address: string): SocketTally | undefined {
    const slot = this.slots.get(address);
    if (slot === undefined) return undefined;
    const tally = this.coordinator.sockets(slot);
    // A closed connection's permit is released at its socket's 'close',
    // after the pool's last event about it: the stats change then too.
    // (The flush comes a turn later, after the release this close runs.)
    return {
      opened: () => tally.opened(),
      closed: () => {
        tally.closed();
        this.statsChanged();
      },
      counts: () => tally.counts(),
    };
  }

  /** The server slot's in-use gate (session pool limits), counted with every worker's; undefined (the router's own) only for a server without a slot. */
  private inUseFor(address: string): InUseGate | undefined {
    const slot = this.slots.get(address);
    return slot === undefined ? undefined : this.coordinator.inUse(slot, address);
  }

  /** Idle give-back: close one idle socket of the server so that another worker's waiter gets its permit. */
  private giveBack(address: string): boolean {
    return this.router.closeIdle(address, 1) > 0;
  }

  private askForCheck(address: string): void {
    if (this.checksAsked.has(address)) return;
    this.checksAsked.add(address);
    this.outbox.push([CHECK, address]);
  }

  /**
   * A check of the process's monitor, or a pool clear in another worker (a
   * failed "check" with its message): an Unknown description with an error
   * clears the pool, as the failed check of a worker's own monitor would.
   */
  private applyCheck(check: CheckBroadcast): void {
    this.remotely(() => {
      // A check that timed out interrupts in-use connections too (CMAP).
      if (check.interruptInUse) this.router.clearPool(check.address, { interruptInUseConnections: true, cause: new Error(check.error) });
      this.router.applyServerDescription(describeCheck(check), !check.keepPool);
    });
  }

  /**
   * An application error made a server Unknown here (Cluster.forwardUnknown):
   * applied at once, and reported whole to the main thread, which applies
   * it process-wide; the pool clear it may make is part of the report, not
   * a CLEARED of its own.
   */
  private forwardUnknown(report: UnknownReport, apply: () => void): void {
    this.remotely(apply);
    if (report.clearPool) this.bumpGeneration(report.address);
    this.outbox.push([UNKNOWN, report]);
  }

  private remotely(apply: () => void): void {
    this.applyingRemote = true;
    try {
      apply();
    } finally {
      this.applyingRemote = false;
    }
  }

  private statsChanged(): void {
    this.statsDirty = true;
    this.outbox.requestFlush();
  }

  /** The EventSink of this worker's router: events of the kinds the main thread asked for go there in EVENT messages. */
  private forwarder(): EventSink {
    return {
      wanted: () => this.eventMask,
      wants: (type) => (this.eventMask & KIND_BIT[kindOf(type)]) !== 0,
      publish: (event) => {
        if ((this.eventMask & KIND_BIT[kindOf(event.type)]) !== 0) this.outbox.push([EVENT, toWorkerEvent(event)]);
      },
      // This worker's cluster selects: its selection log records go to the main thread's logger.
      logsSelection: () => (this.eventMask & WANT_SELECTION_LOG) !== 0,
      logSelection: (record) => this.outbox.push([LOG, record]),
    };
  }

  private onPoolEvent(event: PoolEvent): void {
    this.statsChanged();
    if (event.type === 'ConnectionPoolCleared' && !this.applyingRemote) {
      const message = `the pool for ${event.address} was cleared in ${this.name} after an operation failed`;
      this.outbox.push([CLEARED, event.address, event.interruptInUseConnections, message]);
      this.bumpGeneration(event.address);
    }
  }

  /** The process-wide generation of that server's pools (layout.ts), after a clear made here. */
  private bumpGeneration(address: string): void {
    const slot = this.slots.get(address);
    if (slot !== undefined) this.coordinator.bumpGeneration(slot);
  }

  /** Stats ride along with each batch, when they changed since the last one sent. */
  private beforeFlush(): void {
    this.checksAsked.clear();
    if (!this.statsDirty || this.router === undefined) return;
    this.statsDirty = false;
    const rows = this.router.stats().map(statsToRow);
    if (sameRows(rows, this.lastStats)) return;
    this.lastStats = rows;
    this.outbox.push([STATS, rows]);
  }
}

/**
 * The options of one worker's cluster. minPoolSize is the process's, like
 * maxPoolSize: shared out so that the workers together keep exactly that
 * many sockets open (worker k keeps floor(min / N), plus one for the first
 * min % N workers), rather than N times as many.
 */
export function workerOptions(options: ResolvedOptions, workerId: number): ResolvedOptions {
  const workers = Math.max(1, options.workers);
  const share = Math.floor(options.minPoolSize / workers) + (workerId < options.minPoolSize % workers ? 1 : 0);
  return { ...options, minPoolSize: share };
}
