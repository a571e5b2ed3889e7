// What a command reply must look like, read in this one place: the `ok`
// status and the error fields of every reply (the connection), the hello
// reply (handshake and monitoring), and what each operation takes from its
// reply (src/session: cursors, write results, counts, distinct values,
// findAndModify, listDatabases, listIndexes, listCollections).
//
// A reply here is valid BSON that answered its request: the frame and the
// document checked out (op-msg.ts, bson.ts, the connection), so the byte
// stream is intact and the connection that brought it stays usable. Only
// its content is not what the command answers with: a cursor without its
// batch, a batch that is a string, a count that is not a number. That fails
// the operation with ERR_PROTOCOL naming the server, and nothing else: not a
// NetworkError, so no retry and no SDAM reaction (the server is up and
// answering; it says something we cannot read). Faults of the stream itself
// (lengths, opcodes, responseTo, flags, sections, BSON) are the
// connection's, which closes (src/connection/connection.ts).
//
// The rule for each field the driver reads: present, it must have the type
// it is read as; absent, it reads as mgo reads it (a count of 0, no write
// errors, no values), except where the reply says nothing without it (ok;
// a cursor, its id and its batch), which is then malformed.
//
// Numbers arrive as the caller's decoding options make them: a JS number,
// a bigint (useBigInt64), or a BSON Int32, Double or Long wrapper
// (promoteValues: false, promoteLongs: false). All are read here.
import { DBRef, Double, Int32, Long, ObjectId, Timestamp, type Document } from 'bson';
import { MgoError, ServerError } from '../errors.js';

/** A reply whose content is not what its command answers with: ERR_PROTOCOL, naming the server and the problem. */
export function malformedReply(address: string, problem: string): MgoError {
  return new MgoError('ERR_PROTOCOL', `malformed reply from ${address}: ${problem}`, { address });
}

/** How a value is named in a message: its type, and the value itself when short. */
function described(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'binary';
  if (typeof value === 'object') {
    const bsonType = (value as { _bsontype?: unknown })._bsontype;
    return typeof bsonType === 'string' ? `a BSON ${bsonType}` : 'a document';
  }
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}...` : value)})`;
  return `a ${typeof value} (${String(value)})`;
}

function wrong(address: string, field: string, value: unknown, expected: string): MgoError {
  return malformedReply(address, `${field} is ${described(value)}, not ${expected}`);
}

/**
 * A document as js-bson decodes one: a plain object, or the DBRef it makes
 * of a document shaped like one. Not an array, not a BSON value (Long,
 * ObjectId, Binary...), not null.
 */
export function isDocument(value: unknown): value is Document {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null || value instanceof DBRef;
}

/** A number in any of the forms a decoder gives (integral or not); undefined for anything else. */
function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Int32 || value instanceof Double) return value.value;
  if (Long.isLong(value)) return value.toNumber();
  return undefined;
}

/** An integral number in any of the forms a decoder gives, as a JS number; undefined for anything else. */
export function integerOf(value: unknown): number | undefined {
  const n = numberOf(value);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}

const TWO_TO_63 = 2 ** 63;

/** An int64 as getMore and killCursors send it back, from any integral form; undefined for anything else. */
function longOf(value: unknown): Long | undefined {
  if (Long.isLong(value)) return value;
  if (typeof value === 'bigint') return value >= -(2n ** 63n) && value < 2n ** 63n ? Long.fromBigInt(value) : undefined;
  const n = integerOf(value);
  return n !== undefined && Math.abs(n) < TWO_TO_63 ? Long.fromNumber(n) : undefined;
}

/** A field that must be absent or a count (an integer, 0 or more); absent reads as 0. */
function countField(doc: Document, field: string, address: string, where = field): number {
  const value: unknown = doc[field];
  if (value === undefined || value === null) return 0;
  const n = integerOf(value);
  if (n === undefined || n < 0) throw wrong(address, where, value, 'a count');
  return n;
}

