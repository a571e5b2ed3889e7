// mgo-threads: the package's main export. The mgo session API (dial,
// Session, Database, Collection, ...; the README's example) first; the lower layers for
// those who need a single connection or the option parser.
export * from './session/index.js';
export * from './errors.js';
export { Connection, type ConnectionOptions, type ConnectionState, type CommandOptions } from './connection/connection.js';
export type { HandshakeResult } from './connection/handshake.js';
export { parseConnectionString, redactUri } from './uri/connection-string.js';
export { resolveOptions, type ResolvedOptions, type ServerAddress } from './uri/resolve.js';
export type { Credential, ScramCredential, X509Credential } from './auth/credential.js';
export { DRIVER_NAME, DRIVER_VERSION } from './version.js';
