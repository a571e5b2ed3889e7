// SDAM monitoring events (server-discovery-and-monitoring spec,
// "Monitoring" / server-monitoring spec, "Heartbeats"): what the process's
// monitor publishes. One set per process: the Cluster's in workers: 0, the
// TopologyMonitor's on the main thread with workers (never once per worker).
//
// Plain objects discriminated by `type`, like the CMAP and command events.
import type { Document } from 'bson';
import type { ServerDescription } from './server-description.js';
import type { TopologyDescription } from './topology-description.js';

export interface ServerOpeningEvent {
  readonly type: 'ServerOpening';
  readonly topologyId: number;
  readonly address: string;
}
export interface ServerClosedEvent {
  readonly type: 'ServerClosed';
  readonly topologyId: number;
  readonly address: string;
}
export interface ServerDescriptionChangedEvent {
  readonly type: 'ServerDescriptionChanged';
  readonly topologyId: number;
  readonly address: string;
  readonly previousDescription: ServerDescription;
  readonly newDescription: ServerDescription;
}
export interface TopologyOpeningEvent {
  readonly type: 'TopologyOpening';
  readonly topologyId: number;
}
export interface TopologyClosedEvent {
  readonly type: 'TopologyClosed';
  readonly topologyId: number;
}
export interface TopologyDescriptionChangedEvent {
  readonly type: 'TopologyDescriptionChanged';
  readonly topologyId: number;
  readonly previousDescription: TopologyDescription;
  readonly newDescription: TopologyDescription;
}
/** Heartbeat events name the monitored server by `connectionId` (its address), as the spec and the official driver do. */
export interface ServerHeartbeatStartedEvent {
  readonly type: 'ServerHeartbeatStarted';
  readonly connectionId: string;
  readonly awaited: boolean;
}
export interface ServerHeartbeatSucceededEvent {
  readonly type: 'ServerHeartbeatSucceeded';
  readonly connectionId: string;
  /** Milliseconds the check took. */
  readonly duration: number;
  readonly reply: Document;
  readonly awaited: boolean;
}
export interface ServerHeartbeatFailedEvent {
  readonly type: 'ServerHeartbeatFailed';
  readonly connectionId: string;
  readonly duration: number;
  readonly failure: Error;
  readonly awaited: boolean;
}

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
