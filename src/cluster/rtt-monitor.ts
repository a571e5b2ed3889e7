// The RTT monitor of one server (server monitoring spec, "Measuring RTT"):
// while the server's monitor streams, its replies arrive when the server
// has news or after maxAwaitTimeMS, so their timing says nothing about the
// round trip. This runs a plain hello on a connection of its own every
// heartbeatFrequencyMS and hands each duration to the monitor, which keeps
// the statistics (rtt.ts). It never touches the topology: a failure only
// closes its connection, and the next round dials again (spec, "Why don't
// clients mark a server unknown when an RTT command fails?"). Started and
// stopped by the Monitor, which only runs one while streaming.
//
// Its timer and socket are unref'd, as the monitor's are.
import type { ServerAddress } from '../uri/resolve.js';
import type { ConnectorOptions } from './connector.js';
import { MonitoringConnection } from './monitoring-connection.js';

export interface RttMonitorOptions extends Omit<ConnectorOptions, 'socketTimeoutMS'> {
  heartbeatFrequencyMS: number;
}

export class RttMonitor {
  private readonly socket: MonitoringConnection;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    server: ServerAddress,
    private readonly options: RttMonitorOptions,
    private readonly onSample: (roundTripTimeMS: number) => void,
  ) {
    this.socket = new MonitoringConnection(server, options);
  }

  /** Measures at once (its connection's handshake is the first sample), then every heartbeatFrequencyMS. */
  start(): void {
    if (this.closed || this.timer !== undefined) return;
    this.schedule(0);
  }

  /** Sockets it holds or is dialing: 0 or 1. */
  get connections(): number {
    return this.socket.count;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.socket.destroy();
  }

  private schedule(delayMS: number): void {
    this.timer = setTimeout(() => void this.measure(), delayMS);
    this.timer.unref();
  }

  private async measure(): Promise<void> {
    const started = performance.now();
    try {
      const connection = this.socket.open;
      if (connection === undefined) {
        await this.socket.dial();
        if (this.closed) return this.socket.destroy();
      } else {
        await connection.command('admin', { [this.socket.helloName(connection)]: 1 });
      }
      if (!this.closed) this.onSample(performance.now() - started);
    } catch {
      // Spec: an RTT failure changes nothing but this connection.
      this.socket.destroy();
    }
    if (!this.closed) this.schedule(this.options.heartbeatFrequencyMS);
  }
}
