// SDAM monitoring events (server-discovery-and-monitoring spec,
// "Monitoring" / server-monitoring spec, "Heartbeats"): what the process's
// monitor publishes. One set per process: the Cluster's in workers: 0, the
// TopologyMonitor's on the main thread with workers (never once per worker).
//
// Plain objects discriminated by `type`, like the CMAP and command events.
import type { Document } from 'bson';
import type { ServerDescription } from './server-description.js';
import type { TopologyDescription } from './topology-description.js';

/** A server joined the topology (a seed, or discovered); public name serverOpening. */
export interface ServerOpeningEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ServerOpening';
  /** The topology's id, one per dial of the process. */
  readonly topologyId: number;
  /** The server's "host:port". */
  readonly address: string;
}
/** A server left the topology, or the topology closed; serverClosed. */
export interface ServerClosedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ServerClosed';
  /** The topology's id, one per dial of the process. */
  readonly topologyId: number;
  /** The server's "host:port". */
  readonly address: string;
}
/** A check changed what is known of a server (its type, set membership, ...); serverDescriptionChanged. */
export interface ServerDescriptionChangedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ServerDescriptionChanged';
  /** The topology's id, one per dial of the process. */
  readonly topologyId: number;
  /** The server's "host:port". */
  readonly address: string;
  /** The server's description before the check. */
  readonly previousDescription: ServerDescription;
  /** The server's description after it. */
  readonly newDescription: ServerDescription;
}
/** A dial started monitoring its deployment; topologyOpening. */
export interface TopologyOpeningEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'TopologyOpening';
  /** The topology's id, one per dial of the process. */
  readonly topologyId: number;
}
/** A dial's monitoring ended (its last session closed); topologyClosed. */
export interface TopologyClosedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'TopologyClosed';
  /** The topology's id, one per dial of the process. */
  readonly topologyId: number;
}
/** What is known of the deployment changed; topologyDescriptionChanged. */
export interface TopologyDescriptionChangedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'TopologyDescriptionChanged';
  /** The topology's id, one per dial of the process. */
  readonly topologyId: number;
  /** The topology before the change. */
  readonly previousDescription: TopologyDescription;
  /** The topology after it. */
  readonly newDescription: TopologyDescription;
}
/**
 * A monitor started checking a server; serverHeartbeatStarted. Heartbeat events name the monitored server by `connectionId` (its
 * address), as the spec and the official driver do.
 */
export interface ServerHeartbeatStartedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ServerHeartbeatStarted';
  /** The monitored server's "host:port" (the spec's name for it). */
  readonly connectionId: string;
  /** A streaming (awaited hello) check rather than a polled one. */
  readonly awaited: boolean;
}
/** A server check succeeded; serverHeartbeatSucceeded. */
export interface ServerHeartbeatSucceededEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ServerHeartbeatSucceeded';
  /** The monitored server's "host:port" (the spec's name for it). */
  readonly connectionId: string;
  /** Milliseconds the check took. */
  readonly duration: number;
  /** The server's hello reply. */
  readonly reply: Document;
  /** A streaming (awaited hello) check rather than a polled one. */
  readonly awaited: boolean;
}
/** A server check failed; serverHeartbeatFailed. */
export interface ServerHeartbeatFailedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ServerHeartbeatFailed';
  /** The monitored server's "host:port" (the spec's name for it). */
  readonly connectionId: string;
  /** Milliseconds the check took. */
  readonly duration: number;
  /** Why the check failed. */
  readonly failure: Error;
  /** A streaming (awaited hello) check rather than a polled one. */
  readonly awaited: boolean;
}

/** Every SDAM monitoring event. */
export type SdamEvent =
  | ServerOpeningEvent
  | ServerClosedEvent
  | ServerDescriptionChangedEvent
  | TopologyOpeningEvent
  | TopologyClosedEvent
  | TopologyDescriptionChangedEvent
  | ServerHeartbeatStartedEvent
  | ServerHeartbeatSucceededEvent
  | ServerHeartbeatFailedEvent;

/**
 * Where the cluster layer sends its SDAM events (the router hands in its
 * EventSink this way, as the pools get theirs): `wanted()` is asked before
 * each event is built, so that nobody observing costs nothing.
 */
export interface SdamEventOutlet {
  wanted(): boolean;
  publish(event: SdamEvent): void;
}
