// mgo's Query: a find being prepared. The modifiers (sort, select, skip,
// limit, batch, hint, ...) change the query and return it; one(), all(),
// iter(), count(), distinct() and apply() run it.
import type { Document } from 'bson';
import { MgoError } from '../errors.js';
import type { RouterReply } from '../router/router.js';
import { countReplyOf, distinctReplyOf, findAndModifyReplyOf } from '../wire/reply-shape.js';
import { readBSONOptions, type BSONOptions } from '../uri/options.js';
import { checkFraction, checkInteger } from './arguments.js';
import { applyChange, type ChangeInfo } from './change-info.js';
import { collationDocument, type Collation } from './collation.js';
import type { Collection } from './collection.js';
import { runCommand } from './database.js';
import { ErrNotFound, QueryError, isDup } from './errors.js';
import { runExplain, type ExplainVerbosity } from './explain.js';
import { parseIndexKey } from './indexes.js';
import { INTERNAL } from './internal.js';
import { cursorOptions, firstOf, openCursor, type Iter } from './iter.js';
import { checkDocument } from './validate.js';
import { MAX_UPSERT_ATTEMPTS, lastErrorOf } from './write.js';
import { readConcernOf, writeConcernOf } from './write-concern.js';

/** What apply() does to the document it finds (mgo's Change). */
export interface Change {
  /** The update document (or pipeline); ignored with remove. */
  update?: Document | Document[];
  /** Insert a document when none matches. */
  upsert?: boolean;
  /** Remove the document instead of updating it. */
  remove?: boolean;
  /** Return the document as modified rather than as it was. */
  returnNew?: boolean;
}

/** What Query.apply() returns: mgo's out-parameter `result` and its ChangeInfo, together. */
export interface ApplyResult<T> {
  /** What the change did (updated, removed, upsertedId). */
  info: ChangeInfo;
  /** The document before the change (after it with returnNew); undefined when there is none. */
  doc: T | undefined;
}

/** mgo's sort notation: "field", "-field" (descending), "$textScore:field". */
export function sortDocument(fields: readonly string[]): Document {
  const order: Document = {};
  for (const raw of fields) {
    let field = String(raw);
    let kind: string | undefined;
    const colon = field.indexOf(':');
    if (field.startsWith('$') && colon > 1 && colon < field.length - 1) {
      kind = field.slice(1, colon);
      field = field.slice(colon + 1);
    }
    let direction = 1;
    if (field.startsWith('+')) field = field.slice(1);
    else if (field.startsWith('-')) {
      direction = -1;
      field = field.slice(1);
    }
    if (field === '') throw new MgoError('ERR_INVALID_ARGUMENT', `sort(): empty field name in ${JSON.stringify(raw)}`);
    order[field] = kind === 'textScore' ? { $meta: 'textScore' } : direction;
  }
  return order;
}

/**
 * mgo's Query: a find on a collection, refined by chained calls (sort,
 * select, skip, limit, batch, ...) and run by one(), all(), iter(),
 * count(), apply() or a `for await` loop. Where mgo filled a result
 * argument, the document(s) are the promise's value.
 */
export class Query<T extends Document = Document> implements AsyncIterable<T> {
  readonly #collection: Collection;
  readonly #filter: Document | undefined;
  #projection: Document | undefined;
  #sort: Document | undefined;
  #hint: Document | undefined;
  #skip = 0;
  #limit = 0;
  /** Negative: one batch of -#batch documents, then the cursor is closed (mgo's negative batch size). */
  #batch: number;
  #prefetch: number;
  #maxTimeMS = 0;
  #comment: string | undefined;
  #collation: Document | undefined;
  #bson: BSONOptions | undefined;

  /** @internal Queries come from Collection.find() and findId(). */
  constructor(collection: Collection, filter: Document | undefined) {
    this.#collection = collection;
    this.#filter = filter;
    const internals = collection.session[INTERNAL];
    this.#batch = internals.batch;
    this.#prefetch = internals.prefetch;
  }

  /** Orders the results: sort('lastname', '-age'). */
  sort(...fields: string[]): this {
    this.#sort = sortDocument(fields);
    return this;
  }

  /** Returns only these fields (a projection). */
  select(projection: Document): this {
    this.#projection = projection;
    return this;
  }

  /** Skips the first n matching documents. */
  skip(n: number): this {
    this.#skip = checkInteger('skip()', n);
    return this;
  }

  /** At most n documents, which also becomes the batch size; a negative n returns at most -n in one batch and closes the cursor. */
  limit(n: number): this {
    checkInteger('limit()', n, Number.MIN_SAFE_INTEGER);
    this.#limit = Math.abs(n);
    this.#batch = n;
    return this;
  }

  /**
   * BSON decoding options for this query's results, over the session's
   * (Session.setBSONOptions): promoteLongs, promoteValues, promoteBuffers,
   * useBigInt64, bsonRegExp, raw.
   */
  bsonOptions(options: BSONOptions): this {
    const session = this.#collection.session[INTERNAL].bson;
    this.#bson = { ...this.#bson, ...readBSONOptions(options as Record<string, unknown>, { ...session, ...this.#bson }, 'Query.bsonOptions()') };
    return this;
  }

