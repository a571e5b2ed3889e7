// The Router that runs the cluster and its pools in worker threads
// (`workers: N`). Each worker runs a LocalRouter (the same cluster,
// pool and connection code as `workers: 0`) whose permits come from one
// shared coordinator, so that the connection limit per server holds across
// all of them, and whose server descriptions come from this thread's one
// monitor per server (TopologyMonitor). Operations cross over the op
// protocol (protocol.ts): the command is serialized here; the reply comes
// back decoded by the worker with the caller's options (a typed clone), or
// as its bytes, decoded here, when it is small or the options stay here.
//
// Placement. A reservation stays bound to the worker that made it: every
// operation that names it runs there, so a clone() (which shares its
// parent's reservation) stays on its parent's worker and socket. Making a
// reservation, and operations without one (the Eventual mode, cursor
// follow-ups by address), go first to a worker with a spare socket for
// their server, then, below the limit, to the least-loaded worker (fewest
// requests in flight); at the limit a reservation joins the worker queued
// for a permit or waits on this thread until a socket is spare (sockets
// cannot move, so a permit moving costs a new dial: placement.ts), and an
// operation stays with the last worker while it is not much more loaded
// (leastLoaded() says why).
//
// Worker death. The worker's permits are reclaimed at once, its reservations
// become dead, and each request it had fails with a retryable NetworkError
// (labels RetryableError, WorkerLost, and ShardWorkerLost, its old name),
// which the session retries like any lost connection when the retryable
// reads or writes spec allows (Session.#run: one retry in all, whatever
// failed; a write keeps its txnNumber). Reservations are simply made again
// elsewhere. A request that never left this thread was never sent, so it is
// sent elsewhere whatever it is. A replacement worker with the same id
// starts with the current topology.
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { Credential } from '../auth/credential.js';
import { DIAL_IDENTITY, Identities } from '../auth/identities.js';
import { commonLimits, writableServersOf } from '../cluster/server-description.js';
import type { SelectionLogRecord } from '../cluster/selection-log.js';
import { selectServers } from '../cluster/server-selection.js';
import { TopologyMonitor } from '../cluster/topology-monitor.js';
import { sessionSupportOf, type SessionSupport } from '../cluster/topology-description.js';
import { Coordinator, dialSlotKey } from '../coordinator/coordinator.js';
import { MgoError, NetworkError, fromErrorRecord } from '../errors.js';
import { EventHub } from '../monitoring/event-hub.js';
import { WANT_COMMAND, type EventSink } from '../monitoring/events.js';
import { topologyOutlet } from '../monitoring/topology-outlet.js';
import type { ServerStats } from '../pool/stats.js';
import { gatedBySessionLimit } from '../pool/in-use-gate.js';
import type { ReadPreference } from '../read-preference.js';
import { checkGlobalPoolLimit, routerClosedError as closedError, type Reservation, type Router, type RouterReply, type RouterRequest } from '../router/router.js';
import type { ResolvedOptions } from '../uri/resolve.js';
import { Lifecycle } from '../util/lifecycle.js';
import type { WireLimits } from '../wire/constants.js';
import { malformedReply } from '../wire/reply-shape.js';
import {
  DECODED,
  EVENTS,
  FAILED,
  MORE_TO_COME,
  REPLY,
  LOGIN,
  RESERVE,
  RESERVED,
  RUN,
  SLOTS,
  STAT_KEYS,
  TOPOLOGY,
  WRITE,
  decodeFlagsOf,
  decodeReply,
  encodeRun,
  type EncodedRun,
  type ToWorker,
  fromWorkerEvent,
  type WorkerEvent,
  type UnknownReport,
  type WorkerConfig,
} from './protocol.js';
import type { SliceStats } from '../util/fair-drain.js';
import { Placement, type Choice } from './placement.js';
import { OpenCommands } from './open-commands.js';
import { WORKER_LOST_LABELS, WorkerHandle, WorkerReservation, deliveryQueue, type Answer, type Pending, type WorkerHost, type WorkerState } from './worker-handle.js';

