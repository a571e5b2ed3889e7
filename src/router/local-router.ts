// The Router that runs the cluster and its pools in the calling thread:
// `workers: 0`, and the single-thread baseline every benchmark compares
// against. The worker router runs this same cluster code inside each worker.
import { commandName } from '../wire/command-name.js';
import { BSON, type Document } from 'bson';
import type { Credential } from '../auth/credential.js';
import { Cluster, type ClusterHooks } from '../cluster/cluster.js';
import type { Server } from '../cluster/server.js';
import { commonLimits, isWritable, writableServersOf, type ServerDescription } from '../cluster/server-description.js';
import { sessionSupportOf, type SessionSupport } from '../cluster/topology-description.js';
import { readPreferenceForCommand } from '../cluster/server-selection.js';
import { failedInAuthentication, type Connection } from '../connection/connection.js';
import { MgoError, NetworkError, ServerError } from '../errors.js';
import type { PoolEvent } from '../pool/events.js';
import { EventHub } from '../monitoring/event-hub.js';
import type { EventSink } from '../monitoring/events.js';
import { commandOutlet } from '../monitoring/command-outlet.js';
import { topologyOutlet } from '../monitoring/topology-outlet.js';
import type { ClearOptions } from '../pool/pool.js';
import { LocalInUseGate, gatedBySessionLimit, type InUseGate } from '../pool/in-use-gate.js';
import type { ServerStats } from '../pool/stats.js';
import type { ReadPreference } from '../read-preference.js';
import type { ResolvedOptions } from '../uri/resolve.js';
import { Lifecycle } from '../util/lifecycle.js';
import type { WireLimits } from '../wire/constants.js';
import { replyHasField } from '../wire/reply-status.js';
import { checkGlobalPoolLimit, routerClosedError as closedError, type Reservation, type Router, type RouterReply, type RouterRequest } from './router.js';

class HeldSocket implements Reservation {
  dead = false;
  /** Counted in use at its server's gate until released. */
  gate: InUseGate | undefined;
  /** Marks it dead when the socket closes; removed on release (a pooled socket outlives many reservations). */
  onClose: (() => void) | undefined;
  constructor(
    readonly id: number,
    readonly server: Server,
    readonly connection: Connection,
    readonly writable: boolean,
  ) {}

  get address(): string {
    return this.server.address;
  }
}

/**
 * What run() and runRaw() do with the socket the shared path found: send
 * the command, read the reply their way; and hand back the reply decoded
 * when it carries a writeConcernError, for the SDAM error rules.
 */
type Send<T> = (connection: Connection, command: Document, address: string) => Promise<Sent<T>>;
interface Sent<T> {
  result: T;
  writeConcernError: Document | undefined;
}

const WRITE_CONCERN_ERROR = 'writeConcernError';

/** How a worker runs a LocalRouter: the cluster's hooks, plus word of reserved sockets dying. */
export interface LocalRouterHooks extends ClusterHooks {
  /** A reserved socket closed while held (its Reservation is now dead). */
  onReservationDead?(id: number): void;
  /** Where a server's operations in use are counted for session pool limits: the coordinator in a worker; this router otherwise. */
  inUse?(address: string): InUseGate | undefined;
  /** Every pool event, whoever else observes them (a worker's runtime pushes its stats and reports its clears on them). */
  onPoolEvent?(event: PoolEvent): void;
}

/**
 * A request for runRaw(), as a worker's op port carries it: a reserved
 * socket is named by the id reserve() gave it.
 */
export interface RawRouterRequest extends Omit<RouterRequest, 'reservation'> {
  /** Run on the socket reserved under this id. */
  reservationId?: number;
}

/** A reply as runRaw()'s `prepare` made it from the reply's bytes, for a worker to hand to the main thread. */
export interface RawRouterReply<R> {
  /** What `prepare` returned; undefined for a moreToCome request (no reply). */
  result: R | undefined;
  address: string;
}

export class LocalRouter implements Router {
  private readonly cluster: Cluster;
  private readonly held = new Map<number, HeldSocket>();
  private readonly lifecycle = new Lifecycle(closedError);
  private lastReservationId = 0;
  private readonly minPoolSize: number;
  private readonly waitQueueTimeoutMS: number;
  /** Session pool limits: each server's operations in use (src/pool/in-use-gate.ts). */
  private readonly gates = new Map<string, InUseGate>();

