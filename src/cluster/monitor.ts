// The monitor of one server (server monitoring spec): a dedicated
// connection, not taken from the pool and not counted against maxPoolSize
// (as in the official drivers), whose checks it reports with the server's
// round-trip times, or the error.
//
// Two protocols. Polling: a hello every heartbeatFrequencyMS. Streaming,
// when the server's hello carries a topologyVersion (MongoDB 4.4+; FerretDB
// has none, so it is polled) and serverMonitoringMode allows it: one
// awaitable hello with the exhaustAllowed flag, to which the server answers
// at once and then again whenever its state changes or maxAwaitTimeMS
// (= heartbeatFrequencyMS) passes, so that a stepdown is reported as it
// happens rather than up to a heartbeat later. Those replies say nothing
// about the round trip, so while streaming an RttMonitor measures it on a
// second connection (spec, "Measuring RTT"). One Monitor per server per
// process: the cluster's in workers: 0, the TopologyMonitor's on the main
// thread with workers.
//
// The monitor's timers and sockets are unref'd: a monitor alone never keeps
// the process alive (a forgotten session must not hang process exit).
import { Long, type Document } from 'bson';
import { faasName } from '../connection/client-metadata.js';
import { MgoError, NetworkError } from '../errors.js';
import type { ServerMonitoringMode } from '../uri/options.js';
import type { ServerAddress } from '../uri/resolve.js';
import type { ConnectorOptions } from './connector.js';
import { MonitoringConnection } from './monitoring-connection.js';
import { RttMonitor } from './rtt-monitor.js';
import { addRttSample, EMPTY_RTT_STATS, minRoundTripTime, type RttStats } from './rtt.js';
import type { SdamEventOutlet } from './sdam-events.js';
import { parseTopologyVersion, type TopologyVersion } from './server-description.js';
import { checkHello } from '../wire/reply-shape.js';

/** SDAM: the shortest interval between two checks, whatever requestCheck() asks. */
export const MIN_HEARTBEAT_FREQUENCY_MS = 500;

export type CheckResult =
  | {
      ok: true;
      hello: Document;
      /** The server's average round trip time, this check's sample included when it was one (never a streamed reply). */
      roundTripTimeMS: number;
      /** Server monitoring spec, "Measuring RTT": the smallest of the last 10 samples; 0 until there are 2. */
      minRoundTripTimeMS: number;
    }
  | { ok: false; error: MgoError };

export interface MonitorOptions extends Omit<ConnectorOptions, 'socketTimeoutMS'> {
  heartbeatFrequencyMS: number;
  /** Default 'auto': streaming unless the process runs on a FaaS platform (spec, "serverMonitoringMode"). */
  serverMonitoringMode?: ServerMonitoringMode;
}

/**
 * idle: sleeping until the next check; checking: dialing or a polling hello
 * in flight; streaming: an awaitable hello's replies are being read.
 */
type MonitorState = 'idle' | 'checking' | 'streaming' | 'closed';

export class Monitor {
  private state: MonitorState = 'idle';
  private readonly socket: MonitoringConnection;
  private rttMonitor: RttMonitor | undefined;
  private rtt: RttStats = EMPTY_RTT_STATS;
  private timer: NodeJS.Timeout | undefined;
  private lastCheckStarted = -Infinity;
  private checkRequested = false;
  /** The last check succeeded: a failure then gets one immediate retry (SDAM "Network error during server check"). */
  private lastCheckOk = false;
  /** From the last successful check: the server streams (awaitable hello) when it reports one. */
  private topologyVersion: TopologyVersion | null = null;
  /** cancelCheck() closed the connection: what that does to the check in flight is not a check failure. */
  private cancelled = false;
  private readonly streamingAllowed: boolean;
  /** When the heartbeat whose ServerHeartbeatStarted went out began (performance.now()); undefined when none is open. */
  private heartbeatStarted: number | undefined;

  /** `events`: where the heartbeat events go (the process's monitor only; none when left out). */
  constructor(
    readonly server: ServerAddress,
    private readonly options: MonitorOptions,
    private readonly onCheck: (result: CheckResult) => void,
    private readonly events?: SdamEventOutlet,
  ) {
    this.socket = new MonitoringConnection(server, options);
    const mode = options.serverMonitoringMode ?? 'auto';
    this.streamingAllowed = mode === 'stream' || (mode === 'auto' && faasName() === undefined);
  }

  start(): void {
    if (this.state === 'closed') return;
    this.schedule(0);
  }

  /** True while the server's replies stream in (awaitable hello), with an RTT monitor beside. */
  get streaming(): boolean {
    return this.state === 'streaming';
  }

  /** Sockets this monitor holds or is dialing: 1 when polling, 2 when streaming (its RTT monitor's), 0 closed or between tries. */
  get connections(): number {
    return this.socket.count + (this.rttMonitor?.connections ?? 0);
  }

