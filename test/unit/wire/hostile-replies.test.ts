// Hostile replies from a scripted server (fake-server.ts), one named case
// at a time, through the session API (dial): messages that break the wire
// protocol (lengths, responseTo, opcodes, flags, sections, BSON, checksum,
// compression) and replies that are valid BSON but not of the shape their
// command answers with (src/wire/reply-shape.ts). Each case asserts that
// the operation settles (raced against a generous deadline) with an
// MgoError of a stable code whose message names the server, that no socket
// is left checked out, that the connection that brought a malformed
// message is closed and one that brought a wrong-shaped reply is kept, and
// that the same operation then succeeds. A subset runs again through two
// workers, where the error crosses the thread as a record. The hello
// replies of the handshake and of monitoring close the file. The fuzzing
// counterpart is reply-fuzz.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, BSONRegExp, Long, type Document } from 'bson';
import { Connection } from '../../../src/connection/connection.js';
import { Monitor, type CheckResult } from '../../../src/cluster/monitor.js';
import { MgoError, NetworkError, type ErrorCode } from '../../../src/errors.js';
import { dial } from '../../../src/session/dial.js';
import { BulkError } from '../../../src/session/errors.js';
import { Mode } from '../../../src/session/modes.js';
import type { Session } from '../../../src/session/session.js';
import { compressors } from '../../../src/wire/compression.js';
import { OpCode, OpMsgFlags } from '../../../src/wire/constants.js';
import { crc32c } from '../../../src/wire/crc32c.js';
import { defaultHello, startFakeServer, type FakeConnection, type FakeServer, type ReceivedCommand } from '../../fixtures/fake-server.js';
import { COLLECTION, CURSOR_ID, DB, DOCS, NAMESPACE, validReply } from '../../fixtures/scripted-replies.js';
import { settleWithin } from '../../fixtures/settle.js';
import { waitFor } from '../../fixtures/wait.js';

/** Generous: an operation that has not settled by then hangs. */
const DEADLINE_MS = 20_000;
/** What the scripted server's hello advertises, so that a length over it is refused by the reader. */
const MAX_MESSAGE_SIZE = 4_000_000;

// ------------------------------------------------------------- the frames

/** A kind-0 section: the body. */
function body(doc: Document | Uint8Array): Buffer {
  const bytes = doc instanceof Uint8Array ? doc : BSON.serialize(doc);
  return Buffer.concat([Buffer.from([0]), bytes]);
}

/** A kind-1 section: a document sequence (`size` overrides its length field). */
function sequence(identifier: string, docs: Document[], size?: number): Buffer {
  const id = Buffer.from(`${identifier}\0`);
  const payload = Buffer.concat(docs.map((d) => BSON.serialize(d)));
  const header = Buffer.alloc(4);
  header.writeInt32LE(size ?? 4 + id.byteLength + payload.byteLength);
  return Buffer.concat([Buffer.from([1]), header, id, payload]);
}

interface FrameParts {
  sections: Buffer[];
  flags?: number;
  opCode?: number;
  responseTo?: number;
  /** Added to the true length in the length field. */
  lengthDelta?: number;
  /** A CRC-32C after the sections (checksumPresent set), flipped when `corrupt`. */
  checksum?: 'valid' | 'corrupt';
}

/** An OP_MSG frame answering `to` (or `responseTo`), built from its parts. */
function frame(to: ReceivedCommand, parts: FrameParts): Buffer {
  const header = Buffer.alloc(20);
  const sections = Buffer.concat(parts.sections);
  const flags = (parts.flags ?? 0) | (parts.checksum ? OpMsgFlags.checksumPresent : 0);
  const length = 20 + sections.byteLength + (parts.checksum ? 4 : 0);
  header.writeInt32LE(length + (parts.lengthDelta ?? 0), 0);
  header.writeInt32LE(4242, 4);
  header.writeInt32LE(parts.responseTo ?? to.requestId, 8);
  header.writeInt32LE(parts.opCode ?? OpCode.OP_MSG, 12);
  header.writeUInt32LE(flags >>> 0, 16);
  const message = Buffer.concat([header, sections]);
  if (!parts.checksum) return message;
  const sum = Buffer.alloc(4);
  sum.writeUInt32LE((crc32c(message) ^ (parts.checksum === 'corrupt' ? 0x10 : 0)) >>> 0);
  return Buffer.concat([message, sum]);
}

/** The valid reply to `cmd`, as the fake server would send it. */
function valid(cmd: ReceivedCommand): Document {
  return validReply(cmd) ?? { ok: 1 };
}

/**
 * The BSON of `doc` with the element named `key` (its first occurrence)
 * patched: `patch` gets the bytes and the offset of the element's value
 * (its type byte is at valueAt - key.length - 2).
 */
