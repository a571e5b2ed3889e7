// Client-side checks of the documents a write sends, made before anything
// reaches the router: a document the server would refuse (or BSON could not
// encode) fails here with an InvalidDocumentError naming the document and
// the offending key, and nothing of the operation is sent.
//
// One pass. encodeDocument() serializes a document once, on the caller's
// thread, and those bytes go to the socket unchanged (src/wire/bson.ts).
// js-bson itself refuses what the walk below looks for (cycles, NUL in
// keys), so the walk runs only after js-bson failed, to name the key: a
// valid document costs one serialization and nothing else. (Before: a walk,
// a size pass and the serialization, and with workers a second
// serialization in the worker; large_doc inserts cost the main thread
// 2.6-4.6x the official driver's.)
import { BSON, type Document } from 'bson';
import { InvalidDocumentError } from '../errors.js';
import { SERIALIZE_OPTIONS, classifySerializeError, serializeRaw, topLevelDollarKey } from '../wire/bson.js';

export type DocumentRole =
  /** A document to insert: a plain object whose top-level keys may not start with '$'. */
  | 'insert'
  /** A filter, replacement or update document, or an update pipeline (an array). */
  | 'document';

function invalid(what: string, why: string): InvalidDocumentError {
  return new InvalidDocumentError('ERR_INVALID_DOCUMENT', `${what} ${why}`);
}

/** Values BSON stores as themselves, not as embedded documents to walk. */
function isLeaf(value: object): boolean {
  return (
    '_bsontype' in value ||
    value instanceof Date ||
    value instanceof RegExp ||
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer
  );
}

function showKey(path: string[]): string {
  return path.length === 0 ? 'the top level' : `'${path.join('.')}'`;
}

// Walks the object graph along the path from the root: a value that is its
// own ancestor makes a cycle (BSON has no references), while the same
// object appearing twice side by side is fine. `path` is one stack, pushed
// and popped, read only to name the key in an error: copying it at every
// level made this walk four times slower than serializing the document
// (220 ms against 55 ms for the benchmark's 2.7 MB large_doc).
function walk(value: object, what: string, path: string[], ancestors: Set<object>): void {
  if (ancestors.has(value)) throw invalid(what, `is cyclic: ${showKey(path)} refers back to an enclosing object`);
  ancestors.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) visit(value[i], String(i), what, path, ancestors);
  } else if (value instanceof Map) {
    for (const [key, child] of value) visit(child, key, what, path, ancestors);
  } else {
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) visit((value as Record<string, unknown>)[keys[i]!], keys[i]!, what, path, ancestors);
  }
  ancestors.delete(value);
}

function visit(child: unknown, key: unknown, what: string, path: string[], ancestors: Set<object>): void {
  if (typeof key === 'string' && key.includes('\0')) {
    throw invalid(what, `has a key containing a NUL character at ${showKey([...path, key.replaceAll('\0', '\\0')])}`);
  }
  if (typeof child !== 'object' || child === null || isLeaf(child)) return;
  path.push(String(key));
  walk(child, what, path, ancestors);
  path.pop();
}

function checkShape(doc: unknown, what: string, role: DocumentRole): asserts doc is object {
  const arrayAllowed = role === 'document';
  if (typeof doc !== 'object' || doc === null || (Array.isArray(doc) && !arrayAllowed) || isLeaf(doc)) {
    throw invalid(what, `must be a document (a plain object), got ${doc === null ? 'null' : Array.isArray(doc) ? 'an array' : typeof doc}`);
  }
}

function checkInsertKeys(bytes: Uint8Array, what: string): void {
  const dollar = topLevelDollarKey(bytes);
  if (dollar !== undefined) throw invalid(what, `has a top-level key '${dollar}': stored documents may not have keys starting with '$'`);
}

function tooLarge(what: string, size: number, limit: number): InvalidDocumentError {
  return new InvalidDocumentError('ERR_DOCUMENT_TOO_LARGE', `${what} is ${size} bytes, over the limit of ${limit} bytes`);
}

/**
 * Checks a document a write is about to send and returns its BSON bytes,
 * serialized once (an update pipeline, an array, as the BSON array it
 * becomes). `what` names it in messages ("document 3 of the insert");
 * `limit` is the servers' maxBsonObjectSize (Router.limits()).
 */
export function encodeDocument(doc: unknown, what: string, limit: number, role: DocumentRole = 'document'): Uint8Array {
  checkShape(doc, what, role);
  let bytes: Uint8Array;
  try {
    bytes = serializeRaw(doc as Document);
  } catch (err) {
    // Name the key when the walk finds the cause (a cycle, a NUL in a key); otherwise js-bson's words.
    walk(doc, what, [], new Set());
    const { reason, message } = classifySerializeError(err);
    if (reason === 'ERR_DOCUMENT_TOO_LARGE') throw new InvalidDocumentError(reason, `${what} is too large to serialize: ${message}`);
    throw invalid(what, `cannot be serialized to BSON: ${message}`);
  }
  if (bytes.byteLength > limit) throw tooLarge(what, bytes.byteLength, limit);
  if (role === 'insert') checkInsertKeys(bytes, what);
  return bytes;
}

/**
 * Checks a document that is sent inside a command (findAndModify's query
 * and update) and returns its BSON size, without serializing it: the
 * command is serialized once, when it is sent. `limit` as encodeDocument's.
 */
export function checkDocument(doc: unknown, what: string, limit: number): number {
  checkShape(doc, what, 'document');
  walk(doc, what, [], new Set());
  // Sized as it will be serialized.
  const size = BSON.calculateObjectSize(doc as Document, SERIALIZE_OPTIONS);
  if (size > limit) throw tooLarge(what, size, limit);
  return size;
}