  private constructor(
    options: ResolvedOptions,
    private readonly hooks: LocalRouterHooks,
    readonly events: EventSink,
  ) {
    this.minPoolSize = options.minPoolSize;
    this.waitQueueTimeoutMS = options.waitQueueTimeoutMS;
    const onPoolEvent = hooks.onPoolEvent;
    this.cluster = new Cluster(
      options,
      {
        // Pools build no event while nobody observes them (EventSink.wanted).
        wanted: (type) => onPoolEvent !== undefined || events.wants(type),
        publish: (event) => {
          events.publish(event);
          onPoolEvent?.(event);
        },
      },
      // SDAM events: the cluster publishes them only with monitors of its own
      // (workers: 0); command events come from its pools' sockets. Server
      // selection logs go where the events go (the dial's hub, or a
      // worker's forwarder), while wanted.
      {
        ...hooks,
        sdamEvents: topologyOutlet(events),
        commandEvents: commandOutlet(events),
        ...(hooks.selectionLog === undefined && events.logsSelection !== undefined && events.logSelection !== undefined
          ? { selectionLog: { wanted: events.logsSelection.bind(events), log: events.logSelection.bind(events) } }
          : {}),
      },
    );
  }

  /**
   * Starts monitoring the seeds; server selection waits for the first checks.
   * With hooks (a worker), permits and server descriptions come from
   * the process-wide coordinator and monitor instead. `events`: where its
   * pools' (and connections') events go: the dial's EventHub, or in a
   * worker the sink that forwards them to the main thread.
   */
  static async create(options: ResolvedOptions, hooks: LocalRouterHooks = {}, events: EventSink = new EventHub()): Promise<LocalRouter> {
    const router = new LocalRouter(options, hooks, events);
    router.cluster.connect();
    return router;
  }

  run(request: RouterRequest): Promise<RouterReply> {
    const options = { sequences: request.sequences, moreToCome: request.moreToCome, deserialize: request.deserialize };
    return this.lifecycle.run(() =>
      this.execute(request, request.reservation?.id, async (connection, command, address) => {
        const reply = await connection.command(request.db, command, options);
        return { result: { reply, address }, writeConcernError: reply.writeConcernError !== undefined ? reply : undefined };
      }),
    );
  }

  /**
   * run(), with the reply left as BSON bytes (a view into the received
   * frame) for `prepare`, which makes what the caller keeps of them (a
   * worker: the bytes or their decoded clone, protocol.ts encodeReply):
   * the same path and the same checks (an ok: 0 reply still throws a
   * ServerError, after the SDAM error rules ran); `deserialize` is ignored.
   * `prepare` runs before the socket goes back to its pool: if it throws,
   * the bytes are not a valid reply, and the connection is destroyed with
   * ERR_PROTOCOL rather than handed to the next operation (the stream is in
   * doubt), as run() does when its decoding fails (Connection.checkedReply).
   */
  runRaw<R>(request: RawRouterRequest, prepare: (body: Uint8Array) => R): Promise<RawRouterReply<R>> {
    const options = { sequences: request.sequences, moreToCome: request.moreToCome };
    return this.lifecycle.run(() =>
      this.execute(request, request.reservationId, async (connection, command, address): Promise<Sent<RawRouterReply<R>>> => {
        const body = await connection.commandBytes(request.db, command, options);
        if (body === undefined) return { result: { result: undefined, address }, writeConcernError: undefined };
        let result: R;
        try {
          result = prepare(body);
        } catch (err) {
          throw connection.refuse(`invalid BSON in reply: ${(err as Error).message}`, err);
        }
        // Decoded only in the rare reply that has one (SDAM reads its code).
        const writeConcernError = replyHasField(body, WRITE_CONCERN_ERROR) ? BSON.deserialize(body) : undefined;
        return { result: { result, address }, writeConcernError };
      }),
    );
  }

  async reserve(readPreference: ReadPreference, identity = this.dialIdentity, deprioritized?: readonly string[], poolLimit?: number, operation?: string): Promise<Reservation> {
    if (!this.lifecycle.isOpen) throw closedError();
    const server = await this.cluster.selectServer({ readPreference, deprioritized, operation });
    const gate = await this.admit(server, poolLimit);
    let connection: Connection;
    try {
      connection = await this.checkOut(server, identity);
    } catch (err) {
      gate.leave();
      throw err;
    }
    const writable = isWritable(this.cluster.topology.servers.get(server.address)?.type);
    const socket = new HeldSocket(++this.lastReservationId, server, connection, writable);
    socket.gate = gate;
    this.held.set(socket.id, socket);
    // mgo's sticky-EOF trap: a reserved socket that dies while idle is marked
    // dead at once, so the session replaces it before its next operation.
    socket.onClose = () => {
      socket.dead = true;
      if (this.held.get(socket.id) === socket) this.hooks.onReservationDead?.(socket.id);
    };
    connection.once('close', socket.onClose);
    if (!this.lifecycle.isOpen) {
      this.release(socket);
      throw closedError();
    }
    return socket;
  }