function patched(doc: Document, key: string, patch: (bytes: Buffer, valueAt: number) => void): Buffer {
  const bytes = Buffer.from(BSON.serialize(doc));
  const nameAt = bytes.indexOf(Buffer.from(`${key}\0`));
  assert.ok(nameAt > 4, `key ${key} found`);
  patch(bytes, nameAt + key.length + 1);
  return bytes;
}

/** A find reply of one document carrying `field: value`: under 512 bytes unless the value is large (a worker decodes only replies of 512 bytes or more). */
function findReplyWith(field: string, value: unknown): Document {
  return { cursor: { firstBatch: [{ ...DOCS[0], [field]: value }], id: Long.ZERO, ns: NAMESPACE }, ok: 1 };
}

// -------------------------------------------------------------- the cases

type OpName =
  | 'find().one()'
  | 'find().batch(2).all() (getMore)'
  | 'count()'
  | 'distinct()'
  | 'insert()'
  | 'updateAll()'
  | 'upsert()'
  | 'apply()'
  | 'pipe().all()'
  | 'indexes()'
  | 'collectionNames()'
  | 'databaseNames()'
  | 'bulk().run()'
  | 'ping()';

const ops: Record<OpName, (s: Session) => Promise<unknown>> = {
  'find().one()': (s: Session) => s.db(DB).c(COLLECTION).find({}).one(),
  'find().batch(2).all() (getMore)': (s: Session) => s.db(DB).c(COLLECTION).find({}).batch(2).all(),
  'count()': (s: Session) => s.db(DB).c(COLLECTION).count(),
  'distinct()': (s: Session) => s.db(DB).c(COLLECTION).find({}).distinct('name'),
  'insert()': (s: Session) => s.db(DB).c(COLLECTION).insert({ _id: 9 }),
  'updateAll()': (s: Session) => s.db(DB).c(COLLECTION).updateAll({}, { $set: { a: 1 } }),
  'upsert()': (s: Session) => s.db(DB).c(COLLECTION).upsert({ _id: 9 }, { $set: { a: 1 } }),
  'apply()': (s: Session) => s.db(DB).c(COLLECTION).find({ _id: 1 }).apply({ update: { $set: { a: 1 } } }),
  'pipe().all()': (s: Session) => s.db(DB).c(COLLECTION).pipe([{ $match: {} }]).all(),
  'indexes()': (s: Session) => s.db(DB).c(COLLECTION).indexes(),
  'collectionNames()': (s: Session) => s.db(DB).collectionNames(),
  'databaseNames()': (s: Session) => s.databaseNames(),
  'bulk().run()': (s: Session) => s.db(DB).c(COLLECTION).bulk().update({ _id: 1 }, { $set: { a: 1 } }).run(),
  'ping()': (s: Session) => s.ping(),
};

/** What the hostile reply does to the connection that brought it. */
type Fate =
  /** Malformed on the wire: the stream is in doubt, the connection is closed. */
  | 'closed'
  /** Valid BSON of the wrong shape: the operation fails, the connection stays. */
  | 'kept'
  /** Tolerated: the operation succeeds. */
  | 'ok';

interface Case {
  name: string;
  op: OpName;
  /** The command whose replies are hostile (every one while the case runs: retries meet it too). */
  command: string;
  /** The hostile reply: a document (sent in a valid frame) or the raw bytes to write. */
  reply: (cmd: ReceivedCommand, connection: FakeConnection) => Document | Buffer;
  /** The failure's code and what its message says (besides the server's address), unless the fate is 'ok'. */
  code?: ErrorCode;
  message?: RegExp;
  fate: Fate;
  /** Also through two workers. */
  workers?: boolean;
}

const wire = (name: string, reply: Case['reply'], message: RegExp, extra: Partial<Case> = {}): Case => ({
  name,
  op: 'find().one()',
  command: 'find',
  reply,
  code: 'ERR_PROTOCOL',
  message,
  fate: 'closed',
  ...extra,
});

const shape = (name: string, op: OpName, command: string, reply: (cmd: ReceivedCommand) => Document, message: RegExp, extra: Partial<Case> = {}): Case => ({
  name,
  op,
  command,
  reply,
  code: 'ERR_PROTOCOL',
  message,
  fate: 'kept',
  ...extra,
});

const findBody = (cmd: ReceivedCommand) => body(valid(cmd));

