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

export interface ConnectionPoolCreatedEvent {
  readonly type: 'ConnectionPoolCreated';
  readonly address: string;
  readonly options: PoolCreatedOptions;
}
export interface ConnectionPoolReadyEvent {
  readonly type: 'ConnectionPoolReady';
  readonly address: string;
}
export interface ConnectionPoolClearedEvent {
  readonly type: 'ConnectionPoolCleared';
  readonly address: string;
  readonly interruptInUseConnections: boolean;
}
export interface ConnectionPoolClosedEvent {
  readonly type: 'ConnectionPoolClosed';
  readonly address: string;
}
export interface ConnectionCreatedEvent {
  readonly type: 'ConnectionCreated';
  readonly address: string;
  readonly connectionId: number;
}
export interface ConnectionReadyEvent {
  readonly type: 'ConnectionReady';
  readonly address: string;
  readonly connectionId: number;
  /** From ConnectionCreated to now: the time spent establishing. */
  readonly durationMS: number;
}
export interface ConnectionClosedEvent {
  readonly type: 'ConnectionClosed';
  readonly address: string;
  readonly connectionId: number;
  readonly reason: ConnectionClosedReason;
}
export interface ConnectionCheckOutStartedEvent {
  readonly type: 'ConnectionCheckOutStarted';
  readonly address: string;
}
export interface ConnectionCheckOutFailedEvent {
  readonly type: 'ConnectionCheckOutFailed';
  readonly address: string;
  readonly reason: CheckOutFailedReason;
  /** From ConnectionCheckOutStarted to now. */
  readonly durationMS: number;
}
export interface ConnectionCheckedOutEvent {
  readonly type: 'ConnectionCheckedOut';
  readonly address: string;
  readonly connectionId: number;
  /** From ConnectionCheckOutStarted to now, including any dial. */
  readonly durationMS: number;
}
export interface ConnectionCheckedInEvent {
  readonly type: 'ConnectionCheckedIn';
  readonly address: string;
  readonly connectionId: number;
}

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
