// Records pool events and lets a test wait for the n-th event of a type
// (woken by the events themselves, bounded by a timeout).

import type { PoolEvent, PoolEventMap, PoolEventType } from '../../src/pool/index.js';

export class EventLog {
  readonly events: PoolEvent[] = [];
  #wakeups: (() => void)[] = [];

  /** Pass as the pool's `monitor`. */
  readonly record = (event: PoolEvent): void => {
    this.events.push(event);
    const wakeups = this.#wakeups;
    this.#wakeups = [];
    for (const wake of wakeups) wake();
  };

  of<K extends PoolEventType>(type: K): PoolEventMap[K][] {
    return this.events.filter((e): e is PoolEventMap[K] => e.type === type);
  }

  /** Resolves once `count` events of `type` have been seen since the start; rejects after `timeoutMS`. */
  async waitFor<K extends PoolEventType>(type: K, count: number, timeoutMS: number): Promise<PoolEventMap[K][]> {
    const deadline = performance.now() + timeoutMS;
    while (this.of(type).length < count) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMS} ms waiting for ${count} ${type} events (saw ${this.of(type).length})`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, left);
        this.#wakeups.push(() => {
          clearTimeout(timer);
          wake();
        });
      });
    }
    return this.of(type);
  }
}
