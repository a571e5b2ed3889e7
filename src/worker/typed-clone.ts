// A decoded BSON document handed from one thread to another with its BSON
// types kept. Structured clone (postMessage, v8.serialize) copies plain
// objects, arrays, strings, numbers, bigints, Dates and RegExps as they are,
// but turns every class instance into a plain object: an ObjectId into
// { i0, i1, i2, i3 }, a Long into { low, high, unsigned }, and a Binary into
// an object holding its Buffer -- a view of the whole reply, so cloning it
// copies the whole reply once per Binary.
//
// So the worker decodes the reply with BSON.deserialize (the caller's
// options), then walks the result once and replaces every BSON-typed value
// by a marker: one of a few shared empty objects, one per type. The values'
// data go, in walk order, into three streams: numbers (a Float64Array),
// bytes (one exact-size Uint8Array: ObjectId, Decimal128, Binary, UUID,
// Buffer contents, so what crosses is bounded by the typed values' own
// size, never by the reply's) and strings. Structured clone keeps object
// identity within one message, so on the other side every marker is still
// the same object as its type's entry in the marker list; the receiving
// thread walks the tree in the same order and, at each marker, builds the
// value from the next entries of the streams. A DBRef's parts and a Code's
// scope are sub-documents with typed values of their own: they travel as
// nodes, walked (restored) just before the value that holds them is built.
//
// Why markers and streams rather than a list of (parent, key, value)
// patches: the patch list made the clone about twice as costly to receive
// as the tree alone (a back-reference, a key string and a small array per
// typed value); a marker is one back-reference, and the walk on arrival
// costs a few ns per node (measured: bench/, "decode placement probe").
// A document without typed values crosses as the tree alone, with no walk.
//
// The result is what BSON.deserialize(bytes, options) returns: the same
// classes and values in the same key order (js-bson's own constructors
// build them), and a key named "__proto__" stays an own data property (it
// is one in the cloned tree, so assigning to it sets it).
import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  Code,
  DBRef,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  UUID,
  type Document,
} from 'bson';

/** Data streams of the typed values, consumed in walk order. */
type Streams = [markers: object[], numbers: Float64Array | null, bytes: Uint8Array | null, strings: string[] | null, nodes: Document[] | null];

/**
 * What crosses the thread for one decoded document (structured-cloneable).
 * `streams` is null when the document has no typed value; `wrapped` when
 * the root itself was one (a DBRef-shaped document), carried as { value }.
 */
export type TypedClone = [tree: Document, streams: Streams | null, wrapped?: true];

// Marker indexes; what each value takes from the streams, in order.
const OBJECT_ID = 0; //   bytes 12
const LONG = 1; //        numbers: low, high
const INT32 = 2; //       numbers: value
const DOUBLE = 3; //      numbers: value
const DECIMAL128 = 4; //  bytes 16
const BINARY = 5; //      numbers: subtype, length; bytes
const UUID_TAG = 6; //    bytes 16
const BUFFER = 7; //      numbers: length; bytes
const TIMESTAMP = 8; //   numbers: t, i
const MIN_KEY = 9; //     -
const MAX_KEY = 10; //    -
const CODE = 11; //       strings: code; numbers: has scope; nodes: scope (if any)
const BSON_REGEXP = 12; // strings: pattern, options
const DBREF = 13; //      nodes: { collection, oid, db, fields }
const SYMBOL = 14; //     strings: value
const MARKER_COUNT = 15;

/** A value this codec does not know how to carry: the caller sends the BSON bytes instead. */
export class UncloneableValueError extends Error {}

/** The worker's streams for one document; the byte pack grows as needed and is copied out exact-size. */
class Writer {
  readonly markers: object[] = Array.from({ length: MARKER_COUNT }, () => ({}));
  numbers: number[] = [];
  strings: string[] = [];
  nodes: Document[] = [];
  bytes = new Uint8Array(4096);
  length = 0;
  used = false;

  reset(): void {
    this.numbers = [];
    this.strings = [];
    this.nodes = [];
    this.length = 0;
    this.used = false;
  }

  put(bytes: Uint8Array): void {
    const at = this.length;
    if (at + bytes.byteLength > this.bytes.byteLength) {
      const bigger = new Uint8Array(Math.max(at + bytes.byteLength, this.bytes.byteLength * 2));
      bigger.set(this.bytes.subarray(0, at));
      this.bytes = bigger;
    }
    this.bytes.set(bytes, at);
    this.length = at + bytes.byteLength;
  }

