// Pool options: the CMAP ConnectionPoolOptions plus maxLifetimeMS, and the
// pool's own validation of them.
//
// The option table (src/uri/options.ts: URI and DialOptions) validates and
// defaults these values first, and is the one home of their defaults: the
// pool takes them from it. Checking the values again here is defence in
// depth, so that a bad value coming from any other caller fails at
// construction with an error naming the option instead of producing a pool
// that overshoots or never serves. The ranges are CMAP's, wider than the
// table's policy on purpose: the CMAP spec runner drives pools directly,
// where maxPoolSize 0 and waitQueueTimeoutMS 0 mean "no limit" (the table
// refuses both for users, who are promised an exact limit and a bounded wait).

import { InvalidOptionError } from '../errors.js';
import { OPTIONS, minPoolSizeFits } from '../uri/options.js';
import type { PoolEvent, PoolEventType } from './events.js';
import type { PermitSource } from './permits.js';
import type { ConnectFn, PoolableConnection } from './poolable-connection.js';

/** The numeric pool options: CMAP's ConnectionPoolOptions plus maxLifetimeMS. */
export interface PoolSizing {
  /**
   * Limit on established plus dialing connections (our users' poolLimit).
   * 0 means unlimited (CMAP). Default 100. When `permits` is given, its
   * limit is the limit and this option, if set, must agree with it.
   */
  maxPoolSize?: number;
  /** Connections kept open in the background while the pool is ready. Default 0. */
  minPoolSize?: number;
  /** Close a connection that stayed idle this long; 0 = never (CMAP). */
  maxIdleTimeMS?: number;
  /** Close a connection this long after it was created, at check-in or while idle; 0 = never. */
  maxLifetimeMS?: number;
  /** Concurrent dials allowed. Default 2 (CMAP). */
  maxConnecting?: number;
  /**
   * How long a checkout may wait for a connection or a dial slot. The option
   * table supplies 30000; the pool uses the same default when called
   * directly. 0 means no limit (CMAP).
   */
  waitQueueTimeoutMS?: number;
}

export interface PoolOptions<C extends PoolableConnection = PoolableConnection> extends PoolSizing {
  /** "host:port" of the server; named in events and errors. */
  address: string;
  /** Dials, handshakes and authenticates one connection. */
  connect: ConnectFn<C>;
  /**
   * Longest pause between runs of the background task (reaping perished idle
   * connections, topping up minPoolSize). Reaping itself is scheduled at the
   * next expiry, so this mostly paces minPoolSize retries. Default 1000.
   * A negative value disables the task (CMAP test runner's
   * backgroundThreadIntervalMS = -1); 0 is not allowed.
   */
  maintenanceIntervalMS?: number;
  /** Where permits come from; default: LocalPermits(maxPoolSize). */
  permits?: PermitSource;
  /**
   * Where dial slots (maxConnecting) come from; default:
   * LocalPermits(maxConnecting). Workers share one source per server
   * so that maxConnecting bounds the handshakes of all workers together.
   */
  dialSlots?: PermitSource;
  /**
   * The identity of a checkout that names none, and of background
   * (minPoolSize) dials: the dial-time credential's. Default 0
   * (unauthenticated). See CheckOutOptions.identity.
   */
  defaultIdentity?: number;
  /** Sees every event, including ConnectionPoolCreated emitted by the constructor. */
  monitor?: (event: PoolEvent) => void;
  /**
   * Whether `monitor` wants events now, asked before each is built; always
   * when left out. Lets a pool observed by nobody (no listener, no channel
   * subscriber: src/monitoring/event-hub.ts) build no event objects.
   */
  monitorWanted?: (type: PoolEventType) => boolean;
  /**
   * Called when a background (minPoolSize) dial fails. CMAP: such errors
   * "MUST be handled via the SDAM machinery", which lives above the pool.
   */
  onBackgroundError?: (error: unknown) => void;
}

export interface ResolvedPoolOptions {
  readonly maxPoolSize: number;
  readonly minPoolSize: number;
  readonly maxIdleTimeMS: number;
  readonly maxLifetimeMS: number;
  readonly maxConnecting: number;
  readonly waitQueueTimeoutMS: number;
  readonly maintenanceIntervalMS: number;
  readonly defaultIdentity: number;
}

