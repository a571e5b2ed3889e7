// mgo's GridFile: one file of a GridFS, open either for writing (from
// GridFS.create) or for reading (from open, openId, openNext). Writing
// buffers less than a chunk: each write() stores the whole chunks its bytes
// complete before it resolves, so a file never sits in memory whole; close()
// stores the last chunk, then the files document, which makes the file
// visible (GridFS spec, "File Upload"). Reading fetches chunk by chunk,
// prefetching the next one as mgo does, and checks each chunk's presence
// and size against the files document (spec, "File Download"): a file whose
// chunks do not add up fails with ERR_GRIDFS_CORRUPT, never wrong bytes.
//
// mgo serialises a GridFile's methods with a mutex; here its I/O methods
// run one after another in call order, whether or not the caller awaits
// each before calling the next.
import { createHash, type Hash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { ObjectId, type Document } from 'bson';
import { MgoError } from '../errors.js';
import type { BSONOptions } from '../uri/options.js';
import { checkInteger } from './arguments.js';
import { ErrNotFound } from './errors.js';
import { chunkBytesOf, expectedChunkSize, filesDocument, seekPosition, splitChunks, type StoredFile } from './grid-layout.js';
import type { GridFS } from './gridfs.js';

/** 'write' for a file from GridFS.create(), 'read' for one from open(), openId() or openNext(). */
export type GridFileMode = 'read' | 'write';

/**
 * How GridFS decodes the documents it reads itself, whatever the session's
 * BSON options ask of the application's queries: chunk data as Buffers,
 * numbers as numbers.
 */
export const GRID_BSON: BSONOptions = Object.freeze({ raw: false, promoteValues: true, promoteLongs: true, promoteBuffers: true, useBigInt64: false });

/** At most this many chunk bytes go in one insert command (a 5 MiB write is two commands, not twenty). */
const INSERT_BYTES = 4 * 1024 * 1024;

/** At most this many chunk _ids in one delete of a failed upload (~0.5 MiB of command). */
const REMOVE_IDS = 20_000;

/**
 * mgo's GridFile: one file of a GridFS, open for writing (GridFS.create())
 * or for reading (open(), openId(), openNext()). write(), read() and seek()
 * return promises; stream() gives a Node Writable or Readable where mgo's
 * GridFile was an io.Writer and io.Reader; close() must be awaited to store
 * a written file.
 */
export class GridFile<M extends GridFileMode = GridFileMode> implements AsyncIterable<Buffer> {
  readonly #gfs: GridFS;
  #mode: GridFileMode | 'closed';
  readonly #file: StoredFile;
  /** The first failure of a write (or the abort): later writes and close() report it. */
  #err: Error | undefined;
  /** Operations in call order (mgo's mutex). */
  #queue: Promise<unknown> = Promise.resolve();

  // Writing.
  #buffered: Buffer = Buffer.alloc(0);
  #nextChunk = 0;
  /**
   * The _ids of the chunks this upload sent: a failed upload removes these,
   * not every chunk of its files_id, which may be another file's (a setId()
   * of a stored file's _id fails on the chunks index; mgo removes both).
   */
  readonly #chunkIds: ObjectId[] = [];
  #md5: Hash | undefined;
  #started = false;

  // Reading.
  #offset = 0;
  #current: { n: number; data: Buffer } | undefined;
  #prefetch: { n: number; data: Promise<Buffer> } | undefined;

  /** @internal GridFiles come from GridFS.create(), open(), openId() and openNext(). */
  constructor(gfs: GridFS, mode: M, file: StoredFile) {
    this.#gfs = gfs;
    this.#mode = mode;
    this.#file = file;
    // mgo computes an md5 of every upload; the GridFS spec deprecates it (disableMD5() turns it off).
    if (mode === 'write') this.#md5 = createHash('md5');
  }

  /** The file's _id: a new ObjectId for a created file unless setId() chose another. */
  id(): unknown {
    return this.#file.id;
  }

  /** Changes the _id of a file being written, before its first write. */
  setId(id: unknown): void {
    this.#checkUnwritten('setId()');
    this.#file.id = id;
  }

  /** The file name; '' when it has none. */
  name(): string {
    return this.#file.filename;
  }

  /** Changes the name of a file being written ('' stores none). */
  setName(name: string): void {
    this.#checkMode('write', 'setName()');
    this.#file.filename = String(name);
  }

  /** The content type; '' when it has none. */
  contentType(): string {
    return this.#file.contentType;
  }

  /** Sets the content type of a file being written ('' stores none). */
  setContentType(type: string): void {
    this.#checkMode('write', 'setContentType()');
    this.#file.contentType = String(type);
  }

  /**
   * The file's metadata document, undefined when it has none. mgo's GetMeta
   * unmarshals into an out-parameter; here the document is the return value.
   */
  getMeta<T extends Document = Document>(): T | undefined {
    return this.#file.metadata as T | undefined;
  }

  /** Sets the metadata document of a file being written. */
  setMeta(metadata: Document): void {
    this.#checkMode('write', 'setMeta()');
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new MgoError('ERR_INVALID_ARGUMENT', 'setMeta(): metadata must be a document');
    }
    this.#file.metadata = metadata;
  }

  /** The file's size in bytes: written so far while writing, stored once read. */
  size(): number {
    return this.#file.length;
  }

  /**
   * The hex md5 of the content: known once a written file is closed, or
   * stored in a file being read; '' when the upload stored none.
   */
  md5(): string {
    return this.#file.md5;
  }

  /** When the file was stored: undefined for a file being written until close() (or setUploadDate()). */
  uploadDate(): Date | undefined {
    return this.#file.uploadDate;
  }

  /** Sets the upload date of a file being written (close() uses the current time otherwise). */
  setUploadDate(date: Date): void {
    this.#checkMode('write', 'setUploadDate()');
    if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new MgoError('ERR_INVALID_ARGUMENT', 'setUploadDate(): expected a valid Date');
    this.#file.uploadDate = date;
  }

  /** Sets the size of the chunks of a file being written, before its first write (255 KiB by default). */
  setChunkSize(bytes: number): void {
    this.#checkUnwritten('setChunkSize()');
    this.#file.chunkSize = checkInteger('setChunkSize()', bytes, 1);
  }

  /**
   * Stores no md5 for this upload (the GridFS spec's disableMD5; mgo always
   * computes one, and so do we unless this is called before close()).
   */
  disableMD5(): void {
    this.#checkMode('write', 'disableMD5()');
    this.#md5 = undefined;
  }

  /**
   * Appends `data` (a string is written as UTF-8) and resolves to the number
   * of bytes written, once every chunk the data completes is stored. A
   * failure also fails every later write and close(), as in mgo.
   */
  write(data: Uint8Array | string): Promise<number> {
    return this.#serial(async () => {
      this.#checkMode('write', 'write()');
      if (this.#err) throw this.#err;
      if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new MgoError('ERR_INVALID_ARGUMENT', 'write(): expected a Uint8Array or a string');
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      this.#started = true;
      this.#file.length += bytes.byteLength;
      this.#md5?.update(bytes);
      const { chunks, rest } = splitChunks(this.#buffered, bytes, this.#file.chunkSize);
      this.#buffered = rest;
      if (chunks.length > 0) await this.#store(chunks);
      return bytes.byteLength;
    });
  }

  /**
   * Reads up to `size` bytes from the current position. At the end of the
   * file it resolves to an empty Buffer (where mgo's Read returns io.EOF); a
   * shorter Buffer than asked means the file ended.
   */
  read(size: number): Promise<Buffer> {
    return this.#serial(async () => {
      this.#checkMode('read', 'read()');
      checkInteger('read()', size);
      const pieces: Buffer[] = [];
      let wanted = size;
      while (wanted > 0 && this.#offset < this.#file.length) {
        const piece = await this.#piece(wanted);
        pieces.push(piece);
        wanted -= piece.length;
      }
      return Buffer.concat(pieces);
    });
  }

  /**
   * Moves the read position to `offset` from the start (whence 0), the
   * current position (1) or the end (2), mgo's io.Seek* values, and
   * resolves to the new position. The chunk there is fetched by the next
   * read. Only files open for reading seek.
   */
  seek(offset: number, whence = 0): Promise<number> {
    return this.#serial(async () => {
      this.#checkMode('read', 'seek()');
      this.#offset = seekPosition(offset, whence, this.#offset, this.#file.length);
      return this.#offset;
    });
  }

  /**
   * Writing: stores the last chunk, then the files document, and closes the
   * file; after a failed write or abort() it removes the chunks stored so
   * far and rejects with that error. Reading: closes the file. Closing a
   * closed file reports the same outcome again.
   */
  close(): Promise<void> {
    return this.#serial(async () => {
      if (this.#mode === 'read') {
        this.#mode = 'closed';
        this.#current = undefined;
        this.#prefetch = undefined;
        return;
      }
      if (this.#mode === 'closed') {
        if (this.#err) throw this.#err;
        return;
      }
      this.#mode = 'closed';
      try {
        if (this.#err) throw this.#err;
        if (this.#buffered.length > 0) await this.#store([this.#buffered]);
        this.#buffered = Buffer.alloc(0);
        // GridFS spec: the indexes exist before the first write, and an empty file is a write too.
        await this.#gfs.ensureIndexes();
        this.#file.uploadDate ??= new Date();
        if (this.#md5) this.#file.md5 = this.#md5.digest('hex');
        await this.#gfs.files.insert(filesDocument({ ...this.#file, uploadDate: this.#file.uploadDate }));
      } catch (err) {
        this.#err ??= err as Error;
        // The file never becomes visible; its orphaned chunks go (mgo does the same).
        await this.#removeChunks().catch(() => undefined);
        throw this.#err;
      }
    });
  }

  /**
   * Cancels a write: the next close() removes the chunks stored so far and
   * rejects with ERR_GRIDFS_ABORTED (mgo's "write aborted"), and no files
   * document is written. Only files open for writing abort.
   */
  abort(): void {
    this.#checkMode('write', 'abort()');
    this.#err ??= new MgoError('ERR_GRIDFS_ABORTED', `write of GridFS file ${this.#describe()} aborted`);
  }

  /**
   * A file open for reading: its bytes from the current position as a
   * Readable (stream.pipeline() ready). A file open for writing: a Writable
   * whose end closes the file and whose destruction before its end (by an
   * error, or destroy() without one) aborts it
   * (the chunks go; stream.pipeline() rejects before that is done, and a
   * close() after it resolves when it is, rejecting with ERR_GRIDFS_ABORTED).
   * These take the place of mgo's io.Reader and io.Writer.
   */
  stream(): M extends 'write' ? Writable : Readable {
    if (this.#mode === 'write') return this.#writable() as M extends 'write' ? Writable : Readable;
    this.#checkMode('read', 'stream()');
    return Readable.from(this, { objectMode: false }) as M extends 'write' ? Writable : Readable;
  }

  /** The bytes from the current position, a Buffer per chunk (read()'s position moves with them). */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer, undefined> {
    this.#checkMode('read', 'iteration');
    for (;;) {
      const piece = await this.#serial(async () => {
        this.#checkMode('read', 'iteration');
        return this.#offset < this.#file.length ? Buffer.from(await this.#piece(Number.MAX_SAFE_INTEGER)) : undefined;
      });
      if (piece === undefined) return undefined;
      yield piece;
    }
  }

  #serial<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(step);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #writable(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.write(chunk).then(() => done(), done);
      },
      final: (done) => {
        this.close().then(() => done(), done);
      },
      destroy: (err, done) => {
        // After the end, close() has run (the mode is 'closed'); a destruction
        // before it, even without an error (a cancelled upload), aborts.
        if (this.#mode !== 'write') {
          done(err);
          return;
        }
        this.abort();
        this.close().catch(() => undefined).then(() => done(err));
      },
    });
  }

  /**
   * Stores whole chunks, in as few insert commands as INSERT_BYTES allows.
   * Any failure, the index creation's too, fails the file: the chunks it
   * was storing are gone from the buffer, so a later write or close() must
   * not store a file without them.
   */
  async #store(chunks: Buffer[]): Promise<void> {
    try {
      await this.#gfs.ensureIndexes();
      const perInsert = Math.max(1, Math.floor(INSERT_BYTES / this.#file.chunkSize));
      for (let i = 0; i < chunks.length; i += perInsert) {
        const docs = chunks.slice(i, i + perInsert).map((data) => ({ _id: new ObjectId(), files_id: this.#file.id, n: this.#nextChunk++, data }));
        // Recorded before the insert: a failed one may have stored some of them.
        for (const doc of docs) this.#chunkIds.push(doc._id);
        await this.#gfs.chunks.insert(...docs);
      }
    } catch (err) {
      this.#err ??= err as Error;
      throw err;
    }
  }

  /** Removes the chunks this upload sent, REMOVE_IDS _ids per command. */
  async #removeChunks(): Promise<void> {
    for (let i = 0; i < this.#chunkIds.length; i += REMOVE_IDS) {
      await this.#gfs.chunks.removeAll({ files_id: this.#file.id, _id: { $in: this.#chunkIds.slice(i, i + REMOVE_IDS) } });
    }
  }

  /** Up to `wanted` bytes from the current position, within one chunk; moves the position. */
  async #piece(wanted: number): Promise<Buffer> {
    const { chunkSize } = this.#file;
    const n = Math.floor(this.#offset / chunkSize);
    const data = await this.#chunk(n);
    const start = this.#offset - n * chunkSize;
    const piece = data.subarray(start, start + Math.min(wanted, data.length - start));
    // #fetch checked the size; this guards the loops of read() and iteration against never advancing.
    if (piece.length === 0) throw this.#corrupt(`chunk ${n} ends before position ${this.#offset}`);
    this.#offset += piece.length;
    return piece;
  }

  /** Chunk n, checked, from the one held, the one prefetched, or the server; then prefetches n + 1. */
  async #chunk(n: number): Promise<Buffer> {
    if (this.#current?.n === n) return this.#current.data;
    const prefetched = this.#prefetch?.n === n ? this.#prefetch.data : undefined;
    this.#prefetch = undefined;
    const data = await (prefetched ?? this.#fetch(n));
    this.#current = { n, data };
    if ((n + 1) * this.#file.chunkSize < this.#file.length) {
      const next = this.#fetch(n + 1);
      // Awaited by the read that needs it; a failure nobody reads (a seek elsewhere, close) is dropped.
      next.catch(() => undefined);
      this.#prefetch = { n: n + 1, data: next };
    }
    return data;
  }

  async #fetch(n: number): Promise<Buffer> {
    const { id, length, chunkSize } = this.#file;
    let doc: Document;
    try {
      doc = await this.#gfs.chunks.find({ files_id: id, n }).bsonOptions(GRID_BSON).one();
    } catch (err) {
      if (err === ErrNotFound) throw this.#corrupt(`chunk ${n} is missing`);
      throw err;
    }
    const data = chunkBytesOf(doc.data);
    if (data === undefined) throw this.#corrupt(`chunk ${n} holds no binary data`);
    const expected = expectedChunkSize(n, length, chunkSize);
    if (data.length !== expected) throw this.#corrupt(`chunk ${n} is ${data.length} bytes, expected ${expected} (length ${length}, chunkSize ${chunkSize})`);
    return data;
  }

  #corrupt(problem: string): MgoError {
    return new MgoError('ERR_GRIDFS_CORRUPT', `GridFS file ${this.#describe()} in ${this.#gfs.files.fullName}: ${problem}`);
  }

  #describe(): string {
    const name = this.#file.filename === '' ? '' : ` '${this.#file.filename}'`;
    return `${String(this.#file.id)}${name}`;
  }

  #checkMode(mode: GridFileMode, method: string): void {
    if (this.#mode === mode) return;
    const state = this.#mode === 'closed' ? 'closed' : `open for ${this.#mode === 'read' ? 'reading' : 'writing'}`;
    throw new MgoError('ERR_GRIDFS_MODE', `${method}: GridFile ${this.#describe()} is ${state}`);
  }

  #checkUnwritten(method: string): void {
    this.#checkMode('write', method);
    if (this.#started) throw new MgoError('ERR_GRIDFS_MODE', `${method}: GridFile ${this.#describe()} has been written to`);
  }
}
