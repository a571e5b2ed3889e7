// Encoded documents: statements built around encoded parts are the bytes
// BSON.serialize gives for the same object, and an OP_MSG built from
// encoded sequences is byte for byte the one built from documents.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as BSON from 'bson';
import { Long, ObjectId } from 'bson';
import { MalformedBSONError, SERIALIZE_OPTIONS, checkBSON, concatBytes, encodeStatement, packedDocumentSizes, serializeRaw, topLevelDollarKey } from '../../../src/wire/bson.js';
import { encodeOpMsg, sequenceDocuments } from '../../../src/wire/op-msg.js';

const LIMITS = { maxBsonObjectSize: 16 * 1024 * 1024, maxMessageSizeBytes: 48_000_000 };

describe('encoded documents', () => {
  test('an update statement around encoded parts equals BSON.serialize of the same object', () => {
    const q = { _id: new ObjectId(), n: Long.fromNumber(2 ** 60) };
    const u = { $set: { 'a.b': 1, s: 'é😀' } };
    const pipeline = [{ $set: { x: 1 } }, { $unset: 'y' }];
    assert.deepEqual(
      encodeStatement([['q', serializeRaw(q), false], ['u', serializeRaw(u), false], ['upsert', true], ['multi', true]]),
      new Uint8Array(BSON.serialize({ q, u, upsert: true, multi: true }, SERIALIZE_OPTIONS)),
    );
    assert.deepEqual(encodeStatement([['q', serializeRaw(q), false], ['u', serializeRaw(pipeline), true]]), new Uint8Array(BSON.serialize({ q, u: pipeline })));
    assert.deepEqual(encodeStatement([['q', serializeRaw({}), false], ['limit', 0]]), new Uint8Array(BSON.serialize({ q: {}, limit: 0 })));
  });

  test('an OP_MSG from an encoded sequence is the one from its documents', () => {
    const docs = [{ _id: 1, a: 'x' }, { _id: 2, b: [1, 2, { c: new ObjectId() }] }];
    const body = { insert: 'c', ordered: true, $db: 'db' };
    const encoded = { identifier: 'documents', bytes: concatBytes(docs.map((d) => serializeRaw(d))), count: docs.length };
    const fromDocs = encodeOpMsg({ requestId: 7, body, sequences: [{ identifier: 'documents', documents: docs }] }, LIMITS);
    const fromBytes = encodeOpMsg({ requestId: 7, body, sequences: [encoded] }, LIMITS);
    assert.deepEqual(fromBytes, fromDocs);
    assert.deepEqual(sequenceDocuments(encoded), docs);
  });

  test('an encoded sequence whose lengths do not add up, or with a document over the limit, is refused before sending', () => {
    const one = serializeRaw({ a: 'x'.repeat(100) });
    assert.match(String(packedDocumentSizes(one, 2)), /document 1 is truncated/);
    assert.match(String(packedDocumentSizes(concatBytes([one, one]), 1)), /bytes follow the last/);
    assert.throws(() => encodeOpMsg({ requestId: 1, body: { insert: 'c' }, sequences: [{ identifier: 'documents', bytes: one, count: 1 }] }, { ...LIMITS, maxBsonObjectSize: 50 }), {
      reason: 'ERR_DOCUMENT_TOO_LARGE',
    });
  });

  test('concatBytes always copies into an exact-size buffer of its own', () => {
    const part = serializeRaw({ a: 1 });
    const out = concatBytes([part]);
    assert.notEqual(out.buffer, part.buffer);
    assert.equal(out.byteLength, out.buffer.byteLength);
    assert.deepEqual(out, new Uint8Array(part));
  });
});

describe('topLevelDollarKey', () => {
  test('finds the first top-level key starting with $ from the bytes, skipping every BSON type, as Object.keys would', async () => {
    const { prng, randomDocument, benchDocument } = await import('../../fixtures/bson-exact.js');
    const docs = [benchDocument('full_bson.json'), benchDocument('deep_bson.json'), benchDocument('tweet.json')];
    for (let seed = 1; seed <= 200; seed++) docs.push(randomDocument(prng(seed)));
    for (const doc of docs) {
      const bytes = serializeRaw(doc);
      const expected = Object.keys(doc).find((key) => key.startsWith('$'));
      assert.equal(topLevelDollarKey(bytes), expected);
      const withDollar = { ...doc, $set: { nested: { $inc: 1 } }, after: 1 };
      assert.equal(topLevelDollarKey(serializeRaw(withDollar)), expected ?? '$set');
    }
    assert.equal(topLevelDollarKey(serializeRaw({ a: { $b: 1 }, c: [{ $d: 2 }] })), undefined, 'nested $ keys are not top-level');
  });
});

