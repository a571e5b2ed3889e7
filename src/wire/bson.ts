// How documents become BSON bytes, in one place: the serialize options every
// sender uses, how a js-bson failure is classified, and encoded documents
// (bytes serialized once, on the caller's thread, and carried unchanged to
// the socket: the worker never deserializes and re-serializes them).
import { BSON, type Document, type SerializeOptions } from 'bson';
import { isUtf8 } from 'node:buffer';

/** As every command and document is serialized: undefined fields left out, no key checks (the server's job), no functions. */
export const SERIALIZE_OPTIONS: SerializeOptions = Object.freeze({ ignoreUndefined: true, checkKeys: false, serializeFunctions: false });

/** Why a document could not be serialized. */
export type SerializeFailure = 'ERR_DOCUMENT_TOO_LARGE' | 'ERR_INVALID_DOCUMENT';

/** js-bson reports its own buffer limit (17 MiB) as a RangeError or BSONError mentioning the size. */
export function classifySerializeError(err: unknown): { reason: SerializeFailure; message: string } {
  const message = err instanceof Error ? err.message : String(err);
  const tooLarge = /size|exceed|buffer/i.test(message) && !/circular/i.test(message);
  return { reason: tooLarge ? 'ERR_DOCUMENT_TOO_LARGE' : 'ERR_INVALID_DOCUMENT', message };
}

/**
 * An OP_MSG document sequence already serialized: `count` BSON documents
 * back to back in `bytes`. Sizes were checked when they were encoded; the
 * encoder checks them again against the connection's own limits.
 */
export interface EncodedSequence {
  identifier: string;
  bytes: Uint8Array;
  count: number;
}

/** The lengths of the `count` documents packed in `bytes`, or a description of why they do not add up. */
export function packedDocumentSizes(bytes: Uint8Array, count: number): number[] | string {
  const sizes: number[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (bytes.byteLength - offset < 5) return `document ${i} is truncated`;
    const size = view.getInt32(offset, true);
    if (size < 5 || size > bytes.byteLength - offset || bytes[offset + size - 1] !== 0) return `document ${i} has an invalid length (${size})`;
    sizes.push(size);
    offset += size;
  }
  if (offset !== bytes.byteLength) return `${bytes.byteLength - offset} bytes follow the last of ${count} documents`;
  return sizes;
}

/**
 * `parts` back to back in a new exact-size array owning its ArrayBuffer,
 * always a copy: a request owns its bytes (a worker router may transfer,
 * i.e. detach, them), while the parts may be used again (a Bulk run twice).
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

// --------------------------------------------------- statement documents

const TYPE_DOCUMENT = 0x03;
const TYPE_ARRAY = 0x04;
const TYPE_BOOLEAN = 0x08;
const TYPE_INT32 = 0x10;

/** A field of a statement: an already encoded document or array, a boolean, or an int32. */
export type StatementField = [key: string, value: Uint8Array, isArray: boolean] | [key: string, value: boolean | number];

/**
 * The BSON of a small document made of encoded parts, such as an update
 * statement { q: <bytes>, u: <bytes>, upsert: true }: the parts are copied,
 * never re-serialized. Keys are ASCII field names chosen by the driver.
 */
