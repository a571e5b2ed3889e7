// A fake ConnectFn for pool tests: no sockets, configurable dial delay and
// failures, and an independent count of "sockets" (dialing or established,
// not yet destroyed) so tests can check the pool's limit from the outside.

import type { ConnectInit, PoolableConnection } from '../../src/pool/index.js';

export class FakeConnection implements PoolableConnection {
  #closed = false;
  destroyReason: Error | undefined = undefined;

  constructor(
    readonly id: number,
    readonly generation: number,
    readonly address: string,
    private readonly onDestroy: () => void,
  ) {}

  get isClosed(): boolean {
    return this.#closed;
  }

  destroy(reason?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.destroyReason = reason;
    this.onDestroy();
  }

  /** Simulates the server or the network killing the socket while idle or in use. */
  fail(): void {
    this.destroy(new Error('simulated network error'));
  }
}

export interface FakeConnectorOptions {
  /** Dial duration in ms (a number or a function of the dial); 0 resolves after a microtask. */
  delayMS?: number | ((init: ConnectInit) => number);
  /** Return an error to make this dial fail (after its delay). */
  failWith?: (init: ConnectInit) => Error | undefined;
  /** Return a promise to hold this dial until it settles (after the delay); for tests that must not race a clock. */
  holdUntil?: (init: ConnectInit) => Promise<void> | undefined;
}

/** A promise with its resolve function, to open a held dial from a test. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

export class FakeConnector {
  /** Dials in progress plus established connections not yet destroyed. */
  open = 0;
  /** The highest `open` ever seen. */
  maxOpen = 0;
  /** Dials in progress, and the most ever in progress at once. */
  dialing = 0;
  maxDialing = 0;
  dials = 0;
  failures = 0;
  readonly connections: FakeConnection[] = [];

  constructor(private readonly options: FakeConnectorOptions = {}) {}

  readonly connect = async (init: ConnectInit): Promise<FakeConnection> => {
    this.dials++;
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    this.dialing++;
    this.maxDialing = Math.max(this.maxDialing, this.dialing);
    try {
      await this.#delay(init);
      const hold = this.options.holdUntil?.(init);
      if (hold !== undefined) await this.#abortable(hold, init.signal);
      const error = this.options.failWith?.(init);
      if (error !== undefined) throw error;
    } catch (error) {
      this.open--;
      this.failures++;
      throw error;
    } finally {
      this.dialing--;
    }
    const conn = new FakeConnection(init.id, init.generation, init.address, () => this.open--);
    this.connections.push(conn);
    return conn;
  };

  #delay(init: ConnectInit): Promise<void> {
    const { delayMS = 0 } = this.options;
    const ms = typeof delayMS === 'function' ? delayMS(init) : delayMS;
    if (ms <= 0) return init.signal.aborted ? Promise.reject(init.signal.reason) : Promise.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const elapsed = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    return this.#abortable(elapsed, init.signal).finally(() => clearTimeout(timer));
  }

  /** Settles with `promise`, or rejects with the signal's reason as soon as it aborts. */
  #abortable(promise: Promise<void>, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }
}
