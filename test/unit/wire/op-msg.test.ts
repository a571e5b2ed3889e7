import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, Long, ObjectId } from 'bson';
import { DecodeError } from '../../../src/wire/decode-error.js';
import { EncodeError, decodeMessage, encodeOpMsg } from '../../../src/wire/op-msg.js';
import { OpCode, OpMsgFlags } from '../../../src/wire/constants.js';
import { compressors } from '../../../src/wire/compression.js';
import { crc32c } from '../../../src/wire/crc32c.js';
import { encodeReply } from '../../fixtures/fake-server.js';

const limits = { maxBsonObjectSize: 16 * 1024 * 1024, maxMessageSizeBytes: 48_000_000 };

describe('encodeOpMsg', () => {
  test('writes header, flags and a body that decodes back', () => {
    const id = new ObjectId();
    const frame = encodeOpMsg({ requestId: 42, body: { find: 'c', filter: { _id: id }, $db: 'test' } }, limits);
    assert.equal(frame.readInt32LE(0), frame.byteLength);
    assert.equal(frame.readInt32LE(4), 42);
    assert.equal(frame.readInt32LE(8), 0);
    assert.equal(frame.readInt32LE(12), OpCode.OP_MSG);
    const decoded = decodeMessage(frame, limits.maxMessageSizeBytes);
    assert.equal(decoded.requestId, 42);
    assert.equal(decoded.flags, 0);
    const body = BSON.deserialize(decoded.body);
    assert.deepEqual(Object.keys(body), ['find', 'filter', '$db']);
    assert.ok(id.equals(body.filter._id));
  });

  test('writes document sequences (kind 1) in order', () => {
    const documents = [{ _id: 1, n: Long.fromNumber(7) }, { _id: 2 }, { _id: 3 }];
    const frame = encodeOpMsg({ requestId: 1, body: { insert: 'c', $db: 'd' }, sequences: [{ identifier: 'documents', documents }] }, limits);
    const decoded = decodeMessage(frame, limits.maxMessageSizeBytes);
    assert.equal(decoded.sequences.length, 1);
    assert.equal(decoded.sequences[0]!.identifier, 'documents');
    assert.deepEqual(
      decoded.sequences[0]!.documents.map((d) => BSON.deserialize(d, { promoteLongs: false })),
      documents.map((d) => BSON.deserialize(BSON.serialize(d), { promoteLongs: false })),
    );
  });

  test('sets moreToCome for unacknowledged writes', () => {
    const frame = encodeOpMsg({ requestId: 1, body: { insert: 'c' }, moreToCome: true }, limits);
    assert.equal(frame.readUInt32LE(16), OpMsgFlags.moreToCome);
  });

  test('rejects a body over maxBsonObjectSize + 16 KiB before encoding', () => {
    const small = { maxBsonObjectSize: 1000, maxMessageSizeBytes: 48_000_000 };
    assert.doesNotThrow(() => encodeOpMsg({ requestId: 1, body: { x: 'a'.repeat(1000) } }, small));
    assert.throws(
      () => encodeOpMsg({ requestId: 1, body: { x: 'a'.repeat(20_000) } }, small),
      (err: unknown) => err instanceof EncodeError && err.reason === 'ERR_DOCUMENT_TOO_LARGE' && /over the server's limit of 17384/.test(err.message),
    );
  });

  test('rejects a sequence document over maxBsonObjectSize, naming its index', () => {
    const small = { maxBsonObjectSize: 1000, maxMessageSizeBytes: 48_000_000 };
    assert.throws(
      () => encodeOpMsg({ requestId: 1, body: { insert: 'c' }, sequences: [{ identifier: 'documents', documents: [{}, { x: 'a'.repeat(2000) }] }] }, small),
      (err: unknown) => err instanceof EncodeError && err.reason === 'ERR_DOCUMENT_TOO_LARGE' && err.message.includes('document 1 of "documents"'),
    );
  });

  test('rejects a message over maxMessageSizeBytes', () => {
    const small = { maxBsonObjectSize: 1000, maxMessageSizeBytes: 2000 };
    const documents = Array.from({ length: 5 }, () => ({ x: 'a'.repeat(900) }));
    assert.throws(
      () => encodeOpMsg({ requestId: 1, body: { insert: 'c' }, sequences: [{ identifier: 'documents', documents }] }, small),
      (err: unknown) => err instanceof EncodeError && err.reason === 'ERR_MESSAGE_TOO_LARGE',
    );
  });

  test('rejects a cyclic document as invalid', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    assert.throws(
      () => encodeOpMsg({ requestId: 1, body: { insert: 'c' }, sequences: [{ identifier: 'documents', documents: [cyclic] }] }, limits),
      (err: unknown) => err instanceof EncodeError && err.reason === 'ERR_INVALID_DOCUMENT',
    );
  });
});

