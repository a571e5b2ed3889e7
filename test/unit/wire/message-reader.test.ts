import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageReader } from '../../../src/wire/message-reader.js';
import { DecodeError } from '../../../src/wire/decode-error.js';
import { encodeReply } from '../../fixtures/fake-server.js';

const frames = [encodeReply(1, { a: 1 }), encodeReply(2, { b: 'x'.repeat(300) }), encodeReply(3, { c: [1, 2, 3] })];
const stream = Buffer.concat(frames);

function responseTos(list: Buffer[]): number[] {
  return list.map((f) => f.readInt32LE(8));
}

describe('MessageReader', () => {
  test('reassembles frames fed one byte at a time', () => {
    const reader = new MessageReader(48_000_000);
    const out: Buffer[] = [];
    for (let i = 0; i < stream.byteLength; i++) out.push(...reader.push(stream.subarray(i, i + 1)));
    assert.deepEqual(responseTos(out), [1, 2, 3]);
    assert.deepEqual(Buffer.concat(out), stream);
    assert.equal(reader.pendingBytes, 0);
  });

  test('splits many frames delivered in one chunk', () => {
    const reader = new MessageReader(48_000_000);
    const out = reader.push(stream);
    assert.deepEqual(responseTos(out), [1, 2, 3]);
    out.forEach((frame, i) => assert.deepEqual(frame, frames[i]));
  });

  test('handles every split point of a two-frame stream', () => {
    const two = Buffer.concat(frames.slice(0, 2));
    for (let cut = 1; cut < two.byteLength; cut++) {
      const reader = new MessageReader(48_000_000);
      const out = [...reader.push(two.subarray(0, cut)), ...reader.push(two.subarray(cut))];
      assert.deepEqual(responseTos(out), [1, 2], `cut at ${cut}`);
    }
  });

  test('keeps a partial frame until the rest arrives', () => {
    const reader = new MessageReader(48_000_000);
    assert.deepEqual(reader.push(stream.subarray(0, 10)), []);
    assert.equal(reader.pendingBytes, 10);
  });

  for (const [name, length] of [
    ['negative', -5],
    ['zero', 0],
    ['smaller than a header', 12],
    ['header only', 16],
    ['over maxMessageSizeBytes', 48_000_001],
  ] as const) {
    test(`rejects a ${name} length prefix`, () => {
      const reader = new MessageReader(48_000_000);
      const bad = Buffer.alloc(8);
      bad.writeInt32LE(length, 0);
      assert.throws(
        () => reader.push(bad),
        (err: unknown) => err instanceof DecodeError && err.reason === 'ERR_PROTOCOL' && err.message.includes(`invalid message length ${length}`),
      );
    });
  }

  test('rejects a bad length split across 1-byte chunks', () => {
    const reader = new MessageReader(1000);
    const bad = Buffer.alloc(4);
    bad.writeInt32LE(5000, 0);
    assert.deepEqual(reader.push(bad.subarray(0, 1)), []);
    assert.deepEqual(reader.push(bad.subarray(1, 3)), []);
    assert.throws(() => reader.push(bad.subarray(3)), /over maxMessageSizeBytes 1000/);
  });

  test('does not allocate from an untrusted length: a 40 MB claim with 64 bytes sent holds 64 bytes', () => {
    const reader = new MessageReader(48_000_000);
    const claim = Buffer.alloc(64);
    claim.writeInt32LE(40_000_000, 0);
    const before = process.memoryUsage().arrayBuffers;
    assert.deepEqual(reader.push(claim), []);
    assert.equal(reader.pendingBytes, 64);
    assert.ok(process.memoryUsage().arrayBuffers - before < 1_000_000);
  });
});