export function encodeStatement(fields: readonly StatementField[]): Uint8Array {
  let size = 4 + 1;
  for (const field of fields) {
    size += 1 + field[0].length + 1;
    const value = field[1];
    size += value instanceof Uint8Array ? value.byteLength : typeof value === 'boolean' ? 1 : 4;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setInt32(0, size, true);
  let offset = 4;
  for (const field of fields) {
    const [key, value] = field;
    out[offset++] = value instanceof Uint8Array ? (field[2] ? TYPE_ARRAY : TYPE_DOCUMENT) : typeof value === 'boolean' ? TYPE_BOOLEAN : TYPE_INT32;
    for (let i = 0; i < key.length; i++) out[offset++] = key.charCodeAt(i);
    out[offset++] = 0;
    if (value instanceof Uint8Array) {
      out.set(value, offset);
      offset += value.byteLength;
    } else if (typeof value === 'boolean') {
      out[offset++] = value ? 1 : 0;
    } else {
      view.setInt32(offset, value, true);
      offset += 4;
    }
  }
  out[offset] = 0;
  return out;
}

/**
 * BSON.serialize with the senders' options; js-bson's errors are left to
 * the caller to classify. An array (an update pipeline) becomes the BSON
 * array it is inside a document: the document { "0": ..., "1": ... }.
 */
export function serializeRaw(doc: Document | readonly unknown[]): Uint8Array {
  return BSON.serialize(Array.isArray(doc) ? { ...doc } : (doc as Document), SERIALIZE_OPTIONS);
}

// ------------------------------------------------------ a document's top level

/** BSON bytes that are not a valid document, found while walking its top level. */
export class MalformedBSONError extends Error {}

/**
 * Walks the top-level elements of the BSON document `bytes`, each value
 * skipped by its size (a nested document by its length prefix, never
 * entered) after checking that it lies within the document. `visit` gets
 * each element's type byte and the offsets of its name and its value, and
 * ends the walk by returning true. The one walk behind a reply's `ok`
 * (reply-status.ts) and an insert's '$' keys (topLevelDollarKey): a few
 * byte reads per element, no decoding. Throws MalformedBSONError when the
 * bytes are not a document.
 */
export function walkTopLevel(bytes: Uint8Array, visit: (type: number, nameAt: number, valueAt: number, view: DataView) => boolean | void): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.byteLength - 1;
  if (end < 4 || view.getInt32(0, true) !== end + 1 || bytes[end] !== 0) throw new MalformedBSONError('bad document length');
  let at = 4;
  while (at < end) {
    const type = bytes[at++]!;
    const nameAt = at;
    while (at < end && bytes[at] !== 0) at++;
    if (at >= end) throw new MalformedBSONError('unterminated element name');
    at++;
    const size = valueSize(type, bytes, view, at, end);
    if (size < 0 || at + size > end) throw new MalformedBSONError('element overruns the document');
    if (visit(type, nameAt, at, view) === true) return;
    at += size;
  }
}

/** The size of a BSON value of `type` at `at` (BSON spec, "element"); walkTopLevel checks that it ends before `end`. */
function valueSize(type: number, bytes: Uint8Array, view: DataView, at: number, end: number): number {
  switch (type) {
    case 0x01: // double
    case 0x09: // UTC datetime
    case 0x11: // timestamp
    case 0x12: // int64
      return 8;
    case 0x07: // ObjectId
      return 12;
    case 0x08: // boolean
      return 1;
    case 0x10: // int32
      return 4;
    case 0x13: // decimal128
      return 16;
    case 0x06: // undefined (deprecated)
    case 0x0a: // null
    case 0x7f: // MaxKey
    case 0xff: // MinKey
      return 0;
    case 0x0b: {
      // regex: two cstrings
      const first = bytes.indexOf(0, at);
      const second = first < 0 ? -1 : bytes.indexOf(0, first + 1);
      if (second < 0) throw new MalformedBSONError('unterminated regex');
      return second + 1 - at;
    }
  }
  // The other types start with an int32 length.
  if (at + 4 > end) throw new MalformedBSONError('truncated element');
  const length = view.getInt32(at, true);
  switch (type) {
    case 0x02: // string
    case 0x0d: // JavaScript code
    case 0x0e: // symbol
      return 4 + length;
    case 0x03: // document
    case 0x04: // array
    case 0x0f: // code with scope
      return length;
    case 0x05: // binary: length, subtype, bytes
      return 5 + length;
    case 0x0c: // DBPointer: string, ObjectId
      return 4 + length + 12;
    default:
      throw new MalformedBSONError(`unknown BSON type 0x${type.toString(16)}`);
  }
}

/** Nesting deeper than this is refused: js-bson's decoder recurses, and a hostile reply must not exhaust the stack. */
const MAX_CHECKED_DEPTH = 200;