  release(reservation: Reservation): void {
    this.releaseById(reservation.id);
  }

  /** release(), for a reservation known by its id (a worker's op port carries only that). */
  releaseById(id: number): void {
    const socket = this.held.get(id);
    if (!socket) return;
    this.held.delete(socket.id);
    if (socket.onClose) socket.connection.off('close', socket.onClose);
    // The pool closes it instead of reusing it if it died (CMAP check-in).
    socket.server.pool.checkIn(socket.connection);
    socket.gate?.leave();
    socket.gate = undefined;
  }

  get dialIdentity(): number {
    return this.cluster.identities.dialIdentity;
  }

  login(credential: Credential): number {
    return this.cluster.identities.register(credential);
  }

  /** A number the main thread gave a credential (a worker's LOGIN, or its configuration). */
  learnIdentity(identity: number, credential: Credential): void {
    this.cluster.identities.learn(identity, credential);
  }

  liveServers(): string[] {
    return [...this.cluster.topology.servers.values()].filter((sd) => sd.type !== 'Unknown').map((sd) => sd.address);
  }

  writableServers(): string[] {
    return writableServersOf(this.cluster.topology.servers.values());
  }

  limits(): WireLimits {
    return commonLimits(this.cluster.topology.servers.values());
  }

  sessionSupport(): SessionSupport {
    return sessionSupportOf(this.cluster.topology);
  }

  stats(): ServerStats[] {
    return this.cluster.allServers().map((server) => ({
      address: server.address,
      ...server.pool.stats(),
      monitoringConnections: this.cluster.monitoringConnections(server),
      sockets: server.sockets.counts(),
    }));
  }

  /**
   * With workers: 0, the pools' own permits take the new limit; in a worker
   * (at its router's request, after the coordinator took it) the pools only
   * apply it. Done when it returns.
   */
  async setGlobalPoolLimit(limit: number): Promise<void> {
    checkGlobalPoolLimit(limit, this.minPoolSize);
    if (!this.lifecycle.isOpen) throw closedError();
    this.cluster.setPoolLimit(limit);
    // Waiters at a session limit the new one makes moot go to the pools now.
    for (const gate of this.gates.values()) gate.ungate(limit);
  }

  /** @internal Operations waiting at their session's pool limit in this router, for tests. */
  gatedOperations(): number {
    let waiting = 0;
    for (const gate of this.gates.values()) waiting += gate.waiting;
    return waiting;
  }

  // ------------------------------------------ what a worker's runtime drives

  /** A server description from the process's monitor (external monitoring), applied as a check of our own would be (clearPool: Cluster.applyServerDescription). */
  applyServerDescription(sd: ServerDescription, clearPool = true): void {
    this.cluster.applyServerDescription(sd, clearPool);
  }

  /** Clears the pool of the server at `address`, if it is part of the cluster. */
  clearPool(address: string, options: ClearOptions): void {
    this.cluster.server(address)?.pool.clear(options);
  }

  /** Closes up to `count` idle sockets of the server at `address`; returns how many it closed. */
  closeIdle(address: string, count: number): number {
    return this.cluster.server(address)?.pool.closeIdle(count) ?? 0;
  }

  close(): Promise<void> {
    return this.lifecycle.close(async () => {
      // Sessions not closed by their owner still hold sockets: the pools
      // could not finish closing with them checked out.
      for (const socket of [...this.held.values()]) this.release(socket);
      await this.cluster.close();
    });
  }

  destroy(): Promise<void> {
    return this.lifecycle.destroy(async () => {
      for (const socket of this.held.values()) socket.connection.destroy();
      this.held.clear();
      for (const gate of this.gates.values()) gate.failAll(closedError());
      await this.cluster.destroy();
    });
  }

