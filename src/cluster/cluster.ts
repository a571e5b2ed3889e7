// The cluster view of one process or worker: the topology description, one
// Server (pool + monitor) per known address, and server selection that waits
// for the topology to change rather than polling.
//
// The topology logic itself (SDAM state machine, error rules, selection
// rules) is pure and lives in topology-description.ts, sdam-errors.ts and
// server-selection.ts; this class only feeds it monitor results and
// application errors and reconciles the set of Server objects with the
// servers the description lists.
import type { CommandEventOutlet } from '../connection/command-events.js';
import { Identities } from '../auth/identities.js';
import { failedInAuthentication } from '../connection/connection.js';
import type { Document } from 'bson';
import { AuthError, IncompatibleServerError, MgoError, NetworkError, ServerError, ServerSelectionError } from '../errors.js';
import type { PoolEventOutlet } from '../pool/events.js';
import type { PermitSource } from '../pool/permits.js';
import type { SocketTally } from '../connection/socket-tally.js';
import type { ReadPreference } from '../read-preference.js';
import type { ResolvedOptions, ServerAddress } from '../uri/resolve.js';
import type { CheckResult } from './monitor.js';
import { Server } from './server.js';
import { parseTopologyVersion, serverDescriptionFromHello, unknownServerDescription, type ServerDescription } from './server-description.js';
import {
  applicationErrorDecision,
  checkErrorDecision,
  sdamErrorFromReply,
  unknownReport,
  type ApplicationError,
  type ErrorDecision,
  type ErrorStage,
  type UnknownReport,
} from './sdam-errors.js';
import { seedTopology, updateTopology, type TopologyDescription } from './topology-description.js';
import type { SdamEventOutlet } from './sdam-events.js';
import { reconcileMembers, TopologyEvents } from './topology-events.js';
import { pickServer, selectServers } from './server-selection.js';
import { SelectionTrace, type SelectionLog } from './selection-log.js';

/** How a worker plugs its cluster into the process-wide pieces. */
export interface ClusterHooks {
  /** Permits for a server's pool (the shared coordinator); the pool's own counter when absent. */
  permits?(address: string): PermitSource | undefined;
  /** Dial slots (maxConnecting) for a server's pool, shared the same way. */
  dialSlots?(address: string): PermitSource | undefined;
  /** The count of a server's pool sockets, shared the same way. */
  sockets?(address: string): SocketTally | undefined;
  /**
   * 'external': no monitors here; descriptions arrive through
   * applyServerDescription() from the process's one monitor per server,
   * and requestCheck() asks for an immediate check there.
   */
  monitoring?: 'internal' | 'external';
  requestCheck?(address: string): void;
  /**
   * External monitoring: an application error made a server Unknown here.
   * `apply` carries the decision out in this cluster (the pool clear, the
   * Unknown description) and must be called at once; the report goes to
   * the process's monitor, which applies it process-wide, cancels or
   * requests its check, and tells the other workers.
   */
  forwardUnknown?(report: UnknownReport, apply: () => void): void;
  /** Where the SDAM events go (topology, servers, heartbeats); ignored with external monitoring, whose monitor publishes them once per process. */
  sdamEvents?: SdamEventOutlet;
  /** Where the pools' sockets publish their command events (command monitoring). */
  commandEvents?: CommandEventOutlet;
  /** Where server selection's log messages go, while someone logs them (selection-log.ts). */
  selectionLog?: SelectionLog;
}

export interface SelectionCriteria {
  readPreference: ReadPreference;
  /** A write: only a writable server will do, whatever the read preference says. */
  forWrite?: boolean;
  /** Servers a retried operation's first attempt failed on: chosen only when no other is suitable. */
  deprioritized?: readonly string[] | undefined;
  /** The command name it selects for, as selection log messages name it ('command' when left out). */
  operation?: string | undefined;
}

export class Cluster {
  private description: TopologyDescription;
  private readonly servers = new Map<string, Server>();
  private readonly seeds: Map<string, ServerAddress>;
  /** Selections waiting for the next topology change. */
  private readonly changeWaiters = new Set<() => void>();
  private closed = false;
  private readonly events: TopologyEvents;
  /** The last selection's operationId in log messages. */
  private lastOperationId = 0;
  /** The credentials sockets authenticate with, by number; the dial-time one is DIAL_IDENTITY. */
  readonly identities: Identities;

