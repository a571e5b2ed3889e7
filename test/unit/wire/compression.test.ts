import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, type Document } from 'bson';
import {
  COMPRESSOR_IDS,
  CompressorSet,
  compressors,
  isExemptFromCompression,
  negotiateCompressor,
  type CompressorName,
} from '../../../src/wire/compression.js';
import { OpCode } from '../../../src/wire/constants.js';
import { DecodeError } from '../../../src/wire/decode-error.js';
import { decodeMessage, encodeOpMsg, type ReplyMessage } from '../../../src/wire/op-msg.js';
import { COMPRESSORS_REQUIRED, haveCompressors } from '../../fixtures/compressors.js';

const NAMES: readonly CompressorName[] = ['snappy', 'zlib', 'zstd'];
const MAX = 48_000_000;
const limits = { maxBsonObjectSize: 16 * 1024 * 1024, maxMessageSizeBytes: MAX };
const smallMessage = () => encodeOpMsg({ requestId: 7, body: { find: 'c', filter: { a: 1 }, $db: 'test' } }, limits);

/** About 16 MB: the largest document sequence a server accepts is near this (maxBsonObjectSize per document, 48 MB per message). */
function largeMessage(): Buffer {
  const documents: Document[] = [];
  for (let i = 0; i < 16_000; i++) documents.push({ _id: i, text: `document ${i} `.repeat(60), n: i * 7 });
  return encodeOpMsg({ requestId: 8, body: { insert: 'c', $db: 'test' }, sequences: [{ identifier: 'documents', documents }] }, limits);
}

function same(actual: ReplyMessage, expected: ReplyMessage): void {
  assert.equal(actual.requestId, expected.requestId);
  assert.equal(actual.responseTo, expected.responseTo);
  assert.equal(actual.flags, expected.flags);
  assert.ok(Buffer.from(actual.body).equals(Buffer.from(expected.body)));
  assert.deepEqual(
    actual.sequences.map((s) => [s.identifier, s.documents.length]),
    expected.sequences.map((s) => [s.identifier, s.documents.length]),
  );
  actual.sequences.forEach((s, i) => s.documents.forEach((d, j) => assert.ok(Buffer.from(d).equals(Buffer.from(expected.sequences[i]!.documents[j]!)))));
}

/** A frame like `compressed` with fields overwritten. */
function patched(compressed: Buffer, patch: { uncompressedSize?: number; id?: number; originalOpcode?: number; data?: Uint8Array }): Buffer {
  const data = patch.data ?? compressed.subarray(25);
  const out = Buffer.alloc(25 + data.byteLength);
  compressed.copy(out, 0, 0, 25);
  out.writeInt32LE(out.byteLength, 0);
  if (patch.originalOpcode !== undefined) out.writeInt32LE(patch.originalOpcode, 16);
  if (patch.uncompressedSize !== undefined) out.writeInt32LE(patch.uncompressedSize, 20);
  if (patch.id !== undefined) out[24] = patch.id;
  out.set(data, 25);
  return out;
}

function decodeError(reason: DecodeError['reason'], pattern: RegExp) {
  return (err: unknown) => err instanceof DecodeError && err.reason === reason && pattern.test(err.message);
}