describe('decodeMessage', () => {
  function withFlags(frame: Buffer, flags: number): Buffer {
    const copy = Buffer.from(frame);
    copy.writeUInt32LE(flags, 16);
    return copy;
  }

  /** `plain` with checksumPresent set and a CRC-32C appended (`corrupt` flips a bit of it). */
  function withChecksum(plain: Buffer, corrupt = false): Buffer {
    const withSum = Buffer.concat([plain, Buffer.alloc(4)]);
    withSum.writeInt32LE(withSum.byteLength, 0);
    withSum.writeUInt32LE(OpMsgFlags.checksumPresent, 16);
    withSum.writeUInt32LE((crc32c(withSum.subarray(0, withSum.byteLength - 4)) ^ (corrupt ? 1 : 0)) >>> 0, withSum.byteLength - 4);
    return withSum;
  }

  test('CRC-32C is the Castagnoli checksum (RFC 3720 check value)', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.from('1234'), Buffer.from('56789')), 0xe3069283, 'parts are taken back to back');
  });

  test('verifies and strips a checksum (checksumPresent), plain or compressed', () => {
    const plain = encodeReply(9, { ok: 1 });
    assert.deepEqual(BSON.deserialize(decodeMessage(withChecksum(plain), limits.maxMessageSizeBytes).body), { ok: 1 });
    const compressed = compressors.compressMessage(withChecksum(plain), 'zlib');
    assert.deepEqual(BSON.deserialize(decodeMessage(compressed, limits.maxMessageSizeBytes).body), { ok: 1 });
  });

  test('refuses a checksum that does not match the message', () => {
    const plain = encodeReply(9, { ok: 1 });
    assert.throws(() => decodeMessage(withChecksum(plain, true), limits.maxMessageSizeBytes), /OP_MSG checksum mismatch/);
    assert.throws(() => decodeMessage(compressors.compressMessage(withChecksum(plain, true), 'zlib'), limits.maxMessageSizeBytes), /OP_MSG checksum mismatch/);
    // The flag set on a message that carries no checksum: its last four bytes are not one.
    assert.throws(() => decodeMessage(withFlags(plain, OpMsgFlags.checksumPresent), limits.maxMessageSizeBytes), (err: unknown) => err instanceof DecodeError && err.reason === 'ERR_PROTOCOL');
  });

  test('reports moreToCome on a reply', () => {
    assert.equal(decodeMessage(withFlags(encodeReply(1, { ok: 1 }), OpMsgFlags.moreToCome), limits.maxMessageSizeBytes).moreToCome, true);
  });

  test('fails on unknown required flag bits', () => {
    assert.throws(() => decodeMessage(withFlags(encodeReply(1, { ok: 1 }), 1 << 4), limits.maxMessageSizeBytes), /unknown required flag bits 0x10/);
  });

  test('ignores unknown optional flag bits', () => {
    assert.doesNotThrow(() => decodeMessage(withFlags(encodeReply(1, { ok: 1 }), 1 << 20), limits.maxMessageSizeBytes));
  });

  test('fails on truncated BSON', () => {
    const frame = encodeReply(1, { a: 'hello' });
    frame.writeInt32LE(frame.readInt32LE(21) + 10, 21); // the body claims more than the frame holds
    assert.throws(
      () => decodeMessage(frame, limits.maxMessageSizeBytes),
      (err: unknown) => err instanceof DecodeError && /truncated BSON in OP_MSG body/.test(err.message),
    );
  });

  test('fails on a BSON document not ending in NUL', () => {
    const frame = encodeReply(1, { a: 'hello' });
    frame[frame.byteLength - 1] = 7;
    assert.throws(() => decodeMessage(frame, limits.maxMessageSizeBytes), /does not end with a NUL byte/);
  });

  test('fails on an unknown section kind and on a missing body', () => {
    const frame = encodeReply(1, { a: 1 });
    frame[20] = 5;
    assert.throws(() => decodeMessage(frame, limits.maxMessageSizeBytes), /unknown section kind 5/);
    const seqOnly = Buffer.from(frame);
    seqOnly[20] = 1; // a kind-1 section whose "size" is the BSON length, identifier garbage
    assert.throws(() => decodeMessage(seqOnly, limits.maxMessageSizeBytes), DecodeError);
  });

  test('fails on opcodes other than OP_MSG / OP_COMPRESSED', () => {
    const frame = encodeReply(1, { ok: 1 });
    frame.writeInt32LE(OpCode.OP_REPLY, 12);
    assert.throws(() => decodeMessage(frame, limits.maxMessageSizeBytes), /unexpected opCode 1/);
  });

  function compressed(compressorId: number): Buffer {
    const inner = encodeReply(5, { ok: 1, x: 'y' });
    const payload = inner.subarray(16);
    const out = Buffer.alloc(25 + payload.byteLength);
    out.writeInt32LE(out.byteLength, 0);
    out.writeInt32LE(77, 4);
    out.writeInt32LE(5, 8);
    out.writeInt32LE(OpCode.OP_COMPRESSED, 12);
    out.writeInt32LE(OpCode.OP_MSG, 16);
    out.writeInt32LE(payload.byteLength, 20);
    out[24] = compressorId;
    out.set(payload, 25);
    return out;
  }

  test('unwraps OP_COMPRESSED with the noop compressor', () => {
    const reply = decodeMessage(compressed(0), limits.maxMessageSizeBytes);
    assert.equal(reply.responseTo, 5);
    assert.deepEqual(BSON.deserialize(reply.body), { ok: 1, x: 'y' });
  });

  test('names the compressor of an OP_COMPRESSED reply with a reserved compressor id', () => {
    assert.throws(
      () => decodeMessage(compressed(9), limits.maxMessageSizeBytes),
      (err: unknown) => err instanceof DecodeError && err.reason === 'ERR_COMPRESSION_UNSUPPORTED' && err.message.includes('compressor unknown (9)'),
    );
  });
});
