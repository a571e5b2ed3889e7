// mgo's Stats (stats.go: SetStats, GetStats, ResetStats): process-wide
// figures over every open dial, whichever thread its sockets live in.
//
// Operations and documents are counted where they already pass on this
// thread (a session's attempt, an iterator's batch): an increment each, no
// thread crossing. Socket figures are gauges read at getStats() time from
// each open router's stats(), which a worker router already sums over its
// workers (and takes from the coordinator's shared counts). How each field
// maps onto mgo's:
//   clusters      open dials (routers): the families of sessions from one
//                 dial() until their last close(), as mgo's cluster refs.
//   masterConns   pool sockets open to servers known writable now (primary,
//                 standalone, mongos); slaveConns: to the others. A gauge
//                 here; mgo counted connects minus closes, by the role the
//                 server had when the socket connected.
//   sentOps       commands sent (each attempt, retries included; getMores
//                 and killCursors too); not an attempt that failed before
//                 writing (no server selected, no socket, a refused document),
//                 as mgo counted an op when it went to a socket.
//   receivedOps   replies received (ok: 0 included; an unacknowledged write
//                 has none).
//   receivedDocs  documents in those replies: a cursor's batch counts its
//                 documents, any other reply one (mgo counted OP_REPLY docs).
//   socketsAlive  pool sockets open (created and not yet closed; monitoring
//                 sockets are not counted, as mgo's were not pooled).
//   socketsInUse  pool sockets checked out (running an operation, or
//                 reserved by a session).
//   socketRefs    references sessions hold on reserved sockets: a session
//                 and each clone() sharing its socket count one each, as
//                 mgo's socket refs did (mgo also counted its own transient
//                 refs per operation, which have no counterpart here).
//   timesWaitedForPool, totalPoolWaitTimeMS, poolTimeouts: the pools' wait
//                 counters (ServerStats waitCount, waitDurationMS, timeouts);
//                 a closed dial's stay counted until resetStats().
// mgo's TimesSocketAcquired has no counterpart: a socket is taken in the
// worker that runs the operation, and counting it would cost a crossing.
import { MgoError, type ErrorCode } from '../errors.js';
import type { Router } from '../router/router.js';

/** mgo's Stats: a snapshot (see getStats()). */
export interface Stats {
  /** Open dials: each dial() until its last session is closed (mgo's cluster refs). */
  clusters: number;
  /** Pool sockets open to servers writable now (primary, standalone, mongos); a gauge, where mgo counted by the role at connect time. */
  masterConns: number;
  /** Pool sockets open to the other servers; a gauge, as masterConns. */
  slaveConns: number;
  /** Commands sent, each attempt counted (retries, getMores and killCursors too). */
  sentOps: number;
  /** Replies received (ok: 0 included; an unacknowledged write has none). */
  receivedOps: number;
  /** Documents in those replies: a cursor batch counts its documents, any other reply one. */
  receivedDocs: number;
  /** Pool sockets open (monitoring sockets are not counted). */
  socketsAlive: number;
  /** Pool sockets checked out: running an operation or reserved by a session. */
  socketsInUse: number;
  /** References sessions hold on reserved sockets (a session and each clone() sharing it count one each). */
  socketRefs: number;
  /** Times an operation waited for a socket at the pool limit. */
  timesWaitedForPool: number;
  /** mgo's TotalPoolWaitTime (a Duration), in milliseconds. */
  totalPoolWaitTimeMS: number;
  /** Waits for a socket that ended in a PoolTimeoutError. */
  poolTimeouts: number;
}

interface PoolWaits {
  timesWaitedForPool: number;
  totalPoolWaitTimeMS: number;
  poolTimeouts: number;
}

const routers = new Set<Router>();
/** Each router's pool waits at the last resetStats(): getStats() reports the waits since. */
const waitBaselines = new WeakMap<Router, PoolWaits>();
let counting = true;
let sentOps = 0;
let receivedOps = 0;
let receivedDocs = 0;
let socketRefs = 0;
/** The waits of routers closed since the last resetStats(): counters keep what a closed dial counted (mgo's never went down). */
let closedWaits: PoolWaits = noWaits();

function noWaits(): PoolWaits {
  return { timesWaitedForPool: 0, totalPoolWaitTimeMS: 0, poolTimeouts: 0 };
}

/** @internal A dial's router joins the figures (openSession). */
export function statsRouterOpened(router: Router): void {
  routers.add(router);
}

