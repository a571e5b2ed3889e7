// One heartbeat per server (SDAM "Monitoring"): a dedicated connection, not
// taken from the pool and not counted against maxPoolSize (as in the official
// drivers), runs `hello` every heartbeatFrequencyMS and reports the reply and
// its round-trip time, or the error. Polling only: FerretDB has no streaming
// hello, and the SDAM spec allows `serverMonitoringMode=poll` everywhere.
//
// The monitor's timer and socket are unref'd: a monitor alone never keeps
// the process alive (a forgotten session must not hang process exit).
import type { Document } from 'bson';
import { Connection } from '../connection/connection.js';
import { MgoError, NetworkError } from '../errors.js';
import type { ServerAddress } from '../uri/resolve.js';
import { socketOptionsFor, type ConnectorOptions } from './connector.js';

/** SDAM: the shortest interval between two checks, whatever requestCheck() asks. */
export const MIN_HEARTBEAT_FREQUENCY_MS = 500;

export type CheckResult =
  | { ok: true; hello: Document; roundTripTimeMS: number }
  | { ok: false; error: MgoError };

export interface MonitorOptions extends Omit<ConnectorOptions, 'socketTimeoutMS'> {
  heartbeatFrequencyMS: number;
}

type MonitorState = 'idle' | 'checking' | 'closed';

export class Monitor {
  private state: MonitorState = 'idle';
  private connection: Connection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastCheckStarted = -Infinity;
  private checkRequested = false;
  /** The last check succeeded: a failure then gets one immediate retry (SDAM "Network error during server check"). */
  private lastCheckOk = false;

  constructor(
    readonly server: ServerAddress,
    private readonly options: MonitorOptions,
    private readonly onCheck: (result: CheckResult) => void,
  ) {}

  start(): void {
    if (this.state === 'closed') return;
    this.schedule(0);
  }

  /** Checks as soon as allowed (no sooner than 500 ms after the last check started). */
  requestCheck(): void {
    if (this.state === 'closed') return;
    if (this.state === 'checking') {
      this.checkRequested = true;
      return;
    }
    const wait = Math.max(0, this.lastCheckStarted + MIN_HEARTBEAT_FREQUENCY_MS - performance.now());
    this.schedule(wait);
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.timer);
    this.connection?.destroy();
    this.connection = undefined;
  }

  private schedule(delayMS: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(), delayMS);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'checking';
    this.checkRequested = false;
    this.lastCheckStarted = performance.now();
    let result = await this.checkOnce();
    if (!result.ok && this.lastCheckOk && this.isRetryable(result.error)) {
      // SDAM: a known server that fails one check with a network error is
      // retried once at once, so that a single dropped socket does not mark
      // it Unknown and clear its pool.
      result = await this.checkOnce();
    }
    // `close()` may have run while awaiting; the union type does not see that.
    if ((this.state as MonitorState) === 'closed') return;
    this.lastCheckOk = result.ok;
    this.state = 'idle';
    this.onCheck(result);
    if (this.checkRequested) this.requestCheck();
    else this.schedule(this.options.heartbeatFrequencyMS);
  }

  private isRetryable(error: MgoError): boolean {
    return error instanceof NetworkError && !error.isTimeout;
  }

  private async checkOnce(): Promise<CheckResult> {
    const started = performance.now();
    try {
      let connection = this.connection;
      if (!connection || connection.isClosed) {
        connection = await Connection.connect({
          // SDAM: the check's socket timeout is connectTimeoutMS.
          ...socketOptionsFor(this.server, { ...this.options, socketTimeoutMS: this.options.connectTimeoutMS }),
          id: 0,
          generation: 0,
        });
        connection.unref();
        if ((this.state as MonitorState) === 'closed') {
          connection.destroy();
          throw new NetworkError('ERR_CONNECTION_CLOSED', `monitor for ${this.server.address} was closed`, { address: this.server.address });
        }
        this.connection = connection;
        // The handshake is the first check (SDAM: its RTT counts).
        return { ok: true, hello: connection.hello.reply, roundTripTimeMS: performance.now() - started };
      }
      // Client metadata goes with the handshake only (Handshake spec).
      const hello = await connection.command('admin', { [connection.hello.helloOk ? 'hello' : 'isMaster']: 1 });
      return { ok: true, hello, roundTripTimeMS: performance.now() - started };
    } catch (err) {
      this.connection?.destroy();
      this.connection = undefined;
      const error = err instanceof MgoError ? err : new NetworkError('ERR_NETWORK', `check of ${this.server.address} failed: ${String(err)}`, { address: this.server.address });
      return { ok: false, error };
    }
  }
}
