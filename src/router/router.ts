// The seam between the session API and wherever sockets live. The session
// layer (src/session) knows only this interface: LocalRouter runs cluster and
// pools in the calling thread (workers: 0, the single-thread baseline), and
// WorkerRouter (src/worker/worker-router.ts) runs them in worker threads.
// Everything that crosses it is plain data (documents, ids, strings), so it
// can cross a MessagePort (src/worker/protocol.ts says how).
import type { SliceStats } from '../util/fair-drain.js';
import type { DeserializeOptions, Document } from 'bson';
import { MgoError, PoolClosedError } from '../errors.js';
import type { WireLimits } from '../wire/constants.js';
import type { OutgoingSequence } from '../wire/op-msg.js';
import type { ServerStats } from '../pool/stats.js';
import type { EventSink } from '../monitoring/events.js';
import type { ReadPreference } from '../read-preference.js';
import type { Credential } from '../auth/credential.js';
import type { SessionSupport } from '../cluster/topology-description.js';

/**
 * A socket held by a session across operations (mgo Strong and Monotonic
 * modes). Opaque to the session: it hands it back to the router that made it.
 */
export interface Reservation {
  readonly id: number;
  /** host:port of the server the socket is connected to. */
  readonly address: string;
  /** The server was a writable primary (or standalone/mongos) when reserved. */
  readonly writable: boolean;
  /** Set by the router once the socket died: the session must release it and reserve anew. */
  readonly dead: boolean;
}

export interface RouterRequest {
  db: string;
  command: Document;
  /**
   * OP_MSG document sequences, e.g. the documents of an insert (the session
   * sends them encoded: src/wire/bson.ts). Encoded bytes are handed over:
   * a router may transfer them to another thread, detaching them here.
   */
  sequences?: readonly OutgoingSequence[];
  /**
   * The caller may run this request again with the same sequences (a
   * retryable write): a router must leave their bytes usable here (copy,
   * not transfer).
   */
  retainSequences?: boolean;
  /** Unacknowledged (w:0): resolved once written, with { ok: 1 }. */
  moreToCome?: boolean;
  /** Which server may run it; ignored when `reservation` or `address` is given. */
  readPreference: ReadPreference;
  /**
   * A write (insert, update, delete, findAndModify, DDL): it needs a writable
   * server whatever the read preference, and carries no $readPreference.
   */
  write?: boolean;
  /** Run on this reserved socket. */
  reservation?: Reservation;
  /** Run on this server (any pooled socket): getMore and killCursors follow their cursor's server. */
  address?: string;
  /**
   * Servers an earlier attempt of this operation failed on (the retry of a
   * retryable read or write): selection leaves them out while another
   * server is suitable (server selection spec, "deprioritized servers").
   */
  deprioritized?: readonly string[];
  deserialize?: DeserializeOptions;
  /**
   * Who the socket must be authenticated as (src/auth/identities.ts): a
   * number login() gave, or UNAUTHENTICATED; dialIdentity when left out.
   * Ignored with a reservation, which has its identity already.
   */
  identity?: number;
  /**
   * The session's own pool limit (Session.setPoolLimit): the operation waits
   * while that many sockets of its server are in use, across all workers
   * (src/pool/in-use-gate.ts). Ignored with a reservation, which holds its socket.
   */
  poolLimit?: number;
}

export interface RouterReply {
  /** The reply document; ok: 0 replies are thrown as ServerError instead. */
  reply: Document;
  /** The server that ran it. */
  address: string;
}

/** How a thread has been settling what other threads sent it, in time-bounded slices (src/util/fair-drain.ts). */
export type DeliveryStats = SliceStats;

export interface Router {
  /**
   * Selects a server (by reservation, address or read preference), runs one
   * command on one of its sockets, and returns the reply. Network errors
   * evict the socket (and mark a reservation dead); they are never retried here.
   */
  run(request: RouterRequest): Promise<RouterReply>;
  /**
   * Reserves a socket on a server matching the read preference, authenticated
   * as `identity` (dialIdentity by default); with `poolLimit`, first waits
   * while that many of the server's sockets are in use (RouterRequest.poolLimit).
   * `operation`: the command the socket is reserved for, as server
   * selection's log messages name it.
   */
  reserve(readPreference: ReadPreference, identity?: number, deprioritized?: readonly string[], poolLimit?: number, operation?: string): Promise<Reservation>;
  /** What operations run as unless a session logged in: the dial-time credential's number, or UNAUTHENTICATED. */
  readonly dialIdentity: number;
  /**
   * Numbers a credential (the same credential twice gets the same number)
   * and makes it known wherever sockets live, before any operation that
   * uses the number. Authenticates nothing by itself: the first socket
   * dialed for the number does.
   */
  login(credential: Credential): number;
  /** Returns a reserved socket to its pool (or discards it if dead). Idempotent. */
  release(reservation: Reservation): void;
  /** Addresses of the servers currently known to be up. */
  liveServers(): string[];
  /** Addresses of the servers currently known to take writes (primary, standalone, mongos): what getStats() counts as masterConns. */
  writableServers?(): string[];
  /**
   * The size limits a request is held to: for each, the smallest among the
   * hello replies of the servers known (the defaults before any), so that a
   * write the session splits and sizes with them fits whichever server runs it.
   */
  limits(): WireLimits;
  /**
   * What the topology, as this thread last saw it, supports: logical
   * sessions (lsid) and retryable writes (txnNumber). Before any
   * data-bearing server was heard from: neither.
   */
  sessionSupport(): SessionSupport;
  /** Pool statistics per server. */
  stats(): ServerStats[];
  /**
   * Changes the connection limit per server (maxPoolSize), process-wide and
   * live: lowered, no socket is granted while as many are open as the new
   * limit, idle sockets above it close at once and checked-out ones at
   * check-in; raised, waiters get the new sockets, oldest first. Resolves
   * once every pool applied it. `limit`: checkGlobalPoolLimit().
   */
  setGlobalPoolLimit(limit: number): Promise<void>;
  /** How replies from other threads were settled on this one (worker routers only); `resetLargest` starts a new window for the longest slice. */
  deliveryStats?(resetLargest?: boolean): DeliveryStats;
  /** Where this router publishes its events: the dial's EventHub (session.events); a hub of its own when made without one. */
  readonly events: EventSink;
  /** Drains: waits for operations in flight, then closes every socket and monitor. Idempotent. */
  close(): Promise<void>;
  /** Aborts every operation and socket now. Idempotent. */
  destroy(): Promise<void>;
}

/** A limit for setGlobalPoolLimit(): an integer >= 1, and no less than minPoolSize (which counts towards it). */
export function checkGlobalPoolLimit(limit: number, minPoolSize: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new MgoError('ERR_INVALID_ARGUMENT', `setGlobalPoolLimit: expected an integer >= 1, got ${String(limit)}`);
  }
  if (limit < minPoolSize) {
    throw new MgoError('ERR_INVALID_ARGUMENT', `setGlobalPoolLimit(${limit}): the limit cannot be below minPoolSize (${minPoolSize})`);
  }
}

/** What an operation started after the router's close() or destroy() fails with, whichever router it is. */
export function routerClosedError(): MgoError {
  return new PoolClosedError('the session was closed: its cluster no longer runs operations');
}
