// Which worker gets an operation that holds no reservation, and when.
//
// Sockets cannot move between threads. Under the one limit per server that
// all workers share (src/coordinator/), a worker that needs a socket while
// the others hold every permit gets one by moving a permit: another worker
// closes a socket ('yielded') and this one dials a new one, a TCP (and TLS,
// and SCRAM) handshake more. An operation can move instead, so before the
// load balance come:
//
// 1. spare: a worker with a socket for the operation's server that nothing
//    sent from here is using or about to use (below).
// 2. queued: at the limit, a worker queued for a permit: a reservation goes
//    there (the next permits go there, and there it keeps its place in the
//    FIFO order of that worker's waiters).
// 3. free: below the limit, the least-loaded worker, which dials.
// 4. full: at the limit with nobody queued, a reservation waits here
//    ("parked"), in arrival order, until a socket is spare somewhere, and
//    then goes there. When a session gives a socket back (released()), the
//    oldest parked reservation goes to that worker right behind the
//    RELEASE: no socket waits, and none moves. Without parking, 10,000
//    sessions at a limit of 100 queue in every worker, and the
//    coordinator's FIFO order across workers moves a permit at about every
//    tenth check-in: 4 workers dialed 990-1,500 sockets where 1 worker
//    dials 100 (bench/seed-experiment.ts).
//
// Parked reservations join a worker queued for a permit only once they
// starve (no socket came their way for STARVING_MS): behind a backlog of
// operations in one worker, every socket that worker checks in goes to its
// own waiters, and none ever becomes spare. A queue that is only a race
// (a worker dialed for a waiter that a socket released meanwhile would
// have served, so another worker finds the limit taken) lasts until a
// check-in hands it a permit, while sockets keep coming free for the parked
// ones; sent all to that worker at the first sight of it, they would queue
// there, and every other worker would hand it its permits one check-in at
// a time (seen: 150 dials instead of 100).
//
// Operations that are not reservations are never parked: each holds its
// socket for one round trip, and a detour through this thread before each
// would leave sockets idle; under a backlog the router's sticky placement
// keeps them in one worker (worker-router.ts leastLoaded()).
//
// Spare sockets. The coordinator knows how many permits each worker holds
// for a server (its sockets, open or dialing: LEASE[w]); this thread knows
// what it sent there: the reservations sessions hold (held) and the
// requests sent for that server and not answered yet (pending). So
//   spare(w) = lease(w) - held(w) - pending(w)
// sockets of w are idle, or will be by the time a request sent now arrives
// (a RELEASE is read before it); a negative spare is that many requests
// waiting there for a socket, which need permits; the permits the limit
// still allows, minus those, are free. This counts what is on its way both
// ways, which an idle count published by the pool cannot: sent a burst,
// it would send every request to the one idle socket it saw. Each term is
// a moment old; the errors are brief (a socket taken before its request is
// answered here counts twice for that long) and it looks again when they
// end: at every answer, at a STATS message (one follows every change of a
// worker's pools: worker-runtime.ts), a DEAD one, a release, a lost worker,
// a slot's limit set, and a topology change.
//
// Only requests with one server to go to are counted: with several
// candidates (secondary reads in a replica set), the worker's own selection
// chooses, and the request may go to a worker with a spare socket of one
// of them. Sockets are counted whatever user they were authenticated as:
// with several (Session.login), a spare socket of another user is closed
// and one dialed for this one in the same worker (Pool's identities), as
// with workers: 0; no permit moves between workers for it.
//
// A parked reservation waits at most waitQueueTimeoutMS, as in a pool's
// queue, and then fails with PoolTimeoutError. Its wait counts in stats()
// (waitCount, waitDurationMS, timeouts) beside the pools' own; it is not in
// the pool's ConnectionCheckedOut.durationMS, which starts when it arrives
// in the worker.
import type { ServerCapacity } from '../coordinator/coordinator.js';
import { PoolTimeoutError } from '../errors.js';
import { WaitQueue } from '../pool/wait-queue.js';

/** What placement needs of the router. */
export interface PlacementHost {
  readonly workerCount: number;
  /** Whether worker `worker` takes requests now. */
  serving(worker: number): boolean;
  /** Requests in flight there. */
  load(worker: number): number;
  /** The coordinator's view of a server; undefined before it has a slot. */
  capacity(address: string): ServerCapacity | undefined;
  /** Reservations of `address` that sessions hold in worker `worker` (not dead). */
  held(address: string, worker: number): number;
}

export type Choice =
  | { kind: 'spare'; worker: number; address: string }
  | { kind: 'queued'; worker: number; address: string }
  | { kind: 'free'; address: string }
  | { kind: 'full' };

