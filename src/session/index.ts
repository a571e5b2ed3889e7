// The mgo session API: dial, Session, Database, Collection, Query, Iter,
// Pipe, Bulk, modes, safety and errors.
export { dial, dialWithInfo, dialWithTimeout } from './dial.js';
export { parseURL } from './parse-url.js';
export { OPTION_WARNING_CODE } from './option-warnings.js';
export type { DialInfo, DialOptions, DialTLS } from './dial-info.js';
export { Session, openSession, type LoginCredential, type SessionOptions } from './session.js';
export { Database } from './database.js';
export type { DBRefLike } from './dbref.js';
export { getStats, resetStats, setStats, type Stats } from './stats.js';
export {
  RoleClusterAdmin,
  RoleDBAdmin,
  RoleDBAdminAny,
  RoleRead,
  RoleReadAny,
  RoleReadWrite,
  RoleReadWriteAny,
  RoleRoot,
  RoleUserAdmin,
  RoleUserAdminAny,
  type Role,
  type User,
} from './users.js';
export { Collection, type CollectionInfo } from './collection.js';
export { Query, type Change, type ApplyResult } from './query.js';
export { Iter } from './iter.js';
export { Pipe } from './pipe.js';
export { ChangeStream, type ChangeEvent, type ChangeStreamOptions } from './change-stream.js';
export { Bulk, type BulkResult } from './bulk.js';
export { GridFS } from './gridfs.js';
export { GridFile, type GridFileMode } from './grid-file.js';
export { Mode, type ServerSelection } from './modes.js';
export type { Safe } from './write-concern.js';
export type { ChangeInfo } from './change-info.js';
export type { Index } from './indexes.js';
export type { Collation } from './collation.js';
export type { ExplainVerbosity } from './explain.js';
export { BuildInfo } from './build-info.js';
export { ErrNotFound, NotFoundError, QueryError, LastError, BulkError, isDup, type BulkErrorCase } from './errors.js';
export { PoolTimeoutError } from '../errors.js';
export { setLogger, setDebug, type OutputLogger } from './logging.js';
export { parseSeverity, type LoggerOptions, type LogMessage, type LogMessageSink, type LogDestination, type LogComponent, type Severity } from '../monitoring/log-settings.js';
// Driver events (issue 15): session.events and the records it emits.
export { EventHub, type EventHubOptions, type EventLogger } from '../monitoring/event-hub.js';
export { channelName, type DriverEvent, type DriverEventMap, type DriverEventType, type PublicEventName, type Published } from '../monitoring/events.js';
export type { CommandEvent, CommandStartedEvent, CommandSucceededEvent, CommandFailedEvent } from '../connection/command-events.js';
export type {
  PoolEvent,
  CheckOutFailedReason,
  ConnectionClosedReason,
  ConnectionPoolCreatedEvent,
  ConnectionPoolReadyEvent,
  ConnectionPoolClearedEvent,
  ConnectionPoolClosedEvent,
  ConnectionCreatedEvent,
  ConnectionReadyEvent,
  ConnectionClosedEvent,
  ConnectionCheckOutStartedEvent,
  ConnectionCheckOutFailedEvent,
  ConnectionCheckedOutEvent,
  ConnectionCheckedInEvent,
} from '../pool/events.js';
export type {
  SdamEvent,
  ServerOpeningEvent,
  ServerClosedEvent,
  ServerDescriptionChangedEvent,
  TopologyOpeningEvent,
  TopologyClosedEvent,
  TopologyDescriptionChangedEvent,
  ServerHeartbeatStartedEvent,
  ServerHeartbeatSucceededEvent,
  ServerHeartbeatFailedEvent,
} from '../cluster/sdam-events.js';