/** Options that are not connection options: for tests and benchmarks. */
export interface WorkerRouterInternals {
  /** The worker entry file (workers/worker.ts under tsx, dist/workers/worker.js when built). */
  filename?: string;
  /** Passed to each worker thread (a heap limit makes a worker die of OOM). */
  resourceLimits?: Worker['resourceLimits'];
  startTimeoutMS?: number;
  closeTimeoutMS?: number;
}

/** One worker's view, for diagnostics (stats() sums these). */
export interface WorkerDetail {
  workerId: number;
  state: WorkerState;
  threadId: number;
  /** Requests in flight there (and queued for it while it starts). */
  inFlight: number;
  /** Threads this worker lost so far. */
  restarts: number;
  /** Why the last one was lost. */
  lastLoss: string | undefined;
  servers: ServerStats[];
}

/** How many times a request that never reached a worker is sent again before failing. */
const MAX_UNDELIVERED_RESENDS = 4;

export class WorkerRouter implements Router, WorkerHost {
  private readonly workers: WorkerHandle[];
  private readonly monitor: TopologyMonitor;
  private readonly coordinator: Coordinator;
  /** The dial's EventHub: workers' events are published there with their workerId. */
  readonly events: EventSink;
  /** The last WANT_* mask sent to the workers (EVENTS messages). */
  private eventMask: number;
  /** @internal EVENT messages received from workers, for tests (none while nobody observes). */
  eventMessages = 0;
  /** Commands the workers started and have not finished, for a worker lost in between. */
  private readonly openCommands = new OpenCommands();
  private readonly lifecycle = new Lifecycle(closedError);
  private lastReservationId = 0;
  /** Where the least-loaded search starts: ties go round the workers. */
  private rotor = 0;
  /** The worker the last operation without a reservation went to (sticky placement under a backlog). */
  private lastPick: WorkerHandle | undefined;
  /** What worker losses did to requests, since the router was made. */
  readonly losses = { resent: 0, lost: 0 };
  /** Every worker's replies, events and stats, settled in time-bounded slices. */
  private readonly inbox = deliveryQueue();
  /** Credentials by number (src/auth/identities.ts); the workers number the dial-time one alike. */
  private readonly identities: Identities;
  /** Which worker has spare sockets, and the reservations waiting for one (placement.ts). */
  private readonly placement: Placement;
  /** The servers a simple read preference selects now, by selectionKey(); emptied at every check. */
  private readonly targets = new Map<string, readonly string[]>();

  /** Servers with a coordinator slot (their connection slot; the dial slot is under dialSlotKey()). */
  private readonly slotted = new Set<string>();
  /** How long a worker may take to apply a new pool limit. */
  private readonly controlTimeoutMS: number;

  private constructor(
    /** Replaced by setGlobalPoolLimit(): workers started later are configured with its maxPoolSize. */
    private options: ResolvedOptions,
    internals: WorkerRouterInternals,
    events: EventSink,
  ) {
    this.events = events;
    this.eventMask = events.wanted();
    this.coordinator = Coordinator.create({ maxWorkers: options.workers });
    this.identities = new Identities(options.credentials);
    this.placement = new Placement(
      {
        workerCount: options.workers,
        serving: (worker) => this.workers[worker]?.state === 'ready',
        load: (worker) => this.workers[worker]!.load,
        capacity: (address) => this.coordinator.capacity(address),
        held: (address, worker) => this.workers[worker]!.held(address),
      },
      options.waitQueueTimeoutMS,
    );
    this.monitor = new TopologyMonitor(options, {
      onCheck: (check) => {
        this.broadcast([TOPOLOGY, check]);
        this.topologyChanged();
      },
      onServersAdded: (addresses) => {
        for (const address of addresses) this.slotted.add(address);
        this.broadcast([
          SLOTS,
          addresses.flatMap((a) => [
            [a, this.coordinator.slotFor(a, this.options.maxPoolSize)],
            [dialSlotKey(a), this.coordinator.slotFor(dialSlotKey(a), options.maxConnecting)],
          ]),
        ]);
        this.placement.look();
      },
    }, topologyOutlet(events)); // the process's SDAM events: the workers' clusters publish none
    const handleOptions = {
      filename: internals.filename ?? defaultWorkerFilename(),
      resourceLimits: internals.resourceLimits,
      startTimeoutMS: internals.startTimeoutMS ?? 30_000,
      closeTimeoutMS: internals.closeTimeoutMS ?? 10_000,
    };
    this.controlTimeoutMS = handleOptions.closeTimeoutMS;
    this.workers = Array.from({ length: options.workers }, (_, id) => new WorkerHandle(id, this, handleOptions, this.inbox));
  }

