// Pool statistics, in the spirit of Go's database/sql DBStats: a snapshot of
// the current counts plus cumulative counters since the pool was created.
// The shape is what stats() reports per server (summed over the workers in
// worker mode: README, "Worker mode"), so it is a plain object of numbers.

import type { ConnectionClosedReason } from './events.js';
import type { SocketCounts } from '../connection/socket-tally.js';

/** One pool's counts now and its cumulative counters (Go database/sql's DBStats). */
export interface PoolStats {
  /** The connection limit (maxPoolSize); 0 means unlimited. */
  maxOpen: number;
  /** Connections this pool holds a permit for: connecting + idle + inUse. */
  open: number;
  /** Connections checked out: running an operation or reserved by a session. */
  inUse: number;
  /** Connections open and waiting in the pool. */
  idle: number;
  /** Dials in progress (bounded by maxConnecting). */
  connecting: number;
  /** Cumulative: checkouts that could not be served on arrival and had to queue. */
  waitCount: number;
  /** Cumulative: total time those checkouts spent queued, in milliseconds. */
  waitDurationMS: number;
  /** Cumulative: checkouts that failed with waitQueueTimeoutMS. */
  timeouts: number;
  /** Cumulative: connections closed for exceeding maxIdleTimeMS. */
  idleClosed: number;
  /** Cumulative: connections closed for exceeding maxLifetimeMS. */
  lifetimeClosed: number;
  /** Cumulative: connections closed because they failed (including failed dials). */
  errorClosed: number;
}

/** One server's pool statistics, as a router reports them (summed over its workers in worker mode). */
export interface ServerStats extends PoolStats {
  /** The server, "host:port". */
  address: string;
  /**
   * Sockets the process's monitor of this server holds or is dialing, not
   * counted in `open` nor against maxPoolSize (server monitoring spec): 1
   * while polling, 2 while streaming (the RTT monitor's own), 0 while it
   * has none. One monitor per server per process: in worker mode it is the
   * main thread's, and a worker's own figure is 0.
   */
  monitoringConnections: number;
  /**
   * The pool's sockets counted at the sockets themselves, from creation to
   * their 'close' event (src/connection/socket-tally.ts), across all
   * workers: `open` never exceeds maxOpen, since a permit is released only
   * after its socket's 'close'. Monitoring sockets are not counted.
   */
  sockets: SocketCounts;
}

/** The cumulative half of PoolStats. */
export class PoolCounters {
  waitCount = 0;
  waitDurationMS = 0;
  timeouts = 0;
  idleClosed = 0;
  lifetimeClosed = 0;
  errorClosed = 0;

  // As in database/sql: counted when the wait begins, its duration added when
  // it ends (served, timed out, aborted, or failed by clear/close).
  waitStarted(): void {
    this.waitCount++;
  }

  waitEnded(durationMS: number): void {
    this.waitDurationMS += durationMS;
  }

  recordClose(reason: ConnectionClosedReason): void {
    // 'stale' and 'poolClosed' are consequences of clear()/close(), which the
    // caller already knows about; DBStats-style counters track the others.
    if (reason === 'idle') this.idleClosed++;
    else if (reason === 'lifetime') this.lifetimeClosed++;
    else if (reason === 'error') this.errorClosed++;
  }
}
