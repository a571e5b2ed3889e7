// Operations on one server slot of the coordinator buffer (layout.ts), for
// both sides: workers take, queue for and return permits; the main
// thread reclaims a dead worker's. Methods marked "under lock" must run
// between lock() and unlock() of the same slot.
import {
  GATED,
  GENERATION,
  GIVE_BACK,
  IN_USE,
  LIMIT,
  LOCK,
  OPEN,
  RING_HEAD,
  RING_LEN,
  SOCKETS,
  SOCKETS_MAX,
  SOCKETS_OPENED,
  gatedOfIndex,
  grantsIndex,
  inUseOfIndex,
  leaseIndex,
  notifyIndex,
  retiringIndex,
  ringIndex,
  slotBase,
  socketsOfIndex,
  type Layout,
} from './layout.js';
import type { SocketCounts } from '../connection/socket-tally.js';

/** ~1 s of compare-and-swap attempts: far beyond any critical section, short of a hang. */
const MAX_SPINS = 1 << 26;

export class SlotView {
  readonly base: number;

  constructor(
    readonly ints: Int32Array,
    readonly layout: Layout,
    readonly slot: number,
  ) {
    this.base = slotBase(layout, slot);
  }

  lock(owner: number): void {
    const index = this.base + LOCK;
    let spins = 0;
    while (Atomics.compareExchange(this.ints, index, 0, owner + 1) !== 0) {
      if (++spins > MAX_SPINS) {
        throw new Error(`coordinator slot ${this.slot} stayed locked by ${Atomics.load(this.ints, index) - 1} for about a second`);
      }
    }
  }

  unlock(owner: number): void {
    // Only the owner releases; a mismatch means a reclaim took the lock over.
    Atomics.compareExchange(this.ints, this.base + LOCK, owner + 1, 0);
  }

  /** Owner id of the lock, or -1 when free. */
  lockOwner(): number {
    return Atomics.load(this.ints, this.base + LOCK) - 1;
  }

  /** Takes the lock whoever holds it: only for reclaiming a dead owner's slot. */
  seizeLock(owner: number): void {
    Atomics.store(this.ints, this.base + LOCK, owner + 1);
  }

  get(field: number): number {
    return Atomics.load(this.ints, this.base + field);
  }

  set(field: number, value: number): void {
    Atomics.store(this.ints, this.base + field, value);
  }

  lease(worker: number): number {
    return Atomics.load(this.ints, leaseIndex(this.layout, this.base, worker));
  }

  grants(worker: number): number {
    return Atomics.load(this.ints, grantsIndex(this.layout, this.base, worker));
  }

  /** Permits no worker holds (read without the lock: a momentary answer, for placement only). */
  unused(): number {
    return this.get(LIMIT) - this.get(OPEN);
  }

  /** Under lock: a permit is free for a newcomer (nobody queued ahead, room under the limit). */
  hasFreePermit(): boolean {
    return this.get(RING_LEN) === 0 && this.get(OPEN) < this.get(LIMIT);
  }

  /**
   * Under lock: one of `worker`'s permits is to be retired (its socket
   * closed, the permit dropped) if the sockets not already retiring exceed
   * the limit, which setGlobalPoolLimit() lowered. Counting those already
   * retiring, in every worker, is what closes exactly OPEN - LIMIT of them,
   * although each permit stays in OPEN until its socket's 'close' event.
   */
  retire(worker: number): boolean {
    let retiring = 0;
    for (let w = 0; w < this.layout.maxWorkers; w++) retiring += Atomics.load(this.ints, retiringIndex(this.layout, this.base, w));
    if (this.get(OPEN) - retiring <= this.get(LIMIT)) return false;
    Atomics.add(this.ints, retiringIndex(this.layout, this.base, worker), 1);
    return true;
  }

  /** Under lock: a retired permit of `worker` is being released. */
  retired(worker: number): void {
    Atomics.sub(this.ints, retiringIndex(this.layout, this.base, worker), 1);
  }

  /** Under lock: forgets the retiring permits of a worker that is gone (its lease is dropped whole). */
  resetRetiring(worker: number): void {
    Atomics.store(this.ints, retiringIndex(this.layout, this.base, worker), 0);
  }

  /** Under lock: forgets the grants of a worker that is gone. */
  resetGrants(worker: number): void {
    Atomics.store(this.ints, grantsIndex(this.layout, this.base, worker), 0);
  }

