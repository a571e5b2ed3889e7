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
// by null, recording a patch: (the object holding it, its key, a tag, the
// value's data). The bytes those values carry (ObjectId, Decimal128,
// Binary, Buffer) are copied into one exact-size pack, so what crosses is
// bounded by the typed values' own size, never by the reply's. The patch
// list names the parent objects themselves: structured clone keeps object
// identity within one message, so each patch still points into the cloned
// tree on the other side, and the receiving thread applies them in order
// with no path lookups. Patches are recorded children first (a DBRef's or
// a Code's scope's own typed values before the DBRef or Code), so each
// value is built from parts already restored.
//
// The result is what BSON.deserialize(bytes, options) returns: the same
// classes and values in the same key order (js-bson's own constructors
// build them), and a key named "__proto__" stays an own data property (it
// is one in the cloned tree, so assigning to it sets it). Measured on this
// machine: the receiving side's cost is that of the structured clone plus
// one constructor call per typed value (bench/, "decode placement probe").
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

/** What crosses the thread for one decoded document (structured-cloneable; `bytes` owns its ArrayBuffer). */
export type TypedClone = [tree: Document, patches: unknown[] | null, bytes: Uint8Array | null, wrapped?: true];

// Patch tags; the number of data items after the tag is fixed per tag.
const OBJECT_ID = 1; //   offset
const LONG = 2; //        low, high
const INT32 = 3; //       value
const DOUBLE = 4; //      value
const DECIMAL128 = 5; //  offset
const BINARY = 6; //      offset, length, subtype
const UUID_TAG = 7; //    offset
const BUFFER = 8; //      offset, length
const TIMESTAMP = 9; //   t, i
const MIN_KEY = 10; //    (none)
const MAX_KEY = 11; //    (none)
const CODE = 12; //       code, scope (an already restored document, or null)
const BSON_REGEXP = 13; // pattern, options
const DBREF = 14; //      { collection, oid, db, fields }, already restored
const SYMBOL = 15; //     value

/** A value this codec does not know how to carry: the caller sends the BSON bytes instead. */
export class UncloneableValueError extends Error {}

/** The worker's pack of typed values' bytes: grows as needed, copied out exact-size per document. */
class Pack {
  bytes = new Uint8Array(4096);
  length = 0;

  reserve(n: number): number {
    const at = this.length;
    if (at + n > this.bytes.byteLength) {
      const bigger = new Uint8Array(Math.max(at + n, this.bytes.byteLength * 2));
      bigger.set(this.bytes.subarray(0, at));
      this.bytes = bigger;
    }
    this.length = at + n;
    return at;
  }

  take(): Uint8Array | null {
    if (this.length === 0) return null;
    const out = this.bytes.slice(0, this.length);
    this.length = 0;
    // A pack grown for one huge document is not kept for the next.
    if (this.bytes.byteLength > 1 << 20) this.bytes = new Uint8Array(4096);
    return out;
  }
}

const pack = new Pack();

/**
 * Worker side: `doc` (a BSON.deserialize result this thread owns and will
 * not use again: it is modified in place) as a TypedClone.
 */
export function toTypedClone(doc: Document): TypedClone {
  const patches: unknown[] = [];
  pack.length = 0;
  // js-bson turns a DBRef-shaped root into a DBRef: it is carried as the one value of a holder.
  const wrapped = '_bsontype' in doc;
  const tree = wrapped ? { value: doc } : doc;
  try {
    walk(tree, patches);
  } catch (error) {
    pack.length = 0;
    throw error;
  }
  const clone: TypedClone = [tree, patches.length === 0 ? null : patches, pack.take()];
  if (wrapped) clone.push(true);
  return clone;
}

function walk(node: Document | unknown[], patches: unknown[]): void {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const value: unknown = node[i];
      if (typeof value === 'object' && value !== null) visit(node, i, value, patches);
    }
    return;
  }
  for (const key of Object.keys(node)) {
    const value: unknown = node[key];
    if (typeof value === 'object' && value !== null) visit(node, key, value, patches);
  }
}

