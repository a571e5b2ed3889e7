// Logical sessions (driver sessions spec): the server sessions one dial's
// sessions share, and what an operation carries of them (lsid, txnNumber).
//
// The pool lives on the thread that builds commands (the main thread in
// worker mode), so a server session is leased to one operation at a time
// whichever worker runs it: the lsid is in the command before the command
// crosses to a worker, and the lease ends when the reply (or error) is back.
import { Long, UUID, type Document } from 'bson';

/** Sessions spec, "Algorithm to acquire a ServerSession": one whose timeout is less than a minute away is discarded. */
const EXPIRY_MARGIN_MS = 60_000;
/** Sessions spec, "endSessions": at most this many ids per command. */
export const END_SESSIONS_BATCH = 10_000;

export class ServerSession {
  /** The command field: { id: UUID (binary subtype 4) }. */
  readonly lsid: Document = { id: new UUID() };
  /** When an operation last used it (performance.now()). */
  lastUse = performance.now();
  /** The last txnNumber given out; each retryable write command takes the next. */
  #txnNumber = 0n;
  /** A network error happened while it was in use: the server may still hold it busy; never reuse. */
  dirty = false;

  nextTxnNumber(): Long {
    this.#txnNumber++;
    return Long.fromBigInt(this.#txnNumber);
  }

  /** It would time out on the server within the margin (sessions spec, "Algorithm to acquire a ServerSession"). */
  expiresSoon(timeoutMinutes: number, now: number): boolean {
    return now - this.lastUse > timeoutMinutes * 60_000 - EXPIRY_MARGIN_MS;
  }
}

/**
 * Idle server sessions, most recently used last (sessions spec: LIFO, so
 * that the fewest sessions stay alive on the server).
 */
export class ServerSessionPool {
  readonly #idle: ServerSession[] = [];
  #ended = false;

  /** A server session for one operation (or one cursor's life); a new one when none idle is fresh enough. */
  acquire(timeoutMinutes: number): ServerSession {
    const now = performance.now();
    while (this.#idle.length > 0) {
      const session = this.#idle.pop()!;
      if (!session.expiresSoon(timeoutMinutes, now)) return session;
    }
    return new ServerSession();
  }

  /** Back to the pool, unless dirty; expired ones at the old end are pruned (sessions spec, "Algorithm to return a ServerSession"). */
  release(session: ServerSession, timeoutMinutes: number | null): void {
    session.lastUse = performance.now();
    if (this.#ended || session.dirty) return;
    if (timeoutMinutes !== null) {
      while (this.#idle.length > 0 && this.#idle[0]!.expiresSoon(timeoutMinutes, session.lastUse)) this.#idle.shift();
      if (session.expiresSoon(timeoutMinutes, session.lastUse)) return;
    }
    this.#idle.push(session);
  }

  get idle(): number {
    return this.#idle.length;
  }

  /**
   * The `endSessions` commands for every idle session, in batches of
   * END_SESSIONS_BATCH; the pool keeps nothing afterwards (sessions still in
   * use when the dial closes are simply not returned).
   */
  end(): Document[] {
    this.#ended = true;
    const commands: Document[] = [];
    const ids = this.#idle.splice(0).map((s) => s.lsid);
    for (let i = 0; i < ids.length; i += END_SESSIONS_BATCH) commands.push({ endSessions: ids.slice(i, i + END_SESSIONS_BATCH) });
    return commands;
  }
}
