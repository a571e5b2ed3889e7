// mgo's GridFS: files stored in two collections of a database, <prefix>.files
// (one document per file) and <prefix>.chunks (the bytes, chunkSize at a
// time), as the GridFS spec lays them out. Files are written and read
// through GridFile (grid-file.ts).
import type { Document } from 'bson';
import { ObjectId } from 'bson';
import { MgoError } from '../errors.js';
import { cursorReplyOf } from '../wire/reply-shape.js';
import type { Collection } from './collection.js';
import { runCommand, type Database } from './database.js';
import { ErrNotFound, QueryError } from './errors.js';
import { GRID_BSON, GridFile } from './grid-file.js';
import { DEFAULT_CHUNK_SIZE, storedFileOf } from './grid-layout.js';
import { INTERNAL } from './internal.js';
import type { Iter } from './iter.js';
import type { Query } from './query.js';

/** The server's NamespaceNotFound: listIndexes on a collection that does not exist yet. */
const NAMESPACE_NOT_FOUND = 26;

/** The indexes the GridFS spec asks for ("Before write operations"), in ensureIndex's notation. */
const FILES_INDEX = ['filename', 'uploadDate'];
const CHUNKS_INDEX = ['files_id', 'n'];

/**
 * mgo's GridFS: files stored in `<prefix>.files` and `<prefix>.chunks` of
 * a database (Database.gridFS(prefix)), written with create() and read with
 * open(), openId() or openNext(), each a GridFile.
 */
export class GridFS {
  /** The files collection, <prefix>.files (mgo's Files). */
  readonly files: Collection;
  /** The chunks collection, <prefix>.chunks (mgo's Chunks). */
  readonly chunks: Collection;
  #indexes: Promise<void> | undefined;

  /** @internal GridFS objects come from Database.gridFS(). */
  constructor(
    /** The database the files are stored in. */
    readonly database: Database,
    /** The collections' prefix ('fs' by default in Database.gridFS()). */
    readonly prefix: string,
  ) {
    if (typeof prefix !== 'string' || prefix === '') throw new MgoError('ERR_INVALID_ARGUMENT', 'gridFS(): the prefix must be a non-empty string');
    this.files = database.c(`${prefix}.files`);
    this.chunks = database.c(`${prefix}.chunks`);
  }

  /**
   * A new file named `name` ('' for none), open for writing, with a new
   * ObjectId as its _id and 255 KiB chunks. It becomes visible when close()
   * stores its files document; a file of the same name uploaded later is
   * what open(name) then finds.
   */
  async create(name: string): Promise<GridFile<'write'>> {
    this.database.session[INTERNAL].checkOpen('create');
    if (typeof name !== 'string') throw new MgoError('ERR_INVALID_ARGUMENT', 'create(): the file name must be a string');
    return new GridFile(this, 'write', {
      id: new ObjectId(),
      length: 0,
      chunkSize: DEFAULT_CHUNK_SIZE,
      uploadDate: undefined,
      filename: name,
      contentType: '',
      metadata: undefined,
      md5: '',
    });
  }

  /** The newest upload named `name` (by uploadDate), open for reading; ErrNotFound when there is none. */
  async open(name: string): Promise<GridFile<'read'>> {
    const doc = await this.files.find({ filename: name }).sort('-uploadDate').bsonOptions(GRID_BSON).one();
    return this.#reading(doc);
  }

  /** The file with this _id, open for reading; ErrNotFound when there is none. */
  async openId(id: unknown): Promise<GridFile<'read'>> {
    const doc = await this.files.find({ _id: id }).bsonOptions(GRID_BSON).one();
    return this.#reading(doc);
  }

