// The Collation checks: the document sent, and what is refused before
// anything is sent (an unknown field, a missing locale, a value out of range).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MgoError } from '../../../src/errors.js';
import { collationDocument, type Collation } from '../../../src/session/collation.js';

test('every field of mgo Collation is sent under its server name; false flags are left out as mgo omitted them', () => {
  const all: Collation = {
    locale: 'de',
    caseLevel: true,
    caseFirst: 'lower',
    strength: 4,
    numericOrdering: true,
    alternate: 'shifted',
    maxVariable: 'punct',
    normalization: true,
    backwards: true,
  };
  assert.deepEqual(collationDocument('collation()', all), { ...all });
  assert.deepEqual(collationDocument('collation()', { locale: 'simple', caseLevel: false, backwards: false }), { locale: 'simple' });
});

test('invalid collations fail with ERR_INVALID_ARGUMENT naming the method and the field', () => {
  const bad: [unknown, RegExp][] = [
    [null, /Collation object/],
    [{}, /locale/],
    [{ locale: '' }, /locale/],
    [{ locale: 'en', Strength: 1 }, /unknown collation field 'Strength'/],
    [{ locale: 'en', strength: 6 }, /strength must be one of 1, 2, 3, 4, 5, got 6/],
    [{ locale: 'en', strength: '1' }, /strength/],
    [{ locale: 'en', caseFirst: 'UPPER' }, /caseFirst/],
    [{ locale: 'en', alternate: 'ignore' }, /alternate/],
    [{ locale: 'en', maxVariable: 'all' }, /maxVariable/],
    [{ locale: 'en', numericOrdering: 1 }, /numericOrdering must be a boolean/],
  ];
  for (const [collation, pattern] of bad) {
    assert.throws(
      () => collationDocument('Pipe.collation()', collation as Collation),
      (err: MgoError) => err.code === 'ERR_INVALID_ARGUMENT' && err.message.startsWith('Pipe.collation(): ') && pattern.test(err.message),
      JSON.stringify(collation),
    );
  }
});
