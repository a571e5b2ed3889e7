// mgo's Session on top of the Router: consistency modes, socket
// reservations, safety, and the family of sessions that share one router.
//
// Sockets, as mgo holds them. A session in any mode but Eventual reserves a
// socket on its first operation and keeps it until refresh() or close():
// one slot for a socket to the primary and one for a socket to a secondary.
//   - Strong (= Primary): everything on the primary slot.
//   - Monotonic: reads reserve with secondaryPreferred; the first write
//     reserves the primary and from then on reads use it too.
//   - PrimaryPreferred, Secondary, SecondaryPreferred, Nearest: reads reserve
//     with that read preference, writes reserve the primary.
//   - Eventual: nothing is reserved; each operation is routed on its own.
// clone() shares its parent's reserved sockets (reference-counted), copy()
// and new() start without any. A reserved socket that died (the router marks
// the Reservation dead) or failed with a network error is dropped: the
// failing operation reports the error, the next one reserves a new socket.
import { commandName } from '../wire/command-name.js';
import type { DeserializeOptions, Document, UUID } from 'bson';
import { resolveCredential } from '../auth/credential.js';
import { UNAUTHENTICATED } from '../auth/identities.js';
import { MgoError, NetworkError, ServerError } from '../errors.js';
import type { ServerStats } from '../pool/stats.js';
import { PRIMARY, type ReadPreference } from '../read-preference.js';
import type { DeliveryStats, Reservation, Router, RouterReply, RouterRequest } from '../router/router.js';
import { EventHub } from '../monitoring/event-hub.js';
import { readBSONOptions, type BSONOptions } from '../uri/options.js';
import { deadline } from '../util/deadline.js';
import { checkFraction, checkInteger } from './arguments.js';
import { BuildInfo } from './build-info.js';
import { databasesReplyOf } from '../wire/reply-shape.js';
import { ChangeStream, watchTarget, type ChangeEvent, type ChangeStreamOptions } from './change-stream.js';
import { Database, runCommand } from './database.js';
import { refQuery, type DBRefLike } from './dbref.js';
import { fsyncCommand, fsyncLockCommand, fsyncUnlockCommand } from './fsync.js';
import type { Query } from './query.js';
import { stateChangeErrorKind } from '../cluster/sdam-errors.js';
import type { SessionSupport } from '../cluster/topology-description.js';
import { QueryError } from './errors.js';
import { INTERNAL, type Operation, type SessionInternals } from './internal.js';
import { Mode, allowsSecondaryReads, checkMode, modeName, readPreferenceOf, reservesSocket, type ServerSelection } from './modes.js';
import { SharedReservation } from './reservation.js';
import { countFailedAttempt, countReceived, countSent, statsRouterClosed, statsRouterOpened } from './stats.js';
import { checkSafe, strongerSafe, type Safe } from './write-concern.js';
import { ServerSession, ServerSessionPool } from './server-sessions.js';
import { hasRetryableWriteConcernError, isRetryableReadError, labelRetryableWriteError, NO_WRITES_PERFORMED } from './retry.js';

/** mgo's default: fetch the next batch when a quarter of the current one is left. */
export const DEFAULT_PREFETCH = 0.25;
/** mgo's default database when neither db() nor the URL names one. */
export const DEFAULT_DATABASE = 'test';

/** The first session's settings, for openSession() (dial() derives them from its URL and options). */
export interface SessionOptions {
  /** The database db() uses without a name (the URL's path); 'test' by default. */
  database?: string;
  /** Strong by default. */
  mode?: Mode;
  /** Acknowledged writes with the server's defaults ({}) by default; null for unacknowledged. */
  safe?: Safe | null;
  /** Tag sets and max staleness for reads that may go to secondaries. */
  selection?: ServerSelection;
  /** Client-side limit on waiting for each reply; 0 (default) leaves it to the connection's socketTimeoutMS. */
  socketTimeoutMS?: number;
  /** Limit on waiting for a socket to reserve; 0 (default) leaves it to the router's own timeouts. */
  syncTimeoutMS?: number;
  /** How replies are decoded (js-bson deserialize options); js-bson's defaults where left out. */
  bson?: BSONOptions;
  /** The auth database login() uses when the credential names none (mgo: DialInfo Source, else the URL's database, else admin). */
  loginSource?: string;
  /** The auth database of the dial-time credential, if there is one. */
  dialSource?: string;
  /** Retryable writes (txnNumber) where the servers support them; true by default (the URL's retryWrites). */
  retryWrites?: boolean;
  /** Retryable reads; true by default (the URL's retryReads). */
  retryReads?: boolean;
}

/** The retry found no server to run on (a selection or reservation timeout, the session closed meanwhile): the first error says more. */
const NO_RETRY_SERVER: ReadonlySet<string> = new Set(['ERR_SERVER_SELECTION', 'ERR_SYNC_TIMEOUT', 'ERR_SESSION_CLOSED']);

/** How long close() waits for endSessions before closing the router anyway. */
const END_SESSIONS_TIMEOUT_MS = 1_000;
/** Sessions spec, "endSessions": sent to any server that will take it, the primary first. */
const PRIMARY_PREFERRED: ReadPreference = { mode: 'primaryPreferred' };