  /**
   * Closes `previous` (when given) and opens the file of the next document
   * of `iter`, an Iter over the files collection (from find()). mgo's
   * OpenNext sets its *GridFile out-parameter and returns a bool; here the
   * file is the return value, undefined at the end of the iteration or on
   * its error (check iter.err() or iter.close(), as in mgo):
   *
   *     const iter = gfs.find().sort('filename').iter();
   *     for (let file = await gfs.openNext(iter); file; file = await gfs.openNext(iter, file)) { ... }
   *     await iter.close();
   */
  async openNext(iter: Iter, previous?: GridFile): Promise<GridFile<'read'> | undefined> {
    // mgo ignores this error too: the previous file was read, its loop step is over.
    if (previous) await previous.close().catch(() => undefined);
    const doc = await iter.next();
    return doc === undefined ? undefined : this.#reading(doc);
  }

  /** A query on the files collection (mgo's Find: gfs.files.find(query)). */
  find<T extends Document = Document>(query?: Document | null): Query<T> {
    return this.files.find<T>(query);
  }

  /**
   * Removes the file with this _id and its chunks. ErrNotFound when there
   * is no such file, after removing any orphaned chunks of that id (mgo
   * leaves those; the GridFS spec's delete removes them).
   */
  async removeId(id: unknown): Promise<void> {
    let missing = false;
    try {
      await this.files.removeId(id);
    } catch (err) {
      if (err !== ErrNotFound) throw err;
      missing = true;
    }
    await this.chunks.removeAll({ files_id: id });
    if (missing) throw ErrNotFound;
  }

  /**
   * Removes every file named `name` with its chunks, and resolves to how
   * many files it removed (mgo returns only the error; 0 is no error here
   * either). The first failure rejects after the other files are removed.
   */
  async remove(name: string): Promise<number> {
    const ids = (await this.files.find({ filename: name }).select({ _id: 1 }).bsonOptions(GRID_BSON).all()).map((doc) => doc._id as unknown);
    let removed = 0;
    let failure: unknown;
    for (const id of ids) {
      try {
        await this.removeId(id);
        removed++;
      } catch (err) {
        // Another client removed it since the query: it is gone, as asked.
        if (err !== ErrNotFound) failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
    return removed;
  }

  /**
   * @internal Creates the spec's indexes, files {filename: 1, uploadDate: 1}
   * and chunks {files_id: 1, n: 1} unique, once per GridFS, before its first
   * write. As the GridFS spec asks, only while the files collection is empty,
   * and only those listIndexes does not show (a user who may write but not
   * create indexes can still upload to a prepared bucket). A failure is
   * reported to the write and tried again by the next one.
   */
  ensureIndexes(): Promise<void> {
    this.#indexes ??= this.#ensureIndexes().catch((err: unknown) => {
      this.#indexes = undefined;
      throw err;
    });
    return this.#indexes;
  }

  async #ensureIndexes(): Promise<void> {
    // GridFS spec: the emptiness check reads the primary, whatever the session's mode ('write' routing).
    const command = { find: this.files.name, filter: {}, projection: { _id: 1 }, limit: 1, singleBatch: true };
    const { reply, address } = await runCommand(this.database.session, this.database.name, command, 'write', GRID_BSON);
    if (cursorReplyOf(reply, address, 'firstBatch', false).batch.length > 0) return;
    await ensureIndex(this.files, FILES_INDEX, false);
    await ensureIndex(this.chunks, CHUNKS_INDEX, true);
  }

  #reading(doc: unknown): GridFile<'read'> {
    return new GridFile(this, 'read', storedFileOf(doc, `GridFS files document in ${this.files.fullName}`));
  }
}

async function ensureIndex(collection: Collection, key: string[], unique: boolean): Promise<void> {
  let existing: string[][] = [];
  try {
    existing = (await collection.indexes()).map((index) => index.key);
  } catch (err) {
    if (!(err instanceof QueryError && err.serverCode === NAMESPACE_NOT_FOUND)) throw err;
  }
  // indexFromSpec reads key values numerically: 1, 1.0 and Int32(1) all give the same field name.
  if (existing.some((fields) => fields.length === key.length && fields.every((field, i) => field === key[i]))) return;
  await collection.ensureIndex(unique ? { key, unique } : { key });
}