  /** Under lock: `worker` takes a new permit. */
  take(worker: number): void {
    this.set(OPEN, this.get(OPEN) + 1);
    Atomics.add(this.ints, leaseIndex(this.layout, this.base, worker), 1);
  }

  /** Under lock: `worker` gives a permit up; it stops counting against the limit. */
  drop(worker: number): void {
    this.set(OPEN, this.get(OPEN) - 1);
    Atomics.sub(this.ints, leaseIndex(this.layout, this.base, worker), 1);
  }

  /** Under lock: a permit moves from `from` to `to`'s oldest queued request; OPEN is unchanged. */
  handOver(from: number, to: number): void {
    Atomics.sub(this.ints, leaseIndex(this.layout, this.base, from), 1);
    Atomics.add(this.ints, leaseIndex(this.layout, this.base, to), 1);
    Atomics.add(this.ints, grantsIndex(this.layout, this.base, to), 1);
  }

  /** Under lock: grants a new permit (room under the limit) to `to`'s oldest queued request. */
  grantNew(to: number): void {
    this.set(OPEN, this.get(OPEN) + 1);
    Atomics.add(this.ints, leaseIndex(this.layout, this.base, to), 1);
    Atomics.add(this.ints, grantsIndex(this.layout, this.base, to), 1);
  }

  /** Under lock: queues a request of `worker`; false when the ring is full. */
  enqueue(worker: number): boolean {
    const length = this.get(RING_LEN);
    if (length >= this.layout.ringCapacity) return false;
    Atomics.store(this.ints, ringIndex(this.layout, this.base, this.get(RING_HEAD) + length), worker);
    this.set(RING_LEN, length + 1);
    Atomics.add(this.ints, this.base + GIVE_BACK, 1);
    return true;
  }

  /** The worker of the oldest queued request, or -1 (a lock-free, momentary answer). */
  queueHead(): number {
    if (this.get(RING_LEN) === 0) return -1;
    return Atomics.load(this.ints, ringIndex(this.layout, this.base, this.get(RING_HEAD)));
  }

  /** Under lock: removes and returns the worker of the oldest queued request, or -1. */
  dequeue(): number {
    const length = this.get(RING_LEN);
    if (length === 0) return -1;
    const head = this.get(RING_HEAD);
    const worker = Atomics.load(this.ints, ringIndex(this.layout, this.base, head));
    this.set(RING_HEAD, (head + 1) % this.layout.ringCapacity);
    this.set(RING_LEN, length - 1);
    this.takeGiveBackToken();
    return worker;
  }

  /**
   * Under lock: removes the n-th (0-based) queued request of `worker`,
   * keeping the order of the others; false if it has fewer than n + 1.
   */
  removeQueued(worker: number, n: number): boolean {
    return this.removeWhere((w, seen) => w === worker && seen === n) > 0;
  }

  /** Under lock: removes every queued request of `worker`; returns how many. */
  removeAllQueued(worker: number): number {
    return this.removeWhere((w) => w === worker);
  }

  /** Compacts the ring, dropping entries `drop` selects; `seen` counts the entries of that worker before this one. */
  private removeWhere(drop: (worker: number, seen: number) => boolean): number {
    const length = this.get(RING_LEN);
    const head = this.get(RING_HEAD);
    const seenByWorker = new Map<number, number>();
    let kept = 0;
    for (let i = 0; i < length; i++) {
      const worker = Atomics.load(this.ints, ringIndex(this.layout, this.base, head + i));
      const seen = seenByWorker.get(worker) ?? 0;
      seenByWorker.set(worker, seen + 1);
      if (drop(worker, seen)) continue;
      Atomics.store(this.ints, ringIndex(this.layout, this.base, head + kept), worker);
      kept++;
    }
    this.set(RING_LEN, kept);
    for (let i = kept; i < length; i++) this.takeGiveBackToken();
    return length - kept;
  }

  /**
   * Under lock: hands every permit the limit allows to queued requests, in
   * order; returns the workers to notify. Used after the limit rose or a
   * dead worker's permits were reclaimed.
   */
  grantFreePermits(): number[] {
    const notify: number[] = [];
    while (this.get(RING_LEN) > 0 && this.get(OPEN) < this.get(LIMIT)) {
      const worker = this.dequeue();
      this.grantNew(worker);
      notify.push(worker);
    }
    return notify;
  }

  /** Lock-free: the generation is a counter no other field depends on. */
  bumpGeneration(): number {
    return Atomics.add(this.ints, this.base + GENERATION, 1) + 1;
  }

