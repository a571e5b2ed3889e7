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
// The cursor keeps one server session from its opening command to its end
// (sessions spec: a getMore must carry the lsid of the command that opened
// the cursor), and gives it back once the server or close() ended it.
import { Long, type Document } from 'bson';
import { MgoError } from '../errors.js';
import { ErrNotFound } from './errors.js';
import type { RouterReply } from '../router/router.js';
import type { BSONOptions } from '../uri/options.js';
import type { Operation, SessionInternals } from './internal.js';
import type { ServerSession } from './server-sessions.js';

export interface CursorOptions {
  session: SessionInternals;
  /** The database and collection of the cursor's namespace (the reply's cursor.ns wins). */
  db: string;
  collection: string;
  /** Documents per batch asked of the server; 0 leaves it to the server. */
  batch: number;
  /** Fraction of the last batch left unread when the next batch is requested. */
  prefetch: number;
  /** At most this many documents in all; 0 for no limit. */
  limit: number;
  /** BSON decoding options of the query or pipe, over the session's; every batch is decoded with them. */
  bson?: BSONOptions;
}

/** A cursor id as the int64 getMore and killCursors need, whatever the reply decoded it to. */
export function cursorIdOf(value: unknown): Long {
  if (Long.isLong(value)) return value;
  if (typeof value === 'bigint') return Long.fromBigInt(value);
  if (typeof value === 'number') return Long.fromNumber(value);
  return Long.ZERO;
}

export class Iter<T extends Document = Document> implements AsyncIterable<T> {
  readonly #session: SessionInternals;
  #db: string;
  #collection: string;
  readonly #batch: number;
  readonly #prefetch: number;
  readonly #limit: number;
  readonly #bson: BSONOptions | undefined;
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
    this.#batch = options.batch;
    this.#bson = options.bson;
    this.#prefetch = options.prefetch;
    this.#limit = options.limit;
    const serverSession = (this.#serverSession = options.session.leaseServerSession());
    this.#fetch(() => open(serverSession));
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
    await this.#killCursor();
    this.#endServerSession();
    if (this.#err) throw this.#err;
  }

  /** The error the iteration met, or undefined. */
  err(): Error | undefined {
    return this.#err;
  }

  /** Whether a following next() is sure to resolve undefined (waits for a batch in flight, or fetches one). */
  async done(): Promise<boolean> {
    return !(await this.#ready());
  }

  /** Whether next() ended on a tailable cursor's timeout. There are no tailable cursors yet: always false. */
  timeout(): boolean {
    return false;
  }

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

  // Resolves true once a document is buffered, false at the end.
  async #ready(): Promise<boolean> {
    for (;;) {
      if (this.#head < this.#buffer.length) return true;
      if (this.#err || this.#closed) return false;
      if (this.#fetching) {
        await this.#fetching;
        continue;
      }
      if (this.#cursorId.isZero()) return false;
      this.#getMore();
    }
  }

  #prefetchIfLow(): void {
    if (this.#fetching || this.#err || this.#closed || this.#cursorId.isZero()) return;
    if (this.#buffer.length - this.#head < this.#threshold) this.#getMore();
  }

  #fetch(request: () => Promise<RouterReply>): void {
    const fetching = request().then(
      ({ reply, address }) => this.#receive(reply, address),
      (err: unknown) => {
        this.#err ??= err instanceof Error ? err : new Error(String(err));
      },
    );
    this.#fetching = fetching.finally(() => {
      this.#fetching = undefined;
      // The cursor is exhausted or failed: nothing more runs in its session.
      if (this.#err || this.#cursorId.isZero()) this.#endServerSession();
    });
  }

  #getMore(): void {
    const command: Document = { getMore: this.#cursorId, collection: this.#collection };
    const remaining = this.#limit > 0 ? this.#limit - this.#received : 0;
    const size = this.#batch > 0 && remaining > 0 ? Math.min(this.#batch, remaining) : this.#batch || remaining;
    if (size > 0) command.batchSize = size;
    const address = this.#address!;
    const serverSession = this.#serverSession;
    this.#fetch(() => this.#session.run({ db: this.#db, command, routing: { address }, bson: this.#bson, cursor: true, serverSession }));
  }

  #receive(reply: Document, address: string): void {
    const cursor: Document | undefined = reply.cursor;
    if (typeof cursor !== 'object' || cursor === null) {
      this.#err ??= new MgoError('ERR_PROTOCOL', `${address} answered a cursor command without a cursor`, { address });
      return;
    }
    this.#address ??= address;
    if (typeof cursor.ns === 'string' && cursor.ns.includes('.')) {
      const dot = cursor.ns.indexOf('.');
      this.#db = cursor.ns.slice(0, dot);
      this.#collection = cursor.ns.slice(dot + 1);
    }
    this.#cursorId = cursorIdOf(cursor.id);
    let docs: T[] = cursor.firstBatch ?? cursor.nextBatch ?? [];
    if (this.#limit > 0 && this.#received + docs.length > this.#limit) docs = docs.slice(0, this.#limit - this.#received);
    this.#received += docs.length;
    this.#buffer = this.#head === this.#buffer.length ? docs : this.#buffer.slice(this.#head).concat(docs);
    this.#head = 0;
    this.#threshold = Math.floor(this.#prefetch * docs.length);
    // The limit is reached: the server cursor has nothing more we want.
    if (this.#limit > 0 && this.#received >= this.#limit) void this.#killCursor();
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
): CursorOptions {
  const options: CursorOptions = { session, db, collection, batch, prefetch, limit };
  if (bson) options.bson = bson;
  return options;
}

/** The `cursor` field of a command that opens a cursor. */
export function cursorField(batch: number): Document {
  return batch > 0 ? { batchSize: batch } : {};
}