  /**
   * Documents per batch (the server's default for 0). A negative -n, as in
   * mgo, returns one batch of at most n documents and closes the cursor
   * (find's singleBatch).
   */
  batch(n: number): this {
    this.#batch = checkInteger('batch()', n, Number.MIN_SAFE_INTEGER);
    return this;
  }

  /** Requests the next batch once this fraction of the last one is left unread (0.25 by default). */
  prefetch(p: number): this {
    this.#prefetch = checkFraction('prefetch()', p);
    return this;
  }

  /** Forces the index with this key (in ensureIndex's notation), or pass a hint document. */
  hint(...key: string[] | [Document]): this {
    const [first] = key;
    this.#hint = typeof first === 'object' && first !== null ? first : parseIndexKey(key as string[]).key;
    return this;
  }

  /** Lets the server stop the query after this many milliseconds. */
  setMaxTime(ms: number): this {
    this.#maxTimeMS = checkInteger('setMaxTime()', ms);
    return this;
  }

  /** A comment the server shows in its logs and profiler. */
  comment(text: string): this {
    this.#comment = text;
    return this;
  }

  /**
   * How strings compare in this query's filter and sort (server 3.4+): used
   * by its find, count(), distinct(), apply() and explain(). mgo sent it with
   * find and count only; the server takes it on all of them.
   */
  collation(collation: Collation): this {
    this.#collation = collationDocument('collation()', collation);
    return this;
  }

