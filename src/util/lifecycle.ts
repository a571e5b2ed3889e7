// Open -> closing -> closed, and the operations in flight, for what runs
// operations and must end cleanly: LocalRouter, WorkerRouter and the
// worker's WorkerRuntime (the role undici's DispatcherBase plays for its
// dispatchers). One class, so that the three cannot drift apart: each kept
// its own state, in-flight set and close promises, with small differences
// (one drained once, one in a loop; one close() returned early to a second
// caller, before the sockets were closed).
//
// close() refuses new operations, waits for those in flight (and for any
// they start while it waits), then runs the owner's own closing; destroy()
// runs the owner's abort at once, even while a close() is draining. Both
// are idempotent: every caller gets the same promise.

export type LifecycleState = 'open' | 'closing' | 'closed';

export class Lifecycle {
  #state: LifecycleState = 'open';
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #closedError: () => Error;
  #closing: Promise<void> | undefined;
  #destroying: Promise<void> | undefined;

  /** `closedError` makes the error an operation started after close() or destroy() fails with. */
  constructor(closedError: () => Error) {
    this.#closedError = closedError;
  }

  get state(): LifecycleState {
    return this.#state;
  }

  get isOpen(): boolean {
    return this.#state === 'open';
  }

  /** The error an operation refused for being late gets. */
  closedError(): Error {
    return this.#closedError();
  }

  /** Starts an operation while open, tracked until it settles; rejects with the closed error otherwise. */
  run<T>(start: () => Promise<T>): Promise<T> {
    if (this.#state !== 'open') return Promise.reject(this.#closedError());
    return this.track(start());
  }

  /** Tracks an operation already started, whatever the state: close() waits for it too. */
  track<T>(operation: Promise<T>): Promise<T> {
    this.#inFlight.add(operation);
    const forget = () => this.#inFlight.delete(operation);
    operation.then(forget, forget);
    return operation;
  }

  /** Resolves once nothing is in flight, operations started meanwhile included. */
  async drained(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Refuses new operations, drains, then runs `finish` (the owner's own closing). */
  close(finish: () => Promise<void>): Promise<void> {
    if (this.#destroying) return this.#destroying;
    this.#closing ??= (async () => {
      if (this.#state === 'open') this.#state = 'closing';
      await this.drained();
      await finish();
      this.#state = 'closed';
    })();
    return this.#closing;
  }

  /** Refuses new operations and runs `abort` now; nothing once a close() has finished. */
  destroy(abort: () => Promise<void>): Promise<void> {
    if (this.#destroying) return this.#destroying;
    if (this.#state === 'closed') return this.#closing ?? Promise.resolve();
    this.#state = 'closed';
    this.#destroying = abort();
    return this.#destroying;
  }
}