  constructor(
    /** Replaced (not mutated) by setPoolLimit(): servers started later take its maxPoolSize. */
    private options: ResolvedOptions,
    private readonly poolEvents: PoolEventOutlet,
    private readonly hooks: ClusterHooks = {},
  ) {
    ({ seeds: this.seeds, description: this.description } = seedTopology(options));
    this.identities = new Identities(options.credentials);
    this.events = new TopologyEvents(hooks.monitoring === 'external' ? undefined : hooks.sdamEvents);
  }

  get topology(): TopologyDescription {
    return this.description;
  }

  connect(): void {
    this.events.open(this.description, () => this.reconcileServers());
  }

  server(address: string): Server | undefined {
    return this.servers.get(address);
  }

  /**
   * The connection limit per server changed (setGlobalPoolLimit): every
   * pool applies it now (Pool.limitChanged), and servers found later
   * start with it. Returns how many idle sockets were closed.
   */
  setPoolLimit(limit: number): number {
    this.options = { ...this.options, maxPoolSize: limit };
    let closed = 0;
    for (const server of this.servers.values()) closed += server.pool.limitChanged(limit);
    return closed;
  }

  allServers(): Server[] {
    return [...this.servers.values()];
  }

  /**
   * Resolves with a server matching the criteria, waiting for topology
   * changes (and asking the monitors to check at once) until
   * serverSelectionTimeoutMS (server selection spec, "multi-threaded" loop).
   */
  async selectServer(criteria: SelectionCriteria): Promise<Server> {
    const log = this.hooks.selectionLog;
    const trace = log?.wanted() ? new SelectionTrace(log, { ...criteria, operation: criteria.operation ?? 'command' }, ++this.lastOperationId) : undefined;
    trace?.started(this.description);
    const deadline = performance.now() + this.options.serverSelectionTimeoutMS;
    try {
      for (;;) {
        if (this.closed) throw new MgoError('ERR_POOL_CLOSED', 'the cluster is closed');
        const td = this.description;
        if (td.compatibilityError) throw new IncompatibleServerError(td.compatibilityError);
        const candidates = selectServers(
          td,
          { readPreference: criteria.readPreference, forWrite: criteria.forWrite, deprioritized: criteria.deprioritized },
          { localThresholdMS: this.options.localThresholdMS, heartbeatFrequencyMS: this.options.heartbeatFrequencyMS },
        )
          .map((sd) => this.servers.get(sd.address))
          .filter((s): s is Server => s !== undefined);
        const chosen = pickServer(candidates, (server) => server.load);
        if (chosen) {
          trace?.succeeded(td, chosen.address);
          return chosen;
        }

        const remaining = deadline - performance.now();
        if (remaining <= 0) throw this.selectionError(criteria);
        trace?.waiting(td, remaining);
        for (const server of this.servers.values()) this.requestCheck(server);
        await this.nextChange(remaining);
      }
    } catch (err) {
      trace?.failed(this.description, err);
      throw err;
    }
  }

  /** Whether selections are logged now: the caller then names the operation (SelectionCriteria.operation). */
  get logsSelection(): boolean {
    return this.hooks.selectionLog?.wanted() ?? false;
  }

  /**
   * SDAM "Error handling": an application operation failed on a connection
   * of `generation` (which also makes errors from before a clear stale), in
   * `stage`: 'operation' once the connection was established; for a dial
   * that failed, 'handshake' (connecting or its hello) or 'authentication'.
   */
  handleApplicationError(address: string, error: unknown, generation: number, maxWireVersion: number, stage: ErrorStage = 'operation'): void {
    const sdamError = toApplicationError(error, stage, generation, maxWireVersion);
    if (sdamError) this.handleError(address, sdamError, error);
  }

  /**
   * SDAM "parseCommandResponse": a reply that said ok: 1 with a
   * writeConcernError is checked as a command error would be (a "not
   * writable primary" there is a state change too).
   */
  handleWriteConcernError(address: string, reply: Document, generation: number, maxWireVersion: number): void {
    const found = sdamErrorFromReply(reply);
    if (!found) return;
    const { code, message, topologyVersion } = found;
    this.handleError(address, { type: 'command', stage: 'operation', generation, maxWireVersion, code, message, topologyVersion }, new Error(message));
  }

  private handleError(address: string, sdamError: ApplicationError, cause: unknown): void {
    const server = this.servers.get(address);
    if (!server) return;
    const decision = applicationErrorDecision(this.description, address, sdamError, server.pool.generation);
    if (decision.ignored) return;
    const apply = () => this.carryOut(server, decision, cause);
    if (this.hooks.monitoring === 'external' && this.hooks.forwardUnknown && decision.markUnknown) {
      this.hooks.forwardUnknown(unknownReport(server.address, decision), apply);
    } else {
      apply();
    }
  }