  /**
   * Checks as soon as allowed (no sooner than 500 ms after the last check
   * started). Ignored while streaming: the stream reports every change as
   * the server sees it (spec, "Requesting an immediate check": a check in
   * progress ignores the request).
   */
  requestCheck(): void {
    if (this.state === 'closed' || this.state === 'streaming') return;
    if (this.state === 'checking') {
      this.checkRequested = true;
      return;
    }
    const wait = Math.max(0, this.lastCheckStarted + MIN_HEARTBEAT_FREQUENCY_MS - performance.now());
    this.schedule(wait);
  }

  /**
   * An application connection failed with a network error (SDAM "Network
   * error when reading or writing"; spec, "hello Cancellation"): the check
   * in flight is abandoned and the monitoring connection closed; the next
   * check comes after heartbeatFrequencyMS, or sooner when one is requested.
   * Nothing is reported: the server was marked Unknown by whoever cancels.
   */
  cancelCheck(): void {
    if (this.state === 'closed') return;
    this.lastCheckOk = false;
    this.stopRttMonitor();
    if (this.socket.count === 0) return;
    if (this.state !== 'idle') this.cancelled = true;
    this.socket.destroy();
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.timer);
    this.stopRttMonitor();
    this.socket.destroy();
  }

  private schedule(delayMS: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(), delayMS);
    this.timer.unref();
  }

  private stopRttMonitor(): void {
    this.rttMonitor?.close();
    this.rttMonitor = undefined;
  }

  /** A check: dial (the handshake is the check) or poll, then stream if the server can. `failure` ended a stream. */
  private async check(failure?: MgoError): Promise<void> {
    if (this.state !== 'idle') return;
    clearTimeout(this.timer);
    this.state = 'checking';
    this.checkRequested = false;
    this.cancelled = false;
    this.lastCheckStarted = performance.now();
    let result: CheckResult | undefined = failure && { ok: false, error: failure };
    // SDAM: a known server that fails one check with a network error is
    // retried once at once, so that a single dropped socket does not mark
    // it Unknown and clear its pool.
    if (result === undefined || (this.lastCheckOk && this.isRetryable(failure!))) result = await this.checkOnce();
    if (!result.ok && this.lastCheckOk && this.isRetryable(result.error) && !failure) result = await this.checkOnce();
    // `close()` may have run while awaiting; the union type does not see that.
    if ((this.state as MonitorState) === 'closed') return;
    if (this.cancelled) return this.rest(this.options.heartbeatFrequencyMS);
    this.report(result);
    if (result.ok && this.canStream()) return void this.stream();
    if (result.ok) this.stopRttMonitor(); // polled: no RTT connection (spec, "Streaming disabled")
    if (this.checkRequested) {
      this.state = 'idle';
      this.requestCheck();
    } else {
      this.rest(this.options.heartbeatFrequencyMS);
    }
  }

  private rest(delayMS: number): void {
    this.state = 'idle';
    this.schedule(delayMS);
  }

  private canStream(): boolean {
    return this.streamingAllowed && this.topologyVersion !== null && this.socket.open !== undefined;
  }

  private report(result: CheckResult): void {
    this.lastCheckOk = result.ok;
    if (result.ok) {
      this.topologyVersion = parseTopologyVersion(result.hello.topologyVersion);
    } else {
      this.topologyVersion = null;
      this.rtt = EMPTY_RTT_STATS; // spec: the monitor resets the RTT statistics after a failed check
    }
    this.onCheck(result);
  }

  private isRetryable(error: MgoError): boolean {
    return error instanceof NetworkError && !error.isTimeout;
  }

  private sample(roundTripTimeMS: number): void {
    this.rtt = addRttSample(this.rtt, roundTripTimeMS);
  }

  private succeeded(hello: Document): CheckResult {
    return { ok: true, hello, roundTripTimeMS: this.rtt.average ?? 0, minRoundTripTimeMS: minRoundTripTime(this.rtt) };
  }

  /** One dial or one polling hello; its duration is an RTT sample. */
  private async checkOnce(): Promise<CheckResult> {
    const started = performance.now();
    // Spec, "ServerHeartbeatStartedEvent": just before the socket is opened, or the hello written.
    this.heartbeatStart(started, false);
    try {
      let connection = this.socket.open;
      if (connection === undefined) {
        connection = await this.socket.dial();
        if ((this.state as MonitorState) === 'closed' || this.cancelled) {
          throw new NetworkError('ERR_CONNECTION_CLOSED', `monitor for ${this.server.address} was closed`, { address: this.server.address });
        }
        // The handshake is the first check (SDAM: its RTT counts).
        this.sample(performance.now() - started);
        this.heartbeatSucceeded(connection.hello.reply, false);
        return this.succeeded(connection.hello.reply);
      }
      // Client metadata goes with the handshake only (Handshake spec).
      const hello = await connection.command('admin', { [this.socket.helloName(connection)]: 1 });
      // A malformed reply fails the check (the dial's own reply is checked by the handshake).
      checkHello(hello, this.server.address);
      this.sample(performance.now() - started);
      this.heartbeatSucceeded(hello, false);
      return this.succeeded(hello);
    } catch (err) {
      this.socket.destroy();
      const error = err instanceof MgoError ? err : new NetworkError('ERR_NETWORK', `check of ${this.server.address} failed: ${String(err)}`, { address: this.server.address });
      this.heartbeatFailed(error, false);
      return { ok: false, error };
    }
  }

  /**
   * The streaming protocol (spec, "Streaming hello"): an awaitable hello
   * with exhaustAllowed, each reply reported as it comes; when the server
   * ends the stream (a reply without moreToCome) the next awaitable hello
   * goes at once with the last topologyVersion; a reply without one means
   * the server no longer streams, and polling resumes. An error ends the
   * stream: the connection is closed and a check follows (at once after a
   * network error on a known server, as in polling).
   */
  private async stream(): Promise<void> {
    this.state = 'streaming';
    if (this.rttMonitor === undefined) {
      this.rttMonitor = new RttMonitor(this.server, this.options, (ms) => this.sample(ms));
      this.rttMonitor.start();
    }
    const { heartbeatFrequencyMS, connectTimeoutMS } = this.options;
    // Spec, "Socket timeout": the wait for a reply is bounded by connectTimeoutMS + maxAwaitTimeMS, unlimited with connectTimeoutMS 0.
    const socketTimeoutMS = connectTimeoutMS === 0 ? 0 : connectTimeoutMS + heartbeatFrequencyMS;
    let failure: MgoError | undefined;
    while (this.state === 'streaming' && this.canStream()) {
      const connection = this.socket.open!;
      const { processId, counter } = this.topologyVersion!;
      // The counter goes back as the int64 it came as (Long: a promoted number would be sent as an int32 or a double).
      const topologyVersion = { processId, counter: Long.fromBigInt(counter) };
      const command = { [this.socket.helloName(connection)]: 1, topologyVersion, maxAwaitTimeMS: heartbeatFrequencyMS };
      // The awaited heartbeat may already be open: onStreamed() opens the next one as it reports a reply.
      this.heartbeatStart(performance.now(), true);
      try {
        await connection.exhaust('admin', command, (hello) => this.onStreamed(hello), { socketTimeoutMS });
      } catch (err) {
        failure = err instanceof MgoError ? err : new NetworkError('ERR_NETWORK', `check of ${this.server.address} failed: ${String(err)}`, { address: this.server.address });
        this.heartbeatFailed(failure, true);
        break;
      }
    }
    if ((this.state as MonitorState) === 'closed') return;
    this.state = 'idle';
    if (this.cancelled) return this.rest(this.options.heartbeatFrequencyMS);
    if (failure === undefined) {
      // The server stopped reporting a topologyVersion: poll from now on.
      this.stopRttMonitor();
      return this.rest(this.options.heartbeatFrequencyMS);
    }
    // Spec, "Streaming hello": an error closes the connection; the monitoring restarts on a new one.
    this.socket.destroy();
    void this.check(failure);
  }

  private onStreamed(hello: Document): void {
    if (this.state !== 'streaming') return;
    // A malformed reply ends the stream (Connection.exhaust closes the connection) and fails the check.
    checkHello(hello, this.server.address);
    this.lastCheckStarted = performance.now();
    this.heartbeatSucceeded(hello, true);
    // Spec: no RTT sample from a streamed reply; the RTT monitor's figures go with it.
    this.report(this.succeeded(hello));
    // SDAM monitoring spec, "Heartbeats": the started event of the next
    // streamed reply goes out before it is read, while the stream goes on.
    if (this.state === 'streaming' && this.canStream()) this.heartbeatStart(performance.now(), true);
  }

  // --- heartbeat events (SDAM monitoring spec, "Heartbeats": every started one is followed by a succeeded or a failed one)

  private heartbeatStart(now: number, awaited: boolean): void {
    if (this.heartbeatStarted !== undefined || this.events === undefined || !this.events.wanted()) return;
    this.heartbeatStarted = now;
    this.events.publish({ type: 'ServerHeartbeatStarted', connectionId: this.server.address, awaited });
  }

  private heartbeatSucceeded(hello: Document, awaited: boolean): void {
    const started = this.heartbeatStarted;
    this.heartbeatStarted = undefined;
    // After close(), TopologyClosed was the last event (spec): nothing more.
    // Otherwise a started event is always answered, even if its listener left meanwhile.
    if (started === undefined || this.state === 'closed') return;
    // A monitor never authenticates, so its replies carry no speculativeAuthenticate; dropped all the same, should that change.
    const { speculativeAuthenticate: _, ...reply } = hello;
    this.events!.publish({ type: 'ServerHeartbeatSucceeded', connectionId: this.server.address, duration: performance.now() - started, reply, awaited });
  }

  private heartbeatFailed(failure: MgoError, awaited: boolean): void {
    const started = this.heartbeatStarted;
    this.heartbeatStarted = undefined;
    if (started === undefined || this.state === 'closed') return;
    this.events!.publish({ type: 'ServerHeartbeatFailed', connectionId: this.server.address, duration: performance.now() - started, failure, awaited });
  }
}