/** @internal The last session of its dial closed: the router leaves the figures. */
export function statsRouterClosed(router: Router): void {
  if (!routers.delete(router)) return;
  const waits = poolWaitsOf(router);
  const base = waitBaselines.get(router) ?? noWaits();
  closedWaits.timesWaitedForPool += waits.timesWaitedForPool - base.timesWaitedForPool;
  closedWaits.totalPoolWaitTimeMS += waits.totalPoolWaitTimeMS - base.totalPoolWaitTimeMS;
  closedWaits.poolTimeouts += waits.poolTimeouts - base.poolTimeouts;
}

/** @internal One command sent. */
export function countSent(): void {
  if (counting) sentOps++;
}

/** Failures of an attempt before its command is written: it went to no server, or no socket, or was refused here. */
const UNSENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_SERVER_SELECTION',
  'ERR_POOL_TIMEOUT',
  'ERR_POOL_CLEARED',
  'ERR_POOL_CLOSED',
  'ERR_SESSION_CLOSED',
  'ERR_DOCUMENT_TOO_LARGE',
  'ERR_MESSAGE_TOO_LARGE',
  'ERR_INVALID_DOCUMENT',
]);

/** @internal An attempt failed with `err`: one command sent, unless it failed before writing it. */
export function countFailedAttempt(err: unknown): void {
  if (!(err instanceof MgoError && UNSENT.has(err.code))) countSent();
}

/** @internal One reply received, holding `docs` documents. */
export function countReceived(docs: number): void {
  if (!counting) return;
  receivedOps++;
  receivedDocs += docs;
}

/** @internal More (or, negative, fewer) documents in a received reply than countReceived() assumed. */
export function countReceivedDocs(docs: number): void {
  if (counting) receivedDocs += docs;
}

/** @internal A session took (1) or let go of (-1) a reference to a reserved socket. */
export function countSocketRefs(delta: number): void {
  socketRefs += delta;
}

function poolWaitsOf(router: Router): PoolWaits {
  const waits = noWaits();
  for (const server of router.stats()) {
    waits.timesWaitedForPool += server.waitCount;
    waits.totalPoolWaitTimeMS += server.waitDurationMS;
    waits.poolTimeouts += server.timeouts;
  }
  return waits;
}

/**
 * mgo's GetStats: the process's figures now (the module comment above says
 * how each maps onto mgo's). Unlike mgo, nothing needs enabling first:
 * counting is on from the start (setStats(false) turns it off).
 */
export function getStats(): Stats {
  const stats: Stats = {
    clusters: routers.size,
    masterConns: 0,
    slaveConns: 0,
    sentOps,
    receivedOps,
    receivedDocs,
    socketsAlive: 0,
    socketsInUse: 0,
    socketRefs,
    ...closedWaits,
  };
  for (const router of routers) {
    const writable = new Set(router.writableServers?.() ?? []);
    const base = waitBaselines.get(router);
    for (const server of router.stats()) {
      const alive = server.sockets.open;
      stats.socketsAlive += alive;
      stats.socketsInUse += server.inUse;
      if (writable.has(server.address)) stats.masterConns += alive;
      else stats.slaveConns += alive;
      stats.timesWaitedForPool += server.waitCount;
      stats.totalPoolWaitTimeMS += server.waitDurationMS;
      stats.poolTimeouts += server.timeouts;
    }
    if (base) {
      stats.timesWaitedForPool -= base.timesWaitedForPool;
      stats.totalPoolWaitTimeMS -= base.totalPoolWaitTimeMS;
      stats.poolTimeouts -= base.poolTimeouts;
    }
  }
  return stats;
}

/**
 * mgo's ResetStats: the counters start again from zero (sentOps,
 * receivedOps, receivedDocs and the pool waits); the gauges, which mgo
 * keeps too (clusters, socketsAlive, socketsInUse, socketRefs), go on
 * saying what is open now, and so do masterConns and slaveConns, which mgo
 * zeroed although they were gauges as well.
 */
export function resetStats(): void {
  sentOps = 0;
  receivedOps = 0;
  receivedDocs = 0;
  closedWaits = noWaits();
  for (const router of routers) waitBaselines.set(router, poolWaitsOf(router));
}

/**
 * mgo's SetStats: false stops counting operations and documents (and
 * zeroes them, as mgo drops its Stats); true starts again from zero. The
 * gauges are read from the routers and always current. On by default,
 * where mgo's are off: the counting costs an increment per operation.
 */
export function setStats(enabled: boolean): void {
  if (enabled && counting) return;
  counting = enabled === true;
  resetStats();
}
