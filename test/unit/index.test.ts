// The package entry re-exports js-bson's classes (issue 14, item 11): the
// very objects the driver decodes with, so instanceof works in applications.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as bson from 'bson';
import * as entry from '../../src/index.js';

const CLASSES = [
  'BSON',
  'Binary',
  'BSONRegExp',
  'BSONSymbol',
  'BSONType',
  'Code',
  'DBRef',
  'Decimal128',
  'Double',
  'Int32',
  'Long',
  'MaxKey',
  'MinKey',
  'ObjectId',
  'Timestamp',
  'UUID',
] as const;

test('the package entry re-exports the BSON classes of the ES module build of js-bson', () => {
  for (const name of CLASSES) {
    assert.ok(name in entry, `${name} is exported`);
    assert.equal((entry as Record<string, unknown>)[name], bson[name], `${name} is the driver's copy`);
  }
});

test("a document the driver's BSON decodes is an instance of the exported classes, unlike the CommonJS build's", () => {
  const id = new entry.ObjectId();
  const decoded = entry.BSON.deserialize(entry.BSON.serialize({ _id: id, n: new entry.Int32(1) }), { promoteValues: false });
  assert.ok(decoded._id instanceof entry.ObjectId);
  assert.ok(decoded.n instanceof entry.Int32);
  // Why the re-export matters: require('bson') is another copy of the classes.
  const cjs = createRequire(import.meta.url)('bson') as typeof bson;
  assert.notEqual(cjs.ObjectId, entry.ObjectId);
  assert.equal(decoded._id instanceof cjs.ObjectId, false);
});
