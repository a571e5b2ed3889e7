// How a socket to one server is opened, in one place for the pool's
// connections and the monitor's: the server's address, the timeouts, TLS,
// the declared API version, compression. Pool sockets also authenticate
// (monitoring sockets never do: auth spec, "Authentication Handshake").
// The pool itself never touches sockets: it gets a ConnectFn that dials,
// handshakes and authenticates a Connection.
import type { CommandEventOutlet } from '../connection/command-events.js';
import { UNAUTHENTICATED, type Identities } from '../auth/identities.js';
import { Connection, type ConnectionOptions } from '../connection/connection.js';
import { MgoError } from '../errors.js';
import type { SocketTally } from '../connection/socket-tally.js';
import type { TlsOptions } from '../connection/tls.js';
import type { ConnectFn } from '../pool/poolable-connection.js';
import type { ResolvedOptions, ServerAddress } from '../uri/resolve.js';

/** The resolved options a socket is opened with; those left out take their defaults (plain TCP, no declared API). */
export type ConnectorOptions = Pick<ResolvedOptions, 'connectTimeoutMS' | 'socketTimeoutMS' | 'appName'> &
  Partial<Pick<ResolvedOptions, 'serverApi' | 'compressors' | 'zlibCompressionLevel' | keyof TlsOptions>>;

/** The TLS settings out of the resolved options; undefined for plain TCP. */
export function tlsOptionsOf(options: Partial<TlsOptions>): TlsOptions | undefined {
  if (!options.tls) return undefined;
  return {
    tls: true,
    tlsInsecure: options.tlsInsecure ?? false,
    tlsAllowInvalidCertificates: options.tlsAllowInvalidCertificates ?? false,
    tlsAllowInvalidHostnames: options.tlsAllowInvalidHostnames ?? false,
    tlsCAFile: options.tlsCAFile,
    tlsCertificateKeyFile: options.tlsCertificateKeyFile,
    tlsCertificateKeyFilePassword: options.tlsCertificateKeyFilePassword,
  };
}

/** Everything Connection.connect needs for this server but the pool's id, generation and abort signal. */
export function socketOptionsFor(server: ServerAddress, options: ConnectorOptions): Omit<ConnectionOptions, 'id' | 'generation'> {
  const target =
    server.type === 'unix'
      ? { host: 'localhost', port: 0, socketPath: server.host }
      : { host: server.host, port: server.port ?? 27017 };
  // mongod takes Unix domain socket connections in clear, whatever its TLS
  // mode: the socket file's permissions guard it.
  const tls = server.type === 'unix' ? undefined : tlsOptionsOf(options);
  return {
    ...target,
    address: server.address,
    connectTimeoutMS: options.connectTimeoutMS,
    socketTimeoutMS: options.socketTimeoutMS,
    ...(options.appName === undefined ? {} : { appName: options.appName }),
    ...(tls ? { tls } : {}),
    ...(options.serverApi ? { serverApi: options.serverApi } : {}),
    ...(options.compressors?.length ? { compressors: options.compressors, zlibCompressionLevel: options.zlibCompressionLevel } : {}),
  };
}

/**
 * The pool's dialer for a server: each socket authenticates as the identity
 * its checkout asked for (src/auth/identities.ts), with that credential;
 * without `identities`, every socket is unauthenticated. `tally` counts
 * every socket it creates until its 'close' event.
 */
export function createConnector(
  server: ServerAddress,
  options: ConnectorOptions,
  identities?: Identities,
  tally?: SocketTally,
  commandEvents?: CommandEventOutlet,
): ConnectFn<Connection> {
  const socketOptions = socketOptionsFor(server, options);
  return ({ id, generation, signal, identity }) => {
    const credential = identities?.credential(identity);
    if (identity !== UNAUTHENTICATED && credential === undefined) {
      // A number this thread never learned: a bug in the LOGIN crossing, not the user's.
      return Promise.reject(new MgoError('ERR_AUTH', `no credential is known for identity ${identity} on this thread`, { address: server.address }));
    }
    return Connection.connect({ ...socketOptions, id, generation, signal, tally, commandEvents, ...(credential ? { credential } : {}) });
  };
}
