// What the session's own classes (Database, Collection, Query, Iter, Pipe,
// Bulk) need from a Session beyond its public API. Reached through a symbol
// that the package does not export, so it stays out of users' way.
import type { Document } from 'bson';
import type { RouterReply, RouterRequest } from '../router/router.js';
import type { SessionSupport } from '../cluster/topology-description.js';
import type { BSONOptions } from '../uri/options.js';
import type { WireLimits } from '../wire/constants.js';
import type { ServerSession } from './server-sessions.js';

export const INTERNAL = Symbol('mgo-threads session internals');

export type DocumentSequence = NonNullable<RouterRequest['sequences']>[number];

/**
 * How an operation is routed: a read (by the session's mode), a write (to
 * the primary), or a cursor follow-up (getMore, killCursors) that must run
 * on the server holding the cursor.
 */
export type Routing = 'read' | 'write' | { address: string };

export interface Operation {
  db: string;
  command: Document;
  routing: Routing;
  sequences?: readonly DocumentSequence[];
  /** Unacknowledged write: no reply is read. */
  moreToCome?: boolean;
  /** How to decode the reply, over the session's own BSON options (a query's or pipe's). */
  bson?: BSONOptions;
  /** The reply is a cursor's (firstBatch / nextBatch hold the documents `raw` leaves undecoded). */
  cursor?: boolean;
  /**
   * The retryable writes or reads spec lets it run twice (README, "Retries",
   * lists which mgo methods do): a write routed 'write' (txnNumber), or a
   * read routed 'read'. Never a cursor follow-up or a user's command.
   */
  retryable?: boolean;
  /** The server session (lsid) it runs in: a cursor's, kept from its first command to its last getMore. */
  serverSession?: ServerSession;
  /**
   * The server may hold the reply this long on purpose (an awaitData
   * getMore's maxTimeMS): the session's socket timeout counts after it.
   */
  awaitMS?: number;
}

export interface SessionInternals {
  /** Runs one command; ok: 0 replies reject with a QueryError. */
  run(operation: Operation): Promise<RouterReply>;
  readonly closed: boolean;
  /** Throws ERR_SESSION_CLOSED, naming `method`, once the session is closed. */
  checkOpen(method: string): void;
  /** Default batch size of queries and pipes; 0 leaves it to the server; -n: one batch of n (CursorOptions.batch). */
  readonly batch: number;
  /** Finds ask the server never to time their cursors out (Session.setCursorTimeout(0)). */
  readonly noCursorTimeout: boolean;
  /** Default prefetch of iterators. */
  readonly prefetch: number;
  /** The session's BSON decoding options. */
  readonly bson: BSONOptions;
  /** Session.setBypassValidation(): writes that take it carry bypassDocumentValidation. */
  readonly bypassValidation: boolean;
  /**
   * A server session for a cursor's whole life (its getMores must carry the
   * same lsid): the explicit one of withLogicalSession(), else one from the
   * pool; undefined when the servers do not support sessions.
   */
  leaseServerSession(): ServerSession | undefined;
  /** Gives back what leaseServerSession() gave (a no-op for an explicit session, which close() ends). */
  releaseServerSession(session: ServerSession): void;
  /** The limits the router's servers reported (Router.limits()): what writes are split and sized by. */
  limits(): WireLimits;
  /** What the router's servers support (Router.sessionSupport()): whether they label errors themselves (wire 9+). */
  sessionSupport(): SessionSupport;
}
