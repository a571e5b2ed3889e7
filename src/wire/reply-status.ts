// Reads a reply's `ok` field straight from its BSON bytes, without
// deserializing the document (Connection.commandBytes, which a worker's
// LocalRouter.runRaw uses). A worker hands replies to the main thread as
// bytes, or decodes them with the caller's options (src/worker/protocol.ts);
// either way it must know first whether the server said ok: 1, since an
// ok: 0 reply must become a ServerError in the worker, where the SDAM error
// rules run (pool clear, Unknown, immediate check).
//
// The walk visits top-level elements only, skipping nested documents by
// their length prefix: a few dozen byte reads for a typical reply
// (walkTopLevel, src/wire/bson.ts).
import { walkTopLevel } from './bson.js';

/**
 * Whether the reply document says ok: 1, as okOf() (reply-shape.ts) reads
 * a decoded reply: true for a number equal to 1 (double, int32, int64) or
 * true; false for another number or false; undefined when there is no
 * `ok` or it has another type (a malformed reply: the caller decodes it
 * and okOf() says what is wrong). Throws MalformedBSONError when the top
 * level of the document is not valid BSON.
 */
export function replyIsOk(bytes: Uint8Array): boolean | undefined {
  let ok: number | undefined;
  walkTopLevel(bytes, (type, nameAt, valueAt, view) => {
    // "ok" is the key we want: 0x6f 0x6b 0x00. The whole top level is still
    // walked: a reply that is not valid BSON is refused, wherever it breaks.
    if (bytes[nameAt] !== 0x6f || bytes[nameAt + 1] !== 0x6b || bytes[nameAt + 2] !== 0) return;
    if (type === 0x01) ok = view.getFloat64(valueAt, true);
    else if (type === 0x10) ok = view.getInt32(valueAt, true);
    else if (type === 0x12) ok = Number(view.getBigInt64(valueAt, true));
    else if (type === 0x08) ok = bytes[valueAt] === 1 ? 1 : 0;
    else ok = undefined;
  });
  return ok === undefined ? undefined : ok === 1;
}

/**
 * Whether the reply document has a top-level field named `name` (ASCII),
 * read from its bytes in the same walk (a writeConcernError in an ok: 1
 * reply: SDAM's error rules read it, and only then is the reply decoded).
 */
export function replyHasField(bytes: Uint8Array, name: string): boolean {
  let found = false;
  walkTopLevel(bytes, (_type, nameAt) => {
    for (let i = 0; i < name.length; i++) if (bytes[nameAt + i] !== name.charCodeAt(i)) return false;
    found = bytes[nameAt + name.length] === 0;
    return found;
  });
  return found;
}
