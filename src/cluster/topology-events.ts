// The SDAM monitoring events of one topology (SDAM logging and monitoring
// spec, "Events API"): what the process's monitor publishes as its topology
// description changes. One instance per Cluster that monitors its servers
// itself (workers: 0) or per TopologyMonitor (workers: N, main thread);
// a worker's cluster, fed by the TopologyMonitor, publishes none (one set
// of events per process, not one per worker).
//
// The order of a change follows the spec and the official driver: the
// server's ServerDescriptionChanged, then ServerOpening / ServerClosed of
// the servers the change added or dropped, then TopologyDescriptionChanged.
// Equal descriptions publish nothing (spec, "ServerDescriptionChangedEvent:
// when the old server description is not equal to the new"), so a
// heartbeat that changes only the round-trip time is silent.
import type { SdamEventOutlet } from './sdam-events.js';
import { serverDescriptionsEqual, unknownServerDescription } from './server-description.js';
import { initialTopology, type TopologyDescription } from './topology-description.js';

// Spec, "Topology IDs": unique to the topology for its life. A process-wide
// counter: every topology that publishes lives on the main thread.
let lastTopologyId = 0;

/** Spec, "Initial Topology Description" and "Closing Topology Description": Unknown, no servers. */
const UNKNOWN_TOPOLOGY: TopologyDescription = initialTopology([]);

export class TopologyEvents {
  readonly topologyId = ++lastTopologyId;

  /** `outlet` undefined: a topology that publishes nothing (a worker's cluster). */
  constructor(private readonly outlet: SdamEventOutlet | undefined) {}

  private get wanted(): boolean {
    return this.outlet !== undefined && this.outlet.wanted();
  }

  /**
   * Opening a topology: TopologyOpening (the first SDAM event), the first
   * TopologyDescriptionChanged from an Unknown topology with no servers,
   * then `startServers` (which calls serverOpening() for each). A
   * LoadBalanced topology's one server starts Unknown in the events and
   * changes to LoadBalancer at once, as if checked (load balancer spec:
   * it is never monitored; the official driver does the same).
   */
  open(td: TopologyDescription, startServers: () => void): void {
    const wanted = this.wanted;
    const loadBalanced = td.type === 'LoadBalanced';
    const first = loadBalanced ? { ...td, servers: new Map([...td.servers.keys()].map((a) => [a, unknownServerDescription(a)] as const)) } : td;
    if (wanted) {
      this.publish({ type: 'TopologyOpening', topologyId: this.topologyId });
      this.publish({ type: 'TopologyDescriptionChanged', topologyId: this.topologyId, previousDescription: UNKNOWN_TOPOLOGY, newDescription: first });
    }
    startServers();
    if (wanted && loadBalanced) this.changed(first, td, [...td.servers.keys()][0]!, () => {});
  }

  /** Just before a server's monitor (and pool) is created: "the first operation after the defaults are set". */
  serverOpening(address: string): void {
    if (this.wanted) this.publish({ type: 'ServerOpening', topologyId: this.topologyId, address });
  }

  /** After a server's monitor was closed and the server shut down. */
  serverClosed(address: string): void {
    if (this.wanted) this.publish({ type: 'ServerClosed', topologyId: this.topologyId, address });
  }

  /**
   * A server description of `address` was applied: `previous` became
   * `next` (the same object when updateTopology ignored it: stale, or a
   * server no longer listed). `reconcile` starts and stops servers as
   * `next` lists them, between the two events as the spec orders them.
   */
  changed(previous: TopologyDescription, next: TopologyDescription, address: string, reconcile: () => void): void {
    if (next === previous || !this.wanted) return reconcile();
    const before = previous.servers.get(address);
    const after = next.servers.get(address);
    const serverChanged = before !== undefined && after !== undefined && !serverDescriptionsEqual(before, after);
    // A server that left the topology changes it, though it has no new description.
    const topologyChanged = serverChanged || after === undefined || next.type !== previous.type || next.servers.size !== previous.servers.size;
    if (serverChanged) {
      this.publish({ type: 'ServerDescriptionChanged', topologyId: this.topologyId, address, previousDescription: before, newDescription: after });
    }
    reconcile();
    if (topologyChanged) this.publish({ type: 'TopologyDescriptionChanged', topologyId: this.topologyId, previousDescription: previous, newDescription: next });
  }

  /**
   * Closing: `closeServers` (which calls serverClosed() for each), the
   * change to an Unknown topology without servers (spec, "Closing Topology
   * Description"), and TopologyClosed, the last SDAM event.
   */
  close(td: TopologyDescription, closeServers: () => void): void {
    closeServers();
    if (!this.wanted) return;
    this.publish({ type: 'TopologyDescriptionChanged', topologyId: this.topologyId, previousDescription: td, newDescription: UNKNOWN_TOPOLOGY });
    this.publish({ type: 'TopologyClosed', topologyId: this.topologyId });
  }

  private publish(event: Parameters<SdamEventOutlet['publish']>[0]): void {
    this.outlet!.publish(event);
  }
}

/**
 * Brings `members` (one per server: a Server, a Monitor...) in line with
 * the servers `td` lists: creates the missing ones, each announced by
 * ServerOpening first, and closes the dropped ones, each followed by
 * ServerClosed. Returns the addresses it created, for the caller to start.
 */
export function reconcileMembers<M>(
  members: Map<string, M>,
  td: TopologyDescription,
  events: TopologyEvents,
  create: (address: string) => M,
  close: (member: M) => void,
): string[] {
  const added: string[] = [];
  for (const address of td.servers.keys()) {
    if (members.has(address)) continue;
    events.serverOpening(address);
    members.set(address, create(address));
    added.push(address);
  }
  for (const [address, member] of members) {
    if (td.servers.has(address)) continue;
    members.delete(address);
    close(member);
    events.serverClosed(address);
  }
  return added;
}