  /**
   * Starts the monitor and `options.workers` workers; resolves once every
   * worker serves. `events`: the dial's EventHub, where the workers' events
   * are published (with their workerId).
   */
  static async create(options: ResolvedOptions, internals: WorkerRouterInternals = {}, events: EventSink = new EventHub()): Promise<WorkerRouter> {
    const router = new WorkerRouter(options, internals, events);
    router.monitor.start();
    try {
      await Promise.all(router.workers.map((worker) => worker.start()));
    } catch (error) {
      await router.destroy();
      throw error;
    }
    return router;
  }

  // ------------------------------------------------------------- Router

  run(request: RouterRequest): Promise<RouterReply> {
    this.syncEventMask();
    return this.lifecycle.run(() => new Promise((resolve, reject) => this.dispatch(request, resolve, reject, 0)));
  }

  reserve(readPreference: ReadPreference, identity = this.dialIdentity, deprioritized?: readonly string[], poolLimit?: number, operation?: string): Promise<Reservation> {
    this.syncEventMask();
    const ask: ReserveAsk = { readPreference, identity, deprioritized: deprioritized ?? null, poolLimit: poolLimit ?? 0, operation: operation ?? null };
    return this.lifecycle.run(() => new Promise((resolve, reject) => this.dispatchReserve(ask, resolve, reject, 0)));
  }

  get dialIdentity(): number {
    return this.identities.dialIdentity;
  }

  /**
   * Numbers the credential here; each worker learns the number before any
   * operation that uses it, since its port delivers in order (a repeated
   * LOGIN only teaches it the same number again).
   */
  login(credential: Credential): number {
    const identity = this.identities.register(credential);
    this.broadcast([LOGIN, identity, credential]);
    return identity;
  }

  release(reservation: Reservation): void {
    if (!(reservation instanceof WorkerReservation)) return;
    const { worker } = reservation;
    const givenBack = worker.holds(reservation) && !reservation.dead;
    worker.release(reservation);
    // The socket goes back to that worker's pool: a parked reservation follows it there.
    if (givenBack) this.placement.released(reservation.address, worker.id);
    else this.placement.look();
  }

  liveServers(): string[] {
    return this.monitor.liveServers();
  }

  /** From this thread's monitor, which every worker's cluster follows. */
  writableServers(): string[] {
    return writableServersOf(this.monitor.topology.servers.values());
  }

  /** From this thread's monitor, which every worker's cluster follows. */
  sessionSupport(): SessionSupport {
    return sessionSupportOf(this.monitor.topology);
  }

  /** From this thread's monitor: the workers' servers are the ones it checks. */
  limits(): WireLimits {
    return commonLimits(this.monitor.topology.servers.values());
  }

