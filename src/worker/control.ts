// The control plane of a worker: a comlink proxy over a second
// MessagePort, for the few calls that are not operations (stats, drain,
// close, ping, setPoolLimit; the calls themselves, WorkerControl, are specified with
// everything else that crosses threads in protocol.ts). Never for operations: a comlink call costs ~50 µs, carries
// errors as bare Errors (codes lost) and, above all, never settles when the
// worker dies. So every call here goes through ControlClient.call(), which
// rejects when the call outlives its timeout or the worker's exit.
import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { MgoError } from '../errors.js';
import { deadline } from '../util/deadline.js';
import type { WorkerControl } from './protocol.js';

type Listener = Parameters<Comlink.Endpoint['addEventListener']>[1];

/** A Node MessagePort as a comlink Endpoint (comlink expects the DOM's addEventListener and event.data). */
export function portEndpoint(port: MessagePort): Comlink.Endpoint {
  const wrapped = new Map<Listener, (data: unknown) => void>();
  return {
    postMessage: (message: unknown, transfer?: unknown[]) => port.postMessage(message, transfer as never),
    addEventListener: (_type: string, listener: Listener) => {
      const onMessage = (data: unknown) => {
        const event = { data } as never;
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      };
      wrapped.set(listener, onMessage);
      port.on('message', onMessage);
    },
    removeEventListener: (_type: string, listener: Listener) => {
      const onMessage = wrapped.get(listener);
      if (onMessage === undefined) return;
      wrapped.delete(listener);
      port.off('message', onMessage);
    },
    start: () => port.start(),
  };
}

/** Exposes `api` on `port` (worker side). */
export function exposeControl(api: WorkerControl, port: MessagePort): void {
  Comlink.expose(api, portEndpoint(port));
}

/** The main thread's side of one worker incarnation's control port. */
export class ControlClient {
  private readonly remote: Comlink.Remote<WorkerControl>;
  private readonly port: MessagePort;
  private lost: MgoError | undefined;
  /** Rejects once the worker is lost; every call races it. */
  private readonly gone: Promise<never>;
  private loseAll!: (error: MgoError) => void;

  constructor(
    port: MessagePort,
    private readonly name: string,
  ) {
    this.port = port;
    this.remote = Comlink.wrap<WorkerControl>(portEndpoint(port));
    // Only a call in progress keeps the process alive (its timer does).
    port.unref();
    this.gone = new Promise<never>((_, reject) => (this.loseAll = reject));
    // Nobody may be calling when the worker is lost.
    this.gone.catch(() => {});
  }

  /**
   * Calls `method` on the worker; rejects after `timeoutMS`, or as soon as
   * the worker is lost (lose()), whichever comes first.
   */
  call<K extends keyof WorkerControl>(
    method: K,
    timeoutMS: number,
    ...args: Parameters<WorkerControl[K]>
  ): Promise<Awaited<ReturnType<WorkerControl[K]>>> {
    if (this.lost) return Promise.reject(this.lost);
    const invoke = this.remote[method] as unknown as (...args: Parameters<WorkerControl[K]>) => Promise<Awaited<ReturnType<WorkerControl[K]>>>;
    const answer = invoke(...args).catch((error: unknown) => {
      throw new MgoError('ERR_PROTOCOL', `${this.name} failed ${method}(): ${error instanceof Error ? error.message : String(error)}`);
    });
    return deadline(Promise.race([answer, this.gone]), timeoutMS, () => new MgoError('ERR_NETWORK_TIMEOUT', `${this.name} did not answer ${method}() within ${timeoutMS} ms`));
  }

  /** The worker is gone: every call in progress and every later one rejects with `error`. */
  lose(error: MgoError): void {
    this.lost ??= error;
    this.loseAll(this.lost);
    this.port.close();
  }
}
