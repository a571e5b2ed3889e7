// mgo's Iter over a server cursor (find, aggregate, listCollections,
// listIndexes). Documents arrive in batches; the next batch is requested
// with getMore on the cursor's server, in the background as soon as fewer
// than prefetch x (the last batch's size) documents are left unread (mgo's
// prefetch, 0.25 by default), or when the buffer runs dry. close() kills a
// cursor the server still holds; so does leaving a `for await` loop early.
//
// next() resolves undefined at the end or on an error; err() and close()
// tell which. A `for await` loop throws the error instead.
//
// A tailable cursor (Query.tail(), on a capped collection) stays open at the
// end of the results: next() then waits for new documents with awaitData
// getMores, each bounded by maxTimeMS (find/getMore spec), up to the tail's
// timeout in all; when that runs out it resolves undefined with timeout()
// true, and a later next() continues at the same position.
//
// The cursor keeps one server session from its opening command to its end
// (sessions spec: a getMore must carry the lsid of the command that opened
// the cursor), and gives it back once the server or close() ended it.
import { Long, type Document } from 'bson';
import { cursorReplyOf, type CursorReply } from '../wire/reply-shape.js';
import { ErrNotFound } from './errors.js';
import { countReceivedDocs } from './stats.js';
import type { RouterReply } from '../router/router.js';
import type { BSONOptions } from '../uri/options.js';
import type { Operation, SessionInternals } from './internal.js';
import type { ServerSession } from './server-sessions.js';

export interface CursorOptions {
  session: SessionInternals;
  /** The database and collection of the cursor's namespace (the reply's cursor.ns wins). */
  db: string;
  collection: string;
  /**
   * Documents per batch asked of the server; 0 leaves it to the server. A
   * negative -n asks for one batch of at most n documents, after which the
   * cursor is closed (mgo's negative batch size; killCursors if the server
   * left it open).
   */
  batch: number;
  /** Fraction of the last batch left unread when the next batch is requested. */
  prefetch: number;
  /** At most this many documents in all; 0 for no limit. */
  limit: number;
  /** BSON decoding options of the query or pipe, over the session's; every batch is decoded with them. */
  bson?: BSONOptions;
  /**
   * Checks each batch's documents for what the command's results must
   * hold (an index's name and key: src/wire/reply-shape.ts); a throw is
   * the iteration's error.
   */
  check?: (batch: unknown[], address: string) => void;
  /**
   * A cursor that waits on the server for data (a change stream's): each
   * getMore carries maxTimeMS = maxAwaitTimeMS when above 0, and a getMore
   * that comes back empty while the cursor lives ends that next() with
   * undefined and timeout() true; the next call of next() asks again.
   */
  awaitData?: { maxAwaitTimeMS: number };
  /**
   * Sees each reply whose batch was taken, after `check`, before its
   * documents are read: what a cursor reply holds besides the batch (a
   * change stream's postBatchResumeToken and operationTime).
   */
  observe?: (reply: Document, batchSize: number, address: string) => void;
  /**
   * A tailable awaitData cursor (Query.tail()): how long one next() waits
   * for a document at the end of the results, across getMores of at most
   * MAX_AWAIT_MS each (milliseconds; negative: as long as the cursor lives).
   */
  tail?: number;
}

/**
 * The longest a tailable cursor's getMore asks the server to wait (its
 * maxTimeMS). It is the server's own default await (1 s, measured on
 * MongoDB and FerretDB), so that a wait longer than that is a loop of
 * getMores: each reply stays within a connection's socketTimeoutMS of more
 * than a second, and close() waits for at most one of them.
 */
export const MAX_AWAIT_MS = 1000;

/**
 * mgo's Iter: a cursor's results, fetched in batches (the next one asked
 * for before the current one runs out, as mgo's prefetch). next() resolves
 * the next document or undefined at the end, where mgo's Next filled its
 * argument and returned a bool; err() and close() report the error. Also a
 * `for await` loop, which closes the cursor when left.
 */