  /**
   * The one path of run() and runRaw(): the socket (reserved, or checked out
   * of the selected server's pool and back in afterwards), the command with
   * its $readPreference, and the SDAM error rules for what fails; `send`
   * is the only difference (decoded reply or bytes).
   */
  private async execute<T>(request: RawRouterRequest, reservationId: number | undefined, send: Send<T>): Promise<T> {
    if (reservationId !== undefined) {
      const socket = this.held.get(reservationId);
      if (!socket) throw new MgoError('ERR_CONNECTION_CLOSED', `reservation ${reservationId} is not held by this router`);
      if (socket.dead || socket.connection.isClosed) {
        socket.dead = true;
        throw new NetworkError('ERR_CONNECTION_CLOSED', `the reserved connection to ${socket.address} is closed; the session reserves a new one`, {
          address: socket.address,
        });
      }
      return this.sendOn(socket.server, socket.connection, request, send);
    }
    const server = request.address
      ? this.serverAt(request.address)
      : await this.cluster.selectServer({
          readPreference: request.readPreference,
          forWrite: request.write,
          deprioritized: request.deprioritized,
          // Named only while selections are logged: no key lookup per operation otherwise.
          operation: this.cluster.logsSelection ? commandName(request.command) : undefined,
        });
    const admitted = this.admit(server, request.poolLimit);
    const gate = admitted instanceof Promise ? await admitted : admitted;
    let connection: Connection;
    try {
      connection = await this.checkOut(server, request.identity ?? this.dialIdentity);
    } catch (err) {
      gate.leave();
      throw err;
    }
    try {
      return await this.sendOn(server, connection, request, send);
    } finally {
      server.pool.checkIn(connection);
      gate.leave();
    }
  }

  /**
   * Counts an operation in use at its server's gate, first waiting there
   * while its session's own pool limit is reached (Session.setPoolLimit).
   * A limit at or above the pool's (maxPoolSize, which still applies after
   * the gate) changes nothing and is not gated: in-thread, the pool's FIFO
   * queue is the only wait. Returns the gate, to leave() once the socket is back.
   */
  private admit(server: Server, poolLimit: number | undefined): InUseGate | Promise<InUseGate> {
    let gate = this.gates.get(server.address);
    if (gate === undefined) {
      gate = this.hooks.inUse?.(server.address) ?? new LocalInUseGate(server.address);
      this.gates.set(server.address, gate);
    }
    if (!gatedBySessionLimit(poolLimit, server.pool.stats().maxOpen)) {
      gate.enter();
      return gate; // no promise, no extra turn: the common case
    }
    const admitted = gate;
    return gate.admit(poolLimit, this.waitQueueTimeoutMS)?.then(() => admitted) ?? gate;
  }

  private async sendOn<T>(server: Server, connection: Connection, request: RawRouterRequest, send: Send<T>): Promise<T> {
    const command = request.write ? request.command : this.withReadPreference(server, request.command, request.readPreference);
    let sent: Sent<T>;
    try {
      sent = await send(connection, command, server.address);
    } catch (err) {
      if (err instanceof NetworkError || err instanceof ServerError) {
        this.cluster.handleApplicationError(server.address, err, connection.generation, connection.hello.maxWireVersion);
      }
      throw err;
    }
    if (sent.writeConcernError) this.cluster.handleWriteConcernError(server.address, sent.writeConcernError, connection.generation, connection.hello.maxWireVersion);
    return sent.result;
  }

  /**
   * A socket from the server's pool. A dial that fails runs SDAM's rules
   * for handshake errors ("MongoDB Handshake errors"; "Network error when
   * reading or writing", before the handshake completes): a command error
   * in the hello, or any error authenticating, marks the server Unknown and
   * clears its pool; a network error connecting or in the hello changes
   * nothing. Authentication counts only as the dial-time credential: a
   * session's own login() with a wrong password is that user's error, not
   * the server's state, and must not clear everyone's sockets.
   */
  private async checkOut(server: Server, identity: number): Promise<Connection> {
    const generation = server.pool.generation;
    try {
      return await server.pool.checkOut({ identity });
    } catch (err) {
      const stage = failedInAuthentication(err) ? 'authentication' : 'handshake';
      if (stage === 'handshake' || identity === this.dialIdentity) this.cluster.handleApplicationError(server.address, err, generation, 0, stage);
      throw err;
    }
  }

  private serverAt(address: string): Server {
    const server = this.cluster.server(address);
    if (!server) throw new NetworkError('ERR_CONNECTION_CLOSED', `server ${address} is no longer part of the cluster`, { address });
    return server;
  }

  // Server selection spec, "Passing read preference": what a server needs to
  // hear depends on the topology type and its own type.
  private withReadPreference(server: Server, command: Document, readPreference: ReadPreference): Document {
    const td = this.cluster.topology;
    const sd = td.servers.get(server.address);
    if (!sd) return command;
    const { $readPreference } = readPreferenceForCommand(td, sd, readPreference);
    return $readPreference ? { ...command, $readPreference } : command;
  }
}