  private carryOut(server: Server, decision: ErrorDecision, cause: unknown): void {
    // Clear before publishing the Unknown description, so that no selection
    // woken by the change checks out a socket of the old generation.
    if (decision.clearPool) server.pool.clear({ cause, interruptInUseConnections: decision.interruptInUse });
    if (decision.markUnknown && decision.description) this.apply(decision.description);
    // With external monitoring the process's monitor does these, from the report.
    if (this.hooks.monitoring === 'external' && this.hooks.forwardUnknown && decision.markUnknown) return;
    if (decision.cancelCheck && this.hooks.monitoring !== 'external') server.monitor.cancelCheck();
    if (decision.requestImmediateCheck) this.requestCheck(server);
  }

  /**
   * A server description from the process's monitor (external monitoring):
   * applied exactly as a check of our own would be. An Unknown description
   * with an error clears the pool, unless `clearPool` is false (a state
   * change error from a 4.2+ server: connections survive a stepdown).
   */
  applyServerDescription(sd: ServerDescription, clearPool = true): void {
    this.apply(sd); // may create the server
    const server = this.servers.get(sd.address);
    if (server && sd.type !== 'Unknown') server.pool.ready();
    else if (server && sd.error !== undefined && clearPool) server.pool.clear({ cause: new Error(sd.error) });
  }

  /** The sockets of the server's monitor: its own (Monitor.connections), none with external monitoring. */
  monitoringConnections(server: Server): number {
    return this.hooks.monitoring === 'external' ? 0 : server.monitor.connections;
  }

  private requestCheck(server: Server): void {
    if (this.hooks.monitoring === 'external') this.hooks.requestCheck?.(server.address);
    else server.monitor.requestCheck();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeWaiters();
    await Promise.all(this.shutDown((s) => s.close()));
  }

  async destroy(): Promise<void> {
    const first = !this.closed;
    this.closed = true;
    this.wakeWaiters();
    await Promise.all(first ? this.shutDown((s) => s.destroy()) : [...this.servers.values()].map((s) => s.destroy()));
  }

  /** Shuts every server down, with the closing events (ServerClosed each, then the topology's). */
  private shutDown(how: (server: Server) => Promise<void>): Promise<void>[] {
    const done: Promise<void>[] = [];
    this.events.close(this.description, () => {
      for (const server of this.servers.values()) {
        done.push(how(server));
        this.events.serverClosed(server.address);
      }
    });
    return done;
  }

  private onCheck(server: Server, result: CheckResult): void {
    if (this.closed || this.servers.get(server.address) !== server) return;
    if (result.ok) {
      // One monotonic clock for every lastUpdateTime (max staleness needs only consistency).
      const sd = serverDescriptionFromHello(server.address, result.hello, result.roundTripTimeMS, performance.now(), {
        minRoundTripTime: result.minRoundTripTimeMS,
      });
      // CMAP/SDAM: the pool becomes ready once a check says the server is
      // usable; before the description is applied, so that selections woken
      // by the change find a ready pool.
      if (sd.type !== 'Unknown') server.pool.ready();
      this.apply(sd);
    } else {
      // Server monitoring spec, "Network or command error during server check":
      // clear the pool (interrupting in-use sockets after a timeout), mark Unknown.
      const type = result.error instanceof NetworkError ? (result.error.isTimeout ? 'timeout' : 'network') : 'command';
      const decision = checkErrorDecision(this.description.servers.get(server.address), type);
      server.pool.clear({ cause: result.error, interruptInUseConnections: decision.interruptInUse });
      this.apply(unknownServerDescription(server.address, result.error, performance.now()));
    }
  }

  private apply(sd: ServerDescription): void {
    const previous = this.description;
    this.description = updateTopology(previous, sd);
    this.events.changed(previous, this.description, sd.address, () => this.reconcileServers());
    this.wakeWaiters();
  }

  /** Starts a Server for every address the description lists, and closes those it dropped. */
  private reconcileServers(): void {
    if (this.closed) return;
    const added = reconcileMembers(
      this.servers,
      this.description,
      this.events,
      (address) => this.createServer(address),
      (server) => void server.close(),
    );
    if (this.hooks.monitoring !== 'external') for (const address of added) this.servers.get(address)!.start();
  }