  take(): Streams {
    const streams: Streams = [
      this.markers,
      this.numbers.length > 0 ? Float64Array.from(this.numbers) : null,
      this.length > 0 ? this.bytes.slice(0, this.length) : null,
      this.strings.length > 0 ? this.strings : null,
      this.nodes.length > 0 ? this.nodes : null,
    ];
    // A pack grown for one huge document is not kept for the next.
    if (this.bytes.byteLength > 1 << 20) this.bytes = new Uint8Array(4096);
    this.reset();
    return streams;
  }
}

const writer = new Writer();

/**
 * Worker side: `doc` (a BSON.deserialize result this thread owns and will
 * not use again: it is modified in place) as a TypedClone.
 */
export function toTypedClone(doc: Document): TypedClone {
  writer.reset();
  // js-bson turns a DBRef-shaped root into a DBRef: it is carried as the one value of a holder.
  const wrapped = '_bsontype' in doc;
  const tree = wrapped ? { value: doc } : doc;
  try {
    walk(tree);
  } catch (error) {
    writer.reset();
    throw error;
  }
  // take() resets the writer; unused, it holds nothing.
  const clone: TypedClone = [tree, writer.used ? writer.take() : null];
  if (wrapped) clone.push(true);
  return clone;
}

function walk(node: Document | unknown[]): void {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const value: unknown = node[i];
      if (typeof value === 'object' && value !== null) visit(node, i, value);
    }
    return;
  }
  for (const key of Object.keys(node)) {
    const value: unknown = node[key];
    if (typeof value === 'object' && value !== null) visit(node, key, value);
  }
}

function visit(parent: Document | unknown[], key: string | number, value: object): void {
  const type = (value as { _bsontype?: unknown })._bsontype;
  let marker: number;
  if (type === undefined) {
    if (Array.isArray(value)) return walk(value);
    if (value instanceof Date || value instanceof RegExp) return;
    if (ArrayBuffer.isView(value)) {
      // promoteBuffers: a Buffer that views the reply.
      const bytes = value as Uint8Array;
      writer.numbers.push(bytes.byteLength);
      writer.put(bytes);
      marker = BUFFER;
    } else {
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new UncloneableValueError(`cannot carry a ${describe(value)}`);
      return walk(value as Document);
    }
  } else {
    marker = encodeTyped(type, value);
  }
  writer.used = true;
  (parent as Document)[key] = writer.markers[marker];
}

/** Writes a BSON value's data to the streams; returns its marker. */
function encodeTyped(type: unknown, value: object): number {
  const w = writer;
  switch (type) {
    case 'ObjectId':
      w.put((value as ObjectId).id);
      return OBJECT_ID;
    case 'Long': {
      const long = value as Long;
      // Long.unsigned is never set by the deserializer; a Long that has it cannot come from a reply.
      if (long.unsigned) throw new UncloneableValueError('cannot carry an unsigned Long');
      w.numbers.push(long.low, long.high);
      return LONG;
    }
    case 'Int32':
      w.numbers.push((value as Int32).value);
      return INT32;
    case 'Double':
      w.numbers.push((value as Double).value);
      return DOUBLE;
    case 'Decimal128':
      w.put((value as Decimal128).bytes);
      return DECIMAL128;
    case 'Binary': {
      const binary = value as Binary;
      const bytes = binary.buffer.subarray(0, binary.position);
      w.put(bytes);
      if (binary instanceof UUID) return UUID_TAG;
      w.numbers.push(binary.sub_type, bytes.byteLength);
      return BINARY;
    }
    case 'Timestamp': {
      const ts = value as Timestamp;
      w.numbers.push(ts.t, ts.i);
      return TIMESTAMP;
    }
    case 'MinKey':
      return MIN_KEY;
    case 'MaxKey':
      return MAX_KEY;
    case 'Code': {
      const code = value as Code;
      w.strings.push(code.code);
      w.numbers.push(code.scope === null ? 0 : 1);
      if (code.scope !== null) {
        const scope = code.scope as Document;
        // Listed before its own typed values are written: the receiving side takes the node, then restores it.
        w.nodes.push(scope);
        walk(scope);
      }
      return CODE;
    }
    case 'BSONRegExp': {
      const re = value as BSONRegExp;
      w.strings.push(re.pattern, re.options);
      return BSON_REGEXP;
    }
    case 'DBRef': {
      const ref = value as DBRef;
      const node: Document = { collection: ref.collection, oid: ref.oid, db: ref.db, fields: ref.fields };
      w.nodes.push(node);
      walk(node);
      return DBREF;
    }
    case 'BSONSymbol':
      w.strings.push((value as BSONSymbol).value);
      return SYMBOL;
    default:
      throw new UncloneableValueError(`cannot carry a BSON ${String(type)}`);
  }
}

function describe(value: object): string {
  return (value.constructor as { name?: string } | undefined)?.name ?? 'value with a foreign prototype';
}

