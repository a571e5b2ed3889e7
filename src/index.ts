// mgo-threads: the package's main export.
//
// The session API of DESIGN.md (dial, Session, Database, Collection, ...) is
// built on these layers; until it lands, the connection and option layers
// are what the package offers.
export * from './errors.js';
export { Connection, type ConnectionOptions, type ConnectionState, type CommandOptions } from './connection/connection.js';
export type { HandshakeResult } from './connection/handshake.js';
export { parseConnectionString, redactUri } from './uri/connection-string.js';
export { resolveOptions, type ResolvedOptions, type ServerAddress, type Credentials } from './uri/resolve.js';
export { DRIVER_NAME, DRIVER_VERSION } from './version.js';
