// mgo's Pipe: an aggregation pipeline over a collection, run with a cursor.
import { readBSONOptions, type BSONOptions } from '../uri/options.js';
import type { Document } from 'bson';
import { MgoError } from '../errors.js';
import { checkInteger } from './arguments.js';
import type { Collection } from './collection.js';
import { INTERNAL } from './internal.js';
import { cursorField, cursorOptions, firstOf, openCursor, type Iter } from './iter.js';
import { readConcernOf, writeConcernOf } from './write-concern.js';

/** A pipeline ending in $out or $merge writes, so it must run on the primary. */
function writesOutput(pipeline: readonly Document[]): boolean {
  const last = pipeline[pipeline.length - 1];
  return last !== undefined && ('$out' in last || '$merge' in last);
}

export class Pipe<T extends Document = Document> implements AsyncIterable<T> {
  readonly #collection: Collection;
  readonly #pipeline: Document[];
  #allowDiskUse = false;
  #batch: number;
  #bson: BSONOptions | undefined;
  #maxTimeMS = 0;

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

  /** Documents per batch (the server's default for 0). */
  /** BSON decoding options for this pipeline's results, over the session's (as Query.bsonOptions()). */
  bsonOptions(options: BSONOptions): this {
    const session = this.#collection.session[INTERNAL].bson;
    this.#bson = { ...this.#bson, ...readBSONOptions(options as Record<string, unknown>, { ...session, ...this.#bson }, 'Pipe.bsonOptions()') };
    return this;
  }

  batch(n: number): this {
    this.#batch = checkInteger('batch()', n);
    return this;
  }

  /** Lets the server stop the aggregation after this many milliseconds. */
  setMaxTime(ms: number): this {
    this.#maxTimeMS = checkInteger('setMaxTime()', ms);
    return this;
  }

  /** Runs the pipeline now and iterates its results. */
  iter(): Iter<T> {
    const { session, database, name } = this.#collection;
    const internals = session[INTERNAL];
    internals.checkOpen('iter');
    const writes = writesOutput(this.#pipeline);
    const command: Document = { aggregate: name, pipeline: this.#pipeline, cursor: cursorField(this.#batch) };
    if (this.#allowDiskUse) command.allowDiskUse = true;
    if (this.#maxTimeMS > 0) command.maxTimeMS = this.#maxTimeMS;
    const concern = writes ? writeConcernOf(session.safe()) : readConcernOf(session.safe());
    if (concern) command[writes ? 'writeConcern' : 'readConcern'] = concern;
    return openCursor<T>(cursorOptions(internals, database.name, name, this.#batch, 0, internals.prefetch, this.#bson), { command, routing: writes ? 'write' : 'read' });
  }

  async all(): Promise<T[]> {
    return this.iter().all();
  }

  /** The first result; ErrNotFound when the pipeline yields nothing. */
  async one(): Promise<T> {
    return firstOf(this.iter());
  }

  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return this.iter()[Symbol.asyncIterator]();
  }
}
