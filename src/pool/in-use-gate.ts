// Session.setPoolLimit(n), mgo's per-session limit (globalsign/mgo
// session.go SetPoolLimit, server.go AcquireSocket): an operation of a
// session with limit n waits while n or more sockets of that server are in
// use, whoever uses them; sessions without a limit never wait here, and the
// pool's own limit (maxPoolSize) still applies after the gate.
//
// What is counted: operations that hold a socket of the server or are
// getting one (from the router's checkout to its check-in, a reservation
// from reserve() to release()), in every worker. Counted at the router
// rather than in the pool: one atomic add and one subtract per operation,
// and no new state in the pool's wait queue, where a waiter held back by a
// session limit would block the FIFO queue of everyone else. Counting the
// pool's waiters too changes nothing that matters: there are waiters only
// when every permit is taken, so both counts are then >= maxPoolSize, and a
// session limit at or above maxPoolSize is not gated at all (it would only
// move the wait from the pool's FIFO queue to here).
//
// Exactness: a limited operation is admitted with a compare-and-swap that
// takes one only while fewer than its limit are counted, so that no two
// operations, in any worker, can both take the last one. A waiter first
// says that it waits (waitingChanged), then tries again: whoever leaves
// after that sees it and wakes it, and whoever left before made room the
// retry finds, so no wake-up is lost.
import { PoolTimeoutError } from '../errors.js';
import { WaitQueue, type WaitQueueNode } from './wait-queue.js';

/**
 * Whether an operation of a session with its own limit `poolLimit` waits at
 * the gate: only below the connection limit (maxPoolSize), which still
 * applies after the gate; a limit at or above it would only move the wait
 * from the pool's FIFO queue to here. Undefined or 0: no limit of its own.
 */
export function gatedBySessionLimit(poolLimit: number | undefined, connectionLimit: number): poolLimit is number {
  return poolLimit !== undefined && poolLimit > 0 && poolLimit < connectionLimit;
}

interface Admission {
  limit: number;
  admitted: () => void;
  failed: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  node: WaitQueueNode<Admission> | undefined;
}

export abstract class InUseGate {
  readonly #waiters = new WaitQueue<Admission>();

  constructor(readonly address: string) {}

  /** Operations counted now (all workers for the shared gate). */
  abstract get inUse(): number;

  /** Operations of this thread waiting at their session's limit. */
  get waiting(): number {
    return this.#waiters.size;
  }
  /** Counts one if fewer than `limit` are counted (Infinity: always); atomically. */
  protected abstract tryTake(limit: number): boolean;
  /** Uncounts one. */
  protected abstract put(): void;
  /** This thread's waiters changed by `delta` (the shared gate publishes them, so that other workers wake it). */
  protected abstract waitingChanged(delta: number): void;
  /** Someone left: wakes the waiters that may now go in (the shared gate: in every worker that has some). */
  protected abstract wakeWaiters(): void;

  /** Counts an operation of a session without a limit of its own: never waits. */
  enter(): void {
    this.tryTake(Infinity);
  }

  /**
   * Counts an operation of a session whose limit is `limit`: at once
   * (undefined) if fewer than `limit` are counted and nobody here waits
   * ahead, else a promise that resolves once it is counted, or rejects with
   * PoolTimeoutError after `timeoutMS` (0: no timeout), the error a wait for
   * the pool's sockets ends with.
   */
  admit(limit: number, timeoutMS: number): Promise<void> | undefined {
    if (this.#waiters.size === 0 && this.tryTake(limit)) return undefined;
    return new Promise<void>((resolve, reject) => {
      const startedAt = performance.now();
      const admission: Admission = { limit, admitted: resolve, failed: reject, timer: undefined, node: undefined };
      const node = this.#waiters.push(admission);
      admission.node = node;
      this.waitingChanged(1);
      if (timeoutMS > 0) {
        admission.timer = setTimeout(() => {
          if (!this.#waiters.remove(node)) return;
          this.waitingChanged(-1);
          const waited = Math.round(performance.now() - startedAt);
          reject(
            new PoolTimeoutError(
              `Timed out while checking out a connection from connection pool for ${this.address} after ${waited} ms ` +
                `(the session's pool limit ${limit}: ${this.inUse} sockets of the server in use)`,
              { address: this.address },
            ),
          );
        }, timeoutMS);
      }
      // Said it waits; now try again (see the header: no lost wake-up).
      this.service();
    });
  }

  /** Uncounts an operation (its socket was checked in, or its checkout failed). */
  leave(): void {
    this.put();
    this.wakeWaiters();
  }

  /** Fails every waiter with `error` (the router was destroyed: no socket will come). */
  failAll(error: Error): void {
    for (const admission of this.#waiters.drain()) {
      clearTimeout(admission.timer);
      this.waitingChanged(-1);
      admission.failed(error);
    }
  }

  /** Admits the waiters that fit now, oldest first; one whose limit is reached does not hold up another's. */
  service(): void {
    if (this.#waiters.size === 0) return;
    // A copy: admitting unlinks (waiters are few: sessions with a limit, at that limit).
    for (const admission of [...this.#waiters]) {
      if (this.tryTake(admission.limit)) this.#admitted(admission);
    }
  }

  /**
   * The connection limit became `maxPoolSize` (setGlobalPoolLimit): a
   * waiter whose session limit is at or above it is admitted now, since it
   * would not be gated if it came now (LocalRouter.admit: the pool's queue
   * is then its only wait). Left here, it would wait behind its session's
   * later operations, which go straight to the pool and, counted in use
   * while they wait there, can keep the count at its limit for good.
   */
  ungate(maxPoolSize: number): void {
    for (const admission of [...this.#waiters]) {
      if (admission.limit < maxPoolSize) continue;
      this.tryTake(Infinity);
      this.#admitted(admission);
    }
  }

  #admitted(admission: Admission): void {
    this.#waiters.remove(admission.node!);
    clearTimeout(admission.timer);
    this.waitingChanged(-1);
    admission.admitted();
  }
}

/** The gate of one server with workers: 0 (every operation runs in this thread). */
export class LocalInUseGate extends InUseGate {
  #inUse = 0;

  get inUse(): number {
    return this.#inUse;
  }

  protected tryTake(limit: number): boolean {
    if (this.#inUse >= limit) return false;
    this.#inUse++;
    return true;
  }

  protected put(): void {
    this.#inUse--;
  }

  protected waitingChanged(): void {}

  protected wakeWaiters(): void {
    this.service();
  }
}
