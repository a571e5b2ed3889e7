// The unified runner's matcher (test/fixtures/unified/matcher.ts) on the
// cases of "Evaluating Matches" that the format's valid-pass and valid-fail
// files leave out: each special operator matching and not matching, extra
// keys at the root and below it, flexible numbers, exact outcome equality.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { Binary, Double, Int32, Long, ObjectId, UUID } from 'bson';
import { MatchError, exactlyEqual, match, type MatchEntities } from '../fixtures/unified/matcher.js';
import { UnifiedFormatError } from '../fixtures/unified/skip.js';
import { parseExtendedJson, schemaSupported } from '../fixtures/unified/spec-files.js';
import { compareVersions, parseVersion, versionOfWireVersion } from '../fixtures/unified/version.js';

const lsid = { id: new UUID('01234567-89ab-cdef-0123-456789abcdef').toBinary() };
const entities: MatchEntities = {
  bsonEntity: (name) => (name === 'oid0' ? new ObjectId('5f0000000000000000000000') : assert.fail(`no entity ${name}`)),
  sessionLsid: (name) => (name === 'session0' ? lsid : assert.fail(`no session ${name}`)),
};

const ok = (expected: unknown, actual: unknown, root = true) => match(expected, actual, { entities }, root);
const no = (expected: unknown, actual: unknown, root = true) => assert.throws(() => ok(expected, actual, root), MatchError);

describe('unified matcher', () => {
  test('root-level documents may carry extra keys, nested ones may not', () => {
    ok({ x: 1 }, { x: 1, y: 1 });
    no({ x: { y: 1 } }, { x: { y: 1, z: 1 } });
    no({ x: 1, y: 1 }, { x: 1 });
    ok([{ x: 1 }], [{ x: 1, y: 2 }], true);
    no([{ x: 1 }], [{ x: 1, y: 2 }], false);
    no([1, 2], [1, 2, 3]);
  });

  test('numbers compare by value across int32, int64 and double', () => {
    ok({ n: 1 }, { n: new Double(1) });
    ok({ n: Long.fromNumber(5) }, { n: 5 });
    ok({ n: new Int32(7) }, { n: Long.fromNumber(7) });
    no({ n: 1 }, { n: 1.5 });
    no({ n: 1 }, { n: '1' });
  });

  test('$$exists', () => {
    ok({ a: { $$exists: true } }, { a: null });
    no({ a: { $$exists: true } }, {});
    ok({ a: { $$exists: false } }, { b: 1 });
    no({ a: { $$exists: false } }, { a: 0 });
  });

  test('$$type, with aliases and lists', () => {
    ok({ a: { $$type: 'objectId' } }, { a: new ObjectId() });
    ok({ a: { $$type: ['int', 'long'] } }, { a: Long.fromNumber(3) });
    ok({ a: { $$type: 'number' } }, { a: 2.5 });
    ok({ a: { $$type: 'binData' } }, { a: new Binary(Buffer.from('ab')) });
    no({ a: { $$type: 'string' } }, { a: 1 });
    no({ a: { $$type: 'int' } }, { a: 2.5 });
    no({ a: { $$type: 'string' } }, {});
    assert.throws(() => ok({ a: { $$type: 'nonsense' } }, { a: 1 }), UnifiedFormatError);
  });

  test('$$unsetOrMatches, at a key and for a whole result', () => {
    ok({ a: { $$unsetOrMatches: 2 } }, {});
    ok({ a: { $$unsetOrMatches: 2 } }, { a: 2 });
    no({ a: { $$unsetOrMatches: 2 } }, { a: 3 });
    ok({ $$unsetOrMatches: { insertedId: 1 } }, undefined);
    no({ $$unsetOrMatches: { insertedId: 1 } }, { insertedId: 2 });
  });

  test('$$matchesEntity and $$sessionLsid', () => {
    ok({ _id: { $$matchesEntity: 'oid0' } }, { _id: new ObjectId('5f0000000000000000000000') });
    no({ _id: { $$matchesEntity: 'oid0' } }, { _id: new ObjectId() });
    ok({ lsid: { $$sessionLsid: 'session0' } }, { lsid: { id: lsid.id } });
    no({ lsid: { $$sessionLsid: 'session0' } }, { lsid: { id: new UUID().toBinary() } });
  });

  test('$$matchesHexBytes', () => {
    ok({ data: { $$matchesHexBytes: '12AB' } }, { data: Buffer.from([0x12, 0xab]) });
    ok({ data: { $$matchesHexBytes: '' } }, { data: new Binary(Buffer.alloc(0)) });
    no({ data: { $$matchesHexBytes: '12ab' } }, { data: Buffer.from([0x12]) });
    assert.throws(() => ok({ data: { $$matchesHexBytes: '123' } }, { data: Buffer.alloc(0) }), UnifiedFormatError);
  });

  test('$$lte', () => {
    ok({ n: { $$lte: 5 } }, { n: 5 });
    ok({ n: { $$lte: 1 } }, { n: 0.0 });
    no({ n: { $$lte: 1 } }, { n: 1.1 });
    no({ n: { $$lte: 1 } }, {});
  });

  test('the outcome check is exact: no extra keys, no operators, key order free', () => {
    exactlyEqual([{ _id: 1, x: 2 }], [{ x: 2, _id: 1 }]);
    assert.throws(() => exactlyEqual([{ _id: 1 }], [{ _id: 1, x: 2 }]), MatchError);
    assert.throws(() => exactlyEqual([{ _id: 1 }], []), MatchError);
  });
});

describe('unified file reading', () => {
  test('schema versions: 1.x up to the supported minor run, others are rejected', () => {
    assert.equal(schemaSupported('1.0'), true);
    assert.equal(schemaSupported('1.28'), true);
    assert.equal(schemaSupported('1.29'), false);
    assert.equal(schemaSupported('0.1'), false);
    assert.equal(schemaSupported('2.0'), false);
    assert.equal(schemaSupported(1), false);
  });

  test('version strings compare by component; wire version 21 counts as 7.0', () => {
    assert.ok(compareVersions(parseVersion('4.0.10'), parseVersion('4.0.9')) > 0);
    assert.equal(compareVersions(parseVersion('4.2'), parseVersion('4.2.0')), 0);
    assert.ok(compareVersions(parseVersion('4.9.0-alpha4-271-g7d5cf02'), parseVersion('4.9.1')) < 0);
    assert.deepEqual(versionOfWireVersion(21), [7, 0, 0]);
  });

  test('Extended JSON keeps $numberLong and $numberDouble types', () => {
    const doc = parseExtendedJson('{"a": {"$numberLong": "9223372036854775807"}, "b": {"$numberDouble": "1.0"}, "c": {"$oid": "5f0000000000000000000000"}, "d": 1}') as Record<string, unknown>;
    assert.ok(Long.isLong(doc.a));
    assert.equal((doc.a as Long).toString(), '9223372036854775807');
    assert.ok(doc.b instanceof Double);
    assert.ok(doc.c instanceof ObjectId);
    assert.equal(doc.d, 1);
  });
});
