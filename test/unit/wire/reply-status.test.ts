// replyIsOk(): a reply's ok field read in place from its BSON bytes, as a
// worker does before handing the bytes to the main thread undecoded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as BSON from 'bson';
import { Binary, Decimal128, Double, Int32, Long, MinKey, ObjectId, Timestamp, type Document } from 'bson';
import { MalformedBSONError } from '../../../src/wire/bson.js';
import { replyHasField, replyIsOk } from '../../../src/wire/reply-status.js';

test('replyIsOk reads ok in place as okOf() reads it decoded', () => {
  const ok = (doc: Document) => replyIsOk(BSON.serialize(doc));
  assert.equal(ok({ ok: 1 }), true);
  assert.equal(ok({ ok: new Double(1) }), true);
  assert.equal(ok({ ok: new Int32(1) }), true);
  assert.equal(ok({ ok: Long.fromNumber(1) }), true);
  assert.equal(ok({ ok: true }), true);
  assert.equal(ok({ ok: 0, errmsg: 'no', code: 2 }), false);
  assert.equal(ok({ ok: false }), false);
  assert.equal(ok({ ok: 2 }), false);
  assert.equal(ok({ ok: '1' }), undefined, 'a string is no status');
  assert.equal(ok({ ok: null }), undefined, 'null is no status');
  assert.equal(ok({ n: 1 }), undefined, 'no ok field');
  assert.equal(ok({ okay: 1, ok: 0 }), false, 'a key that starts with ok is not ok');
  // ok after one of each variable-size type
  const before = {
    s: 'str',
    d: { x: 1 },
    a: [1, 2],
    b: new Binary(Buffer.from([1, 2, 3])),
    r: /x/g,
    oid: new ObjectId(),
    t: new Timestamp({ t: 1, i: 1 }),
    dec: Decimal128.fromString('1'),
    n: null,
    min: new MinKey(),
    date: new Date(),
    code: new BSON.Code('function () {}'),
    codeScope: new BSON.Code('function () {}', { a: 1 }),
    sym: new BSON.BSONSymbol('sym'),
  };
  assert.equal(ok({ ...before, ok: 1 }), true);
  assert.equal(ok({ ...before, ok: 0 }), false);
  const bytes = BSON.serialize({ a: 'x', ok: 1 });
  assert.throws(() => replyIsOk(bytes.subarray(0, bytes.byteLength - 1)), MalformedBSONError);
  const corrupt = new Uint8Array(bytes);
  corrupt[4] = 0x42; // unknown type byte
  assert.throws(() => replyIsOk(corrupt), MalformedBSONError);
});

test('replyHasField finds a top-level field by its whole name, never a nested one or a prefix', () => {
  const has = (doc: Document) => replyHasField(BSON.serialize(doc), 'writeConcernError');
  assert.equal(has({ ok: 1, n: 1, writeConcernError: { code: 64, errmsg: 'waiting for replication timed out' } }), true);
  assert.equal(has({ ok: 1, n: 1 }), false);
  assert.equal(has({ ok: 1, writeErrors: [{ index: 0, writeConcernError: {} }] }), false, 'nested');
  assert.equal(has({ ok: 1, writeConcern: {} }), false, 'a prefix of the name');
  assert.equal(has({ ok: 1, writeConcernErrors: {} }), false, 'a longer name');
});
