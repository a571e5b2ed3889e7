// Bulk: grouping of queued operations, positions of failures, ordered and
// unordered runs, and mgo's BulkResult.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sequenceDocuments } from '../../../src/wire/op-msg.js';
import type { Document } from 'bson';
import { NetworkError } from '../../../src/errors.js';
import { BulkError, LastError, QueryError, isDup } from '../../../src/session/errors.js';
import { openSession } from '../../../src/session/session.js';
import { FakeRouter, commandName, type Handler } from '../../fixtures/fake-router.js';

function setup(handler: Handler = (r) => ({ n: sequenceDocuments(r.sequences![0]!).length })) {
  const router = new FakeRouter();
  for (const name of ['insert', 'update', 'delete']) router.on(name, handler);
  return { router, c: openSession(router).db('d').c('c') };
}

const sent = (router: FakeRouter) => router.requests.map((r) => [commandName(r), r.command.ordered, sequenceDocuments(r.sequences![0]!).length]);

describe('Bulk', () => {
  test('ordered: neighbours of the same kind share one command', async () => {
    const { router, c } = setup();
    const result = await c
      .bulk()
      .insert({ _id: 1 }, { _id: 2 })
      .update({ _id: 1 }, { $set: { a: 1 } })
      .updateAll({}, { $set: { b: 1 } })
      .upsert({ _id: 3 }, { $set: { a: 3 } })
      .insert({ _id: 4 })
      .remove({ _id: 1 })
      .removeAll({ a: 1 })
      .run();
    assert.deepEqual(sent(router), [
      ['insert', true, 2],
      ['update', true, 3],
      ['insert', true, 1],
      ['delete', true, 2],
    ]);
    assert.deepEqual(sequenceDocuments(router.requests[1]!.sequences![0]!), [
      { q: { _id: 1 }, u: { $set: { a: 1 } } },
      { q: {}, u: { $set: { b: 1 } }, multi: true },
      { q: { _id: 3 }, u: { $set: { a: 3 } }, upsert: true },
    ]);
    // matched counts updates and removals only, as mgo does.
    assert.deepEqual(result, { matched: 5, modified: 0 });
  });

  test('unordered: every operation of a kind goes in one command', async () => {
    const { router, c } = setup();
    await c.bulk().unordered().insert({ _id: 1 }).remove({ _id: 1 }).insert({ _id: 2 }).remove({ _id: 2 }).run();
    assert.deepEqual(sent(router), [
      ['insert', false, 2],
      ['delete', false, 2],
    ]);
  });

  test('failures are reported at the positions the operations were queued at', async () => {
    const { c } = setup((r) => {
      if (commandName(r) === 'insert') return { n: 1, writeErrors: [{ index: 1, code: 11000, errmsg: 'E11000 dup' }] };
      return { n: 0, writeErrors: [{ index: 0, code: 11000, errmsg: 'E11000 dup' }] };
    });
    const bulk = c.bulk().unordered().insert({ _id: 1 }).remove({ x: 1 }).insert({ _id: 1 });
    const err = await bulk.run().then(
      () => assert.fail('run should fail'),
      (e: unknown) => e as BulkError,
    );
    assert.ok(err instanceof BulkError);
    assert.equal(err.code, 'ERR_BULK');
    assert.deepEqual(
      err.cases().map((c) => [c.index, (c.err as QueryError).serverCode]),
      [
        [1, 11000],
        [2, 11000],
      ],
    );
    assert.equal(err.message, 'E11000 dup');
    assert.equal(isDup(err), true, 'every failure is a duplicate key');
  });

  test('ordered stops at the first failing command; the rest is not sent', async () => {
    const { router, c } = setup((r) => (commandName(r) === 'update' ? { n: 0, writeErrors: [{ index: 0, code: 2, errmsg: 'bad update' }] } : { n: 1 }));
    await assert.rejects(c.bulk().insert({ a: 1 }).update({ a: 1 }, { $bad: 1 }).insert({ b: 1 }).run(), (err: BulkError) => {
      assert.deepEqual(
        err.cases().map((c) => c.index),
        [1],
      );
      assert.equal(isDup(err), false);
      return true;
    });
    assert.deepEqual(sent(router), [
      ['insert', true, 1],
      ['update', true, 1],
    ]);
  });

  test('a failed command fails every operation it carried', async () => {
    const { router, c } = setup();
    router.failNext(new NetworkError('ERR_NETWORK', 'reset'), (r) => commandName(r) === 'delete');
    await assert.rejects(c.bulk().insert({ a: 1 }).remove({ a: 1 }, { a: 2 }).run(), (err: BulkError) => {
      assert.deepEqual(
        err.cases().map((c) => [c.index, c.err.message]),
        [
          [1, 'reset'],
          [2, 'reset'],
        ],
      );
      return true;
    });
  });

  test('a write concern error counts against every operation of its command', async () => {
    const { c } = setup(() => ({ n: 2, writeConcernError: { code: 64, errmsg: 'wtimeout', errInfo: { wtimeout: true } } }));
    await assert.rejects(c.bulk().insert({ a: 1 }, { a: 2 }).run(), (err: BulkError) => {
      const cases = err.cases();
      assert.deepEqual(
        cases.map((c) => c.index),
        [0, 1],
      );
      assert.ok(cases[0]!.err instanceof LastError && cases[0]!.err.wtimeout);
      return true;
    });
  });

  test('several distinct messages are listed; run() empties the queue', async () => {
    const messages: Document[] = [{ index: 0, code: 1, errmsg: 'first' }, { index: 1, code: 2, errmsg: 'second' }];
    const { router, c } = setup(() => ({ n: 0, writeErrors: messages }));
    const bulk = c.bulk().unordered().insert({ a: 1 }, { a: 2 });
    await assert.rejects(bulk.run(), { message: 'multiple errors in bulk operation:\n  - first\n  - second\n' });
    assert.deepEqual(await bulk.run(), { matched: 0, modified: 0 });
    assert.equal(router.requests.length, 1);
  });

  test('update pairs must come in twos', () => {
    const { c } = setup();
    assert.throws(() => c.bulk().update({ a: 1 }), { code: 'ERR_INVALID_ARGUMENT' });
  });
});