  /**
   * Per server, summed over the workers from the snapshots they push with
   * their replies (whenever a pool changed): current within one event-loop
   * turn of the worker. maxOpen is the one global limit, not a sum.
   */
  stats(): ServerStats[] {
    const sums = new Map<string, ServerStats>();
    for (const worker of this.workers) {
      for (const stats of worker.serverStats()) {
        const sum = sums.get(stats.address);
        if (sum === undefined) {
          sums.set(stats.address, stats);
          continue;
        }
        for (const key of STAT_KEYS) sum[key] = key === 'maxOpen' ? Math.max(sum[key], stats[key]) : sum[key] + stats[key];
      }
    }
    for (const [address, sum] of sums) {
      sum.monitoringConnections = this.monitor.monitoringConnections(address);
      // The limit is process-wide, and setGlobalPoolLimit() changes it here first.
      sum.maxOpen = this.options.maxPoolSize;
      // Counted in the shared buffer by every worker: exact now, not summed.
      sum.sockets = this.coordinator.socketCounts(address) ?? sum.sockets;
      // Reservations that waited on this thread (placement.ts) waited for a pool's connection too.
      const parked = this.placement.waitsOf(address);
      if (parked === undefined) continue;
      sum.waitCount += parked.waitCount;
      sum.waitDurationMS += parked.waitDurationMS;
      sum.timeouts += parked.timeouts;
    }
    return [...sums.values()];
  }

  /** Each worker's state and last pushed pool statistics. */
  workerStats(): WorkerDetail[] {
    return this.workers.map((worker) => ({
      workerId: worker.id,
      state: worker.state,
      threadId: worker.threadId,
      inFlight: worker.load,
      restarts: worker.restarts,
      lastLoss: worker.lastLoss,
      servers: worker.serverStats(),
    }));
  }

  /** workerStats() with each serving worker's pool statistics asked for now (control plane), not the last pushed. */
  async workerStatsNow(timeoutMS = 2_000): Promise<WorkerDetail[]> {
    const fresh = await Promise.all(this.workers.map((worker) => worker.fetchStats(timeoutMS)));
    return this.workerStats().map((detail, i) => ({ ...detail, servers: fresh[i]! }));
  }

  /** How the main thread has been settling worker deliveries: slices, items, the longest slice (continuations included). */
  deliveryStats(resetLargest = false): SliceStats {
    return this.inbox.stats(resetLargest);
  }

  /**
   * The coordinator takes the new limit first, for every server: from then
   * on no permit is granted while as many are open, and a raised limit's
   * permits go to the queued requests, oldest first (FIFO across workers).
   * Then each worker closes its idle sockets above it (counted across
   * workers: SlotView.retire) and, as its sockets are checked in, the
   * checked-out ones, until no more are open than the limit.
   */
  async setGlobalPoolLimit(limit: number): Promise<void> {
    checkGlobalPoolLimit(limit, this.options.minPoolSize);
    if (!this.lifecycle.isOpen) throw closedError();
    this.options = { ...this.options, maxPoolSize: limit };
    for (const address of this.slotted) this.coordinator.setLimit(address, limit);
    // Reservations parked here at the old limit may fit under a raised one.
    this.placement.look();
    await Promise.all(this.workers.map((worker) => worker.setPoolLimit(limit, this.controlTimeoutMS)));
  }

  /** @internal Reservations waiting on this thread for a spare socket (placement.ts), for tests. */
  parkedReservations(): number {
    return this.placement.parkedRequests;
  }

  /** The coordinator's view of every server slot (permits open and queued, per-worker leases). */
  coordinatorSnapshot(): ReturnType<Coordinator['snapshot']> {
    return this.coordinator.snapshot();
  }

  /** @internal The thread of worker `workerId` (tests end it to simulate a crash). */
  workerThread(workerId: number): Worker | undefined {
    return this.workers[workerId]?.thread;
  }

  /**
   * Tells the workers which kinds of events someone observes now, when that
   * changed since the last operation: a listener or a diagnostics_channel
   * subscriber added since is noticed here (channels have no subscribe
   * hook), and the EVENTS message goes out before this operation's own
   * message on the same port, so the worker forwards this operation's
   * events. One wanted() and a compare when nothing changed.
   */
  private syncEventMask(): void {
    const mask = this.events.wanted();
    if (mask === this.eventMask) return;
    if ((mask & WANT_COMMAND) === 0) this.openCommands.clear();
    this.eventMask = mask;
    this.broadcast([EVENTS, mask]);
  }

