// A worker's side of the coordinator: the PermitSource its pools draw
// from, so that one limit per server holds across every worker.
//
// How a waiting request learns it got a permit: the worker that releases a
// permit while requests are queued hands it to the oldest one (FIFO across
// all workers, the ring in layout.ts), counts it in GRANTS[owner] and bumps
// the owner's notify word. Each worker keeps one Atomics.waitAsync pending on
// its notify word (never Atomics.wait: it owns sockets, and a blocked event
// loop stalls them); when it resolves, the worker matches the new grants, in
// order, to its own oldest queued requests. A worker's requests for a server
// are granted in the order it queued them, since the ring is FIFO and a
// cancelled request is removed from it, so the n-th grant is always for the
// n-th oldest request still queued here.
//
// Idle give-back: a request that has to queue also wakes the workers holding
// permits for that server; one holding an idle socket closes it (one per
// give-back token) and its permit goes to the head of the queue. Without it
// a worker could wait maxIdleTimeMS while another sits on idle sockets.
//
// A pending Atomics.waitAsync does not keep the event loop alive (it holds no
// handle), so while a request waits here a ref'd timer does.
import type { PermitRequest, PermitSource } from '../pool/permits.js';
import { GIVE_BACK, LIMIT, OPEN, RING_LEN, notifyIndex, readLayout, type Layout } from './layout.js';
import { SlotView, notifyWorker } from './slot.js';
import type { SocketTally } from '../connection/socket-tally.js';
import type { InUseGate } from '../pool/in-use-gate.js';
import { SharedInUseGate } from './shared-in-use-gate.js';

/** Long enough never to fire; it only holds the event loop open. */
const KEEP_ALIVE_MS = 2 ** 30;

interface QueuedRequest {
  granted: () => void;
}

class SharedPermits implements PermitSource {
  private readonly queue: QueuedRequest[] = [];
  /** Grants of GRANTS[worker] already delivered to local requests. */
  private delivered = 0;

  constructor(
    private readonly coordinator: WorkerCoordinator,
    private readonly view: SlotView,
    private readonly giveBack: () => boolean,
  ) {
    // A fresh id starts from zero (reclaim resets it); a long-lived one not.
    this.delivered = view.grants(coordinator.workerId);
  }

  private get worker(): number {
    return this.coordinator.workerId;
  }

  get limit(): number {
    return this.view.get(LIMIT);
  }

  /** Permits this worker holds for the server. */
  get held(): number {
    return this.view.lease(this.worker);
  }

  get waiting(): number {
    return this.queue.length;
  }

  tryAcquire(): boolean {
    // A local request still queued is ahead of this caller.
    if (this.queue.length > 0) return false;
    const { view, worker } = this;
    view.lock(worker);
    const free = view.hasFreePermit();
    if (free) view.take(worker);
    view.unlock(worker);
    return free;
  }

  request(granted: () => void): PermitRequest {
    const { view, worker } = this;
    view.lock(worker);
    if (this.queue.length === 0 && view.hasFreePermit()) {
      view.take(worker);
      view.unlock(worker);
      granted();
      return { cancel: () => false };
    }
    const queued = view.enqueue(worker);
    view.unlock(worker);
    if (!queued) throw new Error(`coordinator queue for slot ${view.slot} is full (${view.layout.ringCapacity} requests)`);
    const entry: QueuedRequest = { granted };
    this.queue.push(entry);
    this.coordinator.waitingChanged(1);
    this.askForGiveBack();
    return { cancel: () => this.cancel(entry) };
  }

  release(answersGiveBack = false, retired = false): void {
    const { view, worker } = this;
    view.lock(worker);
    if (retired) view.retired(worker);
    // A hand-over keeps OPEN as it is: only while OPEN is within the limit
    // (above it, after setGlobalPoolLimit lowered it, the permit is dropped;
    // so is a retired one), else the permit goes and only room under the
    // limit is granted (none, unless a retired permit took OPEN below it).
    const next = !retired && view.get(OPEN) <= view.get(LIMIT) ? view.dequeue() : -1;
    if (next >= 0) view.handOver(worker, next);
    else view.drop(worker);
    // No array on the common path: nobody queued, or a hand-over.
    const granted = next < 0 && view.get(RING_LEN) > 0 ? view.grantFreePermits() : undefined;
    // dequeue() spent a give-back token: the permit of a socket closed for a
    // give-back must not spend a second one for the same waiter
    // (answerGiveBacks() took it when it closed the socket, a turn earlier:
    // the permit is released after the socket's 'close' event).
    if (answersGiveBack && (next >= 0 || (granted !== undefined && granted.length > 0))) view.returnGiveBackToken();
    view.unlock(worker);
    if (next >= 0) this.wakeGranted(next);
    if (granted !== undefined) for (const to of granted) this.wakeGranted(to);
  }

  /** A permit was granted to `to`'s oldest queued request: deliver it here, or wake that worker. */
  private wakeGranted(to: number): void {
    if (to === this.worker) this.deliverGrants();
    else notifyWorker(this.view.ints, to);
  }

  retire(): boolean {
    const { view, worker } = this;
    // Lock-free first: at every check-in, and OPEN within the limit is the rule.
    if (view.get(OPEN) <= view.get(LIMIT)) return false;
    view.lock(worker);
    const retire = view.retire(worker);
    view.unlock(worker);
    return retire;
  }

  /**
   * Read without the lock: a momentary answer is all a check-in needs, and
   * a wrong one only costs one socket kept or one closed early.
   */
  othersWaiting(): boolean {
    const head = this.view.queueHead();
    return head >= 0 && head !== this.worker;
  }