/** A reservation waiting here for a socket of `address`. */
export interface ParkedRequest {
  readonly address: string;
  /** Sends it on: to `worker`, or to the least-loaded worker when undefined. */
  send(worker: number | undefined): void;
  fail(error: Error): void;
  /** False once the topology no longer sends it to `address` alone: it is then sent on as it is. */
  stillTargets(): boolean;
}

/** Waits counted here, per server, for stats(). */
export interface ParkedWaits {
  waitCount: number;
  waitDurationMS: number;
  timeouts: number;
}

interface Parked {
  request: ParkedRequest;
  since: number;
  deadline: number;
}

/** Long enough never to fire: it only holds the event loop open while something is parked. */
const KEEP_ALIVE_MS = 2 ** 30;
/**
 * How long parked reservations go without a socket, while a worker queues
 * for a permit, before they join that worker's queue. Far above the gaps
 * between releases under load (about a millisecond at a limit of 100 with
 * 50 ms sessions) and a stalled event loop's pause on a busy machine.
 */
const STARVING_MS = 1_000;

export class Placement {
  /** Requests sent per server and worker, not answered yet. */
  private readonly pending = new Map<string, number[]>();
  private readonly parked = new Map<string, WaitQueue<Parked>>();
  private readonly waits = new Map<string, ParkedWaits>();
  /** When a parked reservation of each server last got a socket (or the first one parked). */
  private readonly lastServed = new Map<string, number>();
  private parkedCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDueAt = Infinity;
  private looking = false;
  private lookAgain = false;

  constructor(
    private readonly host: PlacementHost,
    /** 0: no limit (as in the pools). */
    private readonly waitQueueTimeoutMS: number,
    private readonly starvingMS = STARVING_MS,
  ) {}

  /** Reservations parked now. */
  get parkedRequests(): number {
    return this.parkedCount;
  }

  /** Where an operation that one of `addresses` (the servers that could run it) should go now. */
  choose(addresses: readonly string[]): Choice {
    const { host } = this;
    let best = -1;
    let bestSpare = 0;
    let bestAddress = '';
    for (let worker = 0; worker < host.workerCount; worker++) {
      if (!host.serving(worker)) continue;
      let spare = 0;
      let most = 0;
      let address = '';
      for (const candidate of addresses) {
        const s = this.spare(candidate, worker);
        if (s <= 0) continue;
        spare += s;
        if (s > most) {
          most = s;
          address = candidate;
        }
      }
      if (spare > bestSpare || (spare > 0 && spare === bestSpare && host.load(worker) < host.load(best))) {
        best = worker;
        bestSpare = spare;
        bestAddress = address;
      }
    }
    if (best >= 0) return { kind: 'spare', worker: best, address: bestAddress };
    for (const address of addresses) {
      const head = host.capacity(address)?.queueHead() ?? -1;
      if (head >= 0 && host.serving(head)) return { kind: 'queued', worker: head, address };
    }
    for (const address of addresses) if (this.free(address) > 0) return { kind: 'free', address };
    return { kind: 'full' };
  }

  /** Counts a request sent to `worker` for `address` as pending there, until answered() (once). */
  sent(address: string, worker: number): void {
    this.pendingOf(address)[worker]!++;
  }

  /** A request sent() was answered, or lost. */
  answered(address: string, worker: number): void {
    this.pendingOf(address)[worker]!--;
  }

  /** Whether reservations for `address` are parked (a newcomer parks behind them). */
  hasParked(address: string): boolean {
    return (this.parked.get(address)?.size ?? 0) > 0;
  }

  /** Parks a reservation until a socket of its server is spare, then looks at once. */
  park(request: ParkedRequest): void {
    let queue = this.parked.get(request.address);
    if (queue === undefined) {
      queue = new WaitQueue<Parked>();
      this.parked.set(request.address, queue);
    }
    const since = performance.now();
    const deadline = this.waitQueueTimeoutMS > 0 ? since + this.waitQueueTimeoutMS : Infinity;
    if (queue.size === 0) this.lastServed.set(request.address, since);
    queue.push({ request, since, deadline });
    this.parkedCount++;
    this.armTimer(deadline);
    this.look();
  }

  /**
   * A session gave back its socket of `address` in `worker` (a RELEASE was
   * just posted there): the oldest reservation parked for that server
   * follows it, whatever else looks spare. Sent elsewhere, it would leave
   * that worker with a socket too many if its pool dials for a waiter
   * before the RELEASE arrives, and another worker one too few.
   */
  released(address: string, worker: number): void {
    const queue = this.parked.get(address);
    if (queue !== undefined && queue.size > 0 && this.host.serving(worker)) this.sendOn(queue.shift()!, worker);
    this.look();
  }

  /** Looks at the parked reservations again: sends on each that has a spare socket, a free permit or a queue to join. */
  look(): void {
    if (this.parkedCount === 0) return;
    if (this.looking) {
      this.lookAgain = true;
      return;
    }
    this.looking = true;
    try {
      do {
        this.lookAgain = false;
        for (const [address, queue] of this.parked) this.serve(address, queue);
      } while (this.lookAgain);
    } finally {
      this.looking = false;
    }
  }