describe('checkBSON', () => {
  test('accepts every document BSON.serialize writes, of every BSON type', async () => {
    const { prng, randomDocument, benchDocument } = await import('../../fixtures/bson-exact.js');
    const docs = [benchDocument('full_bson.json'), benchDocument('deep_bson.json'), benchDocument('tweet.json'), { s: 'é😀', code: new BSON.Code('f()', { a: 1 }), old: new BSON.Binary(Buffer.from([1, 2]), 2) }];
    for (let seed = 1; seed <= 200; seed++) docs.push(randomDocument(prng(seed)));
    for (const doc of docs) checkBSON(serializeRaw(doc));
  });

  test('refuses what a decoder refuses, saying what is wrong', () => {
    const refused = (bytes: Uint8Array, reason: RegExp) => assert.throws(() => checkBSON(bytes), (err: unknown) => err instanceof MalformedBSONError && reason.test(err.message));
    const at = (doc: BSON.Document, key: string) => {
      const bytes = Buffer.from(BSON.serialize(doc));
      return { bytes, valueAt: bytes.indexOf(Buffer.from(`${key}\0`)) + key.length + 1 };
    };
    const truncated = Buffer.from(BSON.serialize({ a: 1 }));
    refused(truncated.subarray(0, truncated.byteLength - 1), /bad document length/);
    const nested = at({ d: { x: 1 }, z: 1 }, 'd');
    nested.bytes.writeInt32LE(nested.bytes.readInt32LE(nested.valueAt) + 2, nested.valueAt);
    refused(nested.bytes, /bad document length|overruns|unterminated|unknown BSON type/);
    const type = at({ a: 1 }, 'a');
    type.bytes[type.valueAt - 3] = 0x42;
    refused(type.bytes, /unknown BSON type 0x42/);
    const utf8 = at({ s: 'ab' }, 's');
    utf8.bytes[utf8.valueAt + 5] = 0xc3;
    refused(utf8.bytes, /not valid UTF-8/);
    const unterminated = at({ s: 'ab' }, 's');
    unterminated.bytes[unterminated.valueAt + 6] = 0x41;
    refused(unterminated.bytes, /not NUL-terminated/);
    const empty = at({ s: 'ab' }, 's');
    empty.bytes.writeInt32LE(0, empty.valueAt);
    refused(empty.bytes, /string length out of bounds/);
    const bool = at({ b: true }, 'b');
    bool.bytes[bool.valueAt] = 2;
    refused(bool.bytes, /boolean byte/);
    const old = at({ o: new BSON.Binary(Buffer.from([1, 2]), 2) }, 'o');
    old.bytes.writeInt32LE(7, old.valueAt + 5);
    refused(old.bytes, /subtype 2 length/);
    const scope = at({ c: new BSON.Code('f()', { a: 1 }) }, 'c');
    scope.bytes.writeInt32LE(scope.bytes.readInt32LE(scope.valueAt + 4) - 1, scope.valueAt + 4);
    refused(scope.bytes, /.+/);
    let deep: BSON.Document = { x: 1 };
    for (let i = 0; i < 201; i++) deep = { d: deep };
    refused(BSON.serialize(deep), /nested deeper than 200/);
  });

  test('seeded mutations: whatever checkBSON accepts, js-bson decodes (but for a regex JavaScript cannot compile)', async () => {
    const { prng, randomDocument } = await import('../../fixtures/bson-exact.js');
    let accepted = 0;
    for (let seed = 1; seed <= 4000; seed++) {
      const random = prng(seed);
      const bytes = Buffer.from(serializeRaw(randomDocument(random, 2)));
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) bytes[Math.floor(random() * bytes.byteLength)] = Math.floor(random() * 256);
      try {
        checkBSON(bytes);
      } catch {
        continue;
      }
      accepted++;
      try {
        BSON.deserialize(bytes);
      } catch (err) {
        assert.match((err as Error).message, /regular expression|RegExp/, `seed ${seed}: checkBSON accepted bytes js-bson refuses`);
      }
    }
    assert.ok(accepted > 100, `enough mutations kept their structure to compare (${accepted})`);
  });
});