const CASES: Case[] = [
  // --- message length
  wire('message length below the smallest frame', () => Buffer.from([10, 0, 0, 0, 1, 2, 3, 4, 5, 6]), /invalid message length 10 \(minimum/, { workers: true }),
  wire('message length negative (over 2 GiB as an int32)', () => Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]), /invalid message length -1/),
  wire('message length over the maxMessageSizeBytes of the hello', (cmd) => frame(cmd, { sections: [findBody(cmd)], lengthDelta: MAX_MESSAGE_SIZE }), /over maxMessageSizeBytes 4000000/),
  wire('message length past the message: the next message is read into it', (cmd) => Buffer.concat([frame(cmd, { sections: [findBody(cmd)], lengthDelta: 10 }), frame(cmd, { sections: [findBody(cmd)] })]), /invalid message length/),
  wire('message length short of the message', (cmd) => frame(cmd, { sections: [findBody(cmd)], lengthDelta: -1 }), /truncated BSON in OP_MSG body/),
  wire(
    'message length past the message, then the server closes',
    (cmd, connection) => {
      setImmediate(() => connection.socket.end());
      return frame(cmd, { sections: [findBody(cmd)], lengthDelta: 100 });
    },
    /closed by the server in the middle of a reply/,
    { code: 'ERR_CONNECTION_CLOSED' },
  ),
  // --- header
  wire('responseTo answering no request in flight', (cmd) => frame(cmd, { sections: [findBody(cmd)], responseTo: cmd.requestId + 1000 }), /answers request \d+, which is not pending/, { workers: true }),
  wire('opCode OP_REPLY (legacy)', (cmd) => frame(cmd, { sections: [findBody(cmd)], opCode: OpCode.OP_REPLY }), /unexpected opCode 1 /),
  wire('unknown opCode', (cmd) => frame(cmd, { sections: [findBody(cmd)], opCode: 9999 }), /unexpected opCode 9999/),
  // --- OP_MSG flags and sections
  wire('an unknown required flag bit', (cmd) => frame(cmd, { sections: [findBody(cmd)], flags: 1 << 5 }), /unknown required flag bits 0x20/),
  wire('moreToCome on the reply to a plain request', (cmd) => frame(cmd, { sections: [findBody(cmd)], flags: OpMsgFlags.moreToCome }), /moreToCome\) that was not asked for/),
  { name: 'an unknown optional flag bit is ignored', op: 'find().one()', command: 'find', reply: (cmd) => frame(cmd, { sections: [findBody(cmd)], flags: 1 << 20 }), fate: 'ok' },
  wire('an unknown section kind', (cmd) => frame(cmd, { sections: [findBody(cmd), Buffer.from([2, 5, 0, 0, 0, 0])] }), /unknown section kind 2/),
  wire('two body sections', (cmd) => frame(cmd, { sections: [findBody(cmd), findBody(cmd)] }), /more than one body section/),
  wire('no body section, only a document sequence', (cmd) => frame(cmd, { sections: [sequence('firstBatch', [...DOCS])] }), /no body section/),
  wire('a document sequence whose size overruns the message', (cmd) => frame(cmd, { sections: [findBody(cmd), sequence('extra', [{ a: 1 }], 1000)] }), /document sequence claims 1000 bytes/),
  // --- checksum
  { name: 'checksumPresent with a valid CRC-32C', op: 'find().one()', command: 'find', reply: (cmd) => frame(cmd, { sections: [findBody(cmd)], checksum: 'valid' }), fate: 'ok' },
  wire('checksumPresent with a wrong CRC-32C', (cmd) => frame(cmd, { sections: [findBody(cmd)], checksum: 'corrupt' }), /OP_MSG checksum mismatch/),
  wire('checksumPresent on a message that carries no checksum', (cmd) => frame(cmd, { sections: [findBody(cmd)], flags: OpMsgFlags.checksumPresent }), /checksum|truncated BSON|does not end with a NUL/),
  // --- BSON
  wire('body length past the end of the message', (cmd) => frame(cmd, { sections: [body(patched(valid(cmd), 'ok', (b) => b.writeInt32LE(b.readInt32LE(0) + 4, 0)))] }), /truncated BSON in OP_MSG body: document claims/),
  wire('body without its closing NUL', (cmd) => frame(cmd, { sections: [body(patched(valid(cmd), 'ok', (b) => (b[b.byteLength - 1] = 1)))] }), /does not end with a NUL byte/),
  wire(
    'a nested document whose length overruns its parent',
    (cmd) => frame(cmd, { sections: [body(patched(valid(cmd), 'cursor', (b, at) => b.writeInt32LE(b.readInt32LE(at) + 3, at)))] }),
    /invalid BSON in reply/,
    { workers: true },
  ),
  wire(
    'an unknown BSON type in a document of the batch',
    (cmd) => frame(cmd, { sections: [body(patched(valid(cmd), 'name', (b, at) => (b[at - 'name'.length - 2] = 0x42)))] }),
    /invalid BSON in reply/,
  ),
  wire('a string that is not UTF-8', (cmd) => frame(cmd, { sections: [body(patched(findReplyWith('bad_utf8', 'x'), 'bad_utf8', (b, at) => (b[at + 4] = 0xff)))] }), /invalid BSON in reply/, {
    workers: true,
  }),
  wire('a boolean byte that is neither 0 nor 1', (cmd) => frame(cmd, { sections: [body(patched(findReplyWith('bad_bool', true), 'bad_bool', (b, at) => (b[at] = 2)))] }), /invalid BSON in reply/),
  wire(
    'a large reply (decoded in the worker) whose last string is not UTF-8',
    (cmd) => frame(cmd, { sections: [body(patched(findReplyWith('big_string', 'y'.repeat(600)), 'big_string', (b, at) => (b[at + 10] = 0xc3)))] }),
    /invalid BSON in reply/,
    { workers: true },
  ),
  // A regex valid for the server (PCRE) that JavaScript cannot compile: BSON whose structure holds, one value js-bson cannot decode (bsonRegExp off).
  {
    ...shape('a regex that JavaScript cannot compile', 'find().one()', 'find', () => findReplyWith('re', new BSONRegExp('a++', '')), /a value cannot be decoded: Invalid regular expression/),
    workers: true,
  },
  {
    ...shape('a regex that JavaScript cannot compile, in a reply a worker decodes', 'find().one()', 'find', () => findReplyWith('re', [new BSONRegExp('(?<', ''), 'y'.repeat(600)]), /a value cannot be decoded: Invalid regular expression/),
    workers: true,
  },
  // --- compression
  wire(
    'OP_COMPRESSED with a reserved compressor id',
    (cmd) => {
      const compressed = compressors.compressMessage(frame(cmd, { sections: [findBody(cmd)] }), 'zlib');
      compressed[24] = 9;
      return compressed;
    },
    /compressor unknown \(9\)/,
    { code: 'ERR_COMPRESSION_UNSUPPORTED' },
  ),
  wire(
    'OP_COMPRESSED that does not decompress to its announced size',
    (cmd) => {
      const compressed = compressors.compressMessage(frame(cmd, { sections: [findBody(cmd)] }), 'zlib');
      compressed.writeInt32LE(compressed.readInt32LE(20) + 7, 20);
      return compressed;
    },
    /does not decompress with zlib/,
  ),

  // --- cursors (find, aggregate, getMore)
  shape('firstBatch is a string (the issue: one() resolved "n")', 'find().one()', 'find', () => ({ cursor: { firstBatch: 'nope', id: Long.ZERO, ns: NAMESPACE }, ok: 1 }), /cursor\.firstBatch is a string \("nope"\), not an array/, { workers: true }),
  shape('no cursor', 'find().one()', 'find', () => ({ ok: 1 }), /cursor is missing, not a document/),
  shape('cursor is an array', 'find().one()', 'find', () => ({ cursor: [1], ok: 1 }), /cursor is an array, not a document/),
  shape('cursor without firstBatch', 'find().one()', 'find', () => ({ cursor: { nextBatch: [], id: Long.ZERO, ns: NAMESPACE }, ok: 1 }), /cursor\.firstBatch is missing/),
  shape('a batch element that is a number', 'find().one()', 'find', () => ({ cursor: { firstBatch: [7], id: Long.ZERO, ns: NAMESPACE }, ok: 1 }), /cursor\.firstBatch\[0\] is a number \(7\), not a document/),
  shape('a batch element that is an array', 'find().one()', 'find', () => ({ cursor: { firstBatch: [DOCS[0], [1]], id: Long.ZERO, ns: NAMESPACE }, ok: 1 }), /cursor\.firstBatch\[1\] is an array/),
  shape('a batch element that is null', 'find().one()', 'find', () => ({ cursor: { firstBatch: [null], id: Long.ZERO, ns: NAMESPACE }, ok: 1 }), /cursor\.firstBatch\[0\] is null/),
  shape('a cursor id that is a string', 'find().one()', 'find', () => ({ cursor: { firstBatch: [], id: '77', ns: NAMESPACE }, ok: 1 }), /cursor\.id is a string \("77"\), not an integer/, { workers: true }),
  shape('a cursor id that is not integral', 'find().one()', 'find', () => ({ cursor: { firstBatch: [], id: 1.5, ns: NAMESPACE }, ok: 1 }), /cursor\.id is a number \(1\.5\)/),
  shape('a cursor without an id', 'find().one()', 'find', () => ({ cursor: { firstBatch: [], ns: NAMESPACE }, ok: 1 }), /cursor\.id is missing/),
  shape('a cursor ns that is not a string', 'find().one()', 'find', () => ({ cursor: { firstBatch: [], id: Long.ZERO, ns: 5 }, ok: 1 }), /cursor\.ns is a number/),
  shape('getMore without nextBatch', 'find().batch(2).all() (getMore)', 'getMore', () => ({ cursor: { firstBatch: [], id: Long.ZERO, ns: NAMESPACE }, ok: 1 }), /cursor\.nextBatch is missing/),
  shape('getMore nextBatch is a string', 'find().batch(2).all() (getMore)', 'getMore', () => ({ cursor: { nextBatch: 'x', id: Long.ZERO, ns: NAMESPACE }, ok: 1 }), /cursor\.nextBatch is a string/),
  shape('getMore cursor id is a document', 'find().batch(2).all() (getMore)', 'getMore', () => ({ cursor: { nextBatch: [], id: { a: 1 }, ns: NAMESPACE }, ok: 1 }), /cursor\.id is a document/),
  shape('aggregate firstBatch is a number', 'pipe().all()', 'aggregate', () => ({ cursor: { firstBatch: 3, id: Long.ZERO, ns: NAMESPACE }, ok: 1 }), /cursor\.firstBatch is a number/),
  // --- ok and the error fields
  shape('no ok field', 'ping()', 'ping', () => ({ pong: true }), /ok is missing, not a number/, { workers: true }),
  shape('ok is a string', 'ping()', 'ping', () => ({ ok: '1' }), /ok is a string/),
  shape('ok: 0 with errmsg a number', 'ping()', 'ping', () => ({ ok: 0, errmsg: 5, code: 2 }), /errmsg is a number/),
  shape('ok: 0 with code a string', 'ping()', 'ping', () => ({ ok: 0, errmsg: 'no', code: '2' }), /code is a string/),
  shape('ok: 0 with errorLabels a string', 'ping()', 'ping', () => ({ ok: 0, errmsg: 'no', code: 2, errorLabels: 'RetryableWriteError' }), /errorLabels is a string/),
  // --- count, distinct
  shape('count n is a string', 'count()', 'count', () => ({ n: '5', ok: 1 }), /n is a string \("5"\), not a count/),
  shape('count n is negative', 'count()', 'count', () => ({ n: -1, ok: 1 }), /n is a number \(-1\), not a count/),
  shape('count n is not integral', 'count()', 'count', () => ({ n: 1.5, ok: 1 }), /n is a number \(1\.5\)/),
  shape('distinct values is a string', 'distinct()', 'distinct', () => ({ values: 'abc', ok: 1 }), /values is a string/),
  // --- writes
  shape('insert n is a string', 'insert()', 'insert', () => ({ n: 'one', ok: 1 }), /n is a string/),
  shape('update nModified is a string', 'updateAll()', 'update', () => ({ n: 1, nModified: 'x', ok: 1 }), /nModified is a string/),
  shape('writeErrors is a document', 'insert()', 'insert', () => ({ n: 0, writeErrors: { index: 0, code: 11000, errmsg: 'dup' }, ok: 1 }), /writeErrors is a document, not an array/),
  shape('a write error that is a string', 'insert()', 'insert', () => ({ n: 0, writeErrors: ['dup'], ok: 1 }), /writeErrors\[0\] is a string/),
  shape('a write error index past the batch', 'insert()', 'insert', () => ({ n: 0, writeErrors: [{ index: 5, code: 11000, errmsg: 'dup' }], ok: 1 }), /writeErrors\[0\]\.index is a number \(5\), not a statement index from 0 to 0/),
  shape('a write error code that is a string', 'insert()', 'insert', () => ({ n: 0, writeErrors: [{ index: 0, code: 'E11000', errmsg: 'dup' }], ok: 1 }), /writeErrors\[0\]\.code is a string/),
  shape('a write error errmsg that is a number', 'insert()', 'insert', () => ({ n: 0, writeErrors: [{ index: 0, code: 11000, errmsg: 11000 }], ok: 1 }), /writeErrors\[0\]\.errmsg is a number/),
  shape('writeConcernError is a string', 'insert()', 'insert', () => ({ n: 1, writeConcernError: 'timeout', ok: 1 }), /writeConcernError is a string/),
  shape('writeConcernError code is a string', 'insert()', 'insert', () => ({ n: 1, writeConcernError: { code: '64', errmsg: 'timeout' }, ok: 1 }), /writeConcernError\.code is a string/),
  shape('upserted is a document', 'upsert()', 'update', () => ({ n: 1, nModified: 0, upserted: { index: 0, _id: 9 }, ok: 1 }), /upserted is a document, not an array/),
  shape('an upserted index that is a string', 'upsert()', 'update', () => ({ n: 1, nModified: 0, upserted: [{ index: '0', _id: 9 }], ok: 1 }), /upserted\[0\]\.index is a string/),
  {
    ...shape('a bulk update whose writeErrors is a string', 'bulk().run()', 'update', () => ({ n: 0, nModified: 0, writeErrors: 'x', ok: 1 }), /writeErrors is a string/),
    // Bulk.run() reports a failed command against each of its operations: a BulkError whose cases carry the malformed reply's error.
    code: 'ERR_BULK',
  },
  // --- findAndModify
  shape('lastErrorObject is a string', 'apply()', 'findAndModify', () => ({ lastErrorObject: 'x', value: null, ok: 1 }), /lastErrorObject is a string/),
  shape('lastErrorObject.n is a string', 'apply()', 'findAndModify', () => ({ lastErrorObject: { n: 'one', updatedExisting: true }, value: {}, ok: 1 }), /lastErrorObject\.n is a string/),
  shape('lastErrorObject.updatedExisting is a string', 'apply()', 'findAndModify', () => ({ lastErrorObject: { n: 1, updatedExisting: 'yes' }, value: {}, ok: 1 }), /lastErrorObject\.updatedExisting is a string/),
  shape('the findAndModify value is a number', 'apply()', 'findAndModify', () => ({ lastErrorObject: { n: 1, updatedExisting: true }, value: 5, ok: 1 }), /value is a number \(5\), not a document or null/),
  // --- listings
  shape('an index without a name', 'indexes()', 'listIndexes', () => ({ cursor: { firstBatch: [{ v: 2, key: { _id: 1 } }], id: Long.ZERO, ns: NAMESPACE }, ok: 1 }), /index\[0\]\.name is missing/),
  shape('an index whose key is a string', 'indexes()', 'listIndexes', () => ({ cursor: { firstBatch: [{ v: 2, key: '_id', name: '_id_' }], id: Long.ZERO, ns: NAMESPACE }, ok: 1 }), /index\[0\]\.key is a string/),
  shape('a collection whose name is a number', 'collectionNames()', 'listCollections', () => ({ cursor: { firstBatch: [{ name: 5 }], id: Long.ZERO, ns: `${DB}.$cmd.listCollections` }, ok: 1 }), /collection\[0\]\.name is a number/),
  shape('databases is a string', 'databaseNames()', 'listDatabases', () => ({ databases: 'fuzz', ok: 1 }), /databases is a string/),
  shape('a database whose name is a number', 'databaseNames()', 'listDatabases', () => ({ databases: [{ name: 5 }], ok: 1 }), /databases\[0\]\.name is a number/),
];

