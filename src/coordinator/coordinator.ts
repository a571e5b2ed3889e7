// The main thread's side of the coordinator: it creates the shared buffer,
// assigns a slot to each server, reclaims the permits of a worker that
// died, and shows the placement (src/worker/placement.ts) which worker
// holds how many sockets. It never waits on the buffer (no Atomics.wait on
// the main thread): it only takes a slot lock for the few instructions of a
// reclaim, and reads what placement needs without one.
import { InvalidOptionError } from '../errors.js';
import { GATED, GENERATION, IN_USE, LIMIT, OPEN, RING_LEN, bufferBytes, layoutOf, writeHeader, type Layout } from './layout.js';

export { dialSlotKey } from './layout.js';
import { SlotView, notifyWorker } from './slot.js';
import type { SocketCounts } from '../connection/socket-tally.js';

export interface CoordinatorOptions {
  /** Workers that will share the buffer (ids 0..maxWorkers-1). */
  maxWorkers: number;
  /** Servers the process may talk to over its lifetime (a replica set plus room to grow). */
  maxServers?: number;
}

export interface SlotSnapshot {
  address: string;
  limit: number;
  open: number;
  waiting: number;
  generation: number;
  leases: number[];
  /** Operations holding or getting a socket, all workers (session pool limits: src/pool/in-use-gate.ts). */
  inUse: number;
  /** Operations waiting at their session's pool limit, all workers. */
  gated: number;
}

const DEFAULT_MAX_SERVERS = 64;

/**
 * What placement reads of one server's slot, without the lock: momentary
 * answers (each field is written atomically), good for choosing a worker,
 * never for taking a permit.
 */
export interface ServerCapacity {
  /** Permits worker `worker` holds: its sockets to the server, open or dialing. */
  lease(worker: number): number;
  /** Permits no worker holds: the limit minus every worker's sockets. */
  unused(): number;
  /** The worker of the oldest request queued for a permit, or -1 when none is. */
  queueHead(): number;
}


export class Coordinator {
  readonly buffer: SharedArrayBuffer;
  private readonly ints: Int32Array;
  private readonly layout: Layout;
  private readonly slots = new Map<string, number>();
  /** One view per slot for capacity(), asked for at every placement. */
  private readonly capacities = new Map<number, SlotView>();
  /** Lock owner id of the main thread: one past the last worker id. */
  private readonly owner: number;

  private constructor(layout: Layout) {
    this.layout = layout;
    this.buffer = new SharedArrayBuffer(bufferBytes(layout));
    this.ints = new Int32Array(this.buffer);
    this.owner = layout.maxWorkers;
    writeHeader(this.ints, layout);
  }

  static create(options: CoordinatorOptions): Coordinator {
    const { maxWorkers } = options;
    const maxServers = options.maxServers ?? DEFAULT_MAX_SERVERS;
    if (!Number.isInteger(maxWorkers) || maxWorkers < 1 || maxWorkers > 1024) {
      throw new InvalidOptionError('ERR_INVALID_OPTION', `workers must be an integer from 1 to 1024, got ${maxWorkers}`);
    }
    // A pool keeps at most one permit request queued at a time (its "permit
    // watch"); room for several per worker covers a pool being replaced.
    // Each server takes two slots: its connections and its dial slots.
    return new Coordinator(layoutOf(maxWorkers, maxServers * 2, maxWorkers * 8));
  }

  /** The slot of a server, assigned on first use with its limit (main thread only). */
  slotFor(address: string, limit: number): number {
    let slot = this.slots.get(address);
    if (slot === undefined) {
      slot = this.slots.size;
      if (slot >= this.layout.maxServers) {
        throw new InvalidOptionError('ERR_INVALID_OPTION', `the coordinator has room for ${this.layout.maxServers} servers; ${address} is one more`);
      }
      this.slots.set(address, slot);
    }
    this.setLimitOf(slot, limit);
    return slot;
  }

  /**
   * Sets a server's connection limit, live (Session.setGlobalPoolLimit):
   * raised, the permits it adds go to the queued requests at once, oldest
   * first; lowered, no permit is granted while OPEN >= the new limit, and
   * the workers close sockets down to it (SharedPermits.shrink, at their
   * router's request). False for a server without a slot yet (it gets the
   * router's current limit when it gets one).
   */
  setLimit(address: string, limit: number): boolean {
    const slot = this.slots.get(address);
    if (slot === undefined) return false;
    this.setLimitOf(slot, limit);
    return true;
  }

  private setLimitOf(slot: number, limit: number): void {
    const view = this.view(slot);
    view.lock(this.owner);
    view.set(LIMIT, limit);
    const notify = view.grantFreePermits();
    view.unlock(this.owner);
    for (const worker of notify) notifyWorker(this.ints, worker);
  }

  /** The placement's view of a server's slot; undefined for a server without one yet. */
  capacity(address: string): ServerCapacity | undefined {
    const slot = this.slots.get(address);
    if (slot === undefined) return undefined;
    let view = this.capacities.get(slot);
    if (view === undefined) {
      view = this.view(slot);
      this.capacities.set(slot, view);
    }
    return view;
  }

  /** The pool sockets of a server open across all workers, counted at the sockets (layout.ts, SOCKETS). */
  socketCounts(address: string): SocketCounts | undefined {
    const slot = this.slots.get(address);
    return slot === undefined ? undefined : this.view(slot).socketCounts();
  }

  /** Every slot assigned so far, by address. */
  slotMap(): Record<string, number> {
    return Object.fromEntries(this.slots);
  }

  /**
   * A worker died (crash, terminate(), out of memory): its sockets died with
   * it, so the permits it held and its queued requests go. The freed permits
   * go straight to the oldest requests of the other workers. Returns how many
   * permits were reclaimed. The worker's id may then be reused.
   */
  reclaim(worker: number): number {
    let reclaimed = 0;
    for (const slot of this.slots.values()) {
      const view = this.view(slot);
      // A worker killed inside a critical section leaves its lock behind;
      // that worker runs no more code, so taking the lock over is safe.
      if (view.lockOwner() === worker) view.seizeLock(this.owner);
      else view.lock(this.owner);
      const lease = view.lease(worker);
      for (let i = 0; i < lease; i++) view.drop(worker);
      // Its thread's sockets were closed when the thread ended ('exit'
      // comes after the worker's handles are closed), but their 'close'
      // events never ran there.
      view.dropSocketsOf(worker);
      view.removeAllQueued(worker);
      view.resetGrants(worker); // its replacement starts counting from zero
      view.resetRetiring(worker);
      view.dropInUseOf(worker);
      const notify = view.grantFreePermits();
      view.unlock(this.owner);
      for (const w of notify) notifyWorker(this.ints, w);
      view.wakeGated(-1); // its operations in use no longer count against session limits
      reclaimed += lease;
    }
    return reclaimed;
  }

  snapshot(): SlotSnapshot[] {
    return [...this.slots].map(([address, slot]) => {
      const view = this.view(slot);
      return {
        address,
        limit: view.get(LIMIT),
        open: view.get(OPEN),
        waiting: view.get(RING_LEN),
        generation: view.get(GENERATION),
        leases: Array.from({ length: this.layout.maxWorkers }, (_, w) => view.lease(w)),
        inUse: view.get(IN_USE),
        gated: view.get(GATED),
      };
    });
  }

  private view(slot: number): SlotView {
    return new SlotView(this.ints, this.layout, slot);
  }
}
