// The process's one monitor per server, for workers (README, "Worker
// mode"): one heartbeat per server per process, not per worker. It
// runs on the main thread, keeps the process-wide topology description
// (updateTopology), starts and stops monitors as the description adds and
// drops servers -- what Cluster does, without pools -- and hands each check
// result to a listener that broadcasts it to the workers, whose clusters
// (monitoring: 'external') apply it.
//
// What crosses to the workers is the check, not a ServerDescription: a
// description holds ObjectIds (electionId, topologyVersion.processId) that
// structured clone turns into plain objects. So a successful check goes out
// as the hello reply in BSON bytes, and each worker builds its description
// with serverDescriptionFromHello, exactly as a cluster with its own monitor
// would. `time` is on the epoch-based high-resolution clock
// (performance.timeOrigin + performance.now()), which every thread shares;
// a worker subtracts its own timeOrigin to get its performance.now() scale.
import * as BSON from 'bson';
import { NetworkError } from '../errors.js';
import { parseHost } from '../uri/connection-string.js';
import type { ResolvedOptions, ServerAddress } from '../uri/resolve.js';
import { Monitor, type CheckResult } from './monitor.js';
import { serverDescriptionFromHello, unknownServerDescription, type ServerDescription } from './server-description.js';
import { checkErrorDecision, isStaleError, topologyVersionOf, type PlainTopologyVersion, type UnknownReport } from './sdam-errors.js';
import { seedTopology, updateTopology, type TopologyDescription } from './topology-description.js';
import type { SdamEventOutlet } from './sdam-events.js';
import { reconcileMembers, TopologyEvents } from './topology-events.js';

/**
 * One check of one server, as broadcast to the workers (plain data: it
 * crosses a MessagePort, as listed with every crossing in src/worker/protocol.ts).
 */
export interface CheckBroadcast {
  address: string;
  /** When the check completed: performance.timeOrigin + performance.now() of the monitoring thread. */
  time: number;
  /** A successful check: the hello reply as exact-size BSON bytes. */
  hello?: Uint8Array;
  /** The server's average round trip time including this check, ms. */
  roundTripTimeMS?: number;
  /** Server monitoring spec "Measuring RTT" (0 until two samples). */
  minRoundTripTimeMS?: number;
  /** A failed check: the error message (the server becomes Unknown and its pool is cleared). */
  error?: string;
  /** Its driver error code (ServerDescription.errorCode). */
  errorCode?: string;
  /** A failed check that timed out: in-use connections are interrupted too (CMAP). */
  interruptInUse?: boolean;
  /** An application's state change error made the server Unknown: that error's topologyVersion, kept in the description. */
  topologyVersion?: PlainTopologyVersion;
  /** Unknown without a pool clear (a state change error from a 4.2+ server: connections survive a stepdown). */
  keepPool?: boolean;
}

/** A check as a ServerDescription, in the receiving thread (its own clock and BSON classes). */
export function describeCheck(check: CheckBroadcast): ServerDescription {
  const now = check.time - performance.timeOrigin;
  if (check.hello === undefined) {
    return unknownServerDescription(check.address, { message: check.error ?? 'check failed', code: check.errorCode }, now, topologyVersionOf(check.topologyVersion));
  }
  const hello = BSON.deserialize(check.hello);
  const extras = check.minRoundTripTimeMS === undefined ? {} : { minRoundTripTime: check.minRoundTripTimeMS };
  return serverDescriptionFromHello(check.address, hello, check.roundTripTimeMS ?? null, now, extras);
}

export interface TopologyMonitorListener {
  /** Every check result, after the monitor's own description was updated. */
  onCheck(check: CheckBroadcast): void;
  /** Servers the description started listing (before their first check is reported). */
  onServersAdded?(addresses: string[]): void;
}

export class TopologyMonitor {
  private description: TopologyDescription;
  private readonly monitors = new Map<string, Monitor>();
  private readonly seeds: Map<string, ServerAddress>;
  /** The last check of every server still listed, in the order they arrived (a new worker replays them). */
  private readonly last = new Map<string, CheckBroadcast>();
  private closed = false;
  private readonly events: TopologyEvents;

  /** `sdamEvents`: where the process's SDAM events go (the workers' clusters publish none). */
  constructor(
    private readonly options: ResolvedOptions,
    private readonly listener: TopologyMonitorListener,
    private readonly sdamEvents?: SdamEventOutlet,
  ) {
    ({ seeds: this.seeds, description: this.description } = seedTopology(options));
    this.events = new TopologyEvents(sdamEvents);
  }

  get topology(): TopologyDescription {
    return this.description;
  }

  /** Starts a monitor per seed. */
  start(): void {
    this.events.open(this.description, () => this.reconcile());
  }

  /** Addresses of the servers currently known to be up. */
  liveServers(): string[] {
    return [...this.description.servers.values()].filter((sd) => sd.type !== 'Unknown').map((sd) => sd.address);
  }