export class Iter<T extends Document = Document> implements AsyncIterable<T> {
  readonly #session: SessionInternals;
  #db: string;
  #collection: string;
  readonly #batch: number;
  /** A negative batch size: the first batch is the last. */
  readonly #singleBatch: boolean;
  readonly #prefetch: number;
  readonly #limit: number;
  readonly #bson: BSONOptions | undefined;
  readonly #check: CursorOptions['check'];
  readonly #awaitData: CursorOptions['awaitData'];
  readonly #observe: CursorOptions['observe'];
  readonly #tail: number | undefined;
  /** The last next() found no document because an awaitData getMore came back empty, or the tail's wait ran out. */
  #timedOut = false;
  #buffer: T[] = [];
  #head = 0;
  #cursorId: Long = Long.ZERO;
  #address: string | undefined;
  #received = 0;
  /** getMore is sent once fewer documents than this are left unread. */
  #threshold = 0;
  #fetching: Promise<void> | undefined;
  #err: Error | undefined;
  #closed = false;
  /** The killCursors sent when the results we want were all received. */
  #killing: Promise<void> | undefined;
  /** The cursor's server session, until the cursor ended. */
  #serverSession: ServerSession | undefined;

  /**
   * @internal Starts the command that opens the cursor (`open`, in the
   * cursor's server session) at once; iterators come from Query.iter() and Pipe.iter().
   */
  constructor(options: CursorOptions, open: (serverSession: ServerSession | undefined) => Promise<RouterReply>) {
    this.#session = options.session;
    this.#db = options.db;
    this.#collection = options.collection;
    this.#batch = Math.abs(options.batch);
    this.#singleBatch = options.batch < 0;
    this.#tail = options.tail;
    this.#bson = options.bson;
    this.#prefetch = options.prefetch;
    this.#limit = options.limit;
    this.#check = options.check;
    this.#awaitData = options.awaitData;
    this.#observe = options.observe;
    const serverSession = (this.#serverSession = options.session.leaseServerSession());
    this.#fetch(() => open(serverSession), 'firstBatch');
  }

  /** The server-side cursor id; zero once the server or close() ended it. */
  get cursorId(): Long {
    return this.#cursorId;
  }

  /** The next document, or undefined at the end of the results or after an error (see err()). */
  async next(): Promise<T | undefined> {
    if (!(await this.#ready())) return undefined;
    const doc = this.#buffer[this.#head++]!;
    this.#prefetchIfLow();
    return doc;
  }

  /** Every remaining document; then closes the iterator, rejecting with the iteration's error if there was one. */
  async all(): Promise<T[]> {
    const docs: T[] = [];
    while (await this.#ready()) {
      for (let i = this.#head; i < this.#buffer.length; i++) docs.push(this.#buffer[i]!);
      this.#head = this.#buffer.length;
      this.#prefetchIfLow();
    }
    await this.close();
    return docs;
  }

  /**
   * Kills the server cursor if it is still open and rejects with the error
   * the iteration met, if any. Idempotent: every call reports the same.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#fetching) await this.#fetching;
    this.#buffer = [];
    this.#head = 0;
    // A kill already under way (limit reached, single batch) ends before close() does.
    await this.#killing;
    await this.#killCursor();
    this.#endServerSession();
    if (this.#err) throw this.#err;
  }

  /** The error the iteration met, or undefined. */
  err(): Error | undefined {
    return this.#err;
  }

  /**
   * Whether a following next() is sure to resolve undefined (waits for a
   * batch in flight, or fetches one). On a tailable cursor it never waits
   * for new documents: false while the cursor is open, as in mgo.
   */
  async done(): Promise<boolean> {
    if (this.#tail === undefined) return !(await this.#ready());
    while (this.#fetching) await this.#fetching;
    return this.#head >= this.#buffer.length && (this.#err !== undefined || this.#closed || this.#cursorId.isZero());
  }

  /**
   * Whether the last next() resolved undefined because the wait of a cursor
   * that waits on the server (Query.tail(), a change stream) ran out: the
   * cursor is still open, and next() may be called again for documents that
   * came since. False when the cursor died (err() says why, if the server
   * said; with no error the query must be started again, as in mgo).
   */
  timeout(): boolean {
    return this.#timedOut;
  }

  /** @internal Waits for the batch in flight, if any, without asking for another (a change stream's opening aggregate). */
  async settled(): Promise<void> {
    if (this.#fetching) await this.#fetching;
  }

  /** `for await (const doc of iter)`; leaving the loop early closes the cursor. */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return {
      next: async (): Promise<IteratorResult<T, undefined>> => {
        const doc = await this.next();
        if (doc !== undefined) return { value: doc, done: false };
        await this.close();
        return { value: undefined, done: true };
      },
      // The loop was left early (break, return, throw): free the server cursor.
      return: async (): Promise<IteratorResult<T, undefined>> => {
        await this.close().catch(() => {});
        return { value: undefined, done: true };
      },
    };
  }

  // Resolves true once a document is buffered, false at the end (or when a
  // tailable cursor's wait ran out: #timedOut).
  async #ready(): Promise<boolean> {
    this.#timedOut = false;
    let asked = false;
    // A tailable cursor's wait ends here (performance.now(): monotonic), counted from this call's first getMore.
    let waitUntil: number | undefined;
    for (;;) {
      if (this.#head < this.#buffer.length) return true;
      if (this.#err || this.#closed) return false;
      if (this.#fetching) {
        await this.#fetching;
        continue;
      }
      if (this.#cursorId.isZero()) return false;
      // Our awaitData getMore came back empty: the server's wait ran out.
      if (asked && this.#awaitData) {
        this.#timedOut = true;
        return false;
      }
      if (this.#tail === undefined) {
        this.#getMore();
        asked = true;
        continue;
      }
      const now = performance.now();
      if (waitUntil === undefined) waitUntil = this.#tail < 0 ? Infinity : now + this.#tail;
      else if (now >= waitUntil) {
        this.#timedOut = true;
        return false;
      }
      // At least 1: a maxTimeMS of 0 would mean the server's default await.
      this.#getMore(Math.max(1, Math.min(Math.ceil(waitUntil - now), MAX_AWAIT_MS)));
    }
  }

  #prefetchIfLow(): void {
    // A tailable cursor fetches only when next() needs a document: a getMore ahead of time would await on the server while close() waits for it.
    if (this.#tail !== undefined || this.#fetching || this.#err || this.#closed || this.#cursorId.isZero()) return;
    if (this.#buffer.length - this.#head < this.#threshold) this.#getMore();
  }

  #fetch(request: () => Promise<RouterReply>, batch: 'firstBatch' | 'nextBatch'): void {
    const fetching = request().then(
      ({ reply, address }) => this.#receive(reply, address, batch),
      (err: unknown) => {
        this.#err ??= err instanceof Error ? err : new Error(String(err));
      },
    );
    this.#fetching = fetching.finally(() => {
      this.#fetching = undefined;
      // The cursor is exhausted: nothing more runs in its session. A cursor
      // that failed but may live on keeps it for close()'s killCursors, which
      // must carry the cursor's lsid (sessions spec).
      if (this.#cursorId.isZero()) this.#endServerSession();
    });
  }

  /** `tailWait`: a tailable cursor's getMore, which the server may hold this long for new documents (its maxTimeMS). */
  #getMore(tailWait?: number): void {
    const command: Document = { getMore: this.#cursorId, collection: this.#collection };
    const remaining = this.#limit > 0 ? this.#limit - this.#received : 0;
    const size = this.#batch > 0 && remaining > 0 ? Math.min(this.#batch, remaining) : this.#batch || remaining;
    if (size > 0) command.batchSize = size;
    const operation: Operation = { db: this.#db, command, routing: { address: this.#address! }, bson: this.#bson, cursor: true, serverSession: this.#serverSession };
    if (tailWait !== undefined) command.maxTimeMS = tailWait;
    else if (this.#awaitData && this.#awaitData.maxAwaitTimeMS > 0) command.maxTimeMS = this.#awaitData.maxAwaitTimeMS;
    // Without maxTimeMS an awaitData getMore waits the server's default, 1 s.
    if (tailWait !== undefined || this.#awaitData) operation.awaitMS = (command.maxTimeMS as number | undefined) ?? MAX_AWAIT_MS;
    this.#fetch(() => this.#session.run(operation), 'nextBatch');
  }

  /**
   * A batch from the opening command's reply or a getMore's. A reply of
   * the wrong shape (reply-shape.ts) is the iteration's error, and nothing
   * of it is taken: not its cursor id either (after a getMore, close() kills
   * the cursor id the previous reply gave).
   */
  #receive(reply: Document, address: string, batch: 'firstBatch' | 'nextBatch'): void {
    let cursor: CursorReply;
    try {
      // raw (the session's, or this query's): the batch holds each document's bytes.
      const raw = { ...this.#session.bson, ...this.#bson }.raw === true;
      cursor = cursorReplyOf(reply, address, batch, raw);
      this.#check?.(cursor.batch, address);
      countReceivedDocs(cursor.batch.length);
      this.#observe?.(reply, cursor.batch.length, address);
    } catch (err) {
      this.#err ??= err as Error;
      return;
    }
    this.#address ??= address;
    if (cursor.ns?.includes('.')) {
      const dot = cursor.ns.indexOf('.');
      this.#db = cursor.ns.slice(0, dot);
      this.#collection = cursor.ns.slice(dot + 1);
    }
    this.#cursorId = cursor.id;
    let docs = cursor.batch as T[];
    if (this.#limit > 0 && this.#received + docs.length > this.#limit) docs = docs.slice(0, this.#limit - this.#received);
    this.#received += docs.length;
    this.#buffer = this.#head === this.#buffer.length ? docs : this.#buffer.slice(this.#head).concat(docs);
    this.#head = 0;
    this.#threshold = Math.floor(this.#prefetch * docs.length);
    // The limit is reached, or the one batch of a negative batch size came:
    // the server cursor has nothing more we want.
    if ((this.#limit > 0 && this.#received >= this.#limit) || this.#singleBatch) this.#killing = this.#killCursor();
  }

  async #killCursor(): Promise<void> {
    const id = this.#cursorId;
    if (id.isZero() || this.#address === undefined) return;
    this.#cursorId = Long.ZERO;
    // The router may be gone with the last session; the server drops idle cursors itself.
    if (this.#session.closed) return;
    // killCursors runs in the cursor's session too; the session is given back after it.
    const serverSession = this.#serverSession;
    this.#serverSession = undefined;
    try {
      await this.#session.run({ db: this.#db, command: { killCursors: this.#collection, cursors: [id] }, routing: { address: this.#address }, serverSession });
    } catch (err) {
      this.#err ??= err as Error;
    } finally {
      if (serverSession) this.#session.releaseServerSession(serverSession);
    }
  }

  #endServerSession(): void {
    const serverSession = this.#serverSession;
    this.#serverSession = undefined;
    if (serverSession) this.#session.releaseServerSession(serverSession);
  }
}

/**
 * Runs a command that opens a cursor and iterates it (find, aggregate,
 * listCollections, listIndexes). Routed as a read, it is a retryable read;
 * routed as a write (an aggregate with $out or $merge), it is not retried.
 */
export function openCursor<T extends Document>(options: CursorOptions, command: Pick<Operation, 'command' | 'routing'>): Iter<T> {
  const retryable = command.routing === 'read';
  return new Iter<T>(options, (serverSession) => options.session.run({ db: options.db, ...command, bson: options.bson, cursor: true, retryable, serverSession }));
}

/** The first document of an iterator, which is then closed; ErrNotFound when there is none. */
export async function firstOf<T extends Document>(iter: Iter<T>): Promise<T> {
  const doc = await iter.next();
  await iter.close();
  if (doc === undefined) throw ErrNotFound;
  return doc;
}

/** Cursor options with the session's defaults. */
export function cursorOptions(
  session: SessionInternals,
  db: string,
  collection: string,
  batch = session.batch,
  limit = 0,
  prefetch = session.prefetch,
  bson?: BSONOptions,
  check?: CursorOptions['check'],
): CursorOptions {
  const options: CursorOptions = { session, db, collection, batch, prefetch, limit };
  if (bson) options.bson = bson;
  if (check) options.check = check;
  return options;
}

/** The `cursor` field of a command that opens a cursor. */
export function cursorField(batch: number): Document {
  // A negative batch asks for one batch of that size (CursorOptions.batch); the Iter ends the cursor after it.
  return batch !== 0 ? { batchSize: Math.abs(batch) } : {};
}
