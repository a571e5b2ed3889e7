// Reads a reply's `ok` field straight from its BSON bytes, without
// deserializing the document (LocalRouter.runRaw). A worker hands replies
// to the main thread as bytes (the main thread decodes them once, with the
// caller's deserialize options); it only needs to know whether the server
// said ok: 1, since an ok: 0 reply must become a ServerError in the worker,
// where the SDAM error rules run (pool clear, Unknown, immediate check).
//
// The walk visits top-level elements only, skipping nested documents by
// their length prefix: a few dozen byte reads for a typical reply.

/** Byte size of the fixed-size BSON element values, by type byte; -1: variable size. */
function fixedSize(type: number): number {
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
    default:
      return -1;
  }
}

export class MalformedReplyError extends Error {}

/**
 * Whether the reply document says ok: 1, as Connection.command() decides it
 * (`Number(reply.ok) === 1`: a number equal to 1, or true). Throws
 * MalformedReplyError when the top level of the document is not valid BSON.
 */
export function replyIsOk(bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.byteLength;
  if (end < 5 || view.getInt32(0, true) !== end || bytes[end - 1] !== 0) throw new MalformedReplyError('bad document length');
  let offset = 4;
  let ok: number | undefined;
  while (offset < end - 1) {
    const type = bytes[offset++]!;
    // "ok" is the key we want: 0x6f 0x6b 0x00.
    const isOk = bytes[offset] === 0x6f && bytes[offset + 1] === 0x6b && bytes[offset + 2] === 0;
    const nameEnd = bytes.indexOf(0, offset);
    if (nameEnd < 0 || nameEnd >= end - 1) throw new MalformedReplyError('unterminated element name');
    offset = nameEnd + 1;
    const fixed = fixedSize(type);
    if (isOk) {
      if (offset + Math.max(fixed, 0) > end - 1) throw new MalformedReplyError('truncated ok');
      if (type === 0x01) ok = view.getFloat64(offset, true);
      else if (type === 0x10) ok = view.getInt32(offset, true);
      else if (type === 0x12) ok = Number(view.getBigInt64(offset, true));
      else if (type === 0x08) ok = bytes[offset] === 1 ? 1 : 0;
      else ok = Number.NaN;
    }
    let size = fixed;
    if (size < 0) {
      if (offset + 4 > end - 1 && type !== 0x0b) throw new MalformedReplyError('truncated element');
      switch (type) {
        case 0x02: // string
        case 0x0d: // JavaScript code
        case 0x0e: // symbol
          size = 4 + view.getInt32(offset, true);
          break;
        case 0x03: // document
        case 0x04: // array
        case 0x0f: // code with scope
          size = view.getInt32(offset, true);
          break;
        case 0x05: // binary: length, subtype, bytes
          size = 5 + view.getInt32(offset, true);
          break;
        case 0x0c: // DBPointer: string, ObjectId
          size = 4 + view.getInt32(offset, true) + 12;
          break;
        case 0x0b: {
          // regex: two cstrings
          const first = bytes.indexOf(0, offset);
          const second = first < 0 ? -1 : bytes.indexOf(0, first + 1);
          if (second < 0) throw new MalformedReplyError('unterminated regex');
          size = second + 1 - offset;
          break;
        }
        default:
          throw new MalformedReplyError(`unknown BSON type 0x${type.toString(16)}`);
      }
    }
    if (size < 0 || offset + size > end - 1) throw new MalformedReplyError('element overruns the document');
    offset += size;
  }
  return ok === 1;
}
