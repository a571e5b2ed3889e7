// mgo's Pipe: an aggregation pipeline over a collection, run with a cursor.
import { readBSONOptions, type BSONOptions } from '../uri/options.js';
import type { Document } from 'bson';
import { MgoError } from '../errors.js';
import { checkInteger } from './arguments.js';
import { collationDocument, type Collation } from './collation.js';
import type { Collection } from './collection.js';
import { runExplain, type ExplainVerbosity } from './explain.js';
import { INTERNAL } from './internal.js';
import { cursorField, cursorOptions, firstOf, openCursor, type Iter } from './iter.js';
import { readConcernOf, writeConcernOf } from './write-concern.js';

/** A pipeline ending in $out or $merge writes, so it must run on the primary. */
function writesOutput(pipeline: readonly Document[]): boolean {
  const last = pipeline[pipeline.length - 1];
  return last !== undefined && ('$out' in last || '$merge' in last);
}

/**
 * mgo's Pipe: an aggregation pipeline on a collection (Collection.pipe()),
 * run by one(), all(), iter(), explain() or a `for await` loop.
 */
export class Pipe<T extends Document = Document> implements AsyncIterable<T> {
  readonly #collection: Collection;
  readonly #pipeline: Document[];
  #allowDiskUse = false;
  #batch: number;
  #bson: BSONOptions | undefined;
  #maxTimeMS = 0;
  #collation: Document | undefined;

  /** @internal Pipes come from Collection.pipe(). */
  constructor(collection: Collection, pipeline: Document[]) {
    if (!Array.isArray(pipeline)) throw new MgoError('ERR_INVALID_ARGUMENT', 'pipe(): the pipeline must be an array of stages');
    this.#collection = collection;
    this.#pipeline = pipeline;
    this.#batch = collection.session[INTERNAL].batch;
  }

  /** Lets stages that need much memory spill to disk on the server. */
  allowDiskUse(): this {
    this.#allowDiskUse = true;
    return this;
  }

  /** BSON decoding options for this pipeline's results, over the session's (as Query.bsonOptions()). */
  bsonOptions(options: BSONOptions): this {
    const session = this.#collection.session[INTERNAL].bson;
    this.#bson = { ...this.#bson, ...readBSONOptions(options as Record<string, unknown>, { ...session, ...this.#bson }, 'Pipe.bsonOptions()') };
    return this;
  }

  /**
   * Documents per batch (the server's default for 0). A negative -n returns
   * one batch of at most n results and closes the cursor, as Query.batch()
   * does (mgo sends it as is, and servers refuse a negative batchSize).
   */
  batch(n: number): this {
    this.#batch = checkInteger('batch()', n, Number.MIN_SAFE_INTEGER);
    return this;
  }

  /** Lets the server stop the aggregation after this many milliseconds. */
  setMaxTime(ms: number): this {
    this.#maxTimeMS = checkInteger('setMaxTime()', ms);
    return this;
  }

  /** How strings compare in the pipeline's stages (server 3.4+), as Query.collation(). */
  collation(collation: Collation): this {
    this.#collation = collationDocument('Pipe.collation()', collation);
    return this;
  }

  /**
   * How the server would run the pipeline: the explain command's reply for
   * its aggregate. 'queryPlanner' by default, which is what mgo's aggregate
   * with explain: true gave, and which never runs the pipeline (a $out stage
   * writes nothing). mgo's Explain(result) filled an out-parameter; here the
   * reply is returned.
   */
  async explain(verbosity: ExplainVerbosity = 'queryPlanner'): Promise<Document> {
    const { session, database } = this.#collection;
    session[INTERNAL].checkOpen('explain');
    const command = this.#aggregateCommand();
    return runExplain(session, database.name, command, verbosity, writesOutput(this.#pipeline) ? 'write' : 'read', 'Pipe.explain()');
  }

  /** Runs the pipeline now and iterates its results. */
  iter(): Iter<T> {
    const { session, database, name } = this.#collection;
    const internals = session[INTERNAL];
    internals.checkOpen('iter');
    const writes = writesOutput(this.#pipeline);
    const command = this.#aggregateCommand();
    const concern = writes ? writeConcernOf(session.safe()) : readConcernOf(session.safe());
    if (concern) command[writes ? 'writeConcern' : 'readConcern'] = concern;
    if (writes && internals.bypassValidation) command.bypassDocumentValidation = true;
    return openCursor<T>(cursorOptions(internals, database.name, name, this.#batch, 0, internals.prefetch, this.#bson), { command, routing: writes ? 'write' : 'read' });
  }

  #aggregateCommand(): Document {
    const command: Document = { aggregate: this.#collection.name, pipeline: this.#pipeline, cursor: cursorField(this.#batch) };
    if (this.#allowDiskUse) command.allowDiskUse = true;
    if (this.#maxTimeMS > 0) command.maxTimeMS = this.#maxTimeMS;
    if (this.#collation) command.collation = this.#collation;
    return command;
  }

  /** Every result document (mgo's All, returned rather than filled in). */
  async all(): Promise<T[]> {
    return this.iter().all();
  }

  /** The first result; ErrNotFound when the pipeline yields nothing. */
  async one(): Promise<T> {
    return firstOf(this.iter());
  }

  /** `for await (const doc of ...)`: runs it through iter(); leaving the loop early closes the cursor. */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return this.iter()[Symbol.asyncIterator]();
  }
}