  /** A worker asks for an immediate check (no sooner than 500 ms after the last one: Monitor's rule). */
  requestCheck(address: string): void {
    this.monitors.get(address)?.requestCheck();
  }

  /**
   * An operation in a worker failed in a way that made it clear the pool
   * and mark the server Unknown: the process-wide description follows, so
   * that liveServers() and workers started later agree. An immediate check
   * is requested; its result is broadcast as usual. Returns the failed check
   * for the caller to send to the other workers (not broadcast from here).
   */
  markUnknown(address: string, message: string, interruptInUse = false): CheckBroadcast {
    const check: CheckBroadcast = { address, time: performance.timeOrigin + performance.now(), error: message, interruptInUse };
    if (this.closed || !this.description.servers.has(address)) return check;
    this.apply(address, describeCheck(check), check, false);
    this.requestCheck(address);
    return check;
  }

  /**
   * A worker's application error made a server Unknown there (SDAM "Error
   * handling", decided by the worker's cluster: UnknownReport). The process
   * follows unless its own description is as new as the error's
   * topologyVersion (then the error is stale here, and the newer state is
   * already on its way to that worker); the monitor's check is cancelled
   * (network errors) or requested at once (state change errors) as the
   * decision says. Returns the check for the caller to send to the other
   * workers (not broadcast from here), or undefined when ignored.
   */
  applicationError(report: UnknownReport): CheckBroadcast | undefined {
    const { address } = report;
    if (this.closed || !this.description.servers.has(address)) return undefined;
    const topologyVersion = topologyVersionOf(report.topologyVersion);
    if (isStaleError(this.description, address, { generation: 0, topologyVersion }, 0)) return undefined;
    const check: CheckBroadcast = { address, time: performance.timeOrigin + performance.now(), error: report.message, interruptInUse: false };
    if (report.topologyVersion) check.topologyVersion = report.topologyVersion;
    if (!report.clearPool) check.keepPool = true;
    this.apply(address, describeCheck(check), check, false);
    const monitor = this.monitors.get(address);
    if (report.cancelCheck) monitor?.cancelCheck();
    if (report.requestCheck) monitor?.requestCheck();
    return check;
  }

  /** The sockets the monitor of `address` holds (Monitor.connections); 0 for a server it does not monitor. */
  monitoringConnections(address: string): number {
    return this.monitors.get(address)?.connections ?? 0;
  }

  /** The last check of every listed server, oldest first: what a starting worker replays. */
  lastChecks(): CheckBroadcast[] {
    return [...this.last.values()];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.events.close(this.description, () => {
      for (const [address, monitor] of this.monitors) {
        monitor.close();
        this.events.serverClosed(address);
      }
    });
    this.monitors.clear();
  }

  private onResult(address: string, monitor: Monitor, result: CheckResult): void {
    if (this.closed || this.monitors.get(address) !== monitor) return;
    const time = performance.timeOrigin + performance.now();
    let check: CheckBroadcast;
    if (result.ok) {
      // Exact-size: BSON.serialize may return a view into Buffer's shared pool.
      const hello = new Uint8Array(BSON.serialize(result.hello));
      check = { address, time, hello, roundTripTimeMS: result.roundTripTimeMS, minRoundTripTimeMS: result.minRoundTripTimeMS };
    } else {
      const type = result.error instanceof NetworkError ? (result.error.isTimeout ? 'timeout' : 'network') : 'command';
      const decision = checkErrorDecision(this.description.servers.get(address), type);
      check = { address, time, error: result.error.message, errorCode: result.error.code, interruptInUse: decision.interruptInUse };
    }
    this.apply(address, describeCheck(check), check, true);
  }

  private apply(address: string, sd: ServerDescription, check: CheckBroadcast, broadcast: boolean): void {
    const previous = this.description;
    this.description = updateTopology(previous, sd);
    if (this.description.servers.has(address)) {
      this.last.delete(address); // re-inserted last: replay order is arrival order
      this.last.set(address, check);
    }
    this.events.changed(previous, this.description, address, () => this.reconcile());
    if (broadcast) this.listener.onCheck(check);
  }

  /** Starts a monitor for every address the description lists, and stops those it dropped. */
  private reconcile(): void {
    if (this.closed) return;
    const added = reconcileMembers(
      this.monitors,
      this.description,
      this.events,
      (address) => {
        const host = this.seeds.get(address) ?? serverAddress(address);
        const monitor: Monitor = new Monitor(host, this.options, (result) => this.onResult(address, monitor, result), this.sdamEvents);
        return monitor;
      },
      (monitor) => {
        monitor.close();
        this.last.delete(monitor.server.address);
      },
    );
    if (added.length > 0) this.listener.onServersAdded?.(added);
    for (const address of added) this.monitors.get(address)?.start();
  }
}

/** A server address discovered from a hello reply ("host:port" or "[v6]:port"). */
function serverAddress(address: string): ServerAddress {
  const host = parseHost(address);
  return { ...host, port: host.port ?? 27017, address };
}
