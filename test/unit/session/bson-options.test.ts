// BSON decoding options at dial, per session and per query/pipe: what each
// operation asks the router to decode with, and the refusals.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openSession } from '../../../src/session/session.js';
import { FakeRouter, cursorReply } from '../../fixtures/fake-router.js';

/** The options the last `name` command asked for. */
function lastOf(router: FakeRouter, name: string) {
  return router.requests.filter((r) => Object.keys(r.command)[0] === name).at(-1)!.deserialize;
}

function setup(bson?: Record<string, boolean>) {
  const router = new FakeRouter();
  router.on('find', () => cursorReply('db.c', [{ a: 1 }], 5));
  router.on('getMore', () => cursorReply('db.c', [{ a: 2 }], 0, 'nextBatch'));
  router.on('aggregate', () => cursorReply('db.c', [{ a: 3 }]));
  router.on('distinct', () => ({ values: [1], ok: 1 }));
  const session = openSession(router, bson ? { bson } : {});
  return { router, session, c: session.db('db').c('c') };
}

describe('BSON options', () => {
  test("js-bson's defaults ask for nothing: no options object per operation", async () => {
    const { router, c } = setup({ promoteLongs: true, promoteValues: true, promoteBuffers: false, useBigInt64: false, bsonRegExp: false, raw: false });
    await c.find({}).one();
    assert.equal(router.requests[0]!.deserialize, undefined);
  });

  test('dial options, then the session, then the query: the most specific wins', async () => {
    const { router, session, c } = setup({ promoteLongs: false });
    await c.find({}).one();
    assert.deepEqual(lastOf(router, 'find'), { promoteLongs: false });
    session.setBSONOptions({ promoteBuffers: true });
    await c.find({}).one();
    assert.deepEqual(lastOf(router, 'find'), { promoteLongs: false, promoteBuffers: true });
    await c.find({}).bsonOptions({ promoteLongs: true, bsonRegExp: true }).one();
    assert.deepEqual(lastOf(router, 'find'), { promoteBuffers: true, bsonRegExp: true });
    await c.find({}).bsonOptions({ promoteValues: false }).distinct('a');
    assert.deepEqual(lastOf(router, 'distinct'), { promoteLongs: false, promoteValues: false, promoteBuffers: true });
    assert.deepEqual(session.copy().bsonOptions(), { promoteLongs: false, promoteBuffers: true }, 'copies inherit them');
  });

  test('raw leaves the documents of every batch of a cursor undecoded, getMore included; other replies are decoded', async () => {
    const { router, c } = setup();
    const iter = c.find({}).bsonOptions({ raw: true }).batch(1).iter();
    await iter.all();
    const kinds = router.requests.map((r) => [Object.keys(r.command)[0], r.deserialize]);
    assert.deepEqual(kinds.slice(0, 2), [
      ['find', { fieldsAsRaw: { firstBatch: true, nextBatch: true } }],
      ['getMore', { fieldsAsRaw: { firstBatch: true, nextBatch: true } }],
    ]);
    await c.pipe([]).bsonOptions({ raw: true }).all();
    assert.deepEqual(lastOf(router, 'aggregate'), { fieldsAsRaw: { firstBatch: true, nextBatch: true } });
    await c.find({}).bsonOptions({ raw: true }).distinct('a');
    assert.equal(lastOf(router, 'distinct'), undefined);
  });

  test('invalid values, unknown names and contradictory combinations are refused with ERR_INVALID_OPTION naming the option', () => {
    const { session, c } = setup();
    assert.throws(() => session.setBSONOptions({ promoteLongs: 'yes' as never }), { code: 'ERR_INVALID_OPTION', message: /promoteLongs/ });
    assert.throws(() => session.setBSONOptions({ promoteLong: true } as never), { code: 'ERR_INVALID_OPTION', message: /promoteLong/ });
    assert.throws(() => session.setBSONOptions({ useBigInt64: true, promoteValues: false }), { code: 'ERR_INVALID_OPTION', message: /useBigInt64/ });
    session.setBSONOptions({ promoteValues: false });
    assert.throws(() => c.find({}).bsonOptions({ useBigInt64: true }), { code: 'ERR_INVALID_OPTION', message: /useBigInt64=true needs/ });
    assert.throws(() => openSession(new FakeRouter(), { bson: { useBigInt64: true, promoteLongs: false } }), { code: 'ERR_INVALID_OPTION' });
  });
});