function visit(parent: Document | unknown[], key: string | number, value: object, patches: unknown[]): void {
  const type = (value as { _bsontype?: unknown })._bsontype;
  if (type === undefined) {
    if (Array.isArray(value)) return walk(value, patches);
    if (value instanceof Date || value instanceof RegExp) return;
    if (ArrayBuffer.isView(value)) {
      // promoteBuffers: a Buffer that views the reply.
      const bytes = value as Uint8Array;
      const at = pack.reserve(bytes.byteLength);
      pack.bytes.set(bytes, at);
      patches.push(parent, key, BUFFER, at, bytes.byteLength);
      (parent as Document)[key] = null;
      return;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw new UncloneableValueError(`cannot carry a ${describe(value)}`);
    return walk(value as Document, patches);
  }
  switch (type) {
    case 'ObjectId': {
      const at = pack.reserve(12);
      pack.bytes.set((value as ObjectId).id, at);
      patches.push(parent, key, OBJECT_ID, at);
      break;
    }
    case 'Long': {
      const long = value as Long;
      // Long.unsigned is never set by the deserializer; a Long that has it cannot come from a reply.
      if (long.unsigned) throw new UncloneableValueError('cannot carry an unsigned Long');
      patches.push(parent, key, LONG, long.low, long.high);
      break;
    }
    case 'Int32':
      patches.push(parent, key, INT32, (value as Int32).value);
      break;
    case 'Double':
      patches.push(parent, key, DOUBLE, (value as Double).value);
      break;
    case 'Decimal128': {
      const at = pack.reserve(16);
      pack.bytes.set((value as Decimal128).bytes, at);
      patches.push(parent, key, DECIMAL128, at);
      break;
    }
    case 'Binary': {
      const binary = value as Binary;
      const bytes = binary.buffer.subarray(0, binary.position);
      const at = pack.reserve(bytes.byteLength);
      pack.bytes.set(bytes, at);
      if (binary instanceof UUID) patches.push(parent, key, UUID_TAG, at);
      else patches.push(parent, key, BINARY, at, bytes.byteLength, binary.sub_type);
      break;
    }
    case 'Timestamp': {
      const ts = value as Timestamp;
      patches.push(parent, key, TIMESTAMP, ts.t, ts.i);
      break;
    }
    case 'MinKey':
      patches.push(parent, key, MIN_KEY);
      break;
    case 'MaxKey':
      patches.push(parent, key, MAX_KEY);
      break;
    case 'Code': {
      const code = value as Code;
      const holder: Document = { scope: code.scope };
      if (code.scope !== null) walk(holder, patches);
      patches.push(parent, key, CODE, code.code, holder.scope ?? null);
      break;
    }
    case 'BSONRegExp': {
      const re = value as BSONRegExp;
      patches.push(parent, key, BSON_REGEXP, re.pattern, re.options);
      break;
    }
    case 'DBRef': {
      const ref = value as DBRef;
      const node: Document = { collection: ref.collection, oid: ref.oid, db: ref.db, fields: ref.fields };
      walk(node, patches);
      patches.push(parent, key, DBREF, node);
      break;
    }
    case 'BSONSymbol':
      patches.push(parent, key, SYMBOL, (value as BSONSymbol).value);
      break;
    default:
      throw new UncloneableValueError(`cannot carry a BSON ${String(type)}`);
  }
  (parent as Document)[key] = null;
}

function describe(value: object): string {
  return (value.constructor as { name?: string } | undefined)?.name ?? 'value with a foreign prototype';
}

/** Receiving side: the document, with its BSON types restored (in place: the clone is consumed). */
export function fromTypedClone(clone: TypedClone): Document {
  const [tree, patches, bytes, wrapped] = clone;
  if (patches === null) return wrapped ? tree.value : tree;
  const p = patches as never[];
  const packed = bytes as Uint8Array;
  for (let i = 0; i < p.length; ) {
    const parent = p[i] as Document;
    const key = p[i + 1] as string;
    const tag = p[i + 2] as number;
    let value: unknown;
    switch (tag) {
      case OBJECT_ID:
        value = new ObjectId(packed.subarray(p[i + 3] as number, (p[i + 3] as number) + 12));
        i += 4;
        break;
      case LONG:
        value = new Long(p[i + 3] as number, p[i + 4] as number);
        i += 5;
        break;
      case INT32:
        value = new Int32(p[i + 3] as number);
        i += 4;
        break;
      case DOUBLE:
        value = new Double(p[i + 3] as number);
        i += 4;
        break;
      case DECIMAL128: {
        const at = p[i + 3] as number;
        value = new Decimal128(Buffer.from(packed.buffer, packed.byteOffset + at, 16));
        i += 4;
        break;
      }
      case BINARY: {
        const at = p[i + 3] as number;
        value = new Binary(packed.subarray(at, at + (p[i + 4] as number)), p[i + 5] as number);
        i += 6;
        break;
      }
      case UUID_TAG: {
        const at = p[i + 3] as number;
        value = new UUID(packed.subarray(at, at + 16));
        i += 4;
        break;
      }
      case BUFFER: {
        const at = p[i + 3] as number;
        value = Buffer.from(packed.buffer, packed.byteOffset + at, p[i + 4] as number);
        i += 5;
        break;
      }
      case TIMESTAMP:
        value = new Timestamp({ t: p[i + 3] as number, i: p[i + 4] as number });
        i += 5;
        break;
      case MIN_KEY:
        value = new MinKey();
        i += 3;
        break;
      case MAX_KEY:
        value = new MaxKey();
        i += 3;
        break;
      case CODE:
        value = new Code(p[i + 3] as string, p[i + 4] as Document | null);
        i += 5;
        break;
      case BSON_REGEXP:
        value = new BSONRegExp(p[i + 3] as string, p[i + 4] as string);
        i += 5;
        break;
      case DBREF: {
        const node = p[i + 3] as Document;
        value = new DBRef(node.collection, node.oid, node.db, node.fields);
        i += 4;
        break;
      }
      case SYMBOL:
        value = new BSONSymbol(p[i + 3] as string);
        i += 4;
        break;
      default:
        throw new Error(`unknown typed-clone tag ${tag}`);
    }
    parent[key] = value;
  }
  return wrapped ? tree.value : tree;
}
