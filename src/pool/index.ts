// The per-server connection pool: CMAP behaviour, events and stats.
export { Pool, type CheckOutOptions, type ClearOptions, type PoolState } from './pool.js';
export { POOL_DEFAULTS, type PoolOptions, type PoolSizing, type ResolvedPoolOptions } from './pool-options.js';
export { LocalPermits, type PermitSource } from './permits.js';
export type { ConnectFn, ConnectInit, PoolableConnection } from './poolable-connection.js';
export type { ConnectionState } from './pooled-connection.js';
export type { PoolStats, ServerStats } from './stats.js';
export {
  POOL_EVENT_TYPES,
  PoolEventEmitter,
  type CheckOutFailedReason,
  type ConnectionCheckedInEvent,
  type ConnectionCheckedOutEvent,
  type ConnectionCheckOutFailedEvent,
  type ConnectionCheckOutStartedEvent,
  type ConnectionClosedEvent,
  type ConnectionClosedReason,
  type ConnectionCreatedEvent,
  type ConnectionPoolClearedEvent,
  type ConnectionPoolClosedEvent,
  type ConnectionPoolCreatedEvent,
  type ConnectionPoolReadyEvent,
  type ConnectionReadyEvent,
  type PoolCreatedOptions,
  type PoolEvent,
  type PoolEventListener,
  type PoolEventMap,
  type PoolEventType,
} from './events.js';