  /**
   * Lock-free: `worker` created a socket. The maximum is raised with a
   * compare-and-swap so that every total some worker reached is seen.
   */
  socketOpened(worker: number): void {
    Atomics.add(this.ints, this.base + SOCKETS_OPENED, 1);
    Atomics.add(this.ints, socketsOfIndex(this.layout, this.base, worker), 1);
    const open = Atomics.add(this.ints, this.base + SOCKETS, 1) + 1;
    const maxIndex = this.base + SOCKETS_MAX;
    for (let max = Atomics.load(this.ints, maxIndex); open > max; max = Atomics.load(this.ints, maxIndex)) {
      if (Atomics.compareExchange(this.ints, maxIndex, max, open) === max) break;
    }
  }

  /** Lock-free: one of `worker`'s sockets ran its 'close' event. */
  socketClosed(worker: number): void {
    Atomics.sub(this.ints, socketsOfIndex(this.layout, this.base, worker), 1);
    Atomics.sub(this.ints, this.base + SOCKETS, 1);
  }

  /** A dead worker's sockets closed with its thread: they leave the count. Returns how many. */
  dropSocketsOf(worker: number): number {
    const sockets = Atomics.exchange(this.ints, socketsOfIndex(this.layout, this.base, worker), 0);
    Atomics.sub(this.ints, this.base + SOCKETS, sockets);
    return sockets;
  }

  socketCounts(): SocketCounts {
    return { open: this.get(SOCKETS), maxOpen: this.get(SOCKETS_MAX), opened: this.get(SOCKETS_OPENED) };
  }

  /**
   * Lock-free: `worker` counts one more operation in use if fewer than
   * `limit` are (src/pool/in-use-gate.ts). A compare-and-swap on the total,
   * so that two workers cannot both take the last one below the limit.
   */
  takeInUse(worker: number, limit: number): boolean {
    const index = this.base + IN_USE;
    if (limit === Infinity) {
      Atomics.add(this.ints, index, 1);
    } else {
      for (;;) {
        const inUse = Atomics.load(this.ints, index);
        if (inUse >= limit) return false;
        if (Atomics.compareExchange(this.ints, index, inUse, inUse + 1) === inUse) break;
      }
    }
    Atomics.add(this.ints, inUseOfIndex(this.layout, this.base, worker), 1);
    return true;
  }

  /** Lock-free: one of `worker`'s operations in use is done. */
  putInUse(worker: number): void {
    Atomics.sub(this.ints, inUseOfIndex(this.layout, this.base, worker), 1);
    Atomics.sub(this.ints, this.base + IN_USE, 1);
  }

  /** Lock-free: `worker`'s operations waiting at a session limit changed by `delta`. */
  gatedChanged(worker: number, delta: number): void {
    Atomics.add(this.ints, gatedOfIndex(this.layout, this.base, worker), delta);
    Atomics.add(this.ints, this.base + GATED, delta);
  }

  /** Wakes every worker with operations waiting at a session limit (lock-free; `except` serves its own). */
  wakeGated(except: number): void {
    if (Atomics.load(this.ints, this.base + GATED) <= 0) return;
    for (let w = 0; w < this.layout.maxWorkers; w++) {
      if (w !== except && Atomics.load(this.ints, gatedOfIndex(this.layout, this.base, w)) > 0) notifyWorker(this.ints, w);
    }
  }

  /** A dead worker's operations in use and waiting are gone with it (lock-free). */
  dropInUseOf(worker: number): void {
    Atomics.sub(this.ints, this.base + IN_USE, Atomics.exchange(this.ints, inUseOfIndex(this.layout, this.base, worker), 0));
    Atomics.sub(this.ints, this.base + GATED, Atomics.exchange(this.ints, gatedOfIndex(this.layout, this.base, worker), 0));
  }

  /** Claims one give-back token (lock-free); false when none is left. */
  takeGiveBackToken(): boolean {
    const index = this.base + GIVE_BACK;
    for (;;) {
      const tokens = Atomics.load(this.ints, index);
      if (tokens <= 0) return false;
      if (Atomics.compareExchange(this.ints, index, tokens, tokens - 1) === tokens) return true;
    }
  }

  returnGiveBackToken(): void {
    Atomics.add(this.ints, this.base + GIVE_BACK, 1);
  }
}

/** Wakes worker w's Atomics.waitAsync on its notify word. Never blocks. */
export function notifyWorker(ints: Int32Array, worker: number): void {
  const index = notifyIndex(worker);
  Atomics.add(ints, index, 1);
  Atomics.notify(ints, index);
}
