// The one socket of a monitor or of its RTT monitor: dialed when needed,
// counted from the dial on (what stats() reports as monitoringConnections),
// never authenticated (auth spec, "Authentication Handshake"), its socket
// timeout connectTimeoutMS (server monitoring spec, "Monitoring"), and
// unref'd so that monitoring alone never keeps the process alive.
import { Connection } from '../connection/connection.js';
import type { ServerAddress } from '../uri/resolve.js';
import { socketOptionsFor, type ConnectorOptions } from './connector.js';

export type MonitoringConnectionOptions = Omit<ConnectorOptions, 'socketTimeoutMS'>;

export class MonitoringConnection {
  private connection: Connection | undefined;
  private dialing = false;

  constructor(
    private readonly server: ServerAddress,
    private readonly options: MonitoringConnectionOptions,
  ) {}

  /** The connection while it is open. */
  get open(): Connection | undefined {
    return this.connection?.isClosed ? undefined : this.connection;
  }

  /** Sockets held or being dialed: 0 or 1. */
  get count(): number {
    return this.connection !== undefined || this.dialing ? 1 : 0;
  }

  /** Closes the one it holds and dials another; its handshake reply is the caller's first check. */
  async dial(): Promise<Connection> {
    this.destroy();
    this.dialing = true;
    try {
      const connection = await Connection.connect({
        ...socketOptionsFor(this.server, { ...this.options, socketTimeoutMS: this.options.connectTimeoutMS }),
        id: 0,
        generation: 0,
      });
      connection.unref();
      this.connection = connection;
      return connection;
    } finally {
      this.dialing = false;
    }
  }

  /** The command a monitoring check sends: `hello` where the handshake says the server has it (or an API version implies it). */
  helloName(connection: Connection): 'hello' | 'isMaster' {
    return connection.hello.helloOk || this.options.serverApi ? 'hello' : 'isMaster';
  }

  destroy(): void {
    this.connection?.destroy();
    this.connection = undefined;
  }
}