  /** Delivers new grants to local requests, and answers give-back requests. */
  service(): void {
    this.deliverGrants();
    this.answerGiveBacks();
  }

  private cancel(entry: QueuedRequest): boolean {
    const position = this.queue.indexOf(entry);
    if (position < 0) return false; // granted and delivered already
    const { view, worker } = this;
    view.lock(worker);
    // Grants not yet delivered belong to the oldest local requests.
    const undelivered = view.grants(worker) - this.delivered;
    const removed = position >= undelivered && view.removeQueued(worker, position - undelivered);
    view.unlock(worker);
    if (!removed) return false; // granted: `granted` runs at the next delivery
    this.queue.splice(position, 1);
    this.coordinator.waitingChanged(-1);
    return true;
  }

  private deliverGrants(): void {
    const total = this.view.grants(this.worker);
    while (this.delivered < total && this.queue.length > 0) {
      this.delivered++;
      const entry = this.queue.shift()!;
      this.coordinator.waitingChanged(-1);
      entry.granted();
    }
  }

  private answerGiveBacks(): void {
    if (this.queue.length > 0 || this.view.get(GIVE_BACK) <= 0) return;
    while (this.view.takeGiveBackToken()) {
      const gave = this.giveBack();
      if (!gave) {
        this.view.returnGiveBackToken();
        return;
      }
    }
  }

  /** Wakes the other workers holding permits for this server: one may have an idle socket. */
  private askForGiveBack(): void {
    const { view, worker } = this;
    for (let other = 0; other < view.layout.maxWorkers; other++) {
      if (other !== worker && view.lease(other) > 0) notifyWorker(view.ints, other);
    }
  }
}

export class WorkerCoordinator {
  private readonly ints: Int32Array;
  private readonly layout: Layout;
  private readonly permitsBySlot = new Map<number, SharedPermits>();
  private readonly gatesBySlot = new Map<number, SharedInUseGate>();
  private armed = false;
  private closed = false;
  private waitingRequests = 0;
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(
    buffer: SharedArrayBuffer,
    readonly workerId: number,
  ) {
    this.ints = new Int32Array(buffer);
    this.layout = readLayout(this.ints);
    if (!Number.isInteger(workerId) || workerId < 0 || workerId >= this.layout.maxWorkers) {
      throw new RangeError(`worker id ${workerId} is outside 0..${this.layout.maxWorkers - 1}`);
    }
    this.arm();
  }

  /** The socket tally of a server slot: this worker's sockets, counted with every other worker's. */
  sockets(slot: number): SocketTally {
    const view = new SlotView(this.ints, this.layout, slot);
    const worker = this.workerId;
    return {
      opened: () => view.socketOpened(worker),
      closed: () => view.socketClosed(worker),
      counts: () => view.socketCounts(),
    };
  }

  /**
   * The PermitSource for a server slot. `giveBack` closes one idle socket of
   * that server in this worker, returning false if it has none.
   */
  permits(slot: number, giveBack: () => boolean): PermitSource {
    let permits = this.permitsBySlot.get(slot);
    if (!permits) {
      if (!Number.isInteger(slot) || slot < 0 || slot >= this.layout.maxServers) throw new RangeError(`server slot ${slot} is outside 0..${this.layout.maxServers - 1}`);
      permits = new SharedPermits(this, new SlotView(this.ints, this.layout, slot), giveBack);
      this.permitsBySlot.set(slot, permits);
    }
    return permits;
  }

  /** The in-use gate of a server slot (session pool limits), counted with every other worker's. */
  inUse(slot: number, address: string): InUseGate {
    let gate = this.gatesBySlot.get(slot);
    if (!gate) {
      if (!Number.isInteger(slot) || slot < 0 || slot >= this.layout.maxServers) throw new RangeError(`server slot ${slot} is outside 0..${this.layout.maxServers - 1}`);
      gate = new SharedInUseGate(address, new SlotView(this.ints, this.layout, slot), this.workerId);
      this.gatesBySlot.set(slot, gate);
    }
    return gate;
  }

  /**
   * A pool for the slot's server was cleared here (a network error): the
   * server's process-wide generation goes up. The other workers' pools are
   * cleared by the main thread's broadcast; this counter is what a snapshot
   * of the coordinator shows of it.
   */
  bumpGeneration(slot: number): number {
    return new SlotView(this.ints, this.layout, slot).bumpGeneration();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.keepAlive);
    this.keepAlive = undefined;
  }

  /** @internal Local requests queued or delivered; holds the loop open while some wait. */
  waitingChanged(delta: number): void {
    this.waitingRequests += delta;
    if (this.waitingRequests > 0 && this.keepAlive === undefined && !this.closed) {
      this.keepAlive = setTimeout(() => {}, KEEP_ALIVE_MS);
    } else if (this.waitingRequests === 0 && this.keepAlive !== undefined) {
      clearTimeout(this.keepAlive);
      this.keepAlive = undefined;
    }
  }

  private arm(): void {
    if (this.closed || this.armed) return;
    this.armed = true;
    const index = notifyIndex(this.workerId);
    const result = Atomics.waitAsync(this.ints, index, Atomics.load(this.ints, index));
    // Not async: the word changed between the load and the wait; serve now.
    if (result.async) void result.value.then(() => this.wake());
    else queueMicrotask(() => this.wake());
  }

  private wake(): void {
    this.armed = false;
    if (this.closed) return;
    // Re-arm before serving, so a notify sent while serving is not lost.
    this.arm();
    for (const permits of this.permitsBySlot.values()) permits.service();
    for (const gate of this.gatesBySlot.values()) gate.service();
  }
}