  /** The topology changed: reservations parked for a server they would no longer go to are sent on as they are. */
  retarget(): void {
    for (const queue of this.parked.values()) {
      if (queue.size === 0 || queue.peek()!.request.stillTargets()) continue;
      for (const parked of queue.drain()) this.sendOn(parked, undefined);
    }
    this.look();
  }

  /** Fails every parked reservation (the router is destroyed). */
  failAll(error: () => Error): void {
    for (const queue of this.parked.values()) {
      for (const parked of queue.drain()) {
        this.parkedCount--;
        parked.request.fail(error());
      }
    }
    this.settleTimer();
  }

  /** The waits parked reservations of `address` had, for stats(). */
  waitsOf(address: string): ParkedWaits | undefined {
    return this.waits.get(address);
  }

  /** Sockets of worker `worker` for `address` that nothing sent from here uses or is about to (negative: requests waiting for one). */
  spare(address: string, worker: number): number {
    const capacity = this.host.capacity(address);
    if (capacity === undefined) return 0;
    return capacity.lease(worker) - this.host.held(address, worker) - (this.pending.get(address)?.[worker] ?? 0);
  }

  /** Permits the limit allows beyond what every worker holds, minus those the requests waiting in workers need. */
  free(address: string): number {
    const capacity = this.host.capacity(address);
    if (capacity === undefined) return 0;
    let free = capacity.unused();
    for (let worker = 0; worker < this.host.workerCount; worker++) {
      const spare = this.spare(address, worker);
      if (spare < 0) free += spare;
    }
    return free;
  }

  private serve(address: string, queue: WaitQueue<Parked>): void {
    while (queue.size > 0) {
      const choice = this.choose([address]);
      if (choice.kind === 'full') return;
      if (choice.kind === 'queued') {
        if (performance.now() - (this.lastServed.get(address) ?? 0) < this.starvingMS) return;
        // Every one of them: they are older than that worker's next waiters.
        for (const parked of queue.drain()) this.sendOn(parked, choice.worker);
        continue;
      }
      this.sendOn(queue.shift()!, choice.kind === 'spare' ? choice.worker : undefined);
    }
  }

  private sendOn(parked: Parked, worker: number | undefined): void {
    this.parkedCount--;
    this.lastServed.set(parked.request.address, performance.now());
    this.count(parked.request.address, performance.now() - parked.since, false);
    this.settleTimer();
    parked.request.send(worker);
  }

  private count(address: string, waitedMS: number, timedOut: boolean): void {
    let waits = this.waits.get(address);
    if (waits === undefined) {
      waits = { waitCount: 0, waitDurationMS: 0, timeouts: 0 };
      this.waits.set(address, waits);
    }
    waits.waitCount++;
    waits.waitDurationMS += waitedMS;
    if (timedOut) waits.timeouts++;
  }

  private pendingOf(address: string): number[] {
    let counts = this.pending.get(address);
    if (counts === undefined) {
      counts = new Array<number>(this.host.workerCount).fill(0);
      this.pending.set(address, counts);
    }
    return counts;
  }

  // ------------------------------------------------------------ deadlines

  /** One ref'd timer, due at the earliest deadline: a parked request keeps the process alive, as one sent to a worker does. */
  private armTimer(deadline: number): void {
    const dueAt = Math.min(deadline, performance.now() + KEEP_ALIVE_MS);
    if (this.timer !== undefined && this.timerDueAt <= dueAt) return;
    clearTimeout(this.timer);
    this.timerDueAt = dueAt;
    // +1: timers may fire up to a millisecond early relative to performance.now().
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(dueAt - performance.now())) + 1);
  }

  /** Drops the timer once nothing is parked; otherwise it fires and re-arms for the next head. */
  private settleTimer(): void {
    if (this.parkedCount > 0 || this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueAt = Infinity;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerDueAt = Infinity;
    const t = performance.now();
    let next = Infinity;
    for (const [address, queue] of this.parked) {
      // One timeout for all, so arrival order is deadline order.
      for (let head = queue.peek(); head !== undefined && head.deadline <= t; head = queue.peek()) {
        queue.shift();
        this.parkedCount--;
        const waitedMS = t - head.since;
        this.count(address, waitedMS, true);
        head.request.fail(
          new PoolTimeoutError(
            `Timed out while checking out a connection from connection pool for ${address} after ${Math.round(waitedMS)} ms ` +
              `(every connection the limit allows was in use, in all workers; ${queue.size} more waiting for one)`,
            { address },
          ),
        );
      }
      const head = queue.peek();
      if (head !== undefined) next = Math.min(next, head.deadline);
    }
    if (this.parkedCount > 0) this.armTimer(next);
  };
}