describe('compressors', () => {
  test('every compressor loads where compressors are required (CI)', { skip: !COMPRESSORS_REQUIRED && 'MGO_REQUIRE_COMPRESSORS is not set' }, () => {
    assert.deepEqual(compressors.usable(NAMES), NAMES);
  });

  for (const name of NAMES) {
    test(`${name}: a small and a ~16 MB message round-trip through OP_COMPRESSED`, (t) => {
      if (!haveCompressors(t, name)) return;
      for (const message of [smallMessage(), largeMessage()]) {
        const compressed = compressors.compressMessage(message, name);
        assert.equal(compressed.readInt32LE(0), compressed.byteLength);
        assert.equal(compressed.readInt32LE(4), message.readInt32LE(4), 'requestID is kept');
        assert.equal(compressed.readInt32LE(8), message.readInt32LE(8), 'responseTo is kept');
        assert.equal(compressed.readInt32LE(12), OpCode.OP_COMPRESSED);
        assert.equal(compressed.readInt32LE(16), OpCode.OP_MSG);
        assert.equal(compressed.readInt32LE(20), message.byteLength - 16);
        assert.equal(compressed[24], COMPRESSOR_IDS[name]);
        if (message.byteLength > 1_000_000) assert.ok(compressed.byteLength < message.byteLength / 4, `${name} compresses repetitive documents`);
        same(decodeMessage(compressed, MAX), decodeMessage(message, MAX));
      }
    });

    test(`${name}: corrupt data, and data that decompresses to another size than announced, are ERR_PROTOCOL`, (t) => {
      if (!haveCompressors(t, name)) return;
      const message = largeMessage();
      const compressed = compressors.compressMessage(message, name);
      const size = message.byteLength - 16;
      const garbage = Buffer.from(compressed.subarray(25));
      for (let i = 0; i < garbage.byteLength; i += 7) garbage[i] = (garbage[i]! * 31 + 17) & 0xff;
      assert.throws(() => decodeMessage(patched(compressed, { data: garbage }), MAX), decodeError('ERR_PROTOCOL', new RegExp(`does not decompress with ${name}`)));
      assert.throws(() => decodeMessage(patched(compressed, { data: compressed.subarray(25, 200) }), MAX), decodeError('ERR_PROTOCOL', /does not decompress/));
      for (const announced of [size - 1, size + 1, 100]) {
        assert.throws(() => decodeMessage(patched(compressed, { uncompressedSize: announced }), MAX), decodeError('ERR_PROTOCOL', new RegExp(`announced ${announced} bytes`)));
      }
    });
  }

  test('zstd frames are standard: the zstd command-line tool reads ours, and we read its', (t) => {
    if (!haveCompressors(t, 'zstd')) return;
    let cli: (args: string[], input: Uint8Array) => Buffer;
    try {
      execFileSync('zstd', ['--version']);
      cli = (args, input) => execFileSync('zstd', args, { input, maxBuffer: 64 << 20 });
    } catch {
      t.skip('the zstd command-line tool is not installed');
      return;
    }
    const message = largeMessage();
    const ours = compressors.compressMessage(message, 'zstd');
    assert.ok(cli(['-d', '-c'], ours.subarray(25)).equals(message.subarray(16)));
    const theirs = patched(ours, { data: cli(['-c', '-3'], message.subarray(16)) });
    same(decodeMessage(theirs, MAX), decodeMessage(message, MAX));
  });

  test('zlibCompressionLevel reaches zlib (level 0 stores, 9 compresses)', () => {
    const message = largeMessage();
    const stored = compressors.compressMessage(message, 'zlib', 0);
    const best = compressors.compressMessage(message, 'zlib', 9);
    assert.ok(stored.byteLength > message.byteLength, 'level 0 stores the bytes');
    assert.ok(best.byteLength < message.byteLength / 4);
    same(decodeMessage(stored, MAX), decodeMessage(message, MAX));
  });

  test('the noop compressor (id 0) is unwrapped, and its size checked', () => {
    const message = smallMessage();
    const noop = Buffer.concat([Buffer.alloc(25), message.subarray(16)]);
    message.copy(noop, 0, 0, 16);
    noop.writeInt32LE(noop.byteLength, 0);
    noop.writeInt32LE(OpCode.OP_COMPRESSED, 12);
    noop.writeInt32LE(OpCode.OP_MSG, 16);
    noop.writeInt32LE(message.byteLength - 16, 20);
    noop[24] = 0;
    same(decodeMessage(noop, MAX), decodeMessage(message, MAX));
    assert.throws(() => decodeMessage(patched(noop, { uncompressedSize: message.byteLength }), MAX), decodeError('ERR_PROTOCOL', /noop OP_COMPRESSED announces/));
  });

  test('a reserved compressor id is ERR_COMPRESSION_UNSUPPORTED, naming the id', () => {
    const compressed = compressors.compressMessage(smallMessage(), 'zlib');
    for (const id of [4, 9, 255]) {
      assert.throws(() => decodeMessage(patched(compressed, { id }), MAX), decodeError('ERR_COMPRESSION_UNSUPPORTED', new RegExp(`compressor unknown \\(${id}\\)`)));
    }
  });

  test('an uncompressed size over maxMessageSizeBytes, or negative, fails before decompressing', () => {
    const message = smallMessage();
    const compressed = compressors.compressMessage(message, 'zlib');
    const size = message.byteLength - 16;
    assert.throws(() => decodeMessage(compressed, size + 15), decodeError('ERR_PROTOCOL', /outside 0 to maxMessageSizeBytes/));
    assert.doesNotThrow(() => decodeMessage(compressed, size + 16));
    assert.throws(() => decodeMessage(patched(compressed, { uncompressedSize: -1 }), MAX), decodeError('ERR_PROTOCOL', /announces -1 uncompressed bytes/));
    assert.throws(() => decodeMessage(compressed.subarray(0, 24), MAX), decodeError('ERR_PROTOCOL', /too short/));
  });

  test('only OP_MSG may be wrapped', () => {
    const compressed = compressors.compressMessage(smallMessage(), 'zlib');
    assert.throws(() => decodeMessage(patched(compressed, { originalOpcode: OpCode.OP_QUERY }), MAX), decodeError('ERR_PROTOCOL', /wraps opCode 2004/));
  });

  test('a snappy block announcing more than the header does is refused before snappy allocates it', (t) => {
    if (!haveCompressors(t, 'snappy')) return;
    const compressed = compressors.compressMessage(smallMessage(), 'snappy');
    // Varint 2^30 (1 GiB) in place of the real length prefix.
    const data = Buffer.concat([Buffer.from([0x80, 0x80, 0x80, 0x80, 0x04]), compressed.subarray(26)]);
    assert.throws(() => decodeMessage(patched(compressed, { data }), MAX), decodeError('ERR_PROTOCOL', /snappy data announces 1073741824 bytes/));
  });
});