/** The receiving side's cursor over the streams of one clone. */
class Reader {
  marks = new Map<object, number>();
  numbers: Float64Array | null = null;
  bytes: Uint8Array | null = null;
  strings: string[] | null = null;
  nodes: Document[] | null = null;
  n = 0;
  b = 0;
  s = 0;
  d = 0;

  load(streams: Streams): void {
    const [markers, numbers, bytes, strings, nodes] = streams;
    this.marks.clear();
    for (let i = 0; i < markers.length; i++) this.marks.set(markers[i]!, i);
    this.numbers = numbers;
    this.bytes = bytes;
    this.strings = strings;
    this.nodes = nodes;
    this.n = this.b = this.s = this.d = 0;
  }

  /** The next `length` bytes as a Buffer view (js-bson hands out views of the reply too). */
  view(length: number): Buffer {
    const bytes = this.bytes!;
    const at = this.b;
    this.b = at + length;
    return Buffer.from(bytes.buffer, bytes.byteOffset + at, length);
  }
}

const reader = new Reader();

/**
 * ObjectId's (bytes, offset) constructor, which js-bson's deserializer uses
 * and its typings leave out. Checked once here: if a js-bson version lacks
 * it, ids are built from a 12-byte view instead.
 */
const ObjectIdAt: new (bytes: Uint8Array, offset: number) => ObjectId = (() => {
  const At = ObjectId as unknown as new (bytes: Uint8Array, offset: number) => ObjectId;
  const probe = Uint8Array.from({ length: 16 }, (_, i) => i);
  try {
    if (new At(probe, 4).toHexString() === '0405060708090a0b0c0d0e0f') return At;
  } catch {
    // fall through
  }
  return class extends ObjectId {
    constructor(bytes: Uint8Array, offset: number) {
      super(bytes.subarray(offset, offset + 12));
    }
  } as never;
})();

/** Receiving side: the document, with its BSON types restored (in place: the clone is consumed). */
export function fromTypedClone(clone: TypedClone): Document {
  const [tree, streams, wrapped] = clone;
  if (streams !== null) {
    reader.load(streams);
    restore(tree);
    reader.marks.clear();
    reader.nodes = reader.strings = null;
  }
  return wrapped ? tree.value : tree;
}

function restore(node: Document | unknown[]): void {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const value: unknown = node[i];
      if (typeof value === 'object' && value !== null) {
        const marker = reader.marks.get(value);
        if (marker !== undefined) node[i] = build(marker);
        else if (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype) restore(value as Document);
      }
    }
    return;
  }
  for (const key in node) {
    const value: unknown = node[key];
    if (typeof value === 'object' && value !== null) {
      const marker = reader.marks.get(value);
      if (marker !== undefined) node[key] = build(marker);
      else if (Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype) restore(value as Document);
    }
  }
}

function build(marker: number): unknown {
  const r = reader;
  const numbers = r.numbers!;
  switch (marker) {
    case OBJECT_ID: {
      // js-bson's own deserializer form: the id read in place, no Buffer made for it.
      const value = new ObjectIdAt(r.bytes!, r.b);
      r.b += 12;
      return value;
    }
    case LONG: {
      const value = new Long(numbers[r.n]!, numbers[r.n + 1]!);
      r.n += 2;
      return value;
    }
    case INT32:
      return new Int32(numbers[r.n++]!);
    case DOUBLE:
      return new Double(numbers[r.n++]!);
    case DECIMAL128:
      return new Decimal128(r.view(16));
    case BINARY: {
      const subtype = numbers[r.n]!;
      const length = numbers[r.n + 1]!;
      r.n += 2;
      return new Binary(r.view(length), subtype);
    }
    case UUID_TAG:
      return new UUID(r.view(16));
    case BUFFER:
      return r.view(numbers[r.n++]!);
    case TIMESTAMP: {
      const value = new Timestamp({ t: numbers[r.n]!, i: numbers[r.n + 1]! });
      r.n += 2;
      return value;
    }
    case MIN_KEY:
      return new MinKey();
    case MAX_KEY:
      return new MaxKey();
    case CODE: {
      const code = r.strings![r.s++]!;
      if (numbers[r.n++] === 0) return new Code(code, null);
      const scope = r.nodes![r.d++]!;
      restore(scope);
      return new Code(code, scope);
    }
    case BSON_REGEXP: {
      const value = new BSONRegExp(r.strings![r.s]!, r.strings![r.s + 1]!);
      r.s += 2;
      return value;
    }
    case DBREF: {
      const node = r.nodes![r.d++]!;
      restore(node);
      return new DBRef(node.collection, node.oid, node.db, node.fields);
    }
    case SYMBOL:
      return new BSONSymbol(r.strings![r.s++]!);
    default:
      throw new Error(`unknown typed-clone marker ${marker}`);
  }
}
