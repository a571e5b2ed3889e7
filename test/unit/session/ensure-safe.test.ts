// Session.ensureSafe()'s merge (strongerSafe), case by case against mgo's
// session.go ensureSafe: each setting only ever gets stronger.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MgoError } from '../../../src/errors.js';
import { strongerSafe, type Safe } from '../../../src/session/write-concern.js';

const cases: [string, Safe | null, Safe | null, Safe | null][] = [
  ['null changes nothing', { w: 2, wTimeout: 100 }, null, { w: 2, wTimeout: 100 }],
  ['null stays null with null', null, null, null],
  ['unacknowledged takes the given safety whole', null, { w: 2, j: true }, { w: 2, j: true }],
  ['unacknowledged becomes acknowledged with {}', null, {}, {}],
  ['{} on an acknowledged session changes nothing', { w: 3, fsync: true }, {}, { w: 3, fsync: true }],
  ['a greater w wins', { w: 1 }, { w: 3 }, { w: 3 }],
  ['a smaller w does not', { w: 3 }, { w: 2 }, { w: 3 }],
  ['w is taken where there was none', {}, { w: 2 }, { w: 2 }],
  ['w never replaces a wMode', { wMode: 'majority' }, { w: 5 }, { wMode: 'majority' }],
  ['a wMode always wins, and drops w', { w: 5 }, { wMode: 'majority' }, { wMode: 'majority' }],
  ['a wMode replaces another', { wMode: 'majority' }, { wMode: 'dc' }, { wMode: 'dc' }],
  ['a shorter wTimeout wins', { w: 2, wTimeout: 1000 }, { wTimeout: 100 }, { w: 2, wTimeout: 100 }],
  ['a longer wTimeout does not', { w: 2, wTimeout: 100 }, { wTimeout: 1000 }, { w: 2, wTimeout: 100 }],
  ['no wTimeout (waiting for ever) is never shortened', { w: 2 }, { wTimeout: 100 }, { w: 2 }],
  ['fsync wins and replaces j', { j: true }, { fsync: true }, { fsync: true }],
  ['j is taken without fsync', { w: 2 }, { j: true }, { w: 2, j: true }],
  ['j adds nothing to fsync', { fsync: true }, { j: true }, { fsync: true }],
  ['false flags weaken nothing', { fsync: true, j: true }, { fsync: false, j: false }, { fsync: true, j: true }],
  ['an rMode always wins', { rMode: 'local' }, { rMode: 'majority' }, { rMode: 'majority' }],
  ['everything at once', { w: 1, wTimeout: 500, rMode: 'local' }, { w: 2, wTimeout: 200, j: true, rMode: 'majority' }, { w: 2, wTimeout: 200, j: true, rMode: 'majority' }],
];

for (const [name, current, wanted, expected] of cases) {
  test(`ensureSafe: ${name}`, () => {
    const before = current && { ...current };
    assert.deepEqual(strongerSafe(current, wanted), expected);
    assert.deepEqual(current, before, 'the current Safe is not changed in place');
  });
}

test('ensureSafe: an invalid Safe is refused as setSafe refuses it, naming ensureSafe', () => {
  assert.throws(() => strongerSafe({}, { w: -1 }), (err: MgoError) => err.code === 'ERR_INVALID_ARGUMENT' && err.message.startsWith('ensureSafe: '));
  assert.throws(() => strongerSafe({}, { wtimeout: 5 } as Safe), (err: MgoError) => err.code === 'ERR_INVALID_ARGUMENT' && /wtimeout/.test(err.message));
});