  private createServer(address: string): Server {
    const host = this.seeds.get(address) ?? parseAddress(address);
    return new Server(host, this.options, this.identities, {
        onCheck: (s, r) => this.onCheck(s, r),
        poolEvents: this.poolEvents,
        // CMAP: a failed background (minPoolSize) dial is an application
        // error while establishing a connection, under the same SDAM rules as
        // a checkout's dial (LocalRouter): a failed authentication clears the
        // pool and marks the server Unknown; a network error in the handshake
        // does neither (the unified SDAM test pool-clear-min-pool-size-error).
        onBackgroundError: (s, error) => {
          this.handleApplicationError(s.address, error, s.pool.generation, 0, failedInAuthentication(error) ? 'authentication' : 'handshake');
        },
        permits: this.hooks.permits?.(address),
        dialSlots: this.hooks.dialSlots?.(address),
        sockets: this.hooks.sockets?.(address),
        // Heartbeat events come from the process's monitor only.
        sdamEvents: this.hooks.monitoring === 'external' ? undefined : this.hooks.sdamEvents,
        commandEvents: this.hooks.commandEvents,
      });
  }

  private nextChange(timeoutMS: number): Promise<void> {
    return new Promise((resolve) => {
      // A ref'd timer: a selection in progress keeps the process alive.
      const timer = setTimeout(done, timeoutMS);
      const waiters = this.changeWaiters;
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }

  private wakeWaiters(): void {
    for (const wake of [...this.changeWaiters]) wake();
  }

  /**
   * Why selection timed out, server by server. When every server failed its
   * checks with the same TLS error, that is the cause, and the error carries
   * its code (ERR_TLS_CERTIFICATE, ERR_TLS_HOSTNAME): a certificate problem
   * does not go away by waiting, and the caller should not have to read it
   * out of a selection timeout's message.
   */
  private selectionError(criteria: SelectionCriteria): MgoError {
    const described = [...this.description.servers.values()];
    const servers = described.map((sd) => `${sd.address} ${sd.type}${sd.error ? ` (${sd.error})` : ''}`).join(', ');
    const wanted = criteria.forWrite ? 'writable server' : `server for read preference ${criteria.readPreference.mode}`;
    const message = `no ${wanted} within serverSelectionTimeoutMS (${this.options.serverSelectionTimeoutMS} ms); topology ${this.description.type}: ${servers || 'no servers'}`;
    const codes = new Set(described.map((sd) => sd.errorCode));
    const [code] = codes;
    if (codes.size === 1 && (code === 'ERR_TLS_CERTIFICATE' || code === 'ERR_TLS_HOSTNAME')) {
      return new NetworkError(code, message, described.length === 1 ? { address: described[0]!.address } : {});
    }
    return new ServerSelectionError(message);
  }
}

/** Our errors in the shape the SDAM error rules read; undefined for errors SDAM ignores. */
function toApplicationError(error: unknown, stage: ErrorStage, generation: number, maxWireVersion: number): ApplicationError | undefined {
  const base = { stage, generation, maxWireVersion };
  if (error instanceof NetworkError) {
    return { ...base, type: error.isTimeout ? 'timeout' : 'network', message: error.message, errorLabels: error.errorLabels };
  }
  if (error instanceof ServerError) {
    const topologyVersion = parseTopologyVersion(error.topologyVersion);
    return { ...base, type: 'command', code: error.serverCode, message: error.message, errorLabels: error.errorLabels, topologyVersion };
  }
  // A refusal of the authentication step (the server's, or the conversation's rules) is a command error there.
  if (error instanceof AuthError && stage === 'authentication') {
    return { ...base, type: 'command', code: error.serverCode, message: error.message, errorLabels: error.errorLabels };
  }
  return undefined;
}

/** Addresses discovered from hello replies ("host:port" or "[v6]:port"). */
function parseAddress(address: string): ServerAddress {
  const v6 = /^\[(.+)\]:(\d+)$/.exec(address);
  if (v6) return { type: 'ip_literal', host: v6[1]!, port: Number(v6[2]), address };
  const colon = address.lastIndexOf(':');
  const host = colon > 0 ? address.slice(0, colon) : address;
  const port = colon > 0 ? Number(address.slice(colon + 1)) : 27017;
  return { type: /^\d+\.\d+\.\d+\.\d+$/.test(host) ? 'ipv4' : 'hostname', host, port, address };
}
