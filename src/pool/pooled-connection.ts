// The pool's record of one connection, from the decision to dial until close.
//
// A record is in exactly one state at a time (CMAP "Connection.state", with
// its "pending" called 'dialing' and "available" called 'idle'):
//
//   dialing ──► inUse ◄──► idle
//      │          │          │
//      └──────────┴──────────┴──► closing ──► closed
//
// 'dialing' lasts until the ConnectFn's promise settles, even when the dial
// was aborted: the permit is held that long, because the socket may exist
// until then. 'closing' lasts from destroy() until the socket's 'close'
// event (PoolableConnection.afterClose): the permit is still held, since
// the server may still count the socket. 'closed' is final; the permit is
// released on entering it.

import type { PoolableConnection } from './poolable-connection.js';

export type ConnectionState = 'dialing' | 'idle' | 'inUse' | 'closing' | 'closed';

export class PooledConnection<C extends PoolableConnection, R> {
  state: ConnectionState = 'dialing';
  /** Set when the dial resolves. */
  conn: C | undefined = undefined;
  /** While dialing: the checkout waiting for this dial, if any (none for minPoolSize dials). */
  requester: R | undefined;
  /** While dialing: aborts the ConnectFn. */
  dialAbort: AbortController | undefined = new AbortController();
  /** When it last became idle (performance.now()). */
  idleSince = 0;
  /** Destroyed by an interrupting clear while checked out; closed as 'stale' at check-in. */
  interrupted = false;
  /** Closed by destroy() while checked out; its check-in is still expected and accepted once. */
  awaitingCheckIn = false;
  /** Closed to answer another worker's give-back request (Pool.closeIdle): its permit goes to that request. */
  givenBack = false;
  /** Closed because the limit was lowered below the open sockets (PermitSource.retire): its permit is dropped. */
  retired = false;

  constructor(
    readonly id: number,
    readonly generation: number,
    /** performance.now() at ConnectionCreated: start of the Ready duration and of maxLifetimeMS. */
    readonly createdAt: number,
    /** The identity it was dialed (and authenticated) as; it is only ever handed to checkouts of this identity. */
    readonly identity: number,
    requester: R | undefined,
  ) {
    this.requester = requester;
  }
}
