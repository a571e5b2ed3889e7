// Turns a server address and the resolved options into the pool's ConnectFn:
// every pooled socket is a Connection dialed and handshaken with the same
// timeouts, so the pool itself never touches sockets.
import { Connection } from '../connection/connection.js';
import type { ConnectFn } from '../pool/poolable-connection.js';
import type { ServerAddress } from '../uri/resolve.js';

export interface ConnectorOptions {
  connectTimeoutMS: number;
  socketTimeoutMS: number;
  appName?: string | undefined;
}

export function createConnector(server: ServerAddress, options: ConnectorOptions): ConnectFn<Connection> {
  const target =
    server.type === 'unix'
      ? { host: 'localhost', port: 0, socketPath: server.host }
      : { host: server.host, port: server.port ?? 27017 };
  return ({ id, generation, signal }) =>
    Connection.connect({
      ...target,
      id,
      generation,
      address: server.address,
      connectTimeoutMS: options.connectTimeoutMS,
      socketTimeoutMS: options.socketTimeoutMS,
      appName: options.appName,
      signal,
    });
}
