// A queue handled in time-bounded slices, with the event loop free between
// them: how a thread takes a burst of messages (replies, stats, events from
// a worker; requests from the main thread) without starving its timers and
// sockets.
//
// Why slices. A worker answers in batches, and a batch resolves one promise
// per reply: each resolution runs the caller's continuation (its app work)
// in the microtask checkpoint that follows. Settling a whole burst in one
// callback kept a 250 ms timer waiting for 100 s in a large_doc read loop,
// and put the p99 event-loop delay of a busy app at 0.35-1.8 s (README,
// "Also seen", before this queue existed).
//
// What a slice costs. A slice handles items until its own time, plus the
// continuations its items are expected to run, reaches the budget; then it
// schedules the next slice with setImmediate (which runs in the next loop
// iteration, after timers and I/O) and returns. Continuations run after the
// slice returns, so they are measured after the fact: a microtask queued
// at the end of the slice runs after the continuations already queued, and
// the process.nextTick it queues runs only once the microtask queue is
// empty, i.e. after every continuation the slice's resolutions started
// (however many awaits deep). That time, per item, is averaged and counted
// against the next slices' budgets. At least one item is handled per
// slice, so a single item larger than the budget still makes progress.
//
// Order. Items are handled in the order they were pushed; nothing is
// dropped. Memory is the queue itself: one entry per item not yet handled.


/** Default budget of one slice, items and their continuations together. */
export const DEFAULT_SLICE_BUDGET_MS = 2;

/**
 * The per-item continuation estimate rises at once to a larger measurement
 * and decays toward smaller ones with this weight: one heavy burst shrinks
 * the next slice immediately, light ones widen it gradually.
 */
const DECAY_WEIGHT = 0.25;
/** Before anything is measured, assume this much continuation per item (ms): a first slice of at most ~40 items. */
const INITIAL_CONTINUATION_MS = 0.05;
/** Compact the backing array once this many handled slots lead it. */
const COMPACT_AFTER = 4096;

export interface SliceStats {
  /** Slices run so far. */
  slices: number;
  /** Items handled so far. */
  items: number;
  /** The longest slice seen, the continuations it ran included (ms). */
  largestSliceMS: number;
  /** Items waiting now. */
  queued: number;
}

export class FairDrain<T> {
  readonly #handle: (item: T) => void;
  readonly #budgetMS: number;
  readonly #onError: (error: unknown) => void;
  #queue: (T | undefined)[] = [];
  #head = 0;
  #scheduled = false;
  /** Estimated continuation time per item (ms). */
  #continuationMS = INITIAL_CONTINUATION_MS;
  #stats = { slices: 0, items: 0, largestSliceMS: 0 };

  constructor(handle: (item: T) => void, options: { budgetMS?: number; onError?: (error: unknown) => void } = {}) {
    this.#handle = handle;
    this.#budgetMS = options.budgetMS ?? DEFAULT_SLICE_BUDGET_MS;
    this.#onError = options.onError ?? ((error) => process.emitWarning(error instanceof Error ? error : new Error(String(error)), 'MgoThreadsWarning'));
  }

  get size(): number {
    return this.#queue.length - this.#head;
  }

  /** The counts so far; `resetLargest` starts a new window for the longest slice. */
  stats(resetLargest = false): SliceStats {
    const stats = { ...this.#stats, queued: this.size };
    if (resetLargest) this.#stats.largestSliceMS = 0;
    return stats;
  }

  push(item: T): void {
    this.#queue.push(item);
    this.#schedule();
  }

  pushAll(items: readonly T[]): void {
    for (let i = 0; i < items.length; i++) this.#queue.push(items[i]);
    if (items.length > 0) this.#schedule();
  }

  /** Drops everything queued (the consumer is gone); returns what was dropped. */
  clear(): T[] {
    const dropped = this.#queue.slice(this.#head) as T[];
    this.#queue = [];
    this.#head = 0;
    return dropped;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#slice);
  }

  readonly #slice = (): void => {
    this.#scheduled = false;
    const start = performance.now();
    const queue = this.#queue;
    const budget = this.#budgetMS;
    const perItem = this.#continuationMS;
    let handled = 0;
    while (this.#head < queue.length) {
      const item = queue[this.#head] as T;
      queue[this.#head++] = undefined;
      try {
        this.#handle(item);
      } catch (error) {
        this.#onError(error);
      }
      handled++;
      if (performance.now() - start + handled * perItem >= budget) break;
    }
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    this.#stats.slices++;
    this.#stats.items += handled;
    const end = performance.now();
    queueMicrotask(() =>
      process.nextTick(() => {
        const now = performance.now();
        const sample = (now - end) / handled;
        const estimate = this.#continuationMS;
        this.#continuationMS = sample >= estimate ? sample : estimate + DECAY_WEIGHT * (sample - estimate);
        if (now - start > this.#stats.largestSliceMS) this.#stats.largestSliceMS = now - start;
      }),
    );
    if (this.size > 0) this.#schedule();
  };
}