  /** Drains this thread's operations, then has each worker drain and close its own, then ends them. */
  close(): Promise<void> {
    return this.lifecycle.close(async () => {
      await Promise.allSettled(this.workers.map((worker) => worker.close()));
      this.monitor.close();
    });
  }

  destroy(): Promise<void> {
    return this.lifecycle.destroy(async () => {
      this.placement.failAll(closedError);
      this.monitor.close();
      await Promise.allSettled(this.workers.map((worker) => worker.destroy()));
    });
  }

  // ---------------------------------------------------------- WorkerHost

  configFor(workerId: number): WorkerConfig {
    return {
      workerId,
      options: this.options,
      buffer: this.coordinator.buffer,
      slots: Object.entries(this.coordinator.slotMap()),
      checks: this.monitor.lastChecks(),
      events: this.eventMask,
      identities: this.identities.entries().filter(([identity]) => identity !== DIAL_IDENTITY),
    };
  }

  workerLost(workerId: number): void {
    this.coordinator.reclaim(workerId);
    this.placement.look();
  }

  poolsChanged(): void {
    this.placement.look();
  }

  /** A worker's event (CMAP, command): published with the worker's id, in the order that worker produced them. */
  workerEvent(worker: WorkerHandle, event: WorkerEvent): void {
    this.eventMessages++;
    // A started event that crossed after command events were turned off may never see its outcome (the worker no longer forwards it): not noted.
    if ((this.eventMask & WANT_COMMAND) !== 0) this.openCommands.note(worker.id, event);
    this.events.publish(fromWorkerEvent(event), worker.id);
  }

  commandsLost(worker: WorkerHandle, error: MgoError): void {
    for (const failed of this.openCommands.lost(worker.id, error)) this.events.publish(failed, worker.id);
  }

  /** A worker's server selection log record: logged here, on the dial's logger, with the worker's id. */
  selectionLogged(worker: WorkerHandle, record: SelectionLogRecord): void {
    this.events.logSelection?.(record, worker.id);
  }

  /** One worker cleared a pool: the server is Unknown for the process, and every other worker clears its pool too. */
  poolCleared(origin: WorkerHandle, address: string, interruptInUse: boolean, message: string): void {
    const check = this.monitor.markUnknown(address, message, interruptInUse);
    for (const worker of this.workers) if (worker !== origin) worker.post([TOPOLOGY, check]);
    this.topologyChanged();
  }

  checkRequested(address: string): void {
    this.monitor.requestCheck(address);
  }

  /** A worker's application error made a server Unknown there: the process follows (unless stale here), and so do the other workers. */
  markedUnknown(origin: WorkerHandle, report: UnknownReport): void {
    const check = this.monitor.applicationError(report);
    if (!check) return;
    for (const worker of this.workers) if (worker !== origin) worker.post([TOPOLOGY, check]);
    this.topologyChanged();
  }

  /** The process's description changed: the servers cached per read preference are chosen again. */
  private topologyChanged(): void {
    this.targets.clear();
    this.placement.retarget();
  }

  // ----------------------------------------------------------- dispatch

