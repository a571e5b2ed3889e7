// The coordinator's SharedArrayBuffer: the one place its layout is defined.
// The main thread creates it; every worker maps the same Int32Array (it is
// handed over in the worker's start task: src/worker/protocol.ts).
//
//   header       HEADER_INTS        version, maxWorkers, maxServers, ringCapacity
//   notify       maxWorkers         one futex word per worker: bumped and
//                                   Atomics.notify'd when that worker has a
//                                   permit granted or is asked to give one back
//   slots        maxServers x slotInts(maxWorkers, ringCapacity); each server
//                takes two: its connections (LIMIT = maxPoolSize, OPEN =
//                sockets established + dialing) and its dial slots (key
//                dialSlotKey(address), LIMIT = maxConnecting, OPEN =
//                handshakes in flight), both with the fields below:
//     LOCK          0 = free, else owner id + 1 (workers 0..N-1, main = N)
//     LIMIT         permits for this slot, all workers together
//     OPEN          permits taken
//     RING_HEAD     index of the oldest queued request in RING
//     RING_LEN      queued requests
//     GENERATION    pool generation, bumped by whichever worker clears its pool
//     GIVE_BACK     queued requests no worker has yet answered by closing an
//                   idle socket ("give-back tokens")
//     SOCKETS       sockets open now, from creation to their 'close' event,
//                   all workers together (src/connection/socket-tally.ts):
//                   what the permits stand for, counted at the sockets
//     SOCKETS_MAX   the most SOCKETS ever was
//     SOCKETS_OPENED sockets ever created
//     IN_USE        operations holding or getting a socket of the server, all
//                   workers together (src/pool/in-use-gate.ts): what a
//                   session's own limit, Session.setPoolLimit(), is checked against
//     GATED         operations waiting at a session's limit, all workers together
//     LEASE[w]      permits worker w holds; reclaimed when w dies
//     GRANTS[w]     permits handed to w's queued requests, ever (monotonic):
//                   w matches them, in order, to its own oldest requests
//     SOCKETS_OF[w] of SOCKETS, those worker w opened; dropped when w dies
//                   (its thread's sockets closed with it)
//     RETIRING[w]   of LEASE[w], permits whose sockets w is closing because
//                   the limit was lowered below OPEN (setGlobalPoolLimit):
//                   they are dropped, never handed over, when released
//     IN_USE_OF[w]  of IN_USE, worker w's; dropped when w dies
//     GATED_OF[w]   of GATED, worker w's: the workers to wake when IN_USE drops
//     RING[c]       FIFO of queued requests across workers, each entry the id
//                   of the requesting worker
//
// Every field of a slot but GIVE_BACK, GENERATION, the socket counts and the
// in-use counts (IN_USE, GATED and theirs per worker, changed lock-free) is
// written only under the slot's LOCK, and read under it by the workers. The
// socket counts are plain atomic counters, written lock-free (they decide
// nothing: they check the permits from the sockets' side). The main thread also
// reads LIMIT, OPEN, LEASE[w] and the ring's head without it, to choose
// where to send work (src/worker/placement.ts): a momentary answer there
// costs at most a request sent to a worker that has to wait, never a permit. The lock is a compare-and-swap spin: its critical
// sections are a few dozen instructions with no I/O and no allocation, and
// Atomics.wait is not an option where sockets live (it would freeze the
// event loop). A worker that dies holding it is detected by the main thread
// (owner id) and the lock is taken over during reclaim.

export const LAYOUT_VERSION = 4;
export const HEADER_INTS = 4;
export const H_VERSION = 0;
export const H_MAX_WORKERS = 1;
export const H_MAX_SERVERS = 2;
export const H_RING_CAPACITY = 3;

export const LOCK = 0;
export const LIMIT = 1;
export const OPEN = 2;
export const RING_HEAD = 3;
export const RING_LEN = 4;
export const GENERATION = 5;
export const GIVE_BACK = 6;
export const SOCKETS = 7;
export const SOCKETS_MAX = 8;
export const SOCKETS_OPENED = 9;
export const IN_USE = 10;
export const GATED = 11;
export const SLOT_FIXED_INTS = 12;

export interface Layout {
  readonly maxWorkers: number;
  readonly maxServers: number;
  readonly ringCapacity: number;
  readonly slotInts: number;
}

export function layoutOf(maxWorkers: number, maxServers: number, ringCapacity: number): Layout {
  return { maxWorkers, maxServers, ringCapacity, slotInts: SLOT_FIXED_INTS + 6 * maxWorkers + ringCapacity };
}

export function bufferBytes(layout: Layout): number {
  return (HEADER_INTS + layout.maxWorkers + layout.maxServers * layout.slotInts) * Int32Array.BYTES_PER_ELEMENT;
}

/** Reads the layout a buffer was created with (in a worker). */
export function readLayout(ints: Int32Array): Layout {
  if (ints[H_VERSION] !== LAYOUT_VERSION) throw new Error(`coordinator buffer has layout version ${ints[H_VERSION]}, expected ${LAYOUT_VERSION}`);
  return layoutOf(ints[H_MAX_WORKERS]!, ints[H_MAX_SERVERS]!, ints[H_RING_CAPACITY]!);
}

export function writeHeader(ints: Int32Array, layout: Layout): void {
  ints[H_MAX_WORKERS] = layout.maxWorkers;
  ints[H_MAX_SERVERS] = layout.maxServers;
  ints[H_RING_CAPACITY] = layout.ringCapacity;
  Atomics.store(ints, H_VERSION, LAYOUT_VERSION);
}

/** Index of worker w's notify word. */
export function notifyIndex(worker: number): number {
  return HEADER_INTS + worker;
}

/** Index of the first int of server slot s. */
export function slotBase(layout: Layout, slot: number): number {
  return HEADER_INTS + layout.maxWorkers + slot * layout.slotInts;
}

export function leaseIndex(layout: Layout, base: number, worker: number): number {
  return base + SLOT_FIXED_INTS + worker;
}

export function grantsIndex(layout: Layout, base: number, worker: number): number {
  return base + SLOT_FIXED_INTS + layout.maxWorkers + worker;
}

export function socketsOfIndex(layout: Layout, base: number, worker: number): number {
  return base + SLOT_FIXED_INTS + 2 * layout.maxWorkers + worker;
}

export function retiringIndex(layout: Layout, base: number, worker: number): number {
  return base + SLOT_FIXED_INTS + 3 * layout.maxWorkers + worker;
}

export function inUseOfIndex(layout: Layout, base: number, worker: number): number {
  return base + SLOT_FIXED_INTS + 4 * layout.maxWorkers + worker;
}

export function gatedOfIndex(layout: Layout, base: number, worker: number): number {
  return base + SLOT_FIXED_INTS + 5 * layout.maxWorkers + worker;
}

export function ringIndex(layout: Layout, base: number, position: number): number {
  return base + SLOT_FIXED_INTS + 6 * layout.maxWorkers + (position % layout.ringCapacity);
}

/**
 * The slot key of a server's dial slots: maxConnecting, shared by every
 * worker like the connection limit, lives in a slot of its own (no socket
 * address contains a space).
 */
export function dialSlotKey(address: string): string {
  return `${address} dial`;
}
