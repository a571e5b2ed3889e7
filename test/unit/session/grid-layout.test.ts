// GridFS arithmetic: chunk splitting, expected chunk sizes, seek positions,
// and reading files documents however they were decoded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, Binary, Double, Int32, Long, ObjectId } from 'bson';
import { MgoError } from '../../../src/errors.js';
import {
  chunkBytesOf,
  chunkCount,
  expectedChunkSize,
  filesDocument,
  seekPosition,
  splitChunks,
  storedFileOf,
} from '../../../src/session/grid-layout.js';

const bytes = (n: number, from = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) % 256));

function isCode(code: string) {
  return (err: unknown) => err instanceof MgoError && err.code === code;
}

describe('splitChunks', () => {
  test('less than a chunk stays buffered, as a copy of the caller\'s bytes', () => {
    const data = bytes(3);
    const { chunks, rest } = splitChunks(Buffer.alloc(0), data, 4);
    assert.deepEqual(chunks, []);
    assert.deepEqual(rest, bytes(3));
    data[0] = 99;
    assert.equal(rest[0], 0);
  });

  test('the buffered bytes complete the first chunk; whole chunks follow; the rest is kept', () => {
    const { chunks, rest } = splitChunks(bytes(3), bytes(10, 3), 4);
    assert.deepEqual(chunks, [bytes(4), bytes(4, 4), bytes(4, 8)]);
    assert.deepEqual(rest, bytes(1, 12));
    assert.deepEqual(Buffer.concat([...chunks, rest]), bytes(13));
  });

  test('an exact multiple leaves nothing buffered', () => {
    const { chunks, rest } = splitChunks(Buffer.alloc(0), bytes(8), 4);
    assert.equal(chunks.length, 2);
    assert.equal(rest.length, 0);
  });

  test('a view into a larger buffer splits from its own offset', () => {
    const backing = bytes(20);
    const view = backing.subarray(5, 14);
    const { chunks, rest } = splitChunks(Buffer.alloc(0), new Uint8Array(view.buffer, view.byteOffset, view.length), 4);
    assert.deepEqual(Buffer.concat([...chunks, rest]), bytes(9, 5));
  });
});

describe('chunk sizes', () => {
  test('count and the size each stored chunk must have', () => {
    assert.equal(chunkCount(0, 4), 0);
    assert.equal(chunkCount(8, 4), 2);
    assert.equal(chunkCount(9, 4), 3);
    assert.deepEqual([0, 1, 2, 3].map((n) => expectedChunkSize(n, 9, 4)), [4, 4, 1, 0]);
    assert.equal(expectedChunkSize(0, 0, 4), 0);
  });
});

describe('seekPosition', () => {
  test('whence 0, 1 and 2 count from the start, the position and the end', () => {
    assert.equal(seekPosition(5, 0, 3, 10), 5);
    assert.equal(seekPosition(-2, 1, 3, 10), 1);
    assert.equal(seekPosition(-4, 2, 3, 10), 6);
    assert.equal(seekPosition(0, 2, 3, 10), 10);
  });

  test('before the start, past the end, a bad whence or offset: ERR_INVALID_ARGUMENT', () => {
    assert.throws(() => seekPosition(11, 0, 0, 10), isCode('ERR_INVALID_ARGUMENT'));
    assert.throws(() => seekPosition(1, 2, 0, 10), /past the end/);
    assert.throws(() => seekPosition(-4, 1, 3, 10), /before the start/);
    assert.throws(() => seekPosition(0, 3, 0, 10), /whence/);
    assert.throws(() => seekPosition(1.5, 0, 0, 10), /integer/);
  });
});

describe('files documents', () => {
  const id = new ObjectId();
  const date = new Date(0);

  test('int32, int64 (Long or bigint) and double lengths read the same', () => {
    for (const length of [8, new Int32(8), Long.fromNumber(8), 8n, new Double(8)]) {
      assert.equal(storedFileOf({ _id: id, length, chunkSize: 4, uploadDate: date }).length, 8);
    }
  });

  test('raw BSON bytes decode', () => {
    const file = storedFileOf(BSON.serialize({ _id: id, length: 2, chunkSize: 4, uploadDate: date, filename: 'x', metadata: { a: 1 } }));
    assert.equal(file.filename, 'x');
    assert.deepEqual(file.metadata, { a: 1 });
    assert.equal(file.md5, '');
  });

  test('a missing or malformed field is ERR_GRIDFS_CORRUPT naming it', () => {
    assert.throws(() => storedFileOf({ _id: id, chunkSize: 4 }), (err) => isCode('ERR_GRIDFS_CORRUPT')(err) && /length is missing/.test((err as Error).message));
    assert.throws(() => storedFileOf({ _id: id, length: -1, chunkSize: 4 }), /length must be an integer >= 0/);
    assert.throws(() => storedFileOf({ _id: id, length: 5, chunkSize: 0 }), /chunkSize must be an integer >= 1/);
    assert.throws(() => storedFileOf({ _id: id, length: 5, chunkSize: 4, uploadDate: 'today' }), /uploadDate/);
    assert.throws(() => storedFileOf({ _id: id, length: 5, chunkSize: 4, filename: 3 }), /filename/);
    assert.throws(() => storedFileOf({ length: 5, chunkSize: 4 }), /_id is missing/);
  });

  test('the written document: spec field order, optional fields only when set, int64 beyond int32', () => {
    const base = { id, length: 3, chunkSize: 4, uploadDate: date, filename: '', contentType: '', metadata: undefined, md5: '' };
    assert.deepEqual(Object.keys(filesDocument(base)), ['_id', 'length', 'chunkSize', 'uploadDate']);
    const full = filesDocument({ ...base, filename: 'f', contentType: 'text/plain', metadata: { a: 1 }, md5: 'abc' });
    assert.deepEqual(Object.keys(full), ['_id', 'length', 'chunkSize', 'uploadDate', 'md5', 'filename', 'contentType', 'metadata']);
    const big = filesDocument({ ...base, length: 2 ** 32 });
    assert.ok(big.length instanceof Long);
    assert.equal(storedFileOf(BSON.deserialize(BSON.serialize(big))).length, 2 ** 32);
  });

  test('chunk data as a Binary or a Buffer; anything else is no data', () => {
    assert.deepEqual(chunkBytesOf(new Binary(bytes(3))), bytes(3));
    assert.deepEqual(chunkBytesOf(bytes(2)), bytes(2));
    assert.equal(chunkBytesOf('abc'), undefined);
    const decoded = BSON.deserialize(BSON.serialize({ data: bytes(5) }));
    assert.deepEqual(chunkBytesOf(decoded.data), bytes(5));
  });
});
