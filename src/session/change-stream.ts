// mgo's ChangeStream (changestreams.go): an aggregate whose first stage is
// $changeStream, iterated with awaitData getMores (the Iter of iter.ts),
// that resumes once after a resumable error (change streams spec,
// "Resume Process").
//
// The resume token (spec, "Resume Token") is what the stream resumes from:
// the _id of the last event next() returned, or the postBatchResumeToken of
// the last batch once that batch is used up (or came back empty). With no
// token yet, a resume starts at the user's startAtOperationTime, else at
// the operationTime of the opening aggregate's reply.
import { Timestamp, type Document } from 'bson';
import { MgoError } from '../errors.js';
import { changeStreamReplyOf, isDocument } from '../wire/reply-shape.js';
import { checkInteger } from './arguments.js';
import { INTERNAL } from './internal.js';
import { cursorField, cursorOptions, openCursor, type Iter } from './iter.js';
import { isResumableChangeStreamError } from './retry.js';
import type { Session } from './session.js';
import { readConcernOf } from './write-concern.js';

/** What a change event holds (the server's change event documents); T of watch() narrows it. */
export interface ChangeEvent extends Document {
  /** The event's resume token. */
  _id: Document;
  /** insert, update, replace, delete, drop, rename, dropDatabase, invalidate, ... */
  operationType: string;
  /** The namespace the event happened in. */
  ns?: {
    /** The database's name. */
    db: string;
    /** The collection's name (absent for database-wide events). */
    coll?: string;
  };
  /** The _id (and shard key) of the document the event is about. */
  documentKey?: Document;
  /** The document inserted or replaced; for updates only with fullDocument: 'updateLookup' (null if it is gone by then). */
  fullDocument?: Document | null;
  /** What an update changed. */
  updateDescription?: {
    /** The fields set, with their new values. */
    updatedFields: Document;
    /** The fields removed. */
    removedFields: string[];
  };
  /** The cluster time of the operation (the oplog entry's timestamp). */
  clusterTime?: Timestamp;
}

/** mgo's ChangeStreamOptions, with the change streams spec's other stage options. */
export interface ChangeStreamOptions {
  /** 'updateLookup' adds the current document to update events ('default': only the delta). */
  fullDocument?: 'default' | 'updateLookup' | 'whenAvailable' | 'required';
  /** The document before the change, on servers 6.0+ with pre-images enabled. */
  fullDocumentBeforeChange?: 'off' | 'whenAvailable' | 'required';
  /** Starts after the event with this resume token (a ChangeStream's resumeToken()). */
  resumeAfter?: Document;
  /** As resumeAfter, and also after an invalidate event (servers 4.2+). */
  startAfter?: Document;
  /** Starts at this cluster time (servers 4.0+). */
  startAtOperationTime?: Timestamp;
  /**
   * How long each getMore waits on the server for events (its maxTimeMS);
   * 0: the server's default (1 s). The session's socket timeout
   * (setSocketTimeout) counts from the end of this wait; a connection's
   * socketTimeoutMS (the URL's) does not, so keep that one above it.
   */
  maxAwaitTimeMS?: number;
  /** Events per batch; 0: the server's default. */
  batchSize?: number;
  /** Passed through to the aggregate. */
  collation?: Document;
}

/** What a change stream watches: a collection, a database, or the whole deployment. */
interface Target {
  db: string;
  /** The aggregate's value: the collection's name, or 1 for a database or the deployment. */
  aggregate: string | 1;
  allChangesForCluster: boolean;
  /** How messages name the method. */
  method: string;
}

const STAGE_OPTIONS = ['fullDocument', 'fullDocumentBeforeChange'] as const;

/**
 * mgo's ChangeStream: the events of a collection, database or deployment
 * (Collection.watch(), Database.watch(), Session.watch()), resumed once
 * after a resumable error as the change streams spec says. next() resolves
 * the next event where mgo's Next filled its argument; also a `for await`
 * loop and `await using`.
 */
export class ChangeStream<T extends Document = ChangeEvent> implements AsyncIterable<T> {
  readonly #session: Session;
  readonly #target: Target;
  readonly #pipeline: readonly Document[];
  readonly #options: ChangeStreamOptions;
  #iter!: Iter<T>;
  /** The resume token (see the file's head); undefined until the stream has one. */
  #token: Document | undefined;
  /** The opening aggregate's operationTime, when no option said where to start. */
  #operationTime: Timestamp | undefined;
  /** The current batch: its postBatchResumeToken, and how many of its events next() has not returned yet. */
  #batchToken: Document | undefined;
  #unreturned = 0;
  /** next() has returned an event (a resume then uses resumeAfter even if the stream began with startAfter). */
  #returnedAny = false;
  #timedOut = false;
  #err: Error | undefined;
  #closed = false;
  /** The last next() called: the following one waits for it. */
  #nextInLine: Promise<void> = Promise.resolve();
  /** Cursors given up by a resume, being killed: close() waits for them. */
  readonly #killing = new Set<Promise<void>>();