describe('a compressor that cannot be loaded', () => {
  const failing = () => {
    throw new Error("Cannot find module 'snappy'\nRequire stack: ...");
  };
  const working = { zlib: () => ({ compress: (d: Uint8Array) => d, decompress: (d: Uint8Array) => Buffer.from(d) }) };

  test('is dropped from the requested list with one warning per compressor, the others kept in order', () => {
    const warnings: string[] = [];
    const set = new CompressorSet({ snappy: failing, zstd: failing, zlib: working.zlib }, (m) => warnings.push(m));
    assert.deepEqual(set.usable(['zstd', 'zlib', 'snappy']), ['zlib']);
    assert.deepEqual(set.usable(['snappy', 'zlib']), ['zlib']);
    assert.deepEqual(warnings, [
      "compressor zstd is left out: its implementation cannot be loaded (Cannot find module 'snappy')",
      "compressor snappy is left out: its implementation cannot be loaded (Cannot find module 'snappy')",
    ]);
  });

  test('makes a reply compressed with it ERR_COMPRESSION_UNSUPPORTED', () => {
    const set = new CompressorSet({ snappy: failing, zstd: failing, zlib: working.zlib }, () => {});
    const frame = patched(set.compressMessage(smallMessage(), 'zlib'), { id: COMPRESSOR_IDS.snappy });
    assert.throws(() => set.decompressMessage(frame, MAX), decodeError('ERR_COMPRESSION_UNSUPPORTED', /compressor snappy, which this driver cannot decompress: Cannot find module 'snappy'$/));
  });
});

describe('negotiation and exemptions', () => {
  test('the first of the client list that the server lists wins; none is not an error', () => {
    assert.equal(negotiateCompressor(['zstd', 'zlib'], undefined), undefined);
    assert.equal(negotiateCompressor(['zstd', 'zlib'], []), undefined);
    assert.equal(negotiateCompressor(['zstd', 'zlib'], ['snappy']), undefined);
    assert.equal(negotiateCompressor(['zstd', 'zlib'], ['zlib']), 'zlib');
    assert.equal(negotiateCompressor(['zstd', 'zlib', 'snappy'], ['snappy', 'zlib', 'zstd']), 'zstd');
    assert.equal(negotiateCompressor(['snappy', 'zlib'], ['zlib', 'snappy']), 'snappy');
    assert.equal(negotiateCompressor([], ['zlib']), undefined);
    assert.equal(negotiateCompressor(['zlib'], 'zlib'), undefined, 'a malformed reply field is ignored');
  });

  test('the commands the spec lists are exempt, others are not', () => {
    for (const name of ['hello', 'isMaster', 'ismaster', 'saslStart', 'saslContinue', 'getnonce', 'authenticate', 'createUser', 'updateUser', 'copydbSaslStart', 'copydbgetnonce', 'copydb']) {
      assert.ok(isExemptFromCompression(name), name);
    }
    for (const name of ['find', 'insert', 'getMore', 'ping', 'logout', 'dropUser', 'Hello']) assert.ok(!isExemptFromCompression(name), name);
  });

  test('BSON of a decompressed reply is the original', (t) => {
    if (!haveCompressors(t, 'zstd')) return;
    const body = { ok: 1, cursor: { id: 0n, ns: 'a.b', firstBatch: [{ x: 'y'.repeat(1000) }] } };
    const message = encodeOpMsg({ requestId: 3, body }, limits);
    const decoded = decodeMessage(compressors.compressMessage(message, 'zstd'), MAX);
    assert.deepEqual(BSON.deserialize(decoded.body, { useBigInt64: true }), body);
  });
});