/**
 * The router, the server sessions and the count of open sessions made from
 * one dial; the last close() ends the server sessions and closes the router.
 */
class SessionFamily {
  #open = 0;
  #closing: Promise<void> | undefined;
  readonly serverSessions = new ServerSessionPool();

  constructor(
    readonly router: Router,
    readonly database: string,
    readonly loginSource: string,
    readonly dialSource: string | undefined,
    readonly retryWrites: boolean,
    readonly retryReads: boolean,
    readonly events: EventHub,
  ) {
    statsRouterOpened(router);
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  join(): void {
    this.#open++;
  }

  leave(): Promise<void> {
    this.#open--;
    if (this.#open > 0) return Promise.resolve();
    if (this.#closing === undefined) statsRouterClosed(this.router);
    this.#closing ??= this.#endSessions().then(() => this.router.close());
    return this.#closing;
  }

  /**
   * Sessions spec, "When a MongoClient is closed": endSessions for the
   * pooled server sessions, once, errors ignored (the server times them out
   * by itself) and bounded in time, so that close() never hangs on it.
   */
  async #endSessions(): Promise<void> {
    const support = this.router.sessionSupport();
    const commands = this.serverSessions.end();
    if (support.timeoutMinutes === null) return;
    for (const command of commands) {
      const ended = this.router.run({ db: 'admin', command, readPreference: PRIMARY_PREFERRED, identity: this.router.dialIdentity });
      const outcome = await deadline(ended, END_SESSIONS_TIMEOUT_MS, () => new Error('endSessions timed out')).then(
        () => true,
        () => false,
      );
      if (!outcome) return;
    }
  }
}

type Slot = 'primary' | 'secondary';

interface Settings {
  mode: Mode;
  safe: Safe | null;
  selection: ServerSelection;
  socketTimeoutMS: number;
  syncTimeoutMS: number;
  batch: number;
  prefetch: number;
  noCursorTimeout: boolean;
  bson: BSONOptions;
  /** Who the session's sockets are authenticated as (src/auth/identities.ts). */
  identity: number;
  /** The auth database of the session's credential (dial-time or login()), for Database.logout(). */
  credentialSource: string | undefined;
  /** setBypassValidation(): bypassDocumentValidation on the writes that take it. */
  bypassValidation: boolean;
  /** setPoolLimit(): the session's own limit on a server's sockets in use; 0 for none. */
  poolLimit: number;
}

/** mgo's Credential: what Session.login() takes. */
export interface LoginCredential {
  /** The user to authenticate as (its certificate subject for MONGODB-X509, where it may be left out). */
  username?: string;
  /** The user's password (SCRAM); never shown in errors, logs or events. */
  password?: string;
  /** The auth database; the session's login source by default ('$external' for MONGODB-X509). */
  source?: string;
  /** Negotiated (SCRAM-SHA-256, else SCRAM-SHA-1) when left out. */
  mechanism?: 'SCRAM-SHA-256' | 'SCRAM-SHA-1' | 'MONGODB-X509';
}

/**
 * Opens the first session of a family over `router` (dial() does this with
 * the router it creates). `events`: the hub the router publishes to, which
 * becomes session.events; when left out, the router's own hub (a new one
 * only if the router's sink is not a hub: a session.events that nothing
 * publishes to would never emit).
 */
export function openSession(router: Router, options: SessionOptions = {}, events: EventHub = router.events instanceof EventHub ? router.events : new EventHub()): Session {
  const family = new SessionFamily(
    router,
    options.database || DEFAULT_DATABASE,
    options.loginSource || 'admin',
    options.dialSource,
    options.retryWrites ?? true,
    options.retryReads ?? true,
    events,
  );
  const settings: Settings = {
    mode: checkMode(options.mode ?? Mode.Strong),
    safe: checkSafe(options.safe === undefined ? {} : options.safe),
    selection: { ...options.selection },
    socketTimeoutMS: checkInteger('socketTimeoutMS', options.socketTimeoutMS ?? 0),
    syncTimeoutMS: checkInteger('syncTimeoutMS', options.syncTimeoutMS ?? 0),
    batch: 0,
    prefetch: DEFAULT_PREFETCH,
    noCursorTimeout: false,
    bson: options.bson ? readBSONOptions(options.bson, {}, 'dial') : {},
    identity: router.dialIdentity,
    credentialSource: options.dialSource,
    bypassValidation: false,
    poolLimit: 0,
  };
  return new Session(family, settings);
}

/**
 * mgo's Session: a handle on one dial's servers with its own consistency
 * mode, safety and reserved sockets. dial() returns the first; copy(),
 * clone() and new() make more that share the dial's pools (close each one;
 * the last close() of a dial closes its pools). Every operation returns a
 * promise where mgo returned an error; `await using` closes a session too.
 */
export class Session {
  readonly #family: SessionFamily;
  #settings: Settings;
  /** mgo's slaveOk: reads may use (and reserve) a secondary-capable socket. */
  #secondaryReads: boolean;
  readonly #slots: Record<Slot, SharedReservation | undefined> = { primary: undefined, secondary: undefined };
  /** Reservations in progress, one per purpose, so that concurrent first operations share one socket. */
  readonly #reserving = new Map<'read' | 'write', Promise<void>>();
  /** Bumped by refresh() and close(): a reservation that arrives for an older epoch is given back. */
  #epoch = 0;
  #closed = false;
  readonly #internals: SessionInternals;
  /** withLogicalSession(): every operation runs in this server session, until close() ends it. */
  readonly #logical: ServerSession | undefined;

  /** @internal Sessions come from dial(), openSession(), copy(), clone(), new() and withLogicalSession(). */
  constructor(
    family: SessionFamily,
    settings: Settings,
    shared?: { slots: Record<Slot, SharedReservation | undefined>; secondaryReads: boolean },
    logical?: ServerSession,
  ) {
    this.#family = family;
    this.#logical = logical;
    this.#settings = { ...settings, selection: { ...settings.selection }, bson: { ...settings.bson } };
    this.#secondaryReads = shared?.secondaryReads ?? allowsSecondaryReads(settings.mode);
    if (shared) {
      this.#slots.primary = shared.slots.primary?.retain();
      this.#slots.secondary = shared.slots.secondary?.retain();
    }
    family.join();
    const session = this;
    this.#internals = {
      run: (operation) => this.#run(operation),
      checkOpen: (method) => this.#checkOpen(method),
      get closed() {
        return session.#closed;
      },
      get batch() {
        return session.#settings.batch;
      },
      get prefetch() {
        return session.#settings.prefetch;
      },
      get noCursorTimeout() {
        return session.#settings.noCursorTimeout;
      },
      get bson() {
        return session.#settings.bson;
      },
      get bypassValidation() {
        return session.#settings.bypassValidation;
      },
      limits: () => family.router.limits(),
      sessionSupport: () => family.router.sessionSupport(),
      leaseServerSession: () => this.#leaseServerSession(),
      releaseServerSession: (serverSession) => {
        if (serverSession !== this.#logical) family.serverSessions.release(serverSession, family.router.sessionSupport().timeoutMinutes);
      },
    };
  }

  /** @internal */
  get [INTERNAL](): SessionInternals {
    return this.#internals;
  }

  // -------------------------------------------------------------------------
  // Family

  /** A new session with the same settings and no reserved socket. */
  copy(): Session {
    this.#checkOpen('copy');
    return new Session(this.#family, this.#settings);
  }

  /** Like copy(), with the credential the session was dialed with rather than one given to login() since (mgo's New). */
  new(): Session {
    this.#checkOpen('new');
    return new Session(this.#family, { ...this.#settings, identity: this.#family.router.dialIdentity, credentialSource: this.#family.dialSource });
  }

  /** A new session with the same settings that shares this one's reserved sockets. */
  clone(): Session {
    this.#checkOpen('clone');
    return new Session(this.#family, this.#settings, { slots: this.#slots, secondaryReads: this.#secondaryReads });
  }

  /**
   * A copy whose operations all run in one explicit logical session (the
   * driver sessions spec's explicit session: one lsid on every command,
   * cursors included), until its close() ends it. Copies and clones made
   * from it get their own implicit sessions again. Fails with
   * ERR_UNSUPPORTED_OPTION when the servers report no
   * logicalSessionTimeoutMinutes.
   */
  withLogicalSession(): Session {
    this.#checkOpen('withLogicalSession');
    const { timeoutMinutes } = this.#family.router.sessionSupport();
    if (timeoutMinutes === null) throw new MgoError('ERR_UNSUPPORTED_OPTION', 'withLogicalSession(): the servers do not support logical sessions (no logicalSessionTimeoutMinutes in hello)');
    return new Session(this.#family, this.#settings, undefined, this.#family.serverSessions.acquire(timeoutMinutes));
  }

  /** The lsid's id of withLogicalSession()'s session; undefined for a session whose operations take implicit ones. */
  get logicalSessionId(): UUID | undefined {
    return this.#logical?.lsid.id as UUID | undefined;
  }

  /** Releases the reserved sockets (and ends its logical session); the last session of a dial also closes the router. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#releaseSockets();
    if (this.#logical) this.#family.serverSessions.release(this.#logical, this.#family.router.sessionSupport().timeoutMinutes);
    await this.#family.leave();
  }

  /** close(), for `await using session = await dial(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // -------------------------------------------------------------------------
  // Authentication

  /**
   * mgo's Session.Login: from now on this session, and the copies and
   * clones made from it afterwards, run as this user. Checked at once: the
   * session gives back its reserved sockets and pings on a socket
   * authenticated as the user (an idle one of the pool, or a new one within
   * the same connection limit), and a refused credential fails with
   * ERR_AUTH and leaves the session as it was.
   * One difference from mgo: a session runs as one user at a time (a login
   * replaces the previous credential instead of adding to it), because
   * MongoDB authenticates each connection once, as a single user.
   */
  async login(credential: LoginCredential): Promise<void> {
    this.#checkOpen('login');
    if (typeof credential !== 'object' || credential === null) throw new MgoError('ERR_INVALID_ARGUMENT', 'login(): the credential must be an object');
    const { username, password, source, mechanism } = credential;
    const resolved = resolveCredential({
      username: username ?? null,
      password: password ?? null,
      authSource: source ?? (mechanism === 'MONGODB-X509' ? undefined : this.#family.loginSource),
      authMechanism: mechanism,
    });
    if (!resolved) throw new MgoError('ERR_INVALID_ARGUMENT', 'login(): the credential names no user and no mechanism');
    const identity = this.#family.router.login(resolved);
    const previous = { identity: this.#settings.identity, credentialSource: this.#settings.credentialSource };
    this.#releaseSockets();
    this.#settings.identity = identity;
    this.#settings.credentialSource = resolved.source;
    try {
      await this.ping();
    } catch (err) {
      this.#releaseSockets();
      Object.assign(this.#settings, previous);
      throw err;
    }
  }

  /** mgo's LogoutAll: the session (and copies made after) run unauthenticated, the dial-time credential included. */
  logoutAll(): void {
    this.#checkOpen('logoutAll');
    this.#releaseSockets();
    this.#settings.identity = UNAUTHENTICATED;
    this.#settings.credentialSource = undefined;
  }

  /** @internal Database.logout(): logs out when the session's credential is from that database. */
  logoutFrom(database: string): void {
    if (this.#settings.credentialSource === database) this.logoutAll();
  }

  /** Gives back the reserved sockets and restarts the mode's guarantees (a Monotonic session may read from secondaries again). */
  refresh(): void {
    this.#checkOpen('refresh');
    this.#releaseSockets();
    this.#secondaryReads = allowsSecondaryReads(this.#settings.mode);
  }

  // -------------------------------------------------------------------------
  // Settings

  /**
   * Changes the consistency mode. With refresh, as refresh(). Without, the
   * reserved sockets are kept unless unsuitable: Strong gives back a
   * secondary socket.
   */
  setMode(mode: Mode, refresh = false): void {
    this.#checkOpen('setMode');
    const checked = checkMode(mode);
    this.#settings.mode = checked;
    if (refresh) {
      this.refresh();
    } else if (checked === Mode.Strong) {
      this.#secondaryReads = false;
      this.#drop('secondary');
    } else if (!this.#slots.primary) {
      this.#secondaryReads = true;
    }
  }

  /** The session's consistency mode (mgo's Mode). */
  mode(): Mode {
    return this.#settings.mode;
  }

  /** Sets how writes are acknowledged; null makes them unacknowledged (w: 0, nothing read back). */
  setSafe(safe: Safe | null): void {
    this.#checkOpen('setSafe');
    this.#settings.safe = checkSafe(safe);
  }

  /**
   * mgo's EnsureSafe: strengthens the session's safety, never weakens it.
   * Each setting of `safe` is taken where it is stronger than the current
   * one (a wMode or rMode always, a greater w, a shorter wTimeout, fsync,
   * j); an unacknowledged session takes `safe` whole; null changes nothing.
   */
  ensureSafe(safe: Safe | null): void {
    this.#checkOpen('ensureSafe');
    this.#settings.safe = strongerSafe(this.#settings.safe, safe);
  }

  /**
   * mgo's SetBypassValidation: with true, the collection validators
   * (server 3.2+) do not check this session's inserts, updates (bulks
   * included), apply() updates and pipelines ending in $out or $merge: they
   * carry bypassDocumentValidation. Copies and clones made later inherit it.
   * Deletes never carry it (mgo sent it on them too; they validate nothing).
   */
  setBypassValidation(bypass: boolean): void {
    this.#checkOpen('setBypassValidation');
    if (typeof bypass !== 'boolean') throw new MgoError('ERR_INVALID_ARGUMENT', `setBypassValidation(): expected a boolean, got ${String(bypass)}`);
    this.#settings.bypassValidation = bypass;
  }

  /** The current safety settings (a copy), or null in unacknowledged mode. */
  safe(): Safe | null {
    return this.#settings.safe && { ...this.#settings.safe };
  }

  /**
   * mgo's SetPoolLimit: this session's operations (and those of copies and
   * clones made from it afterwards) wait while `limit` or more sockets of
   * their server are in use, by any session, across all workers; other
   * sessions are not held back by it. The connection limit per server
   * (the poolLimit dial option, setGlobalPoolLimit()) still applies on top:
   * a larger `limit` changes nothing. A wait ends as a wait for the pool's
   * sockets does, with PoolTimeoutError after waitQueueTimeoutMS (or the
   * session's sync timeout, for a socket it reserves). Differs from mgo:
   * mgo's limit was also the pool's size, so its default (4096) is here
   * poolLimit's (100); and an operation waiting for its server's pool is
   * counted as in use too (it only waits when every socket is taken, so
   * the server has at least as many in use as the limit anyway). As in
   * mgo (AcquireSocket gates only a limit > 0), 0 means no limit of the
   * session's own: it removes one set earlier.
   */
  setPoolLimit(limit: number): void {
    this.#checkOpen('setPoolLimit');
    this.#settings.poolLimit = checkInteger('setPoolLimit', limit, 0);
  }

  /**
   * Changes the connection limit per server of everything dialed with this
   * session's dial (all its sessions, all workers), live: mgo has no such
   * call (its SetPoolLimit is per session: setPoolLimit()). Lowered, no
   * socket is granted while as many are open as the new limit, idle sockets
   * above it close at once and checked-out ones at check-in; raised,
   * operations waiting for a socket get the new ones, oldest first. Resolves
   * once every worker applied it. An integer >= 1, and >= minPoolSize.
   */
  async setGlobalPoolLimit(limit: number): Promise<void> {
    this.#checkOpen('setGlobalPoolLimit');
    checkInteger('setGlobalPoolLimit', limit, 1);
    await this.#family.router.setGlobalPoolLimit(limit);
  }

  /**
   * Fails an operation whose reply takes longer than `ms` (0: no limit but
   * the connection's own socketTimeoutMS) with ERR_NETWORK_TIMEOUT, and
   * drops the reserved socket it ran on. A getMore that the server holds on
   * purpose (Query.tail(), a change stream: awaitData up to its maxTimeMS)
   * gets its await on top of `ms`.
   */
  setSocketTimeout(ms: number): void {
    this.#checkOpen('setSocketTimeout');
    this.#settings.socketTimeoutMS = checkInteger('setSocketTimeout', ms);
  }

  /** How long reserving a socket may take before failing with ERR_SYNC_TIMEOUT (0: the router's own limits). */
  setSyncTimeout(ms: number): void {
    this.#checkOpen('setSyncTimeout');
    this.#settings.syncTimeoutMS = checkInteger('setSyncTimeout', ms);
  }

  /**
   * Default batch size of this session's queries and pipes (0: the
   * server's). A negative -n, as in mgo, returns one batch of at most n
   * documents and closes the cursor (Query.batch()); listings (indexes(),
   * collectionNames()) take it as n.
   */
  setBatch(n: number): void {
    this.#checkOpen('setBatch');
    this.#settings.batch = checkInteger('setBatch', n, Number.MIN_SAFE_INTEGER);
  }

  /**
   * mgo's SetCursorTimeout: 0 asks the server never to time out the cursors
   * of this session's finds (noCursorTimeout; servers otherwise drop a
   * cursor idle for 10 minutes), for this session and the copies and clones
   * made from it later. Any other value throws ERR_INVALID_ARGUMENT, as mgo
   * panics on it. Such a cursor lives until it is exhausted or closed: close
   * the Iter.
   */
  setCursorTimeout(ms: number): void {
    this.#checkOpen('setCursorTimeout');
    if (ms !== 0) throw new MgoError('ERR_INVALID_ARGUMENT', `setCursorTimeout(${String(ms)}): only 0 (no cursor timeout) is supported, as in mgo`);
    this.#settings.noCursorTimeout = true;
  }

  /**
   * How this session decodes replies: js-bson's deserialize options
   * (promoteLongs, promoteValues, promoteBuffers, useBigInt64, bsonRegExp)
   * and `raw` (query and pipe results as each document's BSON bytes). Set
   * ones replace the session's; copies and clones made later inherit them.
   * Queries and pipes may override them (bsonOptions()).
   */
  setBSONOptions(options: BSONOptions): void {
    this.#checkOpen('setBSONOptions');
    const merged = { ...this.#settings.bson, ...readBSONOptions(options as Record<string, unknown>, this.#settings.bson, 'setBSONOptions()') };
    this.#settings.bson = merged;
  }

  /** The session's BSON decoding options (a copy). */
  bsonOptions(): BSONOptions {
    return { ...this.#settings.bson };
  }

  /** Default prefetch of this session's iterators: the next batch is requested when this fraction of the last one is left. */
  setPrefetch(p: number): void {
    this.#checkOpen('setPrefetch');
    this.#settings.prefetch = checkFraction('setPrefetch', p);
  }

  /** Restricts reads that may go to secondaries to servers matching one of the tag sets (mgo's SelectServers). */
  selectServers(...tagSets: Document[]): void {
    this.#checkOpen('selectServers');
    this.#settings.selection = { ...this.#settings.selection, tags: tagSets.map((t) => ({ ...t })) };
  }

  // -------------------------------------------------------------------------
  // Operations

  /** The database named `name`, or the dialed default database ('test' without one). */
  db(name?: string): Database {
    this.#checkOpen('db');
    return new Database(this, name || this.#family.database);
  }

  /** Runs a command on the admin database and returns its reply. */
  async run(command: string | Document): Promise<Document> {
    this.#checkOpen('run');
    return this.db('admin').run(command);
  }

  /**
   * A change stream of every database of the deployment (aggregate on
   * admin with allChangesForCluster; Collection.watch(); mgo has it on
   * Collection only).
   */
  watch<T extends Document = ChangeEvent>(pipeline?: Document[] | null, options?: ChangeStreamOptions): Promise<ChangeStream<T>> {
    return ChangeStream.open<T>(this, watchTarget('admin', 1, 'Session.watch()', true), pipeline, options);
  }

  /** Runs the ping command on the server this session's operations go to; rejects if it cannot (mgo's Ping). */
  async ping(): Promise<void> {
    this.#checkOpen('ping');
    await this.run('ping');
  }

  /**
   * mgo's FindRef: the query for the document `ref` (js-bson's DBRef) points
   * at. The reference must name its database (ref.db): one that does not
   * fails with ERR_INVALID_ARGUMENT, where mgo panics; Database.findRef()
   * resolves such a reference in that database.
   */
  findRef<T extends Document = Document>(ref: DBRefLike): Query<T> {
    this.#checkOpen('findRef');
    return refQuery(this, ref, 'findRef') as Query<T>;
  }

  /**
   * mgo's Fsync: the server flushes pending writes to disk; with `async`
   * the reply comes before the flush ends (servers 4.2+ refuse async).
   * Runs like run(): on the server this session's operations go to.
   */
  async fsync(async = false): Promise<void> {
    this.#checkOpen('fsync');
    await this.run(fsyncCommand(async));
  }

  /**
   * mgo's FsyncLock: the server blocks writes (and, once one waits, reads)
   * until fsyncUnlock(), e.g. for a backup of its files. Lock and unlock
   * through one session in a mode that reserves a socket (Strong, the
   * default), so that both reach the same server.
   */
  async fsyncLock(): Promise<void> {
    this.#checkOpen('fsyncLock');
    await this.run(fsyncLockCommand());
  }

  /** mgo's FsyncUnlock: releases one fsyncLock() of the server this session's operations go to. */
  async fsyncUnlock(): Promise<void> {
    this.#checkOpen('fsyncUnlock');
    await this.run(fsyncUnlockCommand());
  }

  /**
   * The dial's driver events: one EventEmitter shared by every session of
   * the dial (copy, clone, new), emitting the official Node driver's event
   * names with the specs' fields: command monitoring (commandStarted,
   * commandSucceeded, commandFailed), CMAP (connectionPoolCreated,
   * connectionCheckedOut, ...) and SDAM (serverDescriptionChanged,
   * serverHeartbeatStarted, ...). With workers, each event of a worker
   * carries its `workerId` (connection ids are per worker). Events are only
   * produced while someone listens here or on their diagnostics_channel
   * (`mgo-threads:command:started`, `mgo-threads:pool:connectionCheckedOut`,
   * ...), or with the monitorCommands option for command events. New in
   * mgo-threads: mgo has no event API (its nearest is SetStats/GetStats).
   * Readable after close(), for listeners to be removed.
   */
  get events(): EventHub {
    return this.#family.events;
  }

  /** Addresses of the servers currently known to be up. */
  liveServers(): string[] {
    this.#checkOpen('liveServers');
    return this.#family.router.liveServers();
  }

  /** Connection pool statistics per server. */
  stats(): ServerStats[] {
    this.#checkOpen('stats');
    return this.#family.router.stats();
  }

  /**
   * With workers: how this thread has settled the workers' replies, in
   * time-bounded slices (the longest slice seen, continuations included).
   * Undefined with workers: 0, where replies come straight from the sockets.
   */
  deliveryStats(resetLargest = false): DeliveryStats | undefined {
    this.#checkOpen('deliveryStats');
    return this.#family.router.deliveryStats?.(resetLargest);
  }

  /** The server's build information (mgo's BuildInfo, returned rather than filled in). */
  async buildInfo(): Promise<BuildInfo> {
    this.#checkOpen('buildInfo');
    return new BuildInfo(await this.run({ buildInfo: 1 }));
  }

  /** Names of the non-empty databases, sorted. */
  async databaseNames(): Promise<string[]> {
    this.#checkOpen('databaseNames');
    const { reply, address } = await runCommand(this, 'admin', { listDatabases: 1, nameOnly: true }, 'read', undefined, true);
    return databasesReplyOf(reply, address)
      .filter((d) => !d.empty)
      .map((d) => d.name)
      .sort();
  }

  // -------------------------------------------------------------------------
  // Routing

  #checkOpen(method: string): void {
    if (this.#closed) throw new MgoError('ERR_SESSION_CLOSED', `${method}(): the session is closed; use a session from copy() or clone() of an open one, or dial again`);
  }

  #readPreference(read: boolean): ReadPreference {
    return read && this.#secondaryReads ? readPreferenceOf(this.#settings.mode, this.#settings.selection) : PRIMARY;
  }

  /**
   * One operation: its server session (lsid, and a txnNumber for a
   * retryable write), then one attempt, and at most one retry after a
   * retryable failure (retryable writes and reads specs). A request lost
   * with a dying worker is one such failure (a NetworkError): the worker
   * router does not retry anything itself, so an operation runs at most
   * twice in all, whatever failed.
   */
  async #run(operation: Operation): Promise<RouterReply> {
    this.#checkOpen(String(Object.keys(operation.command)[0] ?? 'command'));
    const family = this.#family;
    const support = family.router.sessionSupport();
    const write = operation.routing === 'write';
    let serverSession = operation.serverSession ?? this.#logical;
    if (operation.moreToCome && this.#logical) {
      // Sessions spec: an unacknowledged write cannot be part of an explicit session.
      throw new MgoError('ERR_INVALID_ARGUMENT', 'an unacknowledged write (safe null) cannot run in a session from withLogicalSession()');
    }
    let implicit: ServerSession | undefined;
    // Sessions spec: implicit sessions for acknowledged commands only, where the servers support them.
    if (!serverSession && support.timeoutMinutes !== null && !operation.moreToCome) {
      serverSession = implicit = family.serverSessions.acquire(support.timeoutMinutes);
    }
    const retry = operation.retryable === true && !operation.moreToCome && (write ? family.retryWrites && support.retryableWrites && serverSession !== undefined : family.retryReads);
    let command = operation.command;
    if (serverSession) {
      command = { ...command, lsid: serverSession.lsid };
      if (retry && write) command.txnNumber = serverSession.nextTxnNumber();
    }
    try {
      if (!retry) return await this.#attempt(operation, command, false);
      // What to report if the retry has nothing better to say: the first attempt's outcome.
      let first: () => RouterReply;
      // Where it failed: the retry's selection avoids that server while another will do.
      let failedOn: string | undefined;
      try {
        const result = await this.#attempt(operation, command, true);
        if (!write || !hasRetryableWriteConcernError(result.reply, support)) return result;
        first = () => result;
        failedOn = result.address;
      } catch (err) {
        // Sessions spec: dirty after any network error, even one the retry recovers from.
        if (serverSession && err instanceof NetworkError) serverSession.dirty = true;
        if (write ? !labelRetryableWriteError(err, support) : !isRetryableReadError(err)) throw err;
        // Retryable writes spec: the retry's server must support retryable
        // writes too, or the first error stands. Judged when the servers are
        // known: the error itself may just have made the only one Unknown (a
        // single mongos), and the retry's selection waits for it.
        const now = family.router.sessionSupport();
        if (write && now.known && !now.retryableWrites) throw err;
        first = () => {
          throw err;
        };
        failedOn = err instanceof MgoError ? err.address : undefined;
      }
      return await this.#retry(operation, command, first, write ? support : undefined, failedOn);
    } catch (err) {
      // Sessions spec: a server session that met a network error may still be busy on the server.
      if (serverSession && err instanceof NetworkError) serverSession.dirty = true;
      throw err;
    } finally {
      if (implicit) family.serverSessions.release(implicit, support.timeoutMinutes);
    }
  }

  /**
   * The one retry: the same command (same lsid and txnNumber, so that a
   * server that ran the first attempt answers from its record instead of
   * writing twice) on a newly selected server. Its failure is reported,
   * unless it says it wrote nothing (NoWritesPerformed) or found no server,
   * where the first attempt's outcome says more.
   */
  async #retry(
    operation: Operation,
    command: Document,
    first: () => RouterReply,
    writeSupport: SessionSupport | undefined,
    failedOn: string | undefined,
  ): Promise<RouterReply> {
    try {
      this.#checkOpen(String(Object.keys(operation.command)[0] ?? 'command'));
      return await this.#attempt(operation, command, false, failedOn === undefined ? undefined : [failedOn]);
    } catch (err) {
      if (err instanceof MgoError && (err.hasErrorLabel(NO_WRITES_PERFORMED) || NO_RETRY_SERVER.has(err.code))) {
        return first();
      }
      if (writeSupport) labelRetryableWriteError(err, writeSupport);
      throw err;
    }
  }

  /**
   * One attempt of an operation: its socket (reserved, or routed by read
   * preference) and one router.run(). `again`: a retry may follow, so the
   * router must leave the sequences' bytes usable. `deprioritized`: the
   * servers an earlier attempt failed on (retryable reads and writes specs:
   * the retry goes elsewhere when it can, e.g. to another mongos).
   */
  async #attempt(operation: Operation, command: Document, again: boolean, deprioritized?: readonly string[]): Promise<RouterReply> {
    const request: RouterRequest = { db: operation.db, command, readPreference: PRIMARY, identity: this.#settings.identity };
    if (deprioritized) request.deprioritized = deprioritized;
    if (this.#settings.poolLimit > 0) request.poolLimit = this.#settings.poolLimit;
    if (operation.sequences) {
      request.sequences = operation.sequences;
      if (again) request.retainSequences = true;
    }
    if (operation.moreToCome) request.moreToCome = true;
    const deserialize = deserializeOptionsOf(operation.bson ? { ...this.#settings.bson, ...operation.bson } : this.#settings.bson, operation.cursor === true);
    if (deserialize) request.deserialize = deserialize;
    let socket: SharedReservation | undefined;
    if (typeof operation.routing === 'object') {
      // A cursor lives on one server: stay on the session's socket if it is there.
      const { address } = operation.routing;
      socket = [this.#slots.primary, this.#slots.secondary].find((s) => s && !s.dead && s.address === address);
      if (!socket) request.address = address;
    } else {
      const read = operation.routing === 'read';
      socket = await this.#socketFor(read, deprioritized, command);
      request.readPreference = this.#readPreference(read);
      if (!read) request.write = true;
    }
    if (socket) request.reservation = socket.reservation;
    const { router } = this.#family;
    // An awaitData getMore's reply may come only after its maxTimeMS, on purpose.
    const timeoutMS = this.#settings.socketTimeoutMS > 0 ? this.#settings.socketTimeoutMS + (operation.awaitMS ?? 0) : 0;
    try {
      const result = await deadline(router.run(request), timeoutMS, () => {
        const where = socket?.address ?? request.address ?? 'the server';
        return new NetworkError('ERR_NETWORK_TIMEOUT', `no reply from ${where} within the session's socket timeout (${timeoutMS} ms)`, { address: socket?.address ?? request.address });
      });
      countSent();
      // A cursor's documents are counted by its Iter, batch by batch; an unacknowledged write has no reply.
      if (!operation.moreToCome) countReceived(operation.cursor ? 0 : 1);
      return result;
    } catch (err) {
      countFailedAttempt(err);
      if (err instanceof ServerError) countReceived(1);
      // Never keep a socket that failed, nor one whose server stepped down or
      // is recovering (4.2+ servers keep connections open across a
      // stepdown): the next operation, or the retry, reserves another.
      if (socket && (socket.dead || err instanceof NetworkError || (err instanceof ServerError && stateChangeErrorKind(err.serverCode, err.message) !== null))) {
        this.#dropSocket(socket);
      }
      if (err instanceof ServerError && !(err instanceof QueryError)) throw QueryError.fromServerError(err);
      throw err;
    }
  }

  /** A cursor's server session: the explicit one, else one from the pool (the cursor gives it back when it ends). */
  #leaseServerSession(): ServerSession | undefined {
    if (this.#logical) return this.#logical;
    const { timeoutMinutes } = this.#family.router.sessionSupport();
    return timeoutMinutes === null ? undefined : this.#family.serverSessions.acquire(timeoutMinutes);
  }

  /** The reserved socket an operation uses, reserving one if the mode asks for it; undefined: route by read preference. */
  async #socketFor(read: boolean, deprioritized?: readonly string[], command?: Document): Promise<SharedReservation | undefined> {
    for (;;) {
      for (const slot of ['primary', 'secondary'] as const) if (this.#slots[slot]?.dead) this.#drop(slot);
      const held = this.#heldFor(read);
      if (held) {
        if (!read) this.#afterWrite();
        return held;
      }
      if (!reservesSocket(this.#settings.mode)) return undefined;
      const purpose = read && this.#secondaryReads ? 'read' : 'write';
      const pending = this.#reserving.get(purpose);
      if (pending) {
        await pending;
        this.#checkOpen(read ? 'read' : 'write');
        continue;
      }
      // The command names the selection in server selection's log messages.
      const reserved = this.#reserve(this.#readPreference(read), deprioritized, command === undefined ? undefined : commandName(command));
      // Operations waiting for this reservation fail with its error too.
      const shared = reserved.then(() => {});
      shared.catch(() => {});
      this.#reserving.set(purpose, shared);
      const epoch = this.#epoch;
      let reservation: Reservation;
      try {
        reservation = await reserved;
      } finally {
        this.#reserving.delete(purpose);
      }
      const socket = new SharedReservation(this.#family.router, reservation);
      if (epoch !== this.#epoch) {
        // refresh() or close() came while reserving: this socket is not wanted.
        socket.release();
        this.#checkOpen(read ? 'read' : 'write');
        continue;
      }
      const slot: Slot = reservation.writable ? 'primary' : 'secondary';
      this.#drop(slot);
      this.#slots[slot] = socket;
      if (!read) this.#afterWrite();
      return socket;
    }
  }

  // mgo's choice among the held sockets.
  #heldFor(read: boolean): SharedReservation | undefined {
    const { primary, secondary } = this.#slots;
    const mode = this.#settings.mode;
    if (read && this.#secondaryReads && secondary && (!primary || (mode !== Mode.PrimaryPreferred && mode !== Mode.Monotonic))) {
      return secondary;
    }
    return primary;
  }

  // Monotonic: after the first write every read goes to the primary.
  #afterWrite(): void {
    if (this.#settings.mode === Mode.Monotonic) this.#secondaryReads = false;
  }

  #reserve(readPreference: ReadPreference, deprioritized?: readonly string[], operation?: string): Promise<Reservation> {
    const { router } = this.#family;
    const timeoutMS = this.#settings.syncTimeoutMS;
    return deadline(
      router.reserve(readPreference, this.#settings.identity, deprioritized, this.#settings.poolLimit > 0 ? this.#settings.poolLimit : undefined, operation),
      timeoutMS,
      () =>
        new MgoError(
          'ERR_SYNC_TIMEOUT',
          `no socket to a ${readPreference.mode} server could be reserved within the session's sync timeout (${timeoutMS} ms) in ${modeName(this.#settings.mode)} mode`,
        ),
      (late) => router.release(late),
    );
  }

  #dropSocket(socket: SharedReservation): void {
    for (const slot of ['primary', 'secondary'] as const) if (this.#slots[slot] === socket) this.#drop(slot);
  }

  #drop(slot: Slot): void {
    const socket = this.#slots[slot];
    this.#slots[slot] = undefined;
    socket?.release();
  }

  #releaseSockets(): void {
    this.#epoch++;
    this.#drop('primary');
    this.#drop('secondary');
  }
}

const DECODE_KEYS = ['promoteLongs', 'promoteValues', 'promoteBuffers', 'useBigInt64', 'bsonRegExp'] as const;
const JS_BSON_DEFAULTS = { promoteLongs: true, promoteValues: true, promoteBuffers: false, useBigInt64: false, bsonRegExp: false } as const;

/**
 * The js-bson options a reply is decoded with: undefined for js-bson's
 * defaults (the common case, no object per operation). `raw` leaves a
 * cursor's documents undecoded (each a Buffer of its BSON); a reply that
 * is not a cursor's is decoded as usual.
 */
function deserializeOptionsOf(bson: BSONOptions, cursor: boolean): DeserializeOptions | undefined {
  let options: DeserializeOptions | undefined;
  for (const key of DECODE_KEYS) {
    const value = bson[key];
    if (value !== undefined && value !== JS_BSON_DEFAULTS[key]) (options ??= {})[key] = value;
  }
  if (bson.raw && cursor) (options ??= {}).fieldsAsRaw = { firstBatch: true, nextBatch: true };
  return options;
}