  /**
   * How the server would run this query: the explain command's reply for
   * the query's find (filter, sort, projection, hint, skip, limit,
   * collation...). Without a verbosity the server's default applies
   * (allPlansExecution, closest to what mgo's $explain returned). mgo's
   * Explain(result) filled an out-parameter; here the reply is returned.
   */
  async explain(verbosity?: ExplainVerbosity): Promise<Document> {
    const { session, database } = this.#collection;
    session[INTERNAL].checkOpen('explain');
    const command = this.#findCommand(this.#limit, 0, this.#batch < 0);
    if (this.#maxTimeMS > 0) command.maxTimeMS = this.#maxTimeMS;
    return runExplain(session, database.name, command, verbosity, 'read', 'explain()');
  }

  /** The first matching document; ErrNotFound when there is none. */
  async one(): Promise<T> {
    // CRUD spec findOne: limit 1 and singleBatch; a batchSize adds nothing.
    return firstOf(this.#open(1, 0, true));
  }

  /** Every matching document (mgo's All, returned rather than filled in). */
  async all(): Promise<T[]> {
    return this.iter().all();
  }

  /** Runs the query now and iterates its results. */
  iter(): Iter<T> {
    return this.#open(this.#limit, this.#batch, false);
  }

  /**
   * mgo's Tail: runs the query as a tailable awaitData cursor, which a
   * capped collection keeps open at the end of the results. There, next()
   * waits up to `timeoutMS` for a new document (negative: as long as the
   * cursor lives; 0: no wait) and then resolves undefined with
   * iter.timeout() true; calling next() again continues at the same place.
   * When the cursor dies (the collection dropped, or not capped) next()
   * resolves undefined with timeout() false and err() says why. The wait is
   * a loop of getMores whose maxTimeMS is at most MAX_AWAIT_MS (1 s), so a
   * session's setSocketTimeout() applies per getMore on top of its await,
   * and a connection's socketTimeoutMS must exceed a second. Differs from
   * mgo: a Duration becomes milliseconds; a `for await` loop ends at the
   * first timeout.
   */
  tail(timeoutMS: number): Iter<T> {
    return this.#open(this.#limit, this.#batch, false, checkInteger('tail()', timeoutMS, Number.MIN_SAFE_INTEGER));
  }

  /** `for await (const doc of ...)`: runs it through iter(); leaving the loop early closes the cursor. */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return this.iter()[Symbol.asyncIterator]();
  }

  /** The number of matching documents (within skip and limit). */
  async count(): Promise<number> {
    const command: Document = { count: this.#collection.name, query: this.#filter ?? {} };
    if (this.#limit > 0) command.limit = this.#limit;
    if (this.#skip > 0) command.skip = this.#skip;
    if (this.#hint) command.hint = this.#hint;
    if (this.#collation) command.collation = this.#collation;
    this.#addReadOptions(command);
    const { reply, address } = await runCommand(this.#collection.session, this.#collection.database.name, command, 'read', undefined, true);
    return countReplyOf(reply, address);
  }

  /** The distinct values of `key` among the matching documents. */
  async distinct<V = unknown>(key: string): Promise<V[]> {
    const command: Document = { distinct: this.#collection.name, key };
    if (this.#filter) command.query = this.#filter;
    if (this.#collation) command.collation = this.#collation;
    this.#addReadOptions(command);
    const { reply, address } = await runCommand(this.#collection.session, this.#collection.database.name, command, 'read', this.#bson, true);
    return distinctReplyOf(reply, address) as V[];
  }

  /**
   * findAndModify: updates, upserts or removes the first matching document
   * (sort() picks which) and returns it with what changed. ErrNotFound when
   * nothing matched and nothing was upserted.
   */
  async apply(change: Change): Promise<ApplyResult<T>> {
    const { session, name } = this.#collection;
    const command: Document = { findAndModify: name, query: this.#filter ?? {} };
    if (this.#sort) command.sort = this.#sort;
    if (this.#projection) command.fields = this.#projection;
    if (change.remove) command.remove = true;
    else if (change.update !== undefined) command.update = change.update;
    if (change.upsert) command.upsert = true;
    if (change.returnNew) command.new = true;
    if (this.#collation) command.collation = this.#collation;
    if (!change.remove && session[INTERNAL].bypassValidation) command.bypassDocumentValidation = true;
    const { maxBsonObjectSize } = session[INTERNAL].limits();
    checkDocument(command.query, `the selector of apply() on ${this.#collection.fullName}`, maxBsonObjectSize);
    if (command.update !== undefined) checkDocument(command.update, `the update of apply() on ${this.#collection.fullName}`, maxBsonObjectSize);
    const writeConcern = writeConcernOf(session.safe());
    if (writeConcern) command.writeConcern = writeConcern;
    let replied: RouterReply;
    for (let attempt = 1; ; attempt++) {
      try {
        replied = await session[INTERNAL].run({ db: this.#collection.database.name, command, routing: 'write', bson: this.#bson, retryable: true });
        break;
      } catch (err) {
        if (change.upsert && isDup(err) && attempt < MAX_UPSERT_ATTEMPTS) continue;
        // Servers before 3.2 reported "nothing matched" as an error.
        if (err instanceof QueryError && err.message === 'No matching object found') throw ErrNotFound;
        throw err;
      }
    }
    const { n, updatedExisting, upserted, value, writeConcernError } = findAndModifyReplyOf(replied.reply, replied.address);
    if (n === 0) throw ErrNotFound;
    const info = applyChange({ n, updatedExisting, upserted }, change);
    if (writeConcernError) {
      throw lastErrorOf({
        acknowledged: true,
        n,
        nModified: info.updated,
        upserted: info.upsertedId === undefined ? [] : [{ index: 0, _id: info.upsertedId }],
        writeErrors: [],
        writeConcernError,
        address: replied.address,
      })!;
    }
    return { info, doc: (value ?? undefined) as T | undefined };
  }

  /** `tail`: a tailable awaitData cursor with this wait (Query.tail()). */
  #open(limit: number, signedBatch: number, single: boolean, tail?: number): Iter<T> {
    const { session, database, name } = this.#collection;
    const internals = session[INTERNAL];
    internals.checkOpen(tail === undefined ? 'iter' : 'tail');
    const singleBatch = single || signedBatch < 0;
    const batch = Math.abs(signedBatch);
    const command = this.#findCommand(limit, batch, singleBatch);
    if (tail !== undefined) {
      command.tailable = true;
      command.awaitData = true;
      // The first batch comes by getMore (the batch size applies there):
      // FerretDB 1.24 closes a tailable cursor whose first batch is smaller
      // than its batchSize (measured: 1 of 1 document with batchSize 2 or
      // none gives cursor id 0), while batchSize 0 keeps it open, as MongoDB
      // does either way. The cost is one round trip per tail().
      command.batchSize = 0;
    }
    if (internals.noCursorTimeout) command.noCursorTimeout = true;
    this.#addReadOptions(command);
    const options = cursorOptions(internals, database.name, name, singleBatch ? -batch : batch, limit, this.#prefetch, this.#bson);
    if (tail !== undefined) options.tail = tail;
    return openCursor<T>(options, { command, routing: 'read' });
  }

  #findCommand(limit: number, batch: number, singleBatch: boolean): Document {
    const command: Document = { find: this.#collection.name };
    if (this.#filter) command.filter = this.#filter;
    if (this.#sort) command.sort = this.#sort;
    if (this.#projection) command.projection = this.#projection;
    if (this.#hint) command.hint = this.#hint;
    if (this.#skip > 0) command.skip = this.#skip;
    if (limit > 0) command.limit = limit;
    // CRUD spec: a batchSize equal to the limit is sent as limit + 1, so that
    // the server's first batch ends the cursor rather than leave it for a killCursors.
    if (batch > 0) command.batchSize = limit > 0 && batch === limit && !singleBatch ? batch + 1 : batch;
    if (singleBatch) command.singleBatch = true;
    if (this.#comment !== undefined) command.comment = this.#comment;
    if (this.#collation) command.collation = this.#collation;
    return command;
  }

  #addReadOptions(command: Document): void {
    if (this.#maxTimeMS > 0) command.maxTimeMS = this.#maxTimeMS;
    const readConcern = readConcernOf(this.#collection.session.safe());
    if (readConcern) command.readConcern = readConcern;
  }
}