export const POOL_DEFAULTS: ResolvedPoolOptions = Object.freeze({
  maxPoolSize: OPTIONS.maxPoolSize.default,
  minPoolSize: OPTIONS.minPoolSize.default,
  maxIdleTimeMS: OPTIONS.maxIdleTimeMS.default,
  maxLifetimeMS: OPTIONS.maxLifetimeMS.default,
  maxConnecting: OPTIONS.maxConnecting.default,
  waitQueueTimeoutMS: OPTIONS.waitQueueTimeoutMS.default,
  // Not a connection option: how often the pool's background task may run.
  maintenanceIntervalMS: 1_000,
  // Not a connection option either: the dial-time credential's number, given by the caller.
  defaultIdentity: 0,
});

const SIZING_OPTIONS = [
  'maxPoolSize',
  'minPoolSize',
  'maxIdleTimeMS',
  'maxLifetimeMS',
  'maxConnecting',
  'waitQueueTimeoutMS',
] as const satisfies readonly (keyof PoolSizing)[];

function invalid(message: string): InvalidOptionError {
  return new InvalidOptionError('ERR_INVALID_OPTION', message);
}

function integerAtLeast(name: string, value: number | undefined, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw invalid(`pool option ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

function finiteAtLeastZero(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(`pool option ${name} must be a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

export function resolvePoolOptions(options: PoolOptions<PoolableConnection>): ResolvedPoolOptions {
  if (typeof options.address !== 'string' || options.address === '') {
    throw invalid(`pool option address must be a non-empty "host:port" string, got ${String(options.address)}`);
  }
  if (typeof options.connect !== 'function') throw invalid('pool option connect must be a function');

  let maxPoolSize = integerAtLeast('maxPoolSize', options.maxPoolSize, 0, POOL_DEFAULTS.maxPoolSize);
  if (options.permits !== undefined) {
    if (options.maxPoolSize !== undefined && options.maxPoolSize !== options.permits.limit) {
      throw invalid(
        `pool option maxPoolSize (${options.maxPoolSize}) disagrees with the permit source's limit (${options.permits.limit})`,
      );
    }
    maxPoolSize = options.permits.limit;
  }
  const minPoolSize = integerAtLeast('minPoolSize', options.minPoolSize, 0, POOL_DEFAULTS.minPoolSize);
  if (!minPoolSizeFits(minPoolSize, maxPoolSize)) {
    throw invalid(`pool option minPoolSize (${minPoolSize}) must not exceed maxPoolSize (${maxPoolSize})`);
  }
  const maintenanceIntervalMS = options.maintenanceIntervalMS ?? POOL_DEFAULTS.maintenanceIntervalMS;
  if (!Number.isFinite(maintenanceIntervalMS) || maintenanceIntervalMS === 0) {
    throw invalid(
      `pool option maintenanceIntervalMS must be a finite non-zero number (negative disables), got ${String(maintenanceIntervalMS)}`,
    );
  }
  return {
    maxPoolSize,
    minPoolSize,
    maxIdleTimeMS: finiteAtLeastZero('maxIdleTimeMS', options.maxIdleTimeMS, POOL_DEFAULTS.maxIdleTimeMS),
    maxLifetimeMS: finiteAtLeastZero('maxLifetimeMS', options.maxLifetimeMS, POOL_DEFAULTS.maxLifetimeMS),
    // CMAP: maxConnecting "MUST be a number > 0".
    maxConnecting: integerAtLeast('maxConnecting', options.maxConnecting, 1, POOL_DEFAULTS.maxConnecting),
    waitQueueTimeoutMS: finiteAtLeastZero('waitQueueTimeoutMS', options.waitQueueTimeoutMS, POOL_DEFAULTS.waitQueueTimeoutMS),
    maintenanceIntervalMS,
    defaultIdentity: integerAtLeast('defaultIdentity', options.defaultIdentity, 0, POOL_DEFAULTS.defaultIdentity),
  };
}

/** The explicitly set options, for ConnectionPoolCreated. */
export function reportedOptions(options: PoolOptions<PoolableConnection>): PoolSizing {
  const reported: PoolSizing = {};
  for (const name of SIZING_OPTIONS) {
    const value = options[name];
    if (value !== undefined) reported[name] = value;
  }
  return reported;
}
