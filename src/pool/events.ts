// CMAP monitoring events (spec section "Connection Pool Monitoring / Events")
// and the typed emitter the pool publishes them through.
//
// Events are plain objects discriminated by `type`, whose values are the
// spec's event names without the "Event" suffix (the names the spec tests
// use). Plain objects survive structured clone, so a worker can post
// them to the main thread unchanged (EVENT messages, src/worker/protocol.ts).
// Durations are in milliseconds from a monotonic clock and are named
// `durationMS`, as the spec allows for types that do not carry their unit
// and as its log messages name them.

import type { PoolSizing } from './pool-options.js';

/** The options the user set explicitly (CMAP: "Any non-default pool options that were set"). */
export type PoolCreatedOptions = PoolSizing;

/**
 * Why a connection was closed: CMAP's reasons, plus two of ours. 'lifetime'
 * (maxLifetimeMS): CMAP has no maxLifetimeMS, and its 'stale' means
 * "generation changed by a clear", which is not what happened. 'yielded':
 * closed so that its permit goes to another worker waiting for this server
 * (sockets cannot move between threads, permits can).
 */
export type ConnectionClosedReason = 'stale' | 'idle' | 'error' | 'poolClosed' | 'lifetime' | 'yielded';

/** CMAP reasons for a failed checkout. */
export type CheckOutFailedReason = 'poolClosed' | 'timeout' | 'connectionError';

/** A server's pool was created (CMAP); public name connectionPoolCreated. */
export interface ConnectionPoolCreatedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ConnectionPoolCreated';
  /** The server's "host:port". */
  readonly address: string;
  /** The pool options the user set (maxPoolSize, minPoolSize, maxIdleTimeMS, ...). */
  readonly options: PoolCreatedOptions;
}
/** A pool became ready to create connections (after creation or a clear); connectionPoolReady. */
export interface ConnectionPoolReadyEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ConnectionPoolReady';
  /** The server's "host:port". */
  readonly address: string;
}
/** A pool was cleared after an error: its connections are stale and will be closed; connectionPoolCleared. */
export interface ConnectionPoolClearedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ConnectionPoolCleared';
  /** The server's "host:port". */
  readonly address: string;
  /** Whether connections in use were interrupted too (CMAP). */
  readonly interruptInUseConnections: boolean;
}
/** A pool was closed (its dial closed, or the server left the topology); connectionPoolClosed. */
export interface ConnectionPoolClosedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ConnectionPoolClosed';
  /** The server's "host:port". */
  readonly address: string;
}
/** A pool started establishing a connection; connectionCreated. */
export interface ConnectionCreatedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ConnectionCreated';
  /** The server's "host:port". */
  readonly address: string;
  /** The connection's id, unique within its pool (and worker). */
  readonly connectionId: number;
}
/** A connection finished its handshake and authentication; connectionReady. */
export interface ConnectionReadyEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ConnectionReady';
  /** The server's "host:port". */
  readonly address: string;
  /** The connection's id, unique within its pool (and worker). */
  readonly connectionId: number;
  /** From ConnectionCreated to now: the time spent establishing. */
  readonly durationMS: number;
}
/** A connection was closed; connectionClosed. */
export interface ConnectionClosedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ConnectionClosed';
  /** The server's "host:port". */
  readonly address: string;
  /** The connection's id, unique within its pool (and worker). */
  readonly connectionId: number;
  /** Why it was closed. */
  readonly reason: ConnectionClosedReason;
}
/** An operation asked the pool for a connection; connectionCheckOutStarted. */
export interface ConnectionCheckOutStartedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ConnectionCheckOutStarted';
  /** The server's "host:port". */
  readonly address: string;
}
/** An operation got no connection; connectionCheckOutFailed. */
export interface ConnectionCheckOutFailedEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ConnectionCheckOutFailed';
  /** The server's "host:port". */
  readonly address: string;
  /** Why the checkout failed. */
  readonly reason: CheckOutFailedReason;
  /** From ConnectionCheckOutStarted to now. */
  readonly durationMS: number;
}
/** An operation got a connection; connectionCheckedOut. */
export interface ConnectionCheckedOutEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ConnectionCheckedOut';
  /** The server's "host:port". */
  readonly address: string;
  /** The connection's id, unique within its pool (and worker). */
  readonly connectionId: number;
  /** From ConnectionCheckOutStarted to now, including any dial. */
  readonly durationMS: number;
}
/** A connection went back to its pool; connectionCheckedIn. */
export interface ConnectionCheckedInEvent {
  /** The event's type: the spec's event name without "Event" (its public name starts lower-case). */
  readonly type: 'ConnectionCheckedIn';
  /** The server's "host:port". */
  readonly address: string;
  /** The connection's id, unique within its pool (and worker). */
  readonly connectionId: number;
}