/** A field that is absent (undefined) or passes `is`, which names what it expects. */
function optional<T>(doc: Document, field: string, address: string, where: string, expected: string, is: (value: unknown) => value is T): T | undefined {
  const value: unknown = doc[field];
  if (value === undefined) return undefined;
  if (!is(value)) throw wrong(address, where, value, expected);
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';

function optionalString(doc: Document, field: string, address: string, where = field): string | undefined {
  return optional(doc, field, address, where, 'a string', isString);
}

function optionalDocument(doc: Document, field: string, address: string, where = field): Document | undefined {
  return optional(doc, field, address, where, 'a document', isDocument);
}

function optionalBoolean(doc: Document, field: string, address: string, where = field): boolean | undefined {
  return optional(doc, field, address, where, 'a boolean', isBoolean);
}

function optionalInteger(doc: Document, field: string, address: string, where = field): number | undefined {
  const value: unknown = doc[field];
  if (value === undefined) return undefined;
  const n = integerOf(value);
  if (n === undefined) throw wrong(address, where, value, 'an integer');
  return n;
}

function optionalArray(doc: Document, field: string, address: string, where = field): unknown[] | undefined {
  return optional(doc, field, address, where, 'an array', Array.isArray);
}

function optionalStrings(doc: Document, field: string, address: string, where = field): string[] | undefined {
  const values = optionalArray(doc, field, address, where);
  values?.forEach((value, i) => {
    if (typeof value !== 'string') throw wrong(address, `${where}[${i}]`, value, 'a string');
  });
  return values as string[] | undefined;
}

/** An array of documents, each checked by `each` (which may throw with its own field names). */
function documentsIn(values: unknown[], address: string, where: string, each?: (doc: Document, where: string) => void): Document[] {
  values.forEach((value, i) => {
    if (!isDocument(value)) throw wrong(address, `${where}[${i}]`, value, 'a document');
    each?.(value, `${where}[${i}]`);
  });
  return values as Document[];
}

// ------------------------------------------------------ status and errors

/**
 * Whether the reply says ok: 1 (a number equal to 1, or true, in any
 * numeric form); false for another number or false. A reply without `ok`,
 * or with another type there, is malformed.
 */
export function okOf(reply: Document, address: string): boolean {
  const ok: unknown = reply.ok;
  if (typeof ok === 'boolean') return ok;
  const n = numberOf(ok);
  if (n === undefined) throw wrong(address, 'ok', ok, 'a number');
  return n === 1;
}

/**
 * The error an ok: 0 reply reports: a ServerError with the server's
 * message, code, codeName and labels, or ERR_PROTOCOL when one of those
 * has the wrong type (absent, they read as "command failed" and code 0).
 */
export function commandErrorOf(reply: Document, address: string): MgoError {
  try {
    optionalString(reply, 'errmsg', address);
    optionalString(reply, 'codeName', address);
    optionalStrings(reply, 'errorLabels', address);
    const code = optionalInteger(reply, 'code', address);
    // A code decoded as a BSON wrapper (promoteValues: false) is read as the number it holds.
    return ServerError.fromReply(code === undefined || code === reply.code ? reply : { ...reply, code }, address);
  } catch (err) {
    return err as MgoError;
  }
}

// ----------------------------------------------------------------- hello

/**
 * Checks the fields of a hello (or legacy hello) reply that the handshake,
 * the wire limits and server discovery read (server-description.ts,
 * src/connection/handshake.ts): each absent or of its type. Throws
 * ERR_PROTOCOL; a connection's handshake then fails, a monitor's check
 * fails (the server becomes Unknown, as with a failed check).
 */
export function checkHello(reply: Document, address: string): void {
  for (const field of ['minWireVersion', 'maxWireVersion', 'connectionId', 'setVersion']) optionalInteger(reply, field, address);
  for (const field of ['maxBsonObjectSize', 'maxMessageSizeBytes', 'maxWriteBatchSize']) {
    const n = optionalInteger(reply, field, address);
    if (n !== undefined && (n < 1 || n > 0x7fffffff)) throw wrong(address, field, reply[field], 'a size from 1 to 2^31-1');
  }
  const lstm: unknown = reply.logicalSessionTimeoutMinutes;
  if (lstm !== null) optionalInteger(reply, 'logicalSessionTimeoutMinutes', address);
  for (const field of ['helloOk', 'isWritablePrimary', 'ismaster', 'secondary', 'arbiterOnly', 'hidden', 'isreplicaset', 'iscryptd']) {
    optionalBoolean(reply, field, address);
  }
  for (const field of ['setName', 'msg', 'me', 'primary']) optionalString(reply, field, address);
  for (const field of ['hosts', 'passives', 'arbiters', 'compression', 'saslSupportedMechs']) optionalStrings(reply, field, address);
  for (const field of ['topologyVersion', 'lastWrite', 'tags', 'speculativeAuthenticate']) optionalDocument(reply, field, address);
  for (const field of ['electionId', 'serviceId']) {
    const value: unknown = reply[field];
    if (value !== undefined && !(value instanceof ObjectId)) throw wrong(address, field, value, 'an ObjectId');
  }
}

// ---------------------------------------------------------------- cursors

/** What a cursor command's reply holds. */
export interface CursorReply {
  /** The cursor id, zero once the server closed it. */
  id: Long;
  /** "db.collection" of the cursor, when the reply gives one. */
  ns: string | undefined;
  /** The documents of this batch (with raw: each document's BSON bytes). */
  batch: unknown[];
}

/**
 * The `cursor` of a find, aggregate, listIndexes or listCollections reply
 * (`batch` 'firstBatch') or a getMore's ('nextBatch'): a document with an
 * integral id, an optional string ns, and the batch, an array of
 * documents (or, when the caller asked for `raw` ones, of their bytes).
 */
export function cursorReplyOf(reply: Document, address: string, batch: 'firstBatch' | 'nextBatch', raw: boolean): CursorReply {
  const cursor: unknown = reply.cursor;
  if (!isDocument(cursor)) throw wrong(address, 'cursor', cursor, 'a document');
  const id = longOf(cursor.id);
  if (id === undefined) throw wrong(address, 'cursor.id', cursor.id, 'an integer');
  const ns = optionalString(cursor, 'ns', address, 'cursor.ns');
  const docs: unknown = cursor[batch];
  if (!Array.isArray(docs)) throw wrong(address, `cursor.${batch}`, docs, 'an array');
  docs.forEach((doc, i) => {
    if (!isDocument(doc) && !(raw && doc instanceof Uint8Array)) throw wrong(address, `cursor.${batch}[${i}]`, doc, 'a document');
  });
  return { id, ns, batch: docs };
}

/** What a change stream reads from its cursor's replies besides the batch (change streams spec, "Resume Token"). */
export interface ChangeStreamReply {
  /** cursor.postBatchResumeToken (4.0.7+): where the stream stands after this batch. */
  postBatchResumeToken: Document | undefined;
  /** The reply's operationTime: where a stream with no token yet resumes (startAtOperationTime). */
  operationTime: Timestamp | undefined;
}

/** The change stream fields of an aggregate or getMore reply that cursorReplyOf() accepted; each may be absent. */
export function changeStreamReplyOf(reply: Document, address: string): ChangeStreamReply {
  const postBatchResumeToken = optionalDocument(reply.cursor as Document, 'postBatchResumeToken', address, 'cursor.postBatchResumeToken');
  const isTimestamp = (value: unknown): value is Timestamp => value instanceof Timestamp;
  const operationTime = optional(reply, 'operationTime', address, 'operationTime', 'a BSON Timestamp', isTimestamp);
  return { postBatchResumeToken, operationTime };
}

/** The documents of a listIndexes cursor: each with a string name and a key document. */
export function checkIndexSpecs(batch: unknown[], address: string): void {
  documentsIn(batch, address, 'index', (spec, where) => {
    if (typeof spec.name !== 'string') throw wrong(address, `${where}.name`, spec.name, 'a string');
    if (!isDocument(spec.key)) throw wrong(address, `${where}.key`, spec.key, 'a document');
    optionalDocument(spec, 'weights', address, `${where}.weights`);
  });
}

/** The documents of a listCollections cursor: each with a string name. */
export function checkCollectionInfos(batch: unknown[], address: string): void {
  documentsIn(batch, address, 'collection', (info, where) => {
    if (typeof info.name !== 'string') throw wrong(address, `${where}.name`, info.name, 'a string');
  });
}

// ----------------------------------------------------------------- writes

/** A write error of a write command reply; `index` is the statement's position within the batch sent. */
export interface WriteErrorReply {
  index: number;
  code: number;
  codeName: string | undefined;
  errmsg: string;
  errInfo: Document | undefined;
}

/** What an acknowledged insert, update or delete reply holds. */
export interface WriteReply {
  n: number;
  nModified: number;
  upserted: { index: number; _id: unknown }[];
  writeErrors: WriteErrorReply[];
  writeConcernError: Document | undefined;
  /** The reply's own labels (4.4+ servers put RetryableWriteError there, beside a writeConcernError). */
  errorLabels: string[];
}

/** An index into the batch of `size` statements sent. */
function statementIndex(doc: Document, address: string, where: string, size: number): number {
  const index = integerOf(doc.index);
  if (index === undefined || index < 0 || index >= size) throw wrong(address, `${where}.index`, doc.index, `a statement index from 0 to ${size - 1}`);
  return index;
}

/** A writeConcernError: a document whose code, errmsg, codeName, errInfo and errorLabels have their types. */
function writeConcernErrorOf(reply: Document, address: string): Document | undefined {
  const concern = optionalDocument(reply, 'writeConcernError', address);
  if (concern === undefined) return undefined;
  optionalInteger(concern, 'code', address, 'writeConcernError.code');
  optionalString(concern, 'errmsg', address, 'writeConcernError.errmsg');
  optionalString(concern, 'codeName', address, 'writeConcernError.codeName');
  optionalDocument(concern, 'errInfo', address, 'writeConcernError.errInfo');
  optionalStrings(concern, 'errorLabels', address, 'writeConcernError.errorLabels');
  return concern;
}

/** The reply to an acknowledged write command of `size` statements. */
export function writeReplyOf(reply: Document, address: string, size: number): WriteReply {
  const upserted = documentsIn(optionalArray(reply, 'upserted', address) ?? [], address, 'upserted', (up, where) => statementIndex(up, address, where, size));
  const writeErrors = documentsIn(optionalArray(reply, 'writeErrors', address) ?? [], address, 'writeErrors', (e, where) => {
    statementIndex(e, address, where, size);
    optionalInteger(e, 'code', address, `${where}.code`);
    optionalString(e, 'errmsg', address, `${where}.errmsg`);
    optionalString(e, 'codeName', address, `${where}.codeName`);
    optionalDocument(e, 'errInfo', address, `${where}.errInfo`);
  });
  return {
    n: countField(reply, 'n', address),
    nModified: countField(reply, 'nModified', address),
    upserted: upserted.map((up) => ({ index: integerOf(up.index)!, _id: up._id })),
    writeErrors: writeErrors.map((e) => ({
      index: integerOf(e.index)!,
      code: integerOf(e.code) ?? 0,
      codeName: e.codeName as string | undefined,
      errmsg: (e.errmsg as string | undefined) ?? 'write error',
      errInfo: e.errInfo as Document | undefined,
    })),
    writeConcernError: writeConcernErrorOf(reply, address),
    errorLabels: optionalStrings(reply, 'errorLabels', address) ?? [],
  };
}

/** What a findAndModify reply holds. */
export interface FindAndModifyReply {
  n: number;
  updatedExisting: boolean;
  upserted: unknown;
  /** The document before (or after, with new) the change; null or absent when there is none. */
  value: Document | null | undefined;
  writeConcernError: Document | undefined;
}

export function findAndModifyReplyOf(reply: Document, address: string): FindAndModifyReply {
  const status = optionalDocument(reply, 'lastErrorObject', address) ?? {};
  const value: unknown = reply.value;
  if (value !== undefined && value !== null && !isDocument(value)) throw wrong(address, 'value', value, 'a document or null');
  return {
    n: countField(status, 'n', address, 'lastErrorObject.n'),
    updatedExisting: optionalBoolean(status, 'updatedExisting', address, 'lastErrorObject.updatedExisting') ?? false,
    upserted: status.upserted,
    value,
    writeConcernError: writeConcernErrorOf(reply, address),
  };
}

// ---------------------------------------------------------- other commands

/** The `n` of a count reply. */
export function countReplyOf(reply: Document, address: string): number {
  return countField(reply, 'n', address);
}

/** The `values` of a distinct reply. */
export function distinctReplyOf(reply: Document, address: string): unknown[] {
  return optionalArray(reply, 'values', address) ?? [];
}

/** The `databases` of a listDatabases reply: each with a string name and an optional boolean `empty`. */
export function databasesReplyOf(reply: Document, address: string): { name: string; empty: boolean }[] {
  const databases = documentsIn(optionalArray(reply, 'databases', address) ?? [], address, 'databases', (db, where) => {
    if (typeof db.name !== 'string') throw wrong(address, `${where}.name`, db.name, 'a string');
    optionalBoolean(db, 'empty', address, `${where}.empty`);
  });
  return databases.map((db) => ({ name: db.name as string, empty: db.empty === true }));
}
