// The per-server connection pool (CMAP "Connection Pool"), single thread.
//
// Concurrency model. JavaScript runs this code one call at a time, so the
// CMAP requirement "All Pool behaviors MUST be thread safe" reduces to two
// rules: (1) every state change completes before anything that can run other
// code (an event listener, a promise continuation), and (2) a decision that
// depends on a count is acted on in the same synchronous step, with no await
// in between. Rule 2 is what makes the limit exact: a permit is taken and the
// dial is registered in one step, so racing callers cannot all see "one
// below the limit" and all dial (mgo's check-unlock-dial overshoot).
//
// Waiting is event-driven: whatever frees a resource (check-in, dial
// completion, connection close, permit hand-off) calls processWaitQueue(),
// which serves the oldest waiter first. There is no polling and no retry
// sleep; the only timers are one for the wait queue's oldest deadline
// (waitQueueTimeoutMS) and one unref'd maintenance timer.
//
// Identities. Every connection is dialed for one identity (the credential it
// authenticates as) and only serves checkouts of that identity. They share
// one limit: when the head waiter's identity has nothing idle and the limit
// is reached, the least recently used idle connection of another identity is
// closed ('yielded') so that the waiter can dial its own.

import { InvalidOptionError, NetworkError, PoolClearedError, PoolClosedError, PoolTimeoutError } from '../errors.js';
import { CheckOutRequest } from './checkout-request.js';
import {
  invokeSafely,
  PoolEventEmitter,
  type CheckOutFailedReason,
  type ConnectionClosedReason,
} from './events.js';
import { LocalPermits, type PermitSource } from './permits.js';
import { SourceWatch } from './source-watch.js';
import { resolvePoolOptions, reportedOptions, type PoolOptions, type ResolvedPoolOptions } from './pool-options.js';
import type { ConnectFn, PoolableConnection } from './poolable-connection.js';
import { PooledConnection } from './pooled-connection.js';
import { PoolCounters, type PoolStats } from './stats.js';
import { WaitQueue } from './wait-queue.js';
import { FairDrain } from '../util/fair-drain.js';

/**
 * Failed checkouts are rejected in time-bounded slices, one queue per
 * thread: a wait-queue timeout or a clear can fail every waiter at once, and
 * each rejection runs its caller's continuation. Rejected in one callback,
 * 100,000-124,000 timed-out waiters of 200,000 finds against a server that
 * never answers stalled the thread 2.2-4.1 s (test/integration/main-thread
 * .test.ts, workers 0). The waiter leaves the queue, and its
 * ConnectionCheckOutFailed is emitted, at once; only the rejection waits.
 */
const failedCheckOuts = new FairDrain<() => void>((reject) => reject());

/**
 * What #takeDialSlot got: the right to dial, or what is missing: this pool's
 * own dials fill maxConnecting ('dialing'), a dial slot shared with other
 * workers ('noSlot'), or a permit, i.e. the limit is reached ('noPermit').
 */
type DialGrant = 'granted' | 'dialing' | 'noSlot' | 'noPermit';

/** CMAP pool states: a pool is created paused and becomes ready once its server was checked. */
export type PoolState = 'paused' | 'ready' | 'closed';

export interface CheckOutOptions {
  /**
   * Gives up the checkout when aborted (e.g. AbortSignal.timeout for an
   * operation deadline): the promise rejects with `signal.reason` and
   * ConnectionCheckOutFailed is emitted with reason 'timeout'. A dial this
   * checkout started keeps going and its connection joins the pool.
   */
  signal?: AbortSignal;
  /**
   * Who the operation runs as (a number the driver assigns per credential;
   * 0 = unauthenticated). Default: the pool's defaultIdentity. Only a
   * connection dialed for this identity is handed out: a server
   * authenticates a connection once and cannot log it out, so a connection
   * of another user would run the operation with that user's rights.
   */
  identity?: number;
}

export interface ClearOptions {
  /**
   * Also interrupt checked-out connections and abort dials in progress
   * (CMAP: used when a server monitor timed out).
   */
  interruptInUseConnections?: boolean;
  /** The error that made the caller clear the pool; named in PoolClearedError messages. */
  cause?: unknown;
}

type Entry<C extends PoolableConnection> = PooledConnection<C, CheckOutRequest<C>>;

const now = (): number => performance.now();

export class Pool<C extends PoolableConnection = PoolableConnection> extends PoolEventEmitter {
  readonly address: string;
  readonly options: ResolvedPoolOptions;
  readonly #connect: ConnectFn<C>;
  readonly #permits: PermitSource;
  /** maxConnecting as a permit source: one dial slot per dial in flight. */
  readonly #dialSlots: PermitSource;
  readonly #onBackgroundError: ((error: unknown) => void) | undefined;

  #state: PoolState = 'paused';
  #destroyed = false;
  #generation = 0;
  #lastId = 0;
  /** Why the pool is paused: undefined until the first clear() (then { cause }). */
  #cleared: { cause: unknown } | undefined = undefined;

  // Every connection record is in exactly one of these, matching its state:
  // dialing -> #dialing, idle -> #idle, inUse -> counted in #inUse (and
  // findable through #established, which maps idle and inUse records by
  // connection; destroy() leaves closed-but-still-checked-out records there
  // until their check-in).
  readonly #dialing = new Set<Entry<C>>();
  /** Stack: push on check-in, pop on checkout (most recently used first). */
  readonly #idle: Entry<C>[] = [];
  #inUse = 0;
  /** Records in 'closing': their permits are held until their sockets are gone. */
  #closing = 0;
  readonly #established = new Map<C, Entry<C>>();