/** Every CMAP event. */
export type PoolEvent =
  | ConnectionPoolCreatedEvent
  | ConnectionPoolReadyEvent
  | ConnectionPoolClearedEvent
  | ConnectionPoolClosedEvent
  | ConnectionCreatedEvent
  | ConnectionReadyEvent
  | ConnectionClosedEvent
  | ConnectionCheckOutStartedEvent
  | ConnectionCheckOutFailedEvent
  | ConnectionCheckedOutEvent
  | ConnectionCheckedInEvent;

export type PoolEventType = PoolEvent['type'];
export type PoolEventMap = { [E in PoolEvent as E['type']]: E };
export type PoolEventListener<K extends PoolEventType> = (event: PoolEventMap[K]) => void;

export const POOL_EVENT_TYPES: readonly PoolEventType[] = [
  'ConnectionPoolCreated',
  'ConnectionPoolReady',
  'ConnectionPoolCleared',
  'ConnectionPoolClosed',
  'ConnectionCreated',
  'ConnectionReady',
  'ConnectionClosed',
  'ConnectionCheckOutStarted',
  'ConnectionCheckOutFailed',
  'ConnectionCheckedOut',
  'ConnectionCheckedIn',
];

/**
 * Where the layer above the pools sends their events (the cluster's
 * servers, for the router's EventSink): `wanted()` is asked before each
 * event is built.
 */
export interface PoolEventOutlet {
  wanted(type: PoolEventType): boolean;
  publish(event: PoolEvent): void;
}

type AnyListener = (event: PoolEvent) => void;
type OnceWrapper = AnyListener & { readonly original: AnyListener };

/**
 * Typed subscribe/unsubscribe in the shape of EventEmitter (on/once/off).
 *
 * Why not EventEmitter itself: the pool asks `wants(type)` before it builds
 * an event object, so that an unobserved checkout costs no allocation, and a
 * listener that throws must not leave the pool half-way through a state
 * change. A throwing listener's error is rethrown on the next tick, where it
 * surfaces as an uncaught exception (what node:diagnostics_channel does with
 * a throwing subscriber) instead of unwinding into pool code.
 */
export class PoolEventEmitter {
  // Copy-on-write arrays: emit() iterates the array it started with even if
  // a listener subscribes or unsubscribes meanwhile.
  readonly #listeners = new Map<PoolEventType, readonly AnyListener[]>();
  readonly #monitor: AnyListener | undefined;
  readonly #monitorWanted: ((type: PoolEventType) => boolean) | undefined;

  /**
   * `monitor` sees every event, including ConnectionPoolCreated emitted by a
   * constructor, while `monitorWanted` (when given) says it wants them.
   */
  constructor(monitor?: (event: PoolEvent) => void, monitorWanted?: (type: PoolEventType) => boolean) {
    this.#monitor = monitor;
    this.#monitorWanted = monitorWanted;
  }

  on<K extends PoolEventType>(type: K, listener: PoolEventListener<K>): this {
    const list = this.#listeners.get(type) ?? [];
    this.#listeners.set(type, [...list, listener as AnyListener]);
    return this;
  }

  once<K extends PoolEventType>(type: K, listener: PoolEventListener<K>): this {
    const wrapper = Object.assign(
      (event: PoolEvent): void => {
        this.off(type, listener);
        (listener as AnyListener)(event);
      },
      { original: listener as AnyListener },
    );
    return this.on(type, wrapper);
  }

  off<K extends PoolEventType>(type: K, listener: PoolEventListener<K>): this {
    const list = this.#listeners.get(type);
    if (list === undefined) return this;
    const index = list.findIndex((l) => l === listener || (l as Partial<OnceWrapper>).original === listener);
    if (index < 0) return this;
    const next = list.filter((_, i) => i !== index);
    if (next.length === 0) this.#listeners.delete(type);
    else this.#listeners.set(type, next);
    return this;
  }

  listenerCount(type: PoolEventType): number {
    return this.#listeners.get(type)?.length ?? 0;
  }

  /** Whether anybody would see an event of this type; lets callers skip building it. */
  protected wants(type: PoolEventType): boolean {
    return this.#listeners.has(type) || (this.#monitor !== undefined && (this.#monitorWanted === undefined || this.#monitorWanted(type)));
  }

  protected emit(event: PoolEvent): void {
    if (this.#monitor !== undefined) invokeSafely(this.#monitor, event);
    const list = this.#listeners.get(event.type);
    if (list === undefined) return;
    for (const listener of list) invokeSafely(listener, event);
  }
}

/**
 * Calls user code from inside pool code. A throw is rethrown on the next
 * tick (an uncaught exception, as from a timer callback) so that it cannot
 * unwind through a half-done pool state change.
 */
export function invokeSafely<T>(callback: (arg: T) => void, arg: T): void {
  try {
    callback(arg);
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}
