// What the pool needs from a connection, and how it gets one.
//
// The pool never sees a socket: it is handed a ConnectFn that dials, does the
// handshake and authentication, and resolves only with an established
// connection (CMAP "Valid Connection": a connection MUST NOT be checked out
// before its handshake has completed). The real Connection in src/connection
// satisfies PoolableConnection; tests use fakes.

export interface PoolableConnection {
  /** Assigned by the pool; unique and increasing per pool, starting at 1 (CMAP "Monotonically Increasing ID"). */
  readonly id: number;
  /** The pool generation when the dial began (CMAP "Stale"). */
  readonly generation: number;
  /** "host:port" of the server. */
  readonly address: string;
  /** True once the connection failed or was destroyed; the pool never hands it out again. */
  readonly isClosed: boolean;
  /**
   * Aborts the socket now; idempotent. The pool passes a reason when it
   * interrupts a checked-out connection (CMAP clear with
   * interruptInUseConnections), so that the operation in flight can fail
   * with that retryable error.
   */
  destroy(reason?: Error): void;
  /**
   * Runs `callback` once the socket destroy() closed is gone at the OS level
   * (its descriptor closed, the FIN or RST sent); at once if it already is.
   * The pool releases the connection's permit there: released any earlier,
   * the socket replacing this one could reach the server first, and the
   * server would see one socket over the limit.
   */
  afterClose(callback: () => void): void;
}

export interface ConnectInit {
  readonly id: number;
  readonly generation: number;
  readonly address: string;
  /**
   * Who the connection authenticates as: a small integer the driver assigns
   * per credential (0 = unauthenticated). A server cannot log a connection
   * out, so the pool keeps each connection to the identity it was dialed for.
   */
  readonly identity: number;
  /** Aborted when the pool gives up on the dial (interrupting clear, destroy()); reject promptly. */
  readonly signal: AbortSignal;
}

/**
 * Dials, handshakes and authenticates. Must resolve with a connection that
 * carries `init.id`, `init.generation` and `init.address`, or reject.
 * The pool holds a permit for the whole dial and releases it when the
 * returned promise settles (after destroying the connection if it is no
 * longer wanted), so the limit counts sockets still being set up; a
 * rejection must therefore come after the failed socket's close (as
 * afterClose() would call back), not before.
 */
export type ConnectFn<C extends PoolableConnection = PoolableConnection> = (init: ConnectInit) => Promise<C>;
