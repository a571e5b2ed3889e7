// Permit accounting: the one place where the connection limit is enforced.
//
// A permit stands for one socket to the server, from the moment a dial is
// decided until the socket is destroyed. Taking the permit *before* dialing
// is what keeps the limit exact: mgo checked the count, unlocked, then
// dialed, so concurrent dials were never counted and 10k goroutines on a
// limit of 4096 opened up to 4700 sockets (the figure the seed experiment
// is measured against: README, "The benchmark").
//
// The pool talks to a PermitSource, never to a counter, so that the same pool
// code draws its permits from the SharedArrayBuffer coordinator that all
// workers share (src/coordinator/worker-coordinator.ts) in worker mode.
// LocalPermits is the in-thread implementation.

import { InvalidOptionError } from '../errors.js';
import { WaitQueue } from './wait-queue.js';

/** A queued request for a permit. */
export interface PermitRequest {
  /**
   * Leaves the queue. Returns true if the request was still waiting; false if
   * a permit was already granted (the `granted` callback has run or will run,
   * and the permit must then be released by its owner).
   */
  cancel(): boolean;
}

/**
 * Where a pool gets the right to open a connection.
 *
 * Contract (both the local and the shared implementation):
 * - Every successful tryAcquire() or granted request() is matched by exactly
 *   one release(), on every close path, including a failed dial.
 * - Waiters are served first in, first out, and a released permit is handed
 *   directly to the oldest waiter (it is never briefly "free", so a newcomer
 *   calling tryAcquire() cannot overtake a waiter).
 *
 * Waiting uses a callback and a cancel handle rather than a promise and an
 * AbortSignal: a pool queues and cancels a request every time its wait queue
 * fills and drains, and an AbortController abort costs tens of microseconds
 * in Node 20, dwarfing the hand-off it guards.
 */
export interface PermitSource {
  /** Total permits; 0 means unlimited (CMAP: maxPoolSize 0 is "no limit"). */
  readonly limit: number;
  /** Permits currently taken. */
  readonly held: number;
  /** Requests queued. */
  readonly waiting: number;
  /**
   * Takes a permit if one is free and nobody is queued ahead; never waits.
   * Returns false rather than overtaking a queued request.
   */
  tryAcquire(): boolean;
  /**
   * Queues for a permit. `granted` is called once, when a permit has been
   * handed over (the caller then owns it). It may run synchronously: inside
   * request() itself when a permit is free and nobody is queued, or inside
   * another caller's release(); so it must not re-enter pool logic directly.
   */
  request(granted: () => void): PermitRequest;
  /**
   * Returns a permit: handed to the oldest request if there is one, else
   * freed. `answersGiveBack`: it is the permit of a socket closed to answer
   * another worker's give-back request (shared permits only; see
   * src/coordinator/worker-coordinator.ts).
   */
  release(answersGiveBack?: boolean, retired?: boolean): void;
  /**
   * True when one permit should be retired: more sockets are open than the
   * limit allows (it was lowered: Session.setGlobalPoolLimit) beyond those
   * already being retired. The caller then closes one socket and releases
   * its permit with `retired` set: it is dropped, never handed over.
   */
  retire?(): boolean;
  /**
   * Shared permits only: true when the oldest queued request belongs to
   * another worker. A pool then closes a connection being checked in
   * instead of keeping it, so that the permit reaches that worker: without
   * this, a saturated worker serves its own waiters forever and the queue
   * across workers is not FIFO.
   */
  othersWaiting?(): boolean;
}

/** Permits counted in this thread only (single-thread mode, `workers: 0`). */
export class LocalPermits implements PermitSource {
  #limit: number;
  #held = 0;
  /** Permits whose sockets are closing because the limit was lowered (retire()). */
  #retiring = 0;
  readonly #queue = new WaitQueue<() => void>();

  constructor(limit: number) {
    this.#limit = checkLimit(limit);
  }

  get limit(): number {
    return this.#limit;
  }

  /**
   * Changes the limit, live. Raised: the permits it adds go to the queued
   * requests at once, oldest first. Lowered: nothing is granted while
   * `held` >= the new limit; the pool closes sockets down to it (retire()).
   */
  setLimit(limit: number): void {
    this.#limit = checkLimit(limit);
    this.#grantFree();
  }

  get held(): number {
    return this.#held;
  }

  get waiting(): number {
    return this.#queue.size;
  }

  tryAcquire(): boolean {
    // A queued request means no permit is free (release() would have handed
    // it over), and checking the queue first keeps FIFO order strict.
    if (this.#queue.size > 0) return false;
    if (this.#limit > 0 && this.#held >= this.#limit) return false;
    this.#held++;
    return true;
  }

  request(granted: () => void): PermitRequest {
    if (this.tryAcquire()) {
      granted();
      return { cancel: () => false };
    }
    const node = this.#queue.push(granted);
    return { cancel: () => this.#queue.remove(node) };
  }

  release(_answersGiveBack = false, retired = false): void {
    // A double release would silently raise the limit; fail loudly instead.
    if (this.#held <= 0) throw new Error('internal error: permit released more often than acquired');
    if (retired) this.#retiring--;
    // Direct hand-off: the count stays the same, ownership moves; only
    // within the limit (a lowered one may be below `held`).
    const handOver = !retired && (this.#limit === 0 || this.#held <= this.#limit);
    const granted = handOver ? this.#queue.shift() : undefined;
    if (granted !== undefined) {
      granted();
      return;
    }
    this.#held--;
    this.#grantFree();
  }

  retire(): boolean {
    if (this.#limit === 0 || this.#held - this.#retiring <= this.#limit) return false;
    this.#retiring++;
    return true;
  }

  /** Grants the room under the limit to queued requests, oldest first. */
  #grantFree(): void {
    while (this.#queue.size > 0 && (this.#limit === 0 || this.#held < this.#limit)) {
      this.#held++;
      this.#queue.shift()!();
    }
  }
}

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 0) {
    throw new InvalidOptionError('ERR_INVALID_OPTION', `maxPoolSize (the permit limit) must be a non-negative integer, got ${limit}`);
  }
  return limit;
}