// ---------------------------------------------------------------- running

/** Resolves once the server side of `connection` saw its socket close. */
function closedOnServerSide(connection: FakeConnection): Promise<void> {
  const socket = connection.socket;
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection ${connection.id} was not closed within ${DEADLINE_MS} ms`)), DEADLINE_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Asserts the error of a failed case: its class and code, and that it names the server. */
function assertCaseError(c: Case, error: unknown, address: string): void {
  assert.ok(error instanceof MgoError, `an MgoError, got ${String(error)}`);
  assert.equal(error.code, c.code, `code of ${error.message}`);
  assert.ok(error.message.includes(address), `the message names the server ${address}: ${error.message}`);
  if (c.message) assert.match(error.message, c.message);
  if (error instanceof BulkError) {
    for (const { err } of error.cases()) assert.ok(err instanceof MgoError && err.code === 'ERR_PROTOCOL' && err.address === address, `bulk case: ${String(err)}`);
  } else {
    assert.equal(error.address, address, 'the error carries the server address');
  }
  // A broken stream is a network error (its class kept across the thread): SDAM and the retry rules see it. A wrong shape is not.
  assert.equal(error instanceof NetworkError, c.fate === 'closed', `${error.name} for a case whose connection is ${c.fate}`);
}

interface Harness {
  server: FakeServer;
  /** The case whose replies the server sends now, and the connections that carried them. */
  current: { c: Case; connections: FakeConnection[] } | undefined;
}

async function startHarness(): Promise<Harness> {
  const harness: Harness = { server: undefined!, current: undefined };
  harness.server = await startFakeServer(
    (cmd) => {
      const current = harness.current;
      if (current && cmd.name === current.c.command) {
        current.connections.push(cmd.connection);
        const reply = current.c.reply(cmd, cmd.connection);
        if (reply instanceof Uint8Array) cmd.connection.writeRaw(reply);
        else cmd.connection.reply(cmd, reply);
        return;
      }
      const reply = validReply(cmd);
      if (reply) cmd.connection.reply(cmd, reply);
    },
    { hello: { ...defaultHello, maxMessageSizeBytes: MAX_MESSAGE_SIZE } },
  );
  return harness;
}

/**
 * One case on `session` (Eventual mode: no reserved socket, so inUse 0 is
 * the baseline; one pooled socket, maxPoolSize=1, so that the next
 * operation shows which connection was kept).
 */
async function runCase(harness: Harness, session: Session, c: Case, workers: boolean): Promise<void> {
  const { server } = harness;
  const receivedBefore = server.received.length;
  const current = { c, connections: [] as FakeConnection[] };
  harness.current = current;
  let outcome;
  try {
    outcome = await settleWithin(ops[c.op](session), DEADLINE_MS, `${c.op} against "${c.name}"`);
  } finally {
    harness.current = undefined;
  }
  assert.ok(current.connections.length > 0, 'the hostile reply was sent');
  if (c.fate === 'ok') {
    assert.ok(outcome.ok, `tolerated, but failed: ${outcome.ok ? '' : String(outcome.error)}`);
  } else {
    assert.ok(!outcome.ok, `${c.op} succeeded against a hostile reply: ${outcome.ok ? JSON.stringify(outcome.value) : ''}`);
    assertCaseError(c, outcome.error, server.address);
  }
  // No socket left checked out (in worker mode the workers' stats arrive with their next batch).
  const idle = () => session.stats().every((stats) => stats.inUse === 0);
  if (workers) await waitFor(`inUse 0 after "${c.name}"`, idle, DEADLINE_MS);
  else assert.ok(idle(), `no socket left checked out: ${JSON.stringify(session.stats())}`);

  // The same operation, answered as a server would, now succeeds.
  const again = await settleWithin(ops[c.op](session), DEADLINE_MS, `${c.op} after "${c.name}"`);
  assert.ok(again.ok, `the following operation failed: ${again.ok ? '' : String(again.error)}`);

  if (c.fate === 'closed') {
    // The connection that got a malformed message is destroyed, never reused.
    await Promise.all(current.connections.map(closedOnServerSide));
    const received = server.received.slice(receivedBefore);
    const reused = current.connections.flatMap((connection) => {
      const onIt = received.filter((cmd) => cmd.connection === connection);
      const hostile = onIt.findIndex((cmd) => cmd.name === c.command);
      return onIt.slice(hostile + 1).map((cmd) => cmd.name);
    });
    assert.deepEqual(reused, [], 'nothing more was sent on a connection that got a malformed message');
  } else if (c.fate === 'kept' && !workers) {
    // In worker mode the one permit may move between the workers' pools, closing an idle socket for it: no such check there.
    const last = server.received.at(-1)!;
    assert.equal(last.connection, current.connections.at(-1), 'the following operation ran on the connection that brought the wrong-shaped reply');
  }
  if (c.op === 'find().batch(2).all() (getMore)' && c.fate !== 'ok') {
    // The cursor the first batch left open was killed once its getMore failed.
    const killed = server.received.slice(receivedBefore).filter((cmd) => cmd.name === 'killCursors');
    assert.ok(killed.some((cmd) => Long.fromValue(cmd.command.cursors[0]).equals(CURSOR_ID)), 'killCursors for the open cursor');
  }
}

function describeMode(mode: string, workers: number, cases: Case[]): void {
  describe(mode, () => {
    let harness: Harness;
    let session: Session;
    before(async () => {
      harness = await startHarness();
      // Reads are not retried: the retry would meet the same reply (the case's replies are hostile while it runs), only later.
      session = await dial(`mongodb://${harness.server.address}/?directConnection=true&maxPoolSize=1&retryReads=false`, { workers });
      session.setMode(Mode.Eventual, true);
    });
    after(async () => {
      await session?.close();
      await harness?.server.close();
    });

    for (const c of cases) test(c.name, { timeout: 3 * DEADLINE_MS }, () => runCase(harness, session, c, workers > 0));
  });
}