  /** @internal Change streams come from watch() on a Collection, a Database or a Session. */
  private constructor(session: Session, target: Target, pipeline: readonly Document[], options: ChangeStreamOptions) {
    this.#session = session;
    this.#target = target;
    this.#pipeline = pipeline;
    this.#options = options;
    this.#token = options.startAfter ?? options.resumeAfter;
  }

  /** @internal Runs the opening aggregate; rejects with its error (a server without change streams refuses it). */
  static async open<T extends Document>(session: Session, target: Target, pipeline: Document[] | null | undefined, options: ChangeStreamOptions | undefined): Promise<ChangeStream<T>> {
    session[INTERNAL].checkOpen(target.method);
    const stream = new ChangeStream<T>(session, target, checkPipeline(target.method, pipeline ?? []), checkOptions(target.method, options ?? {}));
    const opening = stream.#open(true);
    await opening.settled();
    const err = opening.err();
    if (err) {
      await opening.close().catch(() => {});
      throw err;
    }
    return stream;
  }

  /**
   * The next event; undefined when the server's wait (maxAwaitTimeMS) ran
   * out with no event (then timeout() is true: call next() again), when
   * the stream failed (then err() says why), or once it ended (close(), or
   * the server closed the cursor after an invalidate event). mgo's
   * Next(&result) bool, with the event as the return value.
   */
  next(): Promise<T | undefined> {
    // One next() at a time (mgo holds a mutex): each moves the resume token.
    const next = this.#nextInLine.then(() => this.#next());
    this.#nextInLine = next.then(
      () => {},
      () => {},
    );
    return next;
  }

  async #next(): Promise<T | undefined> {
    this.#timedOut = false;
    if (this.#err) return undefined;
    if (this.#closed) return undefined;
    let resumed = false;
    for (;;) {
      const iter = this.#iter;
      const event = await iter.next();
      if (event !== undefined) return this.#returned(event);
      if (this.#closed || iter !== this.#iter) return undefined;
      const err = iter.err();
      if (err === undefined) {
        this.#timedOut = iter.timeout();
        return undefined;
      }
      // Spec, "Resume Process": once per error; the resume's own failure, or a
      // second failure right after it, is the stream's error.
      if (resumed || !isResumableChangeStreamError(err, this.#session[INTERNAL].sessionSupport())) {
        this.#err = err;
        return undefined;
      }
      resumed = true;
      this.#retire(iter);
      const reopened = this.#open(false);
      await reopened.settled();
      const reopenErr = reopened.err();
      if (reopenErr) {
        this.#err = reopenErr;
        return undefined;
      }
    }
  }

  /** The error the stream met (not a timeout), or undefined. */
  err(): Error | undefined {
    return this.#err;
  }

  /** Whether the last next() resolved undefined because the server's wait ran out with no event. */
  timeout(): boolean {
    return this.#timedOut;
  }

  /**
   * Where the stream stands: give it as resumeAfter (or startAfter) to a
   * new watch() to continue after the last event. Opaque; undefined until
   * the server sent one.
   */
  resumeToken(): Document | undefined {
    return this.#token === undefined ? undefined : { ...this.#token };
  }

  /**
   * Kills the server cursor and rejects with the error the stream met, if
   * any (mgo's Close). A next() waiting on the server resolves undefined
   * once its getMore returns. Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#iter.close().catch(() => {});
    await Promise.all(this.#killing);
    if (this.#err) throw this.#err;
  }

  /** close(), for `await using stream = await c.watch()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Yields each event, waiting on across empty getMores, until close() or
   * an error: a `for await` loop throws the stream's error, and leaving it
   * early closes the stream.
   */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return {
      next: async (): Promise<IteratorResult<T, undefined>> => {
        for (;;) {
          const event = await this.next();
          if (event !== undefined) return { value: event, done: false };
          if (!this.#timedOut) break;
        }
        await this.close();
        return { value: undefined, done: true };
      },
      return: async (): Promise<IteratorResult<T, undefined>> => {
        await this.close().catch(() => {});
        return { value: undefined, done: true };
      },
    };
  }

  /** Opens the stream's cursor: the aggregate with $changeStream first, starting where the options or the resume token say. */
  #open(initial: boolean): Iter<T> {
    const internals = this.#session[INTERNAL];
    const { db, aggregate } = this.#target;
    const options = this.#options;
    const command: Document = { aggregate, pipeline: [{ $changeStream: this.#stage(initial) }, ...this.#pipeline], cursor: cursorField(options.batchSize ?? 0) };
    if (options.collation) command.collation = options.collation;
    const concern = readConcernOf(this.#session.safe());
    if (concern) command.readConcern = concern;
    // The cursor's namespace comes from the reply (db.$cmd.aggregate for a database or the deployment).
    const collection = typeof aggregate === 'string' ? aggregate : '$cmd.aggregate';
    const cursor = cursorOptions(internals, db, collection, options.batchSize ?? 0, 0, 0, CHANGE_STREAM_BSON);
    cursor.awaitData = { maxAwaitTimeMS: options.maxAwaitTimeMS ?? 0 };
    cursor.observe = (reply, batchSize, address) => {
      const { postBatchResumeToken, operationTime } = changeStreamReplyOf(reply, address);
      this.#batchToken = postBatchResumeToken;
      this.#unreturned = batchSize;
      if (batchSize === 0 && postBatchResumeToken) this.#token = postBatchResumeToken;
      const startGiven = options.resumeAfter || options.startAfter || options.startAtOperationTime;
      if (initial && !startGiven && this.#token === undefined) this.#operationTime = operationTime;
    };
    this.#iter = openCursor<T>(cursor, { command, routing: 'read' });
    return this.#iter;
  }

  /** The $changeStream stage: the user's options, and on a resume the cached token or time instead of theirs. */
  #stage(initial: boolean): Document {
    const options = this.#options;
    const stage: Document = {};
    for (const name of STAGE_OPTIONS) if (options[name] !== undefined) stage[name] = options[name];
    if (this.#target.allChangesForCluster) stage.allChangesForCluster = true;
    if (initial) {
      if (options.resumeAfter) stage.resumeAfter = options.resumeAfter;
      if (options.startAfter) stage.startAfter = options.startAfter;
      if (options.startAtOperationTime) stage.startAtOperationTime = options.startAtOperationTime;
    } else if (this.#token !== undefined) {
      // Spec: startAfter only while no event came back since; resumeAfter after one.
      stage[options.startAfter && !this.#returnedAny ? 'startAfter' : 'resumeAfter'] = this.#token;
    } else {
      const time = options.startAtOperationTime ?? this.#operationTime;
      if (time) stage.startAtOperationTime = time;
    }
    return stage;
  }

  /** An event next() returns: its _id is the resume token, unless it ends a batch that carried a postBatchResumeToken. */
  #returned(event: T): T | undefined {
    const id: unknown = event._id;
    if (!isDocument(id)) {
      // Spec, "Resume Token": an event without its token makes the stream unresumable; never resume from it.
      this.#err = new MgoError(
        'ERR_CHANGE_STREAM',
        `${this.#target.method}: a change event has no _id (resume token); the pipeline must not remove or replace _id`,
      );
      this.#retire(this.#iter);
      return undefined;
    }
    this.#unreturned = Math.max(0, this.#unreturned - 1);
    this.#token = this.#unreturned === 0 && this.#batchToken ? this.#batchToken : id;
    this.#returnedAny = true;
    return event;
  }

  /** Kills a cursor the stream no longer reads, without waiting (its server may be the one that failed). */
  #retire(iter: Iter<T>): void {
    const killing: Promise<void> = iter.close().then(
      () => {},
      () => {},
    );
    this.#killing.add(killing);
    void killing.finally(() => this.#killing.delete(killing));
  }
}

/** Events are read as documents whatever the session's `raw`: the stream needs each _id. */
const CHANGE_STREAM_BSON = Object.freeze({ raw: false });

function checkPipeline(method: string, pipeline: unknown): Document[] {
  if (!Array.isArray(pipeline) || !pipeline.every(isDocument)) {
    throw new MgoError('ERR_INVALID_ARGUMENT', `${method}: the pipeline must be an array of stages (documents)`);
  }
  return pipeline;
}

function checkOptions(method: string, options: unknown): ChangeStreamOptions {
  if (!isDocument(options)) throw new MgoError('ERR_INVALID_ARGUMENT', `${method}: the options must be an object`);
  const checked = options as ChangeStreamOptions;
  for (const name of STAGE_OPTIONS) {
    if (checked[name] !== undefined && typeof checked[name] !== 'string') throw new MgoError('ERR_INVALID_ARGUMENT', `${method}: ${name} must be a string`);
  }
  for (const name of ['resumeAfter', 'startAfter', 'collation'] as const) {
    if (checked[name] !== undefined && !isDocument(checked[name])) throw new MgoError('ERR_INVALID_ARGUMENT', `${method}: ${name} must be a document`);
  }
  if (checked.resumeAfter && checked.startAfter) throw new MgoError('ERR_INVALID_ARGUMENT', `${method}: resumeAfter and startAfter exclude each other`);
  if (checked.startAtOperationTime !== undefined && !(checked.startAtOperationTime instanceof Timestamp)) {
    throw new MgoError('ERR_INVALID_ARGUMENT', `${method}: startAtOperationTime must be a BSON Timestamp`);
  }
  if (checked.maxAwaitTimeMS !== undefined) checkInteger(`${method} maxAwaitTimeMS`, checked.maxAwaitTimeMS);
  if (checked.batchSize !== undefined) checkInteger(`${method} batchSize`, checked.batchSize);
  return { ...checked };
}

/** @internal What watch() on a Collection, a Database or a Session watches. */
export function watchTarget(db: string, aggregate: string | 1, method: string, allChangesForCluster = false): Target {
  return { db, aggregate, method, allChangesForCluster };
}
