// mgo's Collection: queries, writes with mgo's results (ErrNotFound from
// update() and remove(), ChangeInfo from the *All and upsert variants),
// pipes, bulks, indexes and the collection itself.
import type { Document } from 'bson';
import { MgoError } from '../errors.js';
import { Bulk } from './bulk.js';
import { ChangeStream, watchTarget, type ChangeEvent, type ChangeStreamOptions } from './change-stream.js';
import { removeChange, updateChange, upsertChange, type ChangeInfo } from './change-info.js';
import { LISTING_BSON, runCommand, type Database } from './database.js';
import { checkIndexSpecs } from '../wire/reply-shape.js';
import { ErrNotFound, isDup } from './errors.js';
import { indexFromSpec, indexSpec, parseIndexKey, type Index } from './indexes.js';
import { INTERNAL } from './internal.js';
import { cursorField, cursorOptions, openCursor } from './iter.js';
import { Pipe } from './pipe.js';
import { Query } from './query.js';
import type { Session } from './session.js';
import { MAX_UPSERT_ATTEMPTS, deleteStatement, insertStatement, runWriteOrThrow, updateStatement, writeTarget } from './write.js';

/** Options of create(): mgo's CollectionInfo. */
export interface CollectionInfo {
  /** A capped collection of maxBytes (required) and at most maxDocs documents. */
  capped?: boolean;
  /** The capped collection's size in bytes (size). */
  maxBytes?: number;
  /** The capped collection's most documents (max). */
  maxDocs?: number;
  /** autoIndexId: false / true (refused by servers since 4.0). */
  disableIdIndex?: boolean;
  /** autoIndexId: true (refused by servers since 4.0). */
  forceIdIndex?: boolean;
  /** A query every inserted or updated document must match (schema validation). */
  validator?: Document;
  /** Which writes the validator checks. */
  validationLevel?: 'off' | 'strict' | 'moderate';
  /** Whether a document that fails validation is refused ('error') or only logged ('warn'). */
  validationAction?: 'error' | 'warn';
  /** Storage engine options, passed through. */
  storageEngine?: Document;
  /** The collection's default collation (locale, strength, ...). */
  collation?: Document;
}

/**
 * mgo's Collection: a named collection seen through its database's
 * session (Database.c()). Writes and queries return promises; find()
 * returns a Query to refine, as in mgo.
 */
export class Collection {
  /** "db.collection" */
  readonly fullName: string;

  /** @internal Collections come from Database.c() and Collection.with(). */
  constructor(
    /** The database the collection is in. */
    readonly database: Database,
    /** The collection's name. */
    readonly name: string,
  ) {
    this.fullName = `${database.name}.${name}`;
  }

  /** The session its operations run through (its database's). */
  get session(): Session {
    return this.database.session;
  }

  /**
   * The same collection on `session` (mgo's With): e.g. `c.with(s.copy())`
   * per request, so that each request has its own socket and settings.
   * Operations then follow that session's mode, safety and sockets, and
   * fail with ERR_SESSION_CLOSED once it is closed.
   */
  with(session: Session): Collection {
    return this.database.with(session).c(this.name);
  }

  /** A query for the documents matching `query` (all of them without one). */
  find<T extends Document = Document>(query?: Document | null): Query<T> {
    this.session[INTERNAL].checkOpen('find');
    return new Query<T>(this, query ?? undefined);
  }

  /** find({ _id: id }) (mgo's FindId). */
  findId<T extends Document = Document>(id: unknown): Query<T> {
    return this.find<T>({ _id: id });
  }

  /** Inserts the documents, in order; a failure is a LastError listing each failed document. */
  async insert(...docs: object[]): Promise<void> {
    if (docs.length === 0) throw new MgoError('ERR_INVALID_ARGUMENT', `insert() into ${this.fullName}: no documents given`);
    const what = (i: number) => (docs.length === 1 ? `the document inserted into ${this.fullName}` : `document ${i} of the insert into ${this.fullName}`);
    const maxBsonObjectSize = this.#maxBsonObjectSize();
    const statements = docs.map((doc, i) => insertStatement(doc, what(i), maxBsonObjectSize));
    await runWriteOrThrow(writeTarget(this), 'insert', statements);
  }

  /** Modifies one matching document; ErrNotFound when none matches (acknowledged writes only). */
  async update(selector: Document | null | undefined, update: Document | Document[]): Promise<void> {
    const counts = await this.#update(selector, update, {}, 'update()');
    if (counts && !counts.updatedExisting) throw ErrNotFound;
  }

  /** update({ _id: id }, update) (mgo's UpdateId). */
  updateId(id: unknown, update: Document | Document[]): Promise<void> {
    return this.update({ _id: id }, update);
  }

  /** Modifies every matching document. Undefined for unacknowledged writes. */
  async updateAll(selector: Document | null | undefined, update: Document | Document[]): Promise<ChangeInfo | undefined> {
    const counts = await this.#update(selector, update, { multi: true }, 'updateAll()');
    return counts && updateChange(counts);
  }

