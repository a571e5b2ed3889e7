// mgo's Database: a name on a session; no I/O until a method runs a command.
import type { BSONOptions } from '../uri/options.js';
import type { Document } from 'bson';
import { MgoError } from '../errors.js';
import type { RouterReply } from '../router/router.js';
import { checkCollectionInfos } from '../wire/reply-shape.js';
import { ChangeStream, watchTarget, type ChangeEvent, type ChangeStreamOptions } from './change-stream.js';
import type { Collation } from './collation.js';
import { Collection } from './collection.js';
import { refQuery, type DBRefLike } from './dbref.js';
import { GridFS } from './gridfs.js';
import { INTERNAL, type Operation, type Routing } from './internal.js';
import { cursorField, cursorOptions, openCursor } from './iter.js';
import type { Query } from './query.js';
import type { Session } from './session.js';
import { addUser, removeUser, upsertUser, type User } from './users.js';
import { createViewCommand } from './views.js';

/**
 * Runs one command on `db` and returns the reply document and the server
 * that gave it (ok: 0 rejects with a QueryError); `retryable` for those the
 * retryable reads spec retries (count, distinct, listDatabases), never a
 * user's own command.
 */
export function runCommand(session: Session, db: string, command: Document, routing: Routing, bson?: BSONOptions, retryable = false): Promise<RouterReply> {
  const operation: Operation = { db, command, routing };
  if (bson) operation.bson = bson;
  if (retryable) operation.retryable = true;
  return session[INTERNAL].run(operation);
}

/**
 * The decoding of the driver's own listings (listCollections, listIndexes):
 * documents, whatever `raw` the session asks for its queries and pipes.
 */
export const LISTING_BSON: BSONOptions = Object.freeze({ raw: false });

/**
 * mgo's Database: a named database seen through one session (Session.db()).
 * Cheap to make; it holds no socket.
 */
export class Database {
  /** @internal Databases come from Session.db() and Database.with(). */
  constructor(
    /** The session its operations run through. */
    readonly session: Session,
    /** The database's name. */
    readonly name: string,
  ) {}

  /**
   * The same database on `session` (mgo's With): its collections and
   * commands then use that session's mode, safety and sockets, and fail
   * with ERR_SESSION_CLOSED once it is closed.
   */
  with(session: Session): Database {
    session[INTERNAL].checkOpen('with');
    return new Database(session, this.name);
  }

  /** The collection `name` of this database. */
  c(name: string): Collection {
    this.session[INTERNAL].checkOpen('c');
    if (typeof name !== 'string' || name === '') throw new MgoError('ERR_INVALID_ARGUMENT', 'c(): a collection name must be a non-empty string');
    return new Collection(this, name);
  }

  /** mgo's Database.GridFS: the files stored in `prefix`.files and `prefix`.chunks (GridFS spec bucket "fs" by default). */
  gridFS(prefix = 'fs'): GridFS {
    return new GridFS(this, prefix);
  }

  /**
   * Runs a command and returns its reply. A string runs { [name]: 1 }. As in
   * mgo, it is routed as a read: in modes other than Strong it may run on a
   * secondary, so send writing commands through a Strong session.
   */
  async run(command: string | Document): Promise<Document> {
    const document = typeof command === 'string' ? { [command]: 1 } : command;
    return (await runCommand(this.session, this.name, document, 'read')).reply;
  }

  /** mgo's Database.Login: session.login() with this database as the auth database. */
  login(username: string, password: string): Promise<void> {
    return this.session.login({ username, password, source: this.name });
  }

  /** mgo's Database.Logout: the session stops running as the user it logged in with here (if it did). */
  logout(): void {
    this.session[INTERNAL].checkOpen('logout');
    this.session.logoutFrom(this.name);
  }

  /** Names of the database's collections, sorted. */
  async collectionNames(): Promise<string[]> {
    const internals = this.session[INTERNAL];
    const options = cursorOptions(internals, this.name, '$cmd.listCollections', Math.abs(internals.batch), 0, internals.prefetch, LISTING_BSON, checkCollectionInfos);
    const cursor = openCursor<{ name: string }>(options, {
      command: { listCollections: 1, nameOnly: true, cursor: cursorField(options.batch) },
      routing: 'read',
    });
    const collections = await cursor.all();
    return collections.map((c) => c.name).sort();
  }

  /** A change stream of every collection of this database (Collection.watch(); mgo has it on Collection only). */
  watch<T extends Document = ChangeEvent>(pipeline?: Document[] | null, options?: ChangeStreamOptions): Promise<ChangeStream<T>> {
    return ChangeStream.open<T>(this.session, watchTarget(this.name, 1, `watch() on database ${this.name}`), pipeline, options);
  }

  /**
   * mgo's FindRef: the query for the document `ref` points at, in ref.db
   * when it names one, else in this database. `ref` is js-bson's DBRef (the
   * package exports it), the class { $ref, $id, $db } documents decode into.
   */
  findRef<T extends Document = Document>(ref: DBRefLike): Query<T> {
    return refQuery(this.session, ref, 'findRef', this.name) as Query<T>;
  }

  /**
   * mgo's CreateView: creates the read-only view `view` of this database,
   * the `pipeline` run on `source` (a collection or view of this database);
   * read it as a collection, db.c(view). `collation` (server 3.4+): the
   * view's default collation, left out when undefined or null.
   */
  async createView(view: string, source: string, pipeline: Document[], collation?: Collation | null): Promise<void> {
    this.session[INTERNAL].checkOpen('createView');
    await runCommand(this.session, this.name, createViewCommand(view, source, pipeline, collation), 'write');
  }

  /**
   * mgo's UpsertUser: updates the user of this database (password, roles,
   * customData), creating it when it does not exist. The password never
   * appears in an error, even where a server echoes it.
   */
  upsertUser(user: User): Promise<void> {
    this.session[INTERNAL].checkOpen('upsertUser');
    return upsertUser(this, user);
  }

  /**
   * mgo's AddUser: creates or updates `username` with mgo's roles for the
   * old `readOnly` flag (read or readWrite; readAnyDatabase or
   * readWriteAnyDatabase for a user of admin). upsertUser() chooses roles.
   */
  addUser(username: string, password: string, readOnly: boolean): Promise<void> {
    this.session[INTERNAL].checkOpen('addUser');
    return addUser(this, username, password, readOnly);
  }

  /** mgo's RemoveUser: drops the user of this database; ErrNotFound when there is none. */
  removeUser(username: string): Promise<void> {
    this.session[INTERNAL].checkOpen('removeUser');
    return removeUser(this, username);
  }

  /** Drops the database and everything in it (mgo's DropDatabase). */
  async dropDatabase(): Promise<void> {
    await runCommand(this.session, this.name, { dropDatabase: 1 }, 'write');
  }
}