  private dispatch(
    request: RouterRequest,
    resolve: (reply: RouterReply) => void,
    reject: (error: unknown) => void,
    resends: number,
    avoid?: WorkerHandle,
  ): void {
    let worker: WorkerHandle;
    let reservationId = 0;
    /** The server it is counted pending for at `worker` (placement.ts), if any. */
    let counted: string | undefined;
    const held = request.reservation;
    if (held) {
      if (!(held instanceof WorkerReservation) || !held.worker.holds(held)) {
        const error = held.dead
          ? deadReservationError(held)
          : new MgoError('ERR_CONNECTION_CLOSED', `reservation ${held.id} is not held by this router`);
        reject(error);
        return;
      }
      if (held.dead) {
        reject(deadReservationError(held));
        return;
      }
      worker = held.worker;
      reservationId = held.remoteId;
    } else {
      const addresses = request.address !== undefined ? [request.address] : this.targetsOf(request.readPreference, request.write === true, request.deprioritized);
      const choice: Choice = avoid === undefined ? this.placement.choose(addresses) : { kind: 'full' };
      worker = choice.kind === 'spare' ? this.workers[choice.worker]! : this.leastLoaded(avoid);
      counted = this.mayWaitAtSessionLimit(request.poolLimit) ? undefined : this.countPending(addresses, choice, worker);
    }
    let encoded: EncodedRun;
    try {
      encoded = encodeRun(request.command, request.sequences, request.retainSequences === true);
    } catch (error) {
      if (counted !== undefined) this.placement.answered(counted, worker.id);
      reject(error);
      return;
    }
    const flags = (request.write ? WRITE : 0) | (request.moreToCome ? MORE_TO_COME : 0);
    const readPreference = isPlainPrimary(request.readPreference) ? null : request.readPreference;
    const address = held ? null : (request.address ?? null);
    const decode = decodeFlagsOf(request.deserialize);
    const identity = request.identity ?? this.dialIdentity;
    const build = (id: number): ToWorker => [
      RUN,
      id,
      flags,
      request.db,
      encoded.command,
      encoded.sequences,
      readPreference,
      reservationId,
      address,
      decode,
      identity,
      request.deprioritized ?? null,
      request.poolLimit ?? 0,
    ];
    const pending: Pending = {
      answer: (message: Answer) => {
        if (counted !== undefined) this.placement.answered(counted, worker.id);
        this.placement.look();
        if (message[0] === REPLY || message[0] === DECODED) {
          let reply;
          try {
            reply = decodeReply(message[0], message[3], request.deserialize);
          } catch (error) {
            // The worker checked the structure before it sent the bytes (protocol.ts, encodeReply): what fails here is a value, not the stream.
            reject(malformedReply(message[2], `a value cannot be decoded: ${(error as Error).message}`));
            return;
          }
          resolve({ reply, address: message[2] });
        } else if (message[0] === FAILED) {
          reject(fromErrorRecord(message[2]));
        }
      },
      lost: (error, delivered) => {
        if (counted !== undefined) this.placement.answered(counted, worker.id);
        if (this.lifecycle.state !== 'closed' && !delivered && resends < MAX_UNDELIVERED_RESENDS) {
          this.losses.resent++;
          this.dispatch(request, resolve, reject, resends + 1, worker);
        } else {
          this.losses.lost++;
          reject(error);
        }
      },
    };
    worker.send(build, encoded.transfer, pending);
  }

  private dispatchReserve(
    ask: ReserveAsk,
    resolve: (reservation: Reservation) => void,
    reject: (error: unknown) => void,
    resends: number,
    avoid?: WorkerHandle,
  ): void {
    const addresses = this.targetsOf(ask.readPreference, false, ask.deprioritized ?? undefined);
    // Only a reservation with one server to go to waits here: with several, the worker chooses.
    const only = addresses.length === 1 ? addresses[0]! : undefined;
    const behindOthers = only !== undefined && this.placement.hasParked(only);
    const gated = this.mayWaitAtSessionLimit(ask.poolLimit);
    const choice: Choice = avoid === undefined && !behindOthers ? this.placement.choose(addresses) : { kind: 'full' };
    if (avoid === undefined && choice.kind === 'full' && only !== undefined) {
      this.placement.park({
        address: only,
        send: (to) => {
          const worker = to === undefined ? this.leastLoaded() : this.workers[to]!;
          if (!gated) this.placement.sent(only, worker.id);
          this.sendReserve(ask, resolve, reject, resends, worker, gated ? undefined : only);
        },
        fail: reject,
        stillTargets: () => {
          const now = this.targetsOf(ask.readPreference, false, ask.deprioritized ?? undefined);
          return now.length === 1 && now[0] === only;
        },
      });
      return;
    }
    const worker = choice.kind === 'spare' || choice.kind === 'queued' ? this.workers[choice.worker]! : this.leastLoaded(avoid);
    this.sendReserve(ask, resolve, reject, resends, worker, gated ? undefined : this.countPending(addresses, choice, worker));
  }