  /**
   * Modifies one matching document, or inserts one made of the selector and
   * the update. A duplicate key error (a concurrent upsert won the race) is
   * retried, as mgo does.
   */
  async upsert(selector: Document | null | undefined, update: Document | Document[]): Promise<ChangeInfo | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        const counts = await this.#update(selector, update, { upsert: true }, 'upsert()');
        return counts && upsertChange(counts);
      } catch (err) {
        if (attempt >= MAX_UPSERT_ATTEMPTS || !isDup(err)) throw err;
      }
    }
  }

  /** upsert({ _id: id }, update) (mgo's UpsertId). */
  upsertId(id: unknown, update: Document | Document[]): Promise<ChangeInfo | undefined> {
    return this.upsert({ _id: id }, update);
  }

  /** Removes one matching document; ErrNotFound when none matches (acknowledged writes only). */
  async remove(selector?: Document | null): Promise<void> {
    const statement = deleteStatement(selector ?? undefined, false, `remove() on ${this.fullName}`, this.#maxBsonObjectSize());
    const counts = await runWriteOrThrow(writeTarget(this), 'delete', [statement]);
    if (counts && counts.n === 0) throw ErrNotFound;
  }

  /** remove({ _id: id }) (mgo's RemoveId). */
  removeId(id: unknown): Promise<void> {
    return this.remove({ _id: id });
  }

  /** Removes every matching document. Undefined for unacknowledged writes. */
  async removeAll(selector?: Document | null): Promise<ChangeInfo | undefined> {
    const statement = deleteStatement(selector ?? undefined, true, `removeAll() on ${this.fullName}`, this.#maxBsonObjectSize());
    const counts = await runWriteOrThrow(writeTarget(this), 'delete', [statement]);
    return counts && removeChange(counts);
  }

  /** The number of documents in the collection. */
  async count(): Promise<number> {
    return this.find().count();
  }

  /** An aggregation pipeline over the collection. */
  pipe<T extends Document = Document>(pipeline: Document[]): Pipe<T> {
    this.session[INTERNAL].checkOpen('pipe');
    return new Pipe<T>(this, pipeline);
  }

  /**
   * mgo's Collection.Watch: a change stream of this collection's events
   * (an aggregate with $changeStream first, then `pipeline`). Resolves once
   * the server accepted the aggregate; rejects with its error otherwise
   * (mgo returns it as Watch's error).
   */
  watch<T extends Document = ChangeEvent>(pipeline?: Document[] | null, options?: ChangeStreamOptions): Promise<ChangeStream<T>> {
    return ChangeStream.open<T>(this.session, watchTarget(this.database.name, this.name, `watch() on ${this.fullName}`), pipeline, options);
  }

  /** A new Bulk of writes on this collection, ordered unless unordered() (mgo's Bulk). */
  bulk(): Bulk {
    this.session[INTERNAL].checkOpen('bulk');
    return new Bulk(this);
  }

  /** Creates the index unless an index with the same name exists (createIndexes is idempotent). */
  async ensureIndex(index: Index): Promise<void> {
    await this.#command({ createIndexes: this.name, indexes: [indexSpec(index)] });
  }

  /** ensureIndex({ key }): e.g. ensureIndexKey('lastname', '-age') (mgo's EnsureIndexKey). */
  ensureIndexKey(...key: string[]): Promise<void> {
    return this.ensureIndex({ key });
  }

  /** The collection's indexes, sorted by name. */
  async indexes(): Promise<Index[]> {
    const internals = this.session[INTERNAL];
    const options = cursorOptions(internals, this.database.name, this.name, Math.abs(internals.batch), 0, internals.prefetch, LISTING_BSON, checkIndexSpecs);
    const cursor = openCursor(options, { command: { listIndexes: this.name, cursor: cursorField(options.batch) }, routing: 'read' });
    const specs = await cursor.all();
    return specs.map(indexFromSpec).sort((a, b) => (a.name! < b.name! ? -1 : a.name! > b.name! ? 1 : 0));
  }

  /** Drops the index with this key (in ensureIndex's notation). */
  async dropIndex(...key: string[]): Promise<void> {
    await this.#command({ dropIndexes: this.name, index: parseIndexKey(key).name });
  }

  /** Drops the index with this name (as indexes() lists it); a QueryError when there is none. */
  async dropIndexName(name: string): Promise<void> {
    if (typeof name !== 'string' || name === '' || name === '*') throw new MgoError('ERR_INVALID_ARGUMENT', `dropIndexName(): expected an index name, got ${JSON.stringify(name)}`);
    await this.#command({ dropIndexes: this.name, index: name });
  }

  /** Drops every index of the collection but the _id index, which the server keeps ("*"). */
  async dropAllIndexes(): Promise<void> {
    await this.#command({ dropIndexes: this.name, index: '*' });
  }

  /** Drops the collection with its documents and indexes (mgo's DropCollection). */
  async dropCollection(): Promise<void> {
    await this.#command({ drop: this.name });
  }

  /** Creates the collection explicitly, e.g. capped or with a validator. */
  async create(info: CollectionInfo = {}): Promise<void> {
    const command: Document = { create: this.name };
    if (info.capped) {
      if (!info.maxBytes || info.maxBytes < 1) throw new MgoError('ERR_INVALID_ARGUMENT', `create(): a capped collection needs maxBytes`);
      command.capped = true;
      command.size = info.maxBytes;
      if (info.maxDocs && info.maxDocs > 0) command.max = info.maxDocs;
    }
    if (info.disableIdIndex) command.autoIndexId = false;
    if (info.forceIdIndex) command.autoIndexId = true;
    for (const field of ['validator', 'validationLevel', 'validationAction', 'storageEngine', 'collation'] as const) {
      if (info[field] !== undefined) command[field] = info[field];
    }
    await this.#command(command);
  }

  #update(selector: Document | null | undefined, update: Document | Document[], flags: { upsert?: boolean; multi?: boolean }, method: string) {
    const statement = updateStatement(selector ?? undefined, update, flags, `${method} on ${this.fullName}`, this.#maxBsonObjectSize());
    return runWriteOrThrow(writeTarget(this), 'update', [statement]);
  }

  #maxBsonObjectSize(): number {
    return this.session[INTERNAL].limits().maxBsonObjectSize;
  }

  // Commands that change the database go to the primary.
  async #command(command: Document): Promise<Document> {
    return (await runCommand(this.session, this.database.name, command, 'write')).reply;
  }
}