/**
 * Checks that `bytes` is a BSON document all the way down, as a decoder
 * would find it: every nested document and array within its parent and
 * NUL-terminated, every element of a known type and within its document,
 * strings NUL-terminated and valid UTF-8, booleans 0 or 1, a code with
 * scope's parts adding up. Reads bytes only, no objects: a worker checks
 * a reply it hands on undecoded this way before its socket goes back to
 * the pool, so that a reply that is not BSON closes the connection that
 * brought it (src/worker/protocol.ts, encodeReply). Measured on this
 * machine (Node 20): 0.3 us for a 139-byte reply (js-bson's deserialize:
 * 2.6 us), 33 us for 18 KB of small documents (218 us). Throws
 * MalformedBSONError.
 */
export function checkBSON(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  checkDocumentAt(bytes, view, 0, bytes.byteLength, 0);
}

/** The document at `start`, which must end exactly at `end`. */
function checkDocumentAt(bytes: Uint8Array, view: DataView, start: number, end: number, depth: number): void {
  if (depth > MAX_CHECKED_DEPTH) throw new MalformedBSONError(`documents nested deeper than ${MAX_CHECKED_DEPTH}`);
  const last = end - 1;
  if (end - start < 5 || view.getInt32(start, true) !== end - start || bytes[last] !== 0) throw new MalformedBSONError('bad document length');
  let at = start + 4;
  while (at < last) {
    const type = bytes[at++]!;
    while (at < last && bytes[at] !== 0) at++;
    if (at >= last) throw new MalformedBSONError('unterminated element name');
    at++;
    const size = valueSize(type, bytes, view, at, last);
    if (size < 0 || at + size > last) throw new MalformedBSONError('element overruns the document');
    switch (type) {
      case 0x02: // string, JavaScript code, symbol
      case 0x0d:
      case 0x0e:
      case 0x0c: // DBPointer: a string, then an ObjectId
        checkString(bytes, view, at, at + size);
        break;
      case 0x03: // document, array
      case 0x04:
        checkDocumentAt(bytes, view, at, at + size, depth + 1);
        break;
      case 0x05: {
        // binary: the old subtype 2 holds its own length, 4 less than the whole
        const length = view.getInt32(at, true);
        if (length < 0) throw new MalformedBSONError('negative binary length');
        if (bytes[at + 4] === 0x02 && (length < 4 || view.getInt32(at + 5, true) !== length - 4)) throw new MalformedBSONError('binary subtype 2 length mismatch');
        break;
      }
      case 0x08:
        if (bytes[at]! > 1) throw new MalformedBSONError('boolean byte is neither 0 nor 1');
        break;
      case 0x0f: {
        // code with scope: int32 total, string, document
        const scopeAt = at + 4 + checkString(bytes, view, at + 4, at + size);
        checkDocumentAt(bytes, view, scopeAt, at + size, depth + 1);
        break;
      }
    }
    at += size;
  }
}

/** A BSON string at `at` (int32 length counting the NUL, UTF-8, NUL) ending by `end`: its whole size. */
function checkString(bytes: Uint8Array, view: DataView, at: number, end: number): number {
  if (at + 4 > end) throw new MalformedBSONError('truncated string');
  const length = view.getInt32(at, true);
  const stop = at + 4 + length - 1;
  if (length < 1 || stop + 1 > end) throw new MalformedBSONError('string length out of bounds');
  if (bytes[stop] !== 0) throw new MalformedBSONError('string is not NUL-terminated');
  // ASCII in JS; the native UTF-8 check only from the first byte over 0x7f (a call costs more than a short string's loop).
  for (let i = at + 4; i < stop; i++) {
    if (bytes[i]! > 0x7f) {
      if (!isUtf8(bytes.subarray(i, stop))) throw new MalformedBSONError('string is not valid UTF-8');
      break;
    }
  }
  return 4 + length;
}

/**
 * The first top-level key of the BSON document `bytes` that starts with
 * '$', read from the bytes (walkTopLevel): no Object.keys() of the object,
 * which costs 17 ms for the 94,000 top-level keys of the benchmark's
 * large_doc.
 */
export function topLevelDollarKey(bytes: Uint8Array): string | undefined {
  let key: string | undefined;
  walkTopLevel(bytes, (_type, nameAt) => {
    if (bytes[nameAt] !== 0x24) return false;
    key = new TextDecoder().decode(bytes.subarray(nameAt, bytes.indexOf(0, nameAt)));
    return true;
  });
  return key;
}