  /**
   * A request of a session with its own pool limit below the connection
   * limit (Session.setPoolLimit) may wait in the worker at that limit, for
   * as long as the session's other operations hold their sockets, and needs
   * no permit meanwhile. Counted pending there, it would look like a request
   * waiting for a permit (placement.ts, free()): with as many of them as
   * the permits left, every other session's reservation would be parked
   * here until waitQueueTimeoutMS, although the limit allows its socket.
   * Not counted, it is at worst a moment's error once admitted, as any
   * request not counted (one with several servers to choose from).
   */
  private mayWaitAtSessionLimit(poolLimit: number | undefined): boolean {
    return gatedBySessionLimit(poolLimit, this.options.maxPoolSize);
  }

  private sendReserve(
    ask: ReserveAsk,
    resolve: (reservation: Reservation) => void,
    reject: (error: unknown) => void,
    resends: number,
    worker: WorkerHandle,
    /** The server it is counted pending for (countPending()), if any. */
    counted: string | undefined,
  ): void {
    const incarnation = worker.incarnation;
    // Reserving changes nothing on the server: always safe to do again elsewhere.
    const reserveAgain = (error: MgoError) => {
      if (this.lifecycle.state === 'closed' || resends >= MAX_UNDELIVERED_RESENDS) reject(error);
      else this.dispatchReserve(ask, resolve, reject, resends + 1, worker);
    };
    worker.send((id) => [RESERVE, id, ask.readPreference, ask.identity, ask.deprioritized, ask.poolLimit, ask.operation], undefined, {
      answer: (message: Answer) => {
        if (counted !== undefined) this.placement.answered(counted, worker.id);
        if (message[0] === RESERVED && worker.incarnation !== incarnation) {
          // The worker sent it, then died: the answer is delivered after the
          // loss (behind what the worker sent first), and the socket is gone
          // with that thread. Adopted now, it would be taken for a socket of
          // the replacement: reserve again.
          reserveAgain(new NetworkError('ERR_CONNECTION_CLOSED', `${worker.name} was lost with the socket it reserved`, { errorLabels: ['RetryableError', ...WORKER_LOST_LABELS] }));
        } else if (message[0] === RESERVED) {
          const reservation = worker.adopt(message[2], message[3], message[4], ++this.lastReservationId);
          if (!this.lifecycle.isOpen) {
            this.release(reservation);
            reject(closedError());
          } else {
            resolve(reservation);
          }
        } else if (message[0] === FAILED) {
          reject(fromErrorRecord(message[2]));
        }
        this.placement.look();
      },
      lost: (error) => {
        if (counted !== undefined) this.placement.answered(counted, worker.id);
        reserveAgain(error);
      },
    });
  }

  /**
   * Counts a request sent to `worker` as pending there for its server until
   * its answer: the one server it can go to, or the one placement found a
   * spare socket or a free permit of; not counted when the worker chooses
   * among several.
   */
  private countPending(addresses: readonly string[], choice: Choice, worker: WorkerHandle): string | undefined {
    const address = addresses.length === 1 ? addresses[0] : choice.kind === 'spare' || choice.kind === 'free' ? choice.address : undefined;
    if (address !== undefined) this.placement.sent(address, worker.id);
    return address;
  }