  readonly #waiters = new WaitQueue<CheckOutRequest<C>>();
  readonly #counters = new PoolCounters();

  /** The wait queue's request for a permit, and a granted permit not yet spent on a dial. */
  readonly #permitWatch: SourceWatch;
  /** The same for dial slots. */
  readonly #dialSlotWatch: SourceWatch;
  /** One timer for the whole wait queue, due at the oldest waiter's deadline; ref'd only while someone waits. */
  #queueTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  #queueTimerDueAt = Infinity;

  #processing = false;
  #reprocess = false;
  /** Set by a failed background dial: no more minPoolSize dials until the next maintenance run or ready(). */
  #populationHeld = false;

  #maintenanceTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  #maintenanceDueAt = Infinity;
  #drain: { promise: Promise<void>; resolve: () => void } | undefined = undefined;

  constructor(options: PoolOptions<C>) {
    super(options.monitor, options.monitorWanted);
    this.options = resolvePoolOptions(options);
    this.address = options.address;
    this.#connect = options.connect;
    this.#permits = options.permits ?? new LocalPermits(this.options.maxPoolSize);
    this.#dialSlots = options.dialSlots ?? new LocalPermits(this.options.maxConnecting);
    const runQueue = () => queueMicrotask(() => this.#processWaitQueue());
    const closed = () => this.#state === 'closed';
    this.#permitWatch = new SourceWatch(this.#permits, runQueue, closed);
    this.#dialSlotWatch = new SourceWatch(this.#dialSlots, runQueue, closed);
    this.#onBackgroundError = options.onBackgroundError;
    // CMAP "Creating a Connection Pool": generation 0, state paused, then the event.
    if (this.wants('ConnectionPoolCreated')) {
      this.emit({ type: 'ConnectionPoolCreated', address: this.address, options: reportedOptions(options) });
    }
  }

  get state(): PoolState {
    return this.#state;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Checkouts currently queued. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Connections holding a permit: dialing, idle, in use, and closed ones whose socket is not gone yet. */
  get #open(): number {
    return this.#dialing.size + this.#idle.length + this.#inUse + this.#closing;
  }

  stats(): PoolStats {
    const c = this.#counters;
    return {
      maxOpen: this.#permits.limit,
      open: this.#open,
      inUse: this.#inUse,
      idle: this.#idle.length,
      connecting: this.#dialing.size,
      waitCount: c.waitCount,
      waitDurationMS: c.waitDurationMS,
      timeouts: c.timeouts,
      idleClosed: c.idleClosed,
      lifetimeClosed: c.lifetimeClosed,
      errorClosed: c.errorClosed,
    };
  }

  // ---------------------------------------------------------------- checkout

  /**
   * Resolves with an established connection, marked in use (CMAP "Checking
   * Out a Connection"). Fails with PoolClosedError on a closed pool,
   * PoolClearedError on a paused one, PoolTimeoutError after
   * waitQueueTimeoutMS in the queue, or the dial's own error if the dial this
   * checkout started failed; with InvalidOptionError, before any event, for
   * an identity that is not an integer >= 0.
   */
  checkOut(options?: CheckOutOptions): Promise<C> {
    const identity = options?.identity ?? this.options.defaultIdentity;
    // NaN would match no connection, so every such checkout would dial and yield.
    if (!Number.isInteger(identity) || identity < 0) {
      const message = `checkOut option identity must be an integer >= 0, got ${String(identity)}`;
      return Promise.reject(new InvalidOptionError('ERR_INVALID_OPTION', message));
    }
    const startedAt = now();
    if (this.wants('ConnectionCheckOutStarted')) this.emit({ type: 'ConnectionCheckOutStarted', address: this.address });
    if (this.#state !== 'ready') return Promise.reject(this.#refuse(startedAt));
    const signal = options?.signal;
    if (signal?.aborted) {
      this.#emitCheckOutFailed('timeout', startedAt);
      return Promise.reject(signal.reason);
    }
    // Fast path, no allocation: only when nobody is queued, so a newcomer
    // never overtakes a waiter (CMAP WaitQueue "Ordered/fair").
    if (this.#waiters.size === 0) {
      const entry = this.#takeIdle(identity, startedAt);
      if (entry !== undefined) {
        this.#markInUse(entry, startedAt);
        return Promise.resolve(entry.conn!);
      }
    }
    return new Promise<C>((resolve, reject) => {
      const request = new CheckOutRequest<C>(startedAt, identity, resolve, reject, signal);
      if (signal !== undefined) {
        request.onAbort = () => this.#abandon(request);
        signal.addEventListener('abort', request.onAbort, { once: true });
      }
      // Nobody ahead and a dial slot plus a permit free: dial without
      // queueing, so that this does not count as a wait in stats().
      if (this.#waiters.size === 0 && this.#unclaimedDials(identity) === 0 && this.#takeDialSlot() === 'granted') {
        this.#startDial(request);
      } else {
        this.#enqueue(request);
        this.#processWaitQueue();
      }
    });
  }

  /**
   * Returns a connection (CMAP "Checking In a Connection"): it goes straight
   * to the oldest waiter, or becomes idle; it is closed instead if it is
   * perished (stale, errored, past maxLifetimeMS) or the pool is closed.
   * Throws if the connection did not come from this pool or is not checked out.
   */
  checkIn(conn: C): void {
    const entry = this.#established.get(conn);
    if (entry === undefined) {
      // CMAP: checking in a connection the pool did not create MUST throw.
      throw new Error(`connection ${conn.id} to ${conn.address} was not checked out from the pool for ${this.address}`);
    }
    if (entry.state !== 'inUse') {
      if (entry.awaitingCheckIn) {
        // Already closed by destroy() while checked out; accept its return once.
        entry.awaitingCheckIn = false;
        this.#established.delete(conn);
        this.#emitCheckedIn(entry);
        return;
      }
      throw new Error(`connection ${conn.id} to ${this.address} is not checked out (it is ${entry.state})`);
    }
    // CMAP: the CheckedIn event comes first, then close-or-make-available.
    this.#emitCheckedIn(entry);
    const t = now();
    let reason = this.#state === 'closed' ? 'poolClosed' : this.#perishedReason(entry, t, false);
    if (reason === undefined && this.#retire(entry)) reason = 'yielded';
    else if (reason === undefined && this.#permits.othersWaiting?.()) reason = 'yielded';
    if (reason !== undefined) {
      this.#close(entry, reason);
    } else {
      this.#inUse--;
      this.#makeIdle(entry, t);
    }
    // Hand-off: the connection just made idle is on top of the stack, so the
    // oldest waiter gets exactly this one if it is of the waiter's identity
    // (else it stays idle, and may be yielded to that waiter's dial). A close
    // freed a permit instead, which reaches the queue through the permit
    // watch or refills minPoolSize.
    if (this.#waiters.size > 0 || (reason !== undefined && this.options.minPoolSize > 0)) this.#processWaitQueue();
  }

  // --------------------------------------------------------- pool lifecycle

  /**
   * Marks a paused pool ready (CMAP "Marking a Connection Pool as Ready"),
   * called after a successful server check. No-op unless paused.
   */
  ready(): void {
    if (this.#state !== 'paused') return;
    this.#state = 'ready';
    this.#populationHeld = false;
    // CMAP: PoolReady MUST be observable before any background connection
    // creation it allows, hence emit first, then populate.
    if (this.wants('ConnectionPoolReady')) this.emit({ type: 'ConnectionPoolReady', address: this.address });
    this.#processWaitQueue();
  }

  /**
   * maxPoolSize changed, live (Session.setGlobalPoolLimit). A pool that
   * counts its own permits takes `limit`; a shared source's limit was set
   * where it is shared (the coordinator), and the pool then only applies
   * it. Lowered: idle connections above the limit close now,
   * least recently used first, checked-out ones at check-in, until no more
   * are open than the limit; no permit is granted meanwhile. Raised: the
   * waiters get the new permits, oldest first. Returns how many idle
   * connections it closed.
   */
  limitChanged(limit: number): number {
    if (this.#permits instanceof LocalPermits) this.#permits.setLimit(limit);
    let closed = 0;
    while (this.#idle.length > 0 && this.#retire(this.#idle[0]!)) {
      this.#close(this.#idle.shift()!, 'yielded');
      closed++;
    }
    if (this.#state !== 'closed') this.#processWaitQueue();
    return closed;
  }

  /**
   * Closes up to `max` idle connections, least recently used first, and
   * returns how many it closed. Their permits are released at once, so the
   * worker coordinator uses this to give a permit back to another worker
   * waiting for this server (idle give-back).
   */
  closeIdle(max: number): number {
    let closed = 0;
    while (closed < max && this.#idle.length > 0) {
      const entry = this.#idle.shift()!;
      entry.givenBack = true;
      this.#close(entry, 'yielded');
      closed++;
    }
    return closed;
  }

  /**
   * Called on a non-timeout network error (CMAP "Clearing a non-load balanced
   * pool"): generation++, pool paused, waiters failed with a retryable
   * PoolClearedError, idle connections closed now, checked-out ones closed
   * when checked in (or interrupted now, with interruptInUseConnections).
   */
  clear(options: ClearOptions = {}): void {
    if (this.#state === 'closed') return;
    const interrupt = options.interruptInUseConnections === true;
    const wasPaused = this.#state === 'paused';
    // CMAP: the generation is incremented even when already paused, so that
    // errors from the old generation stop clearing again; only the event is
    // skipped ("Why not emit PoolCleared events ... when clearing a paused pool?").
    this.#generation++;
    this.#state = 'paused';
    this.#cleared = { cause: options.cause };
    if (!wasPaused && this.wants('ConnectionPoolCleared')) {
      this.emit({ type: 'ConnectionPoolCleared', address: this.address, interruptInUseConnections: interrupt });
    }
    // CMAP: clearing the WaitQueue "MUST happen eagerly", not via timeouts.
    const error = this.#pausedError();
    for (const request of this.#waiters.drain()) {
      request.node = undefined;
      this.#fail(request, 'connectionError', error);
    }
    this.#dropPermitWatch();
    // Every idle connection is now stale. CMAP closes them lazily or in the
    // background thread "scheduled as soon as possible" after a clear; doing
    // it now frees their permits at once.
    for (const entry of this.#idle.splice(0)) this.#close(entry, 'stale');
    if (interrupt) {
      // CMAP: interrupt in-use connections of the old generation and pending
      // ones; "MUST NOT block the pool", so only signal here. Their records
      // close when the dial settles / at check-in.
      const reason = new PoolClearedError(`Connection to ${this.address} interrupted due to server monitor timeout`, {
        address: this.address,
        cause: options.cause,
      });
      for (const entry of this.#dialing) entry.dialAbort?.abort(reason);
      for (const entry of this.#established.values()) {
        if (entry.state === 'inUse' && !entry.interrupted) {
          entry.interrupted = true;
          entry.conn!.destroy(reason);
        }
      }
    }
  }

  /**
   * Closes the pool (CMAP "Closing a Connection Pool"): waiters fail with
   * PoolClosedError, idle connections close now, checked-out ones when
   * checked in, dials in progress when they finish. Resolves once every
   * connection is closed. Idempotent.
   */
  close(): Promise<void> {
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      this.#stopMaintenance();
      this.#dropPermitWatch();
      if (this.#queueTimer !== undefined) clearTimeout(this.#queueTimer);
      this.#queueTimer = undefined;
      for (const entry of this.#idle.splice(0)) this.#close(entry, 'poolClosed');
      const error = new PoolClosedError(`Connection pool for ${this.address} was closed while waiting for a connection`, {
        address: this.address,
      });
      for (const request of this.#waiters.drain()) {
        request.node = undefined;
        this.#fail(request, 'poolClosed', error);
      }
      if (this.wants('ConnectionPoolClosed')) this.emit({ type: 'ConnectionPoolClosed', address: this.address });
    }
    return this.#whenDrained();
  }

  /**
   * close(), and abort everything now: checked-out connections are destroyed
   * (their later check-in is accepted and ignored) and dials are aborted.
   * Resolves once every dial has settled. Idempotent.
   */
  destroy(): Promise<void> {
    if (!this.#destroyed) {
      this.#destroyed = true;
      void this.close();
      const reason = new PoolClosedError(`Connection pool for ${this.address} was destroyed`, { address: this.address });
      for (const entry of this.#dialing) entry.dialAbort?.abort(reason);
      for (const entry of [...this.#established.values()]) {
        if (entry.state === 'inUse') {
          entry.awaitingCheckIn = true;
          this.#close(entry, 'poolClosed', reason);
        }
      }
    }
    return this.#whenDrained();
  }

  // ------------------------------------------------------------ wait queue

  #enqueue(request: CheckOutRequest<C>): void {
    request.node = this.#waiters.push(request);
    request.enqueuedAt = now();
    this.#counters.waitStarted();
    const timeoutMS = this.options.waitQueueTimeoutMS;
    if (timeoutMS > 0) {
      request.deadline = request.enqueuedAt + timeoutMS;
      this.#armQueueTimer(request.deadline);
    }
  }

  /** Leaves the queue (served, dialing, or failed) and books the wait. */
  #dequeue(request: CheckOutRequest<C>): void {
    if (request.node !== undefined) {
      this.#waiters.remove(request.node);
      request.node = undefined;
    }
    if (request.enqueuedAt > 0) {
      this.#counters.waitEnded(now() - request.enqueuedAt);
      request.enqueuedAt = 0;
    }
    // An empty queue must not keep the process alive through the queue timer.
    if (this.#waiters.size === 0) this.#queueTimer?.unref();
  }

  /**
   * Makes sure the queue timer fires by `deadline`. Every request gets the
   * same waitQueueTimeoutMS, so FIFO order is deadline order: the timer only
   * ever needs the oldest waiter's deadline. When that waiter leaves early,
   * the timer is left alone and re-armed for the new head when it fires;
   * setting and clearing a timer per waiter would cost more than the
   * hand-off itself.
   */
  #armQueueTimer(deadline: number): void {
    if (this.#queueTimer !== undefined) {
      this.#queueTimer.ref();
      if (this.#queueTimerDueAt <= deadline) return;
      clearTimeout(this.#queueTimer);
    }
    this.#queueTimerDueAt = deadline;
    // +1: timers may fire up to a millisecond early relative to performance.now().
    this.#queueTimer = setTimeout(this.#onQueueTimer, Math.max(0, Math.ceil(deadline - now())) + 1);
  }

  /** CMAP "Timeout aggressively": waiters leave the queue the moment their time is up. */
  readonly #onQueueTimer = (): void => {
    this.#queueTimer = undefined;
    this.#queueTimerDueAt = Infinity;
    const t = now();
    for (let head = this.#waiters.peek(); head !== undefined && head.deadline <= t; head = this.#waiters.peek()) {
      this.#timeOut(head, t);
    }
    const head = this.#waiters.peek();
    if (head !== undefined && head.deadline !== Infinity) this.#armQueueTimer(head.deadline);
    if (this.#waiters.size === 0) this.#dropPermitWatch();
  };

  #timeOut(request: CheckOutRequest<C>, t: number): void {
    const waitedMS = Math.round(t - request.startedAt);
    const limit = this.#permits.limit === 0 ? 'unlimited' : String(this.#permits.limit);
    const message =
      `Timed out while checking out a connection from connection pool for ${this.address} after ${waitedMS} ms ` +
      `(maxPoolSize ${limit}: ${this.#open} open, ${this.#inUse} in use, ${this.#idle.length} idle, ` +
      `${this.#dialing.size} connecting; ${this.#waiters.size} waiting including this one)`;
    this.#counters.timeouts++;
    // The error is made in the slice that rejects: capturing a stack is most
    // of what a timeout costs, and a timer can expire 100,000 waiters at once.
    const address = this.address;
    this.#failWith(request, 'timeout', () => new PoolTimeoutError(message, { address }));
  }

  #settle(request: CheckOutRequest<C>): void {
    request.settled = true;
    this.#dequeue(request);
    if (request.onAbort !== undefined) request.signal!.removeEventListener('abort', request.onAbort);
  }

  #handOut(entry: Entry<C>, request: CheckOutRequest<C>): void {
    this.#settle(request);
    this.#markInUse(entry, request.startedAt);
    request.resolve(entry.conn!);
  }

  #fail(request: CheckOutRequest<C>, reason: CheckOutFailedReason, error: unknown): void {
    this.#failWith(request, reason, () => error);
  }

  /** Out of the queue and ConnectionCheckOutFailed now; rejected with `error()` in a slice of failedCheckOuts. */
  #failWith(request: CheckOutRequest<C>, reason: CheckOutFailedReason, error: () => unknown): void {
    this.#settle(request);
    this.#emitCheckOutFailed(reason, request.startedAt);
    failedCheckOuts.push(() => request.reject(error()));
  }

  /** The caller's signal aborted: leave the queue, or stop waiting for the dial (which carries on). */
  #abandon(request: CheckOutRequest<C>): void {
    if (request.settled) return;
    this.#fail(request, 'timeout', request.signal!.reason);
    if (this.#waiters.size === 0) this.#dropPermitWatch();
  }

  /**
   * Serves waiters oldest first while anything is available, then tops up
   * minPoolSize. Reentrant calls (from an event listener) are folded into the
   * running loop instead of nesting.
   */
  #processWaitQueue(): void {
    if (this.#processing) {
      this.#reprocess = true;
      return;
    }
    this.#processing = true;
    try {
      do {
        this.#reprocess = false;
        this.#serveWaiters();
        this.#populate();
      } while (this.#reprocess);
      // A permit granted after the need passed goes back to whoever waits next.
      if (this.#waiters.size === 0) this.#permitWatch.returnSpare();
      // A dial slot not spent just now goes back at once: held idle, it would
      // hold up the handshakes of other workers sharing maxConnecting.
      this.#dialSlotWatch.returnSpare();
    } finally {
      this.#processing = false;
    }
  }

  // CMAP checkOut loop, for the head of the queue: an available non-perished
  // connection of its identity first; else create one if below maxPoolSize
  // and maxConnecting; else keep waiting, at the head, for whichever comes
  // first (a check-in, a dial slot, a permit). The request that starts a dial
  // leaves the queue and gets that connection; waitQueueTimeoutMS does not
  // cover the dial itself (CMAP: it limits the wait for a connection or for a
  // dial slot). A head that cannot be served blocks the queue: later waiters,
  // whatever their identity, never overtake it (CMAP WaitQueue "Ordered/fair").
  #serveWaiters(): void {
    // Set by a yield until a dial spends its permit: the freed permit is
    // taken in the next round, or went to an earlier request at a shared
    // source; yielding again would then only close connections for others,
    // and the permit watch brings this waiter's.
    let yielded = false;
    while (this.#state === 'ready') {
      const head = this.#waiters.peek();
      if (head === undefined) break;
      const entry = this.#takeIdle(head.identity, now());
      if (entry !== undefined) {
        this.#handOut(entry, head);
        continue;
      }
      if (!this.#dialWanted(head)) return;
      const grant = this.#takeDialSlot();
      if (grant === 'granted') {
        this.#dequeue(head);
        this.#startDial(head);
        yielded = false;
      } else if (grant === 'noPermit' && !yielded && this.#yieldIdle(head.identity)) {
        // The limit is reached and only other identities are idle: without
        // this, a waiter behind idle connections of another user would wait
        // until it timed out. Yielding before watching: a queued permit
        // request makes the other workers give back an idle socket too.
        yielded = true;
      } else {
        this.#watch(grant);
        return;
      }
    }
    if (this.#waiters.size === 0) this.#dropPermitWatch();
  }

  /**
   * Whether the head should dial: not while dials nobody claimed (minPoolSize
   * population, abandoned checkouts) of its identity cover the waiters of
   * that identity. Those become idle and serve the queue, and dialing past
   * them opens more sockets than asked for
   * (pool-checkout-minPoolSize-connection-maxConnecting.json).
   */
  #dialWanted(head: CheckOutRequest<C>): boolean {
    let unclaimed = this.#unclaimedDials(head.identity);
    if (unclaimed === 0) return true;
    for (const request of this.#waiters) if (request.identity === head.identity && --unclaimed < 0) return true;
    return false;
  }

  /**
   * Closes the least recently used idle connection not of `identity`, so that
   * its permit serves a dial for that identity; false if there is none.
   */
  #yieldIdle(identity: number): boolean {
    const idle = this.#idle;
    for (let i = 0; i < idle.length; i++) {
      const entry = idle[i]!;
      if (entry.identity !== identity) {
        this.#removeIdleAt(i);
        this.#close(entry, 'yielded');
        return true;
      }
    }
    return false;
  }

  // ---------------------------------------------------------------- permits

  /**
   * Reserves the right to dial now, or says what is missing: a dial slot
   * (maxConnecting) and a permit, taken in that order so that a permit is
   * never taken for a dial that cannot start; and a dial slot is never held
   * while waiting for a permit. Never waits: see #watch.
   */
  #takeDialSlot(): DialGrant {
    if (this.#dialing.size >= this.options.maxConnecting) return 'dialing';
    if (!this.#dialSlotWatch.take()) return 'noSlot';
    if (this.#permitWatch.take()) return 'granted';
    this.#dialSlots.release();
    return 'noPermit';
  }

  /**
   * Leaves one request() queued at the source of what #takeDialSlot missed,
   * on behalf of the wait queue. Nothing to watch for 'dialing': this pool's
   * own dials run the queue when they settle.
   */
  #watch(missing: DialGrant): void {
    if (missing === 'noSlot') this.#dialSlotWatch.watch();
    else if (missing === 'noPermit') this.#permitWatch.watch();
  }

  /** Nobody needs a permit any more: leave the PermitSource queues and return what is unspent. */
  #dropPermitWatch(): void {
    this.#permitWatch.drop();
    this.#dialSlotWatch.drop();
  }

  // ---------------------------------------------------------------- dialing

  /**
   * CMAP "Creating a Connection" + "Establishing a Connection"; the caller
   * holds a permit and a slot. A dial for nobody (minPoolSize) is of the
   * default identity.
   */
  #startDial(requester: CheckOutRequest<C> | undefined): void {
    const identity = requester === undefined ? this.options.defaultIdentity : requester.identity;
    const entry: Entry<C> = new PooledConnection(++this.#lastId, this.#generation, now(), identity, requester);
    this.#dialing.add(entry);
    if (this.wants('ConnectionCreated')) {
      this.emit({ type: 'ConnectionCreated', address: this.address, connectionId: entry.id });
    }
    let dial: Promise<C>;
    try {
      dial = this.#connect({
        id: entry.id,
        generation: entry.generation,
        address: this.address,
        identity,
        signal: entry.dialAbort!.signal,
      });
    } catch (error) {
      dial = Promise.reject(error);
    }
    dial.then(
      (conn) => this.#dialSucceeded(entry, conn),
      (error: unknown) => this.#dialFailed(entry, error),
    );
  }

  #dialSucceeded(entry: Entry<C>, conn: C): void {
    entry.conn = conn;
    const outcome = this.#dialOutcome(entry);
    if (outcome !== undefined || conn.isClosed) {
      // Closed, cleared, or dead on arrival while dialing: never handed out.
      const error =
        outcome === undefined
          ? new NetworkError('ERR_CONNECTION_CLOSED', `connection ${entry.id} to ${this.address} closed during its handshake`, {
              address: this.address,
            })
          : undefined;
      this.#dialFailed(entry, error);
      return;
    }
    const heldDialSlot = this.#dialing.delete(entry);
    entry.dialAbort = undefined;
    const requester = entry.requester;
    entry.requester = undefined;
    if (this.wants('ConnectionReady')) {
      this.emit({ type: 'ConnectionReady', address: this.address, connectionId: entry.id, durationMS: now() - entry.createdAt });
    }
    // Likewise: the dial slot goes after the event that ends the dial.
    if (heldDialSlot) this.#dialSlots.release();
    this.#established.set(conn, entry);
    if (requester !== undefined && !requester.settled) this.#handOut(entry, requester);
    else if (this.#retire(entry)) this.#close(entry, 'yielded'); // nobody waits for it, and the limit was lowered meanwhile
    else this.#makeIdle(entry, now()); // its checkout gave up meanwhile, or a minPoolSize dial
    this.#processWaitQueue(); // a dial slot is free
  }

  #dialFailed(entry: Entry<C>, error: unknown): void {
    entry.dialAbort = undefined;
    const requester = entry.requester;
    entry.requester = undefined;
    const reason = this.#dialOutcome(entry) ?? 'error';
    const waitedFor = requester !== undefined && !requester.settled;
    if (reason === 'error' && !waitedFor && this.#onBackgroundError !== undefined) {
      // CMAP "Populating the Pool": the error goes to the SDAM machinery
      // above us, which clears the pool; the clear comes BEFORE this
      // connection's ConnectionClosed event (pool-create-min-size-error.json).
      invokeSafely(this.#onBackgroundError, error);
    }
    this.#close(entry, reason); // also destroys a connection that arrived unusable
    if (reason === 'error' && requester === undefined && !this.#populationHeld) {
      // A failed minPoolSize dial: stop populating until the next maintenance
      // run so that a dead server is not redialled in a tight loop.
      this.#populationHeld = true;
      this.#armMaintenance(now() + this.#interval());
    }
    if (waitedFor) this.#failDialRequester(requester, reason, error);
    this.#processWaitQueue(); // a dial slot is free
  }

  /** Why a finished dial cannot join the pool regardless of its result, if it cannot. */
  #dialOutcome(entry: Entry<C>): ConnectionClosedReason | undefined {
    if (this.#state === 'closed') return 'poolClosed';
    if (entry.generation !== this.#generation) return 'stale';
    return undefined;
  }

  /** Fails the checkout that was waiting on a failed dial. */
  #failDialRequester(requester: CheckOutRequest<C>, reason: ConnectionClosedReason, error: unknown): void {
    if (reason === 'poolClosed') {
      this.#fail(requester, 'poolClosed', new PoolClosedError(`Connection pool for ${this.address} was closed`, { address: this.address }));
    } else if (reason === 'stale') {
      this.#fail(requester, 'connectionError', this.#pausedError(error));
    } else {
      // CMAP: establishment error -> CheckOutFailed(connectionError), rethrown as is.
      this.#fail(requester, 'connectionError', error);
    }
  }

  // ------------------------------------------------------------ connections

  #markInUse(entry: Entry<C>, startedAt: number): void {
    entry.state = 'inUse';
    this.#inUse++;
    if (this.wants('ConnectionCheckedOut')) {
      this.emit({ type: 'ConnectionCheckedOut', address: this.address, connectionId: entry.id, durationMS: now() - startedAt });
    }
  }

  #makeIdle(entry: Entry<C>, t: number): void {
    entry.state = 'idle';
    entry.idleSince = t;
    this.#idle.push(entry);
    this.#armMaintenance(Math.min(this.#expiresAt(entry), t + this.#interval()));
  }

  /**
   * Takes the most recently used idle connection of `identity`, closing
   * perished ones of any identity on the way (CMAP: "iterate over the list
   * of available Connections ... If a perished Connection is encountered, it
   * MUST be closed"). With one identity this pops the top of the stack.
   */
  #takeIdle(identity: number, t: number): Entry<C> | undefined {
    const idle = this.#idle;
    for (let i = idle.length - 1; i >= 0; i--) {
      const entry = idle[i]!;
      const reason = this.#perishedReason(entry, t, true);
      if (reason === undefined) {
        if (entry.identity !== identity) continue;
        this.#removeIdleAt(i);
        return entry;
      }
      this.#removeIdleAt(i);
      this.#close(entry, reason);
      // Its event's listeners may have checked connections in or out: rescan from the top.
      i = idle.length;
    }
    return undefined;
  }

  /**
   * Removes the idle record at `i` keeping the others' order: pop() for the
   * top (the common case), else shift the ones above down (no allocation,
   * unlike splice).
   */
  #removeIdleAt(i: number): void {
    const idle = this.#idle;
    if (i < idle.length - 1) idle.copyWithin(i, i + 1);
    idle.pop();
  }

  /** CMAP "Perishable": stale, idle too long, errored; plus our maxLifetimeMS. */
  #perishedReason(entry: Entry<C>, t: number, idle: boolean): ConnectionClosedReason | undefined {
    if (entry.interrupted) return 'stale';
    if (entry.conn!.isClosed) return 'error';
    if (entry.generation !== this.#generation) return 'stale';
    const { maxIdleTimeMS, maxLifetimeMS } = this.options;
    if (idle && maxIdleTimeMS > 0 && t - entry.idleSince >= maxIdleTimeMS) return 'idle';
    if (maxLifetimeMS > 0 && t - entry.createdAt >= maxLifetimeMS) return 'lifetime';
    return undefined;
  }

  /** When an idle connection perishes by the clock (Infinity if never). */
  #expiresAt(entry: Entry<C>): number {
    const { maxIdleTimeMS, maxLifetimeMS } = this.options;
    const idleAt = maxIdleTimeMS > 0 ? entry.idleSince + maxIdleTimeMS : Infinity;
    const lifeAt = maxLifetimeMS > 0 ? entry.createdAt + maxLifetimeMS : Infinity;
    return Math.min(idleAt, lifeAt);
  }

  /**
   * The one way into 'closing' and 'closed' (CMAP "Closing a Connection"):
   * leave the state's bookkeeping, destroy the socket, emit ConnectionClosed,
   * release the permit once the socket is gone. Idle records must already
   * be out of #idle; dialing ones must have settled.
   */
  #close(entry: Entry<C>, reason: ConnectionClosedReason, destroyReason?: Error): void {
    if (entry.state === 'closing' || entry.state === 'closed') return;
    if (entry.state === 'inUse') this.#inUse--;
    const heldDialSlot = entry.state === 'dialing' && this.#dialing.delete(entry);
    entry.state = 'closing';
    const conn = entry.conn;
    if (conn !== undefined) {
      conn.destroy(destroyReason);
      if (!entry.awaitingCheckIn) this.#established.delete(conn);
    }
    this.#counters.recordClose(reason);
    if (this.wants('ConnectionClosed')) {
      this.emit({ type: 'ConnectionClosed', address: this.address, connectionId: entry.id, reason });
    }
    // The event first, then the permit: once released, a permit may start a
    // dial in another worker at once, and its ConnectionCreated must not be
    // seen before this ConnectionClosed (the limit would look exceeded).
    if (heldDialSlot) this.#dialSlots.release();
    // And the permit only once the socket is closed at the OS level: destroy()
    // issues the close, but its 'close' event (descriptor closed, FIN sent)
    // comes a turn later. A permit released before it could start the dial
    // of a socket the server accepts before it reads this one's FIN: one
    // over the limit from the server's side (issue 13, the scans that saw
    // 103 sockets at limit 100). A dial that failed settled after its close
    // already (Connection.connect), so it has nothing to wait for.
    if (conn === undefined) {
      this.#releasePermit(entry);
      return;
    }
    this.#closing++;
    let later = false;
    conn.afterClose(() => {
      this.#closing--;
      this.#releasePermit(entry);
      // Released a turn after the close: what the close made room for
      // (a minPoolSize refill, a waiter of this pool) is run now, as it
      // would have been by the close itself.
      if (later && this.#state !== 'closed') queueMicrotask(() => this.#processWaitQueue());
    });
    later = true;
  }

  /** Marks the connection retired if the permits say one is to be (a lowered limit): its close drops the permit. */
  #retire(entry: Entry<C>): boolean {
    if (!this.#permits.retire?.()) return false;
    entry.retired = true;
    return true;
  }

  #releasePermit(entry: Entry<C>): void {
    entry.state = 'closed';
    this.#permits.release(entry.givenBack, entry.retired);
    if (this.#drain !== undefined && this.#open === 0) {
      this.#drain.resolve();
      this.#drain = undefined;
    }
  }

  // ----------------------------------------------- background maintenance

  /**
   * CMAP "Background Thread", as one unref'd timer (an idle pool must not
   * keep the process alive). A run closes perished idle connections and
   * tops up minPoolSize, then sleeps until the earliest idle expiry, or
   * maintenanceIntervalMS while there are idle connections to recheck or a
   * minPoolSize deficit to retry. With nothing to watch there is no timer.
   */
  readonly #runMaintenance = (): void => {
    this.#maintenanceTimer = undefined;
    this.#maintenanceDueAt = Infinity;
    if (this.#state === 'closed') return;
    const t = now();
    // Collect first, close after: closing emits events, and a listener must
    // not see #idle half compacted.
    const perished: [Entry<C>, ConnectionClosedReason][] = [];
    let kept = 0;
    for (const entry of this.#idle) {
      const reason = this.#perishedReason(entry, t, true);
      if (reason === undefined) this.#idle[kept++] = entry;
      else perished.push([entry, reason]);
    }
    this.#idle.length = kept;
    for (const [entry, reason] of perished) this.#close(entry, reason);
    this.#populationHeld = false;
    this.#processWaitQueue();

    let due = Infinity;
    for (const entry of this.#idle) due = Math.min(due, this.#expiresAt(entry));
    const deficit = this.#state === 'ready' && this.#open < this.options.minPoolSize;
    if (this.#idle.length > 0 || deficit) due = Math.min(due, t + this.#interval());
    this.#armMaintenance(due);
  };

  #interval(): number {
    return this.options.maintenanceIntervalMS;
  }

  /** Makes sure a run happens no later than `dueAt` (performance.now() time). */
  #armMaintenance(dueAt: number): void {
    if (this.options.maintenanceIntervalMS < 0 || this.#state === 'closed' || dueAt === Infinity) return;
    if (dueAt >= this.#maintenanceDueAt) return; // an earlier run is already scheduled
    if (this.#maintenanceTimer !== undefined) clearTimeout(this.#maintenanceTimer);
    this.#maintenanceDueAt = dueAt;
    // +1: timers may fire up to a millisecond early relative to performance.now().
    this.#maintenanceTimer = setTimeout(this.#runMaintenance, Math.max(0, Math.ceil(dueAt - now())) + 1);
    this.#maintenanceTimer.unref();
  }

  #stopMaintenance(): void {
    if (this.#maintenanceTimer !== undefined) clearTimeout(this.#maintenanceTimer);
    this.#maintenanceTimer = undefined;
    this.#maintenanceDueAt = Infinity;
  }

  /** Dials in flight of `identity` whose connection nobody is waiting for (at most maxConnecting of them). */
  #unclaimedDials(identity: number): number {
    let count = 0;
    for (const entry of this.#dialing) {
      if (entry.identity === identity && (entry.requester === undefined || entry.requester.settled)) count++;
    }
    return count;
  }

  /**
   * CMAP "Populating the Pool": only while ready, paced by maxConnecting,
   * never queueing for a permit (a checkout's need comes first; the next
   * maintenance run retries).
   */
  #populate(): void {
    const min = this.options.minPoolSize;
    if (min === 0 || this.#populationHeld) return;
    while (this.#state === 'ready' && this.#open < min && this.#takeDialSlot() === 'granted') this.#startDial(undefined);
    if (this.#state === 'ready' && this.#open < min && this.#dialing.size === 0) {
      this.#armMaintenance(now() + this.#interval());
    }
  }

  // ---------------------------------------------------------------- helpers

  /** A checkout on a pool that is not ready (CMAP: closed -> PoolClosedError, paused -> PoolClearedError). */
  #refuse(startedAt: number): Error {
    if (this.#state === 'closed') {
      this.#emitCheckOutFailed('poolClosed', startedAt);
      return new PoolClosedError(`Attempted to check out a connection from closed connection pool for ${this.address}`, {
        address: this.address,
      });
    }
    this.#emitCheckOutFailed('connectionError', startedAt);
    return this.#pausedError();
  }

  /** Retryable, and not a network error (CMAP: it "MUST NOT be an error that marks the SDAM state unknown"). */
  #pausedError(dialError?: unknown): PoolClearedError {
    if (this.#cleared === undefined) {
      return new PoolClearedError(`Connection pool for ${this.address} is paused until its server has been checked`, {
        address: this.address,
      });
    }
    const cause = this.#cleared.cause ?? dialError;
    const because =
      cause === undefined ? '' : ` because another operation failed with: ${cause instanceof Error ? cause.message : String(cause)}`;
    return new PoolClearedError(`Connection pool for ${this.address} was cleared${because}`, { address: this.address, cause });
  }

  #emitCheckOutFailed(reason: CheckOutFailedReason, startedAt: number): void {
    if (this.wants('ConnectionCheckOutFailed')) {
      this.emit({ type: 'ConnectionCheckOutFailed', address: this.address, reason, durationMS: now() - startedAt });
    }
  }

  #emitCheckedIn(entry: Entry<C>): void {
    if (this.wants('ConnectionCheckedIn')) {
      this.emit({ type: 'ConnectionCheckedIn', address: this.address, connectionId: entry.id });
    }
  }

  #whenDrained(): Promise<void> {
    if (this.#open === 0) return Promise.resolve();
    if (this.#drain === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#drain = { promise, resolve };
    }
    return this.#drain.promise;
  }
}
