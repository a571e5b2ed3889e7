// One pending checkOut() call.
//
// A request lives in the pool's wait queue while it waits for either an idle
// connection or a dial slot (CMAP "WaitQueue"); it leaves the queue when it
// is served, starts its own dial, times out, is aborted, or is failed by
// clear()/close(). It settles exactly once; `settled` guards against a late
// second outcome (e.g. a dial finishing after its requester aborted).

import type { WaitQueueNode } from './wait-queue.js';

export class CheckOutRequest<C> {
  settled = false;
  /** Present while queued. */
  node: WaitQueueNode<CheckOutRequest<C>> | undefined = undefined;
  /** performance.now() when it entered the queue; 0 if it never queued. */
  enqueuedAt = 0;
  /** When waitQueueTimeoutMS runs out (performance.now() time); Infinity for no limit. */
  deadline = Infinity;
  onAbort: (() => void) | undefined = undefined;

  constructor(
    /** performance.now() at ConnectionCheckOutStarted. */
    readonly startedAt: number,
    /** Only a connection of this identity serves it. */
    readonly identity: number,
    readonly resolve: (conn: C) => void,
    readonly reject: (error: unknown) => void,
    readonly signal: AbortSignal | undefined,
  ) {}
}