describeMode('workers: 0', 0, CASES);
describeMode('workers: 2 (errors cross the thread as records)', 2, CASES.filter((c) => c.workers));

// -------------------------------------------------------- hello replies

describe('hello replies', () => {
  const closers: { close(): Promise<void> | void }[] = [];
  after(async () => {
    for (const c of closers) await c.close();
  });

  test('a handshake whose hello has a field of the wrong type fails with ERR_PROTOCOL and leaves no socket', async () => {
    const server = await startFakeServer(() => {}, { hello: { ...defaultHello, maxWireVersion: '21' } });
    closers.push(server);
    const outcome = await settleWithin(Connection.connect({ id: 1, generation: 0, host: server.host, port: server.port, connectTimeoutMS: DEADLINE_MS, socketTimeoutMS: 0 }), DEADLINE_MS, 'connect');
    assert.ok(!outcome.ok);
    const error = outcome.error;
    assert.ok(error instanceof MgoError && error.code === 'ERR_PROTOCOL', String(error));
    assert.match(error.message, new RegExp(`malformed reply from ${server.address}: maxWireVersion is a string`));
    await closedOnServerSide(server.connections[0]!);
  });

  for (const [what, malformed] of [
    ['maxMessageSizeBytes is zero', { maxMessageSizeBytes: 0 }],
    ['hosts is a string', { hosts: 'a:1' }],
    ['isWritablePrimary is a number', { isWritablePrimary: 1 }],
  ] as const) {
    test(`a monitor's polled hello where ${what} fails the check with ERR_PROTOCOL; the next good one recovers`, async () => {
      let hostile = false;
      const server = await startFakeServer((cmd) => {
        // The handshake (with client metadata) stays good: the polled hello is the one under test.
        if (cmd.name === 'hello' && hostile && cmd.command.client === undefined) cmd.connection.reply(cmd, { ...defaultHello, ...malformed });
      });
      closers.push(server);
      const results: CheckResult[] = [];
      const monitor = new Monitor({ type: 'ipv4', host: server.host, port: server.port, address: server.address }, { heartbeatFrequencyMS: 60_000, connectTimeoutMS: 5_000, appName: 'hostile' }, (r) => results.push(r));
      closers.push(monitor);
      monitor.start();
      await waitFor('first check', () => results.length === 1, DEADLINE_MS);
      assert.ok(results[0]!.ok);
      hostile = true;
      monitor.requestCheck();
      await waitFor('failed check', () => results.length === 2, DEADLINE_MS);
      const failed = results[1]!;
      assert.ok(!failed.ok && failed.error.code === 'ERR_PROTOCOL' && failed.error.message.includes(server.address), JSON.stringify(failed));
      hostile = false;
      monitor.requestCheck();
      await waitFor('recovered', () => results.length === 3, DEADLINE_MS);
      assert.ok(results[2]!.ok);
    });
  }

  test('a streamed hello (awaitable, exhaust) of the wrong shape closes the monitoring connection; the check fails with ERR_PROTOCOL', async () => {
    const topologyVersion = { processId: new BSON.ObjectId(), counter: Long.fromNumber(0) };
    let hostile = false;
    const server = await startFakeServer((cmd) => {
      if (cmd.name !== 'hello') return;
      const hello = { ...defaultHello, topologyVersion, ...(hostile ? { setVersion: 'one' } : {}) };
      if (cmd.command.maxAwaitTimeMS === undefined) return cmd.connection.reply(cmd, hello);
      // The first awaitable hello is answered with a malformed streamed reply; from then on every hello is malformed.
      if (!hostile) {
        hostile = true;
        cmd.connection.stream(cmd, { ...hello, setVersion: 'one' }, true);
      }
    });
    closers.push(server);
    const results: CheckResult[] = [];
    const monitor = new Monitor(
      { type: 'ipv4', host: server.host, port: server.port, address: server.address },
      { heartbeatFrequencyMS: 60_000, connectTimeoutMS: 5_000, appName: 'hostile', serverMonitoringMode: 'stream' },
      (r) => results.push(r),
    );
    closers.push(monitor);
    monitor.start();
    // The stream's error is a network error (the connection is closed): SDAM retries the check at once, on a new connection, whose handshake now fails.
    await waitFor('a failed check', () => results.some((r) => !r.ok), DEADLINE_MS);
    const failed = results.find((r) => !r.ok)!;
    assert.ok(!failed.ok && failed.error.code === 'ERR_PROTOCOL' && /setVersion is a string/.test(failed.error.message) && failed.error.message.includes(server.address), failed.ok ? '' : failed.error.message);
    const streamed = server.received.find((cmd) => cmd.command.maxAwaitTimeMS !== undefined)!;
    await closedOnServerSide(streamed.connection);
  });

  test('dial() to a server whose every hello is malformed fails with a stable code, naming the server and the problem', async () => {
    const server = await startFakeServer(() => {}, { hello: { ...defaultHello, maxBsonObjectSize: 'big' } });
    closers.push(server);
    const outcome = await settleWithin(dial(`mongodb://${server.address}/?directConnection=true&serverSelectionTimeoutMS=1000`), DEADLINE_MS, 'dial');
    assert.ok(!outcome.ok);
    const error = outcome.error;
    assert.ok(error instanceof MgoError && error.code === 'ERR_SERVER_SELECTION', String(error));
    assert.ok(error.message.includes(server.address) && /maxBsonObjectSize is a string/.test(error.message), error.message);
  });
});