  /**
   * The servers that could run an operation with this read preference, by
   * this thread's monitor (what the worker's own selection chooses among);
   * empty while none is known. Cached per simple read preference until the
   * next check.
   */
  private targetsOf(readPreference: ReadPreference, forWrite: boolean, deprioritized?: readonly string[]): readonly string[] {
    const key = deprioritized?.length ? undefined : selectionKey(readPreference, forWrite);
    const cached = key === undefined ? undefined : this.targets.get(key);
    if (cached !== undefined) return cached;
    let addresses: string[];
    try {
      const { localThresholdMS, heartbeatFrequencyMS } = this.options;
      addresses = selectServers(this.monitor.topology, { readPreference, forWrite, deprioritized }, { localThresholdMS, heartbeatFrequencyMS }).map((sd) => sd.address);
    } catch {
      addresses = []; // an invalid read preference: the worker's selection reports it
    }
    if (key !== undefined) this.targets.set(key, addresses);
    return addresses;
  }

  /** The worker with the fewest requests in flight, serving ones first; ties go round. `avoid` only if it is the sole choice. */
  private leastLoaded(avoid?: WorkerHandle): WorkerHandle {
    const workers = this.workers;
    let best: WorkerHandle | undefined;
    let bestRank = Infinity;
    const start = this.rotor++ % workers.length;
    for (let i = 0; i < workers.length; i++) {
      const worker = workers[(start + i) % workers.length]!;
      if (worker.state === 'closing' || worker.state === 'closed') continue;
      // Serving workers first, then starting ones, then the one to avoid.
      const tier = worker === avoid ? 2 : worker.state === 'ready' ? 0 : 1;
      const rank = tier * 1e9 + worker.load;
      if (rank < bestRank) {
        best = worker;
        bestRank = rank;
      }
    }
    const chosen = best ?? avoid ?? workers[0]!;
    // Under a backlog (even the least-loaded worker has more requests than
    // the whole connection limit allows), keep sending to the last worker
    // while it is not much more loaded. Spread one by one, both workers hold
    // queued requests of about the same age, and the coordinator's FIFO
    // hand-off then moves a permit to the other worker (closing a socket,
    // dialing another) at nearly every check-in: 200,000 finds at pool
    // limit 4 took 24-37 s with two workers against 17 s with one. In runs
    // the hand-off happens once per run. FIFO across workers is unchanged.
    const last = this.lastPick;
    if (
      avoid === undefined &&
      last !== undefined &&
      last !== chosen &&
      last.state === 'ready' &&
      chosen.load >= this.options.maxPoolSize &&
      last.load <= 2 * chosen.load + this.options.maxPoolSize
    ) {
      return last;
    }
    this.lastPick = chosen;
    return chosen;
  }

  /** Sends a message to every worker that is, or is about to be, serving (others get the state in their configuration). */
  private broadcast(message: ToWorker): void {
    for (const worker of this.workers) worker.post(message);
  }
}

/** A cache key for read preferences without tags or staleness (nearly all of them); undefined for the others. */
function selectionKey(readPreference: ReadPreference, forWrite: boolean): string | undefined {
  if (forWrite) return 'write';
  if (readPreference.tags !== undefined || readPreference.maxStalenessSeconds !== undefined) return undefined;
  return readPreference.mode;
}

function isPlainPrimary(readPreference: ReadPreference): boolean {
  return readPreference.mode === 'primary' && readPreference.tags === undefined && readPreference.maxStalenessSeconds === undefined;
}

/** What a reservation asks for, as sent to a worker (RESERVE). */
interface ReserveAsk {
  readPreference: ReadPreference;
  identity: number;
  deprioritized: readonly string[] | null;
  /** The session's own pool limit; 0 for none. */
  poolLimit: number;
  /** The command it is reserved for (selection log messages), or null. */
  operation: string | null;
}

function deadReservationError(reservation: Reservation): NetworkError {
  return new NetworkError('ERR_CONNECTION_CLOSED', `the reserved connection to ${reservation.address} is closed; the session reserves a new one`, {
    address: reservation.address,
  });
}

/** workers/worker.ts beside src/ (run from source under tsx), or dist/workers/worker.js beside dist/src/. */
function defaultWorkerFilename(): string {
  const here = import.meta.url;
  const extension = here.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`../../workers/worker${extension}`, here));
}

