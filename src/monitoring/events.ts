// Every event the driver publishes, by kind, with the public name each goes
// by on session.events and the diagnostics_channel it is published on.
//
// Kinds and names (issue 15, DESIGN.md "Events"): the official Node
// driver's event names, i.e. the internal `type` with a lower-case first
// letter ('ConnectionCheckedOut' -> 'connectionCheckedOut'); channels are
//   mgo-threads:command:started|succeeded|failed
//   mgo-threads:pool:<public name>      e.g. mgo-threads:pool:connectionCheckedOut
//   mgo-threads:topology:<public name>  e.g. mgo-threads:topology:serverHeartbeatSucceeded
//
// Producers (connection, pool, cluster) know nothing of this module: they
// call a callback with their plain event objects. An EventSink is what the
// router layer hands them through: the dial's EventHub on the main thread,
// or a worker's forwarder that sends the events to the main thread.
import type { CommandEvent, CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent } from '../connection/command-events.js';
import { POOL_EVENT_TYPES, type PoolEvent, type PoolEventMap } from '../pool/events.js';
import type { SdamEvent } from '../cluster/sdam-events.js';
import type { SelectionLogRecord } from '../cluster/selection-log.js';

/** Every event the driver publishes: command monitoring, CMAP and SDAM events. */
export type DriverEvent = CommandEvent | PoolEvent | SdamEvent;
/** An event's `type` ('CommandStarted', 'ConnectionCheckedOut', ...). */
export type DriverEventType = DriverEvent['type'];

export type EventKind = 'command' | 'pool' | 'topology';

/** Bits of a `wanted` mask: which kinds of events someone observes (listeners, channel subscribers, a logger). */
export const WANT_COMMAND = 1;
export const WANT_POOL = 2;
export const WANT_TOPOLOGY = 4;
export const WANT_ALL = WANT_COMMAND | WANT_POOL | WANT_TOPOLOGY;
/**
 * Not a kind of event: server selection's log records
 * (src/cluster/selection-log.ts), wanted while the dial's logger logs the
 * serverSelection component. A bit of the same mask so that workers learn
 * it from the EVENTS messages that carry the rest.
 */
export const WANT_SELECTION_LOG = 8;

export const KIND_BIT: Readonly<Record<EventKind, number>> = { command: WANT_COMMAND, pool: WANT_POOL, topology: WANT_TOPOLOGY };

const COMMAND_TYPES = ['CommandStarted', 'CommandSucceeded', 'CommandFailed'] as const satisfies readonly CommandEvent['type'][];
const POOL_TYPES = POOL_EVENT_TYPES;
const TOPOLOGY_TYPES = [
  'ServerOpening',
  'ServerClosed',
  'ServerDescriptionChanged',
  'TopologyOpening',
  'TopologyClosed',
  'TopologyDescriptionChanged',
  'ServerHeartbeatStarted',
  'ServerHeartbeatSucceeded',
  'ServerHeartbeatFailed',
] as const satisfies readonly SdamEvent['type'][];

export const EVENT_TYPES: Readonly<Record<EventKind, readonly DriverEventType[]>> = {
  command: COMMAND_TYPES,
  pool: POOL_TYPES,
  topology: TOPOLOGY_TYPES,
};

/** What a listener gets: the producer's event, and the worker it happened in (undefined on the main thread). */
export type Published<E extends DriverEvent = DriverEvent> = E & {
  /** The worker thread the event happened in; undefined on the main thread (workers: 0, and the monitor's SDAM events). */
  readonly workerId?: number;
};

type Uncapitalized<S extends string> = S extends `${infer F}${infer R}` ? `${Lowercase<F>}${R}` : S;
/** The name session.events emits an event under: its type with a lower-case first letter (the official driver's names). */
export type PublicEventName = Uncapitalized<DriverEventType>;

/** session.events' map, in EventEmitter<T>'s form: public name -> listener arguments. */
export type DriverEventMap = {
  [E in DriverEvent as Uncapitalized<E['type']>]: [event: Published<E>];
};

export type { CommandEvent, CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent, PoolEvent, PoolEventMap, SdamEvent };

const KIND_OF = new Map<string, EventKind>();
for (const kind of Object.keys(EVENT_TYPES) as EventKind[]) for (const type of EVENT_TYPES[kind]) KIND_OF.set(type, kind);

export function kindOf(type: DriverEventType): EventKind {
  return KIND_OF.get(type)!;
}

export function publicName<T extends DriverEventType>(type: T): Uncapitalized<T> {
  return (type[0]!.toLowerCase() + type.slice(1)) as Uncapitalized<T>;
}

/** The kind of a public event name, or undefined for any other string. */
export function kindOfPublicName(name: string | symbol): EventKind | undefined {
  return typeof name === 'string' && name !== '' ? KIND_OF.get(name[0]!.toUpperCase() + name.slice(1)) : undefined;
}

export const CHANNEL_PREFIX = 'mgo-threads';

/** The diagnostics_channel name of an event type. Command channels drop the "command" of the name (mgo-threads:command:started). */
export function channelName(type: DriverEventType): string {
  const kind = kindOf(type);
  const name = kind === 'command' ? type.slice('Command'.length).toLowerCase() : publicName(type);
  return `${CHANNEL_PREFIX}:${kind}:${name}`;
}

/**
 * Where producers' events go. `wanted()` is asked before an event is built
 * (and, with workers, before each operation is sent), so that nobody
 * observing costs no allocation and no thread crossing.
 */
export interface EventSink {
  /** A mask of WANT_* bits: the kinds someone observes now. */
  wanted(): number;
  /**
   * Whether anybody would see an event of this type now: what a producer
   * asks before it builds one. Cheaper than wanted() (only this type's
   * channel is looked at; for a command event, the three command
   * channels, since a started event needs its outcome and the reverse).
   */
  wants(type: DriverEventType): boolean;
  /** `workerId`: the worker the event happened in, when it crossed from one. */
  publish(event: DriverEvent, workerId?: number): void;
  /** Whether server selection log records are wanted now: a cheap question, asked once per selection. */
  logsSelection?(): boolean;
  /** A server selection log record (not an event), made here or in worker `workerId`. */
  logSelection?(record: SelectionLogRecord, workerId?: number): void;
}
