// Decoded documents handed across a real MessagePort with their BSON types:
// the result must be exactly BSON.deserialize(bytes, options), for the
// shared bench data, a typed 16 KB document, seeded random documents with
// every BSON type and hostile keys, under every option combination.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { serialize as v8Serialize } from 'node:v8';
import * as BSON from 'bson';
import { Binary, Long, ObjectId, UUID, type DeserializeOptions, type Document } from 'bson';
import { fromTypedClone, toTypedClone, type TypedClone } from '../../../src/worker/typed-clone.js';
import { assertExact, benchDocument, optionCombinations, prng, randomDocument, typedDocument } from '../../fixtures/bson-exact.js';

/** What the main thread gets: decoded in "the worker" (here), cloned through a real port, restored. */
function crossThread(bytes: Uint8Array, options: DeserializeOptions): Document {
  const { port1, port2 } = new MessageChannel();
  try {
    const clone = toTypedClone(BSON.deserialize(bytes, options));
    const pack = clone[1]?.[2];
    port1.postMessage(clone, pack ? [pack.buffer as ArrayBuffer] : []);
    const received = receiveMessageOnPort(port2);
    assert.ok(received, 'the clone arrived');
    return fromTypedClone(received.message as TypedClone);
  } finally {
    port1.close();
  }
}

/** Expected and actual for the same bytes and options; both throw alike for invalid option sets. */
function checkBytes(bytes: Uint8Array, options: DeserializeOptions): void {
  let expected: Document;
  try {
    expected = BSON.deserialize(bytes, options);
  } catch (error) {
    assert.throws(() => crossThread(bytes, options), { message: (error as Error).message });
    return;
  }
  assertExact(crossThread(bytes, options), expected);
}

function asReply(doc: Document): Uint8Array {
  return BSON.serialize({ cursor: { firstBatch: [doc], id: Long.fromNumber(123456789), ns: 'db.coll' }, ok: 1 });
}

describe('typed clone: BSON types survive the thread crossing', () => {
  const named: [string, () => Document][] = [
    ['flat_bson.json', () => benchDocument('flat_bson.json')],
    ['deep_bson.json', () => benchDocument('deep_bson.json')],
    ['full_bson.json', () => benchDocument('full_bson.json')],
    ['tweet.json', () => benchDocument('tweet.json')],
    ['small_doc.json', () => benchDocument('small_doc.json')],
    ['typed 16 KB document', () => typedDocument(16_384, (d) => BSON.calculateObjectSize(d))],
  ];
  for (const [name, make] of named) {
    test(`${name}: exact under every option combination`, () => {
      const bytes = asReply(make());
      for (const options of optionCombinations()) checkBytes(bytes, options);
    });
  }

  test('large_doc.json: exact with the default options', () => {
    checkBytes(asReply(benchDocument('large_doc.json')), {});
  });

  test('seeded random documents with every BSON type and hostile keys (300 seeds x 33 option sets)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const doc = randomDocument(prng(seed));
      let bytes: Uint8Array;
      try {
        bytes = BSON.serialize(doc);
      } catch {
        continue; // a generated key BSON refuses (none expected, but the generator is not the subject)
      }
      for (const options of optionCombinations()) {
        try {
          checkBytes(bytes, options);
        } catch (error) {
          throw new Error(`seed ${seed}, options ${JSON.stringify(options)}: ${(error as Error).message}`);
        }
      }
    }
  });

  test('"__proto__" stays an own data property and never becomes the prototype', () => {
    const bytes = BSON.serialize(Object.defineProperty({}, '__proto__', { value: { polluted: new ObjectId(), n: Long.fromNumber(2 ** 60) }, enumerable: true }));
    const out = crossThread(bytes, {});
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.ok(Object.hasOwn(out, '__proto__'));
    assert.ok((out as { __proto__: Document }).__proto__ !== Object.prototype);
    assert.equal(({} as Document).polluted, undefined);
    assertExact(out, BSON.deserialize(bytes));
  });

  test('DBRef-shaped subdocuments and a DBRef root come back as DBRef', () => {
    const doc = { ref: { $ref: 'things', $id: new ObjectId(), $db: 'app', extra: Long.fromNumber(2 ** 62) }, list: [{ $ref: 'a.b', $id: 7 }] };
    for (const options of optionCombinations()) checkBytes(BSON.serialize(doc), options);
    checkBytes(BSON.serialize({ $ref: 'root', $id: new ObjectId() }), {});
  });

  test('a multi-MB reply with many Binary and UUID values: the bytes that cross are bounded by the values, not the reply', () => {
    const docs: Document[] = [];
    for (let i = 0; i < 2_000; i++) docs.push({ i, bin: new Binary(Buffer.alloc(1024, i & 0xff)), uuid: new UUID(), pad: 'p'.repeat(400) });
    const bytes = BSON.serialize({ cursor: { firstBatch: docs, id: Long.ZERO, ns: 'db.c' }, ok: 1 });
    assert.ok(bytes.byteLength > 2_500_000, `reply is ${bytes.byteLength} bytes`);
    const clone = toTypedClone(BSON.deserialize(bytes));
    const crossing = v8Serialize(clone).byteLength;
    const typedBytes = 2_000 * (1024 + 16);
    // The tree (strings, numbers) plus each typed value's bytes once: never the reply once per Binary.
    assert.ok(crossing < bytes.byteLength * 1.2, `${crossing} bytes cross for a ${bytes.byteLength}-byte reply`);
    const pack = clone[1]![2]!;
    assert.equal(pack.byteLength, typedBytes, 'the pack holds each Binary and UUID once');
    assert.equal(pack.byteLength, pack.buffer.byteLength, 'the pack owns an exact-size buffer');
    checkBytes(bytes, {});
    checkBytes(bytes, { promoteBuffers: true });
  });

  test('values it cannot carry are refused, so the caller falls back to the BSON bytes', () => {
    class Foreign {
      x = 1;
    }
    assert.throws(() => toTypedClone({ a: new Foreign() }), /cannot carry a Foreign/);
    assert.throws(() => toTypedClone({ a: Long.fromNumber(5, true) }), /unsigned Long/);
  });
});

describe('typed clone: nested values that carry documents of their own', () => {
  test('a DBRef inside a DBRef, Code with scope inside Code with scope, side by side with plain values', () => {
    const { Code, DBRef, Long: L, ObjectId: O } = BSON;
    const inner = new DBRef('inner', new O(), 'db', { n: L.fromNumber(2 ** 60) });
    const outer = new DBRef('outer', new O(), undefined, { nested: inner, list: [new O(), new DBRef('third', new O())] });
    const code = new Code('f()', { a: new Code('g()', { b: new O(), c: L.fromNumber(2 ** 61) }), d: new BSON.MinKey() });
    const doc = { before: new O(), outer, code, after: L.fromNumber(2 ** 62), list: [outer, code, new O()] };
    for (const options of optionCombinations()) checkBytes(BSON.serialize(doc), options);
  });
});
