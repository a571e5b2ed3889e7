// On behalf of a pool's wait queue: at most one request queued at a
// PermitSource (permits, or dial slots), and a grant it received that no
// dial has spent yet. One request is enough: whatever it is granted runs
// the wait queue, which queues another if waiters still need one.
import type { PermitRequest, PermitSource } from './permits.js';

export class SourceWatch {
  #current: object | undefined = undefined;
  #ticket: PermitRequest | undefined = undefined;
  #spare = false;
  /** A grant became spare: run the wait queue (deferred; grants may arrive inside request() or release()). */
  readonly #onGranted: () => void;
  /** The pool no longer takes grants (closed): a late one goes straight back. */
  readonly #refusing: () => boolean;

  constructor(
    readonly source: PermitSource,
    onGranted: () => void,
    refusing: () => boolean,
  ) {
    this.#onGranted = onGranted;
    this.#refusing = refusing;
  }

  /** Takes the spare grant, or one straight from the source if it has one free. */
  take(): boolean {
    if (this.#spare) {
      this.#spare = false;
      return true;
    }
    return this.source.tryAcquire();
  }

  /** Queues one request, unless one is queued already. */
  watch(): void {
    if (this.#current !== undefined) return;
    const token = {};
    this.#current = token;
    const ticket = this.source.request(() => {
      if (this.#current === token) {
        this.#current = undefined;
        this.#ticket = undefined;
      }
      if (this.#spare || this.#refusing()) {
        this.source.release();
        return;
      }
      // Ours even if the watch was dropped meanwhile (a shared source may
      // grant while we cancel): the wait queue spends it or returns it.
      this.#spare = true;
      this.#onGranted();
    });
    // Granted synchronously inside request(): nothing left to cancel.
    if (this.#current === token) this.#ticket = ticket;
  }

  /** Gives back a grant nobody spent. */
  returnSpare(): void {
    if (this.#spare) {
      this.#spare = false;
      this.source.release();
    }
  }

  /** Leaves the source's queue and gives back a grant nobody spent. */
  drop(): void {
    if (this.#current !== undefined) {
      this.#current = undefined;
      this.#ticket?.cancel();
      this.#ticket = undefined;
    }
    this.returnSpare();
  }
}
