// mgo-threads: the package's main export. The mgo session API (dial,
// Session, Database, Collection, ...; the README's example) first; the lower layers for
// those who need a single connection or the option parser.
export * from './session/index.js';
export * from './errors.js';
export { Connection, type ConnectionOptions, type ConnectionState, type CommandOptions } from './connection/connection.js';
export type { HandshakeResult } from './connection/handshake.js';
export { parseConnectionString, redactUri } from './uri/connection-string.js';
export { resolveOptions, type ResolvedOptions, type ServerAddress } from './uri/resolve.js';
export type { OptionValues, AuthOption, BSONOptions, Compressor, ServerMonitoringMode, TagSet } from './uri/options.js';
export type { ConnectionString, HostAddress, HostType } from './uri/connection-string.js';
export type { AuthMechanism, ScramMechanism } from './auth/credential.js';
export type { ReadPreferenceMode } from './read-preference.js';
export type { ServerApi } from './wire/server-api.js';
export type { PoolStats, ServerStats } from './pool/stats.js';
export type { PoolSizing } from './pool/pool-options.js';
export type { SocketCounts } from './connection/socket-tally.js';
export type { Credential, ScramCredential, X509Credential } from './auth/credential.js';
export { DRIVER_NAME, DRIVER_VERSION } from './version.js';
// The BSON classes, as the official driver re-exports them: the copy of
// js-bson the driver decodes with (its ES module build), so that
// `doc._id instanceof ObjectId` holds for an application that imports
// ObjectId from here rather than require('bson') (the CommonJS build, whose
// classes are different objects).
export {
  BSON,
  Binary,
  BSONRegExp,
  BSONSymbol,
  BSONType,
  Code,
  DBRef,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  UUID,
  type Document,
} from 'bson';
