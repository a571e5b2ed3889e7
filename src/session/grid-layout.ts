// The arithmetic of GridFS files (GridFS spec, "Definitions" and "File
// Download"): how bytes split into chunks, how big each stored chunk must
// be, where a seek lands, and what a files collection document must hold.
// Pure functions, so that grid-file.ts keeps only the I/O.
import { BSON, Binary, Long, type Document } from 'bson';
import { MgoError } from '../errors.js';

/** mgo's and the spec's default chunk size: 255 KiB (a chunk document stays under 256 KiB). */
export const DEFAULT_CHUNK_SIZE = 255 * 1024;

/** mgo's io.Seek* values for seek()'s `whence`. */
export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

/** The number of chunks a file of `length` bytes is stored in. */
export function chunkCount(length: number, chunkSize: number): number {
  return Math.ceil(length / chunkSize);
}

/** The size chunk `n` must have: chunkSize, except the last, which holds the rest. */
export function expectedChunkSize(n: number, length: number, chunkSize: number): number {
  return Math.max(0, Math.min(chunkSize, length - n * chunkSize));
}

/**
 * Splits `buffered` (less than a chunk, left from earlier writes) followed
 * by `data` into whole chunks and the rest. The whole chunks are views of
 * `data` where they can be (the caller stores them before `data` can
 * change); the rest is a copy, since the caller may reuse its buffer once
 * write() resolved.
 */
export function splitChunks(buffered: Buffer, data: Uint8Array, chunkSize: number): { chunks: Buffer[]; rest: Buffer } {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buffered.length + bytes.length < chunkSize) return { chunks: [], rest: Buffer.concat([buffered, bytes]) };
  const chunks: Buffer[] = [];
  let at = 0;
  if (buffered.length > 0) {
    at = chunkSize - buffered.length;
    chunks.push(Buffer.concat([buffered, bytes.subarray(0, at)]));
  }
  for (; bytes.length - at >= chunkSize; at += chunkSize) chunks.push(bytes.subarray(at, at + chunkSize));
  return { chunks, rest: Buffer.from(bytes.subarray(at)) };
}

/**
 * The position seek(offset, whence) moves to, as mgo's Seek computes it:
 * from the start (0), the current position (1) or the end (2). A position
 * before the start or past the end is ERR_INVALID_ARGUMENT (mgo: "seek past
 * end of file").
 */
export function seekPosition(offset: number, whence: number, current: number, length: number): number {
  if (!Number.isSafeInteger(offset)) throw new MgoError('ERR_INVALID_ARGUMENT', `seek(): offset must be an integer, got ${String(offset)}`);
  let position: number;
  if (whence === SEEK_SET) position = offset;
  else if (whence === SEEK_CUR) position = current + offset;
  else if (whence === SEEK_END) position = length + offset;
  else throw new MgoError('ERR_INVALID_ARGUMENT', `seek(): whence must be 0 (start), 1 (current) or 2 (end), got ${String(whence)}`);
  if (position < 0) throw new MgoError('ERR_INVALID_ARGUMENT', `seek(): position ${position} is before the start of the file`);
  if (position > length) throw new MgoError('ERR_INVALID_ARGUMENT', `seek(): position ${position} is past the end of the file (${length} bytes)`);
  return position;
}

/** The fields of a files collection document (GridFS spec, "files collection document"). */
export interface StoredFile {
  id: unknown;
  length: number;
  chunkSize: number;
  uploadDate: Date | undefined;
  /** '' when the document has none (mgo's Name()). */
  filename: string;
  contentType: string;
  metadata: Document | undefined;
  /** '' when the document has none (disabled, or another driver's upload). */
  md5: string;
}

function corrupt(what: string, problem: string): MgoError {
  return new MgoError('ERR_GRIDFS_CORRUPT', `${what}: ${problem}`);
}

/** A length or chunk size as an integer, whatever BSON number type it was stored as and decoded to. */
function integerField(doc: Document, field: string, what: string, min: number): number {
  const raw: unknown = doc[field];
  let value: number;
  if (typeof raw === 'number') value = raw;
  else if (typeof raw === 'bigint') value = Number(raw);
  else if (raw instanceof Long) value = raw.toNumber();
  else if (raw !== null && typeof raw === 'object' && typeof (raw as { valueOf(): unknown }).valueOf() === 'number') value = (raw as { valueOf(): number }).valueOf();
  else throw corrupt(what, `${field} is ${raw === undefined ? 'missing' : `not a number (${typeof raw})`}`);
  if (!Number.isSafeInteger(value) || value < min) throw corrupt(what, `${field} must be an integer >= ${min}, got ${String(raw)}`);
  return value;
}

function stringField(doc: Document, field: string, what: string): string {
  const raw: unknown = doc[field];
  if (raw === undefined || raw === null) return '';
  if (typeof raw !== 'string') throw corrupt(what, `${field} is not a string`);
  return raw;
}

/**
 * Reads a files collection document, however the query that found it
 * decoded it (a Buffer for raw results, Longs or bigints for int64):
 * ERR_GRIDFS_CORRUPT naming the field when it cannot describe a file.
 */
export function storedFileOf(input: unknown, what = 'GridFS files document'): StoredFile {
  const doc: Document = input instanceof Uint8Array ? BSON.deserialize(input, { promoteBuffers: true }) : (input as Document);
  if (doc === null || typeof doc !== 'object') throw corrupt(what, 'not a document');
  if (!('_id' in doc)) throw corrupt(what, '_id is missing');
  const length = integerField(doc, 'length', what, 0);
  // A file without bytes needs no chunk size (the spec's empty uploads still write one).
  const chunkSize = length === 0 && doc.chunkSize === undefined ? DEFAULT_CHUNK_SIZE : integerField(doc, 'chunkSize', what, 1);
  const uploadDate = doc.uploadDate;
  if (uploadDate !== undefined && uploadDate !== null && !(uploadDate instanceof Date)) throw corrupt(what, 'uploadDate is not a date');
  const metadata = doc.metadata;
  if (metadata !== undefined && metadata !== null && (typeof metadata !== 'object' || Array.isArray(metadata))) throw corrupt(what, 'metadata is not a document');
  return {
    id: doc._id,
    length,
    chunkSize,
    uploadDate: uploadDate ?? undefined,
    filename: stringField(doc, 'filename', what),
    contentType: stringField(doc, 'contentType', what),
    metadata: metadata ?? undefined,
    md5: stringField(doc, 'md5', what),
  };
}

/** The bytes of a chunk's `data`, decoded as a Buffer or as a Binary; undefined when it holds no binary. */
export function chunkBytesOf(data: unknown): Buffer | undefined {
  if (data instanceof Binary) return Buffer.from(data.buffer.buffer, data.buffer.byteOffset, data.position);
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/** The files collection document of a finished upload, in the spec's field order; length an int32 when it fits (mgo's minsize), an int64 beyond. */
export function filesDocument(file: Omit<StoredFile, 'uploadDate'> & { uploadDate: Date }): Document {
  const doc: Document = {
    _id: file.id,
    length: file.length <= 0x7fffffff ? file.length : Long.fromNumber(file.length),
    chunkSize: file.chunkSize,
    uploadDate: file.uploadDate,
  };
  if (file.md5 !== '') doc.md5 = file.md5;
  if (file.filename !== '') doc.filename = file.filename;
  if (file.contentType !== '') doc.contentType = file.contentType;
  if (file.metadata !== undefined) doc.metadata = file.metadata;
  return doc;
}
