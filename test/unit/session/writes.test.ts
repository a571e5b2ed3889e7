// Writes: the write concern each Safe sends, unacknowledged writes,
// splitting into batches, client-side document checks, LastError and
// ChangeInfo as mgo reports them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sequenceDocuments } from '../../../src/wire/op-msg.js';
import type { Document } from 'bson';
import { ErrNotFound, LastError, QueryError, isDup } from '../../../src/session/errors.js';
import { openSession } from '../../../src/session/session.js';
import { splitBatches } from '../../../src/session/write.js';
import { DEFAULT_WIRE_LIMITS } from '../../../src/wire/constants.js';
import { FakeRouter, type Handler } from '../../fixtures/fake-router.js';

const MAX_WRITE_BATCH_SIZE = DEFAULT_WIRE_LIMITS.maxWriteBatchSize;

function setup(handler?: Handler) {
  const router = new FakeRouter();
  if (handler) for (const name of ['insert', 'update', 'delete']) router.on(name, handler);
  const session = openSession(router);
  return { router, session, c: session.db('d').c('c') };
}

/** The documents of the OP_MSG sequence of a write request. */
function sequenceOf(router: FakeRouter, i: number): Document[] {
  return sequenceDocuments(router.requests[i]!.sequences![0]!);
}

describe('write concern', () => {
  const cases: [string, Parameters<ReturnType<typeof openSession>['setSafe']>[0], Document | undefined][] = [
    ['{} leaves the server default', {}, undefined],
    ['w', { w: 2 }, { w: 2 }],
    ['wMode wins over w', { w: 2, wMode: 'majority' }, { w: 'majority' }],
    ['wTimeout and j', { w: 1, wTimeout: 500, j: true }, { w: 1, j: true, wtimeout: 500 }],
    ['fsync is sent as j', { fsync: true }, { j: true }],
    ['w: 0 in a Safe is the default acknowledgement, as in mgo', { w: 0 }, undefined],
  ];
  for (const [name, safe, expected] of cases) {
    test(name, async () => {
      const { router, session, c } = setup(() => ({ n: 1 }));
      session.setSafe(safe);
      await c.insert({ a: 1 });
      assert.deepEqual(router.requests[0]!.command.writeConcern, expected);
      assert.notEqual(router.requests[0]!.moreToCome, true);
    });
  }

  test('setSafe(null): { w: 0 } with moreToCome, and no results', async () => {
    const { router, session, c } = setup(() => ({ n: 0 }));
    session.setSafe(null);
    assert.equal(session.safe(), null);
    await c.insert({ a: 1 });
    await c.update({ a: 1 }, { $set: { b: 1 } }); // no ErrNotFound: nothing is known
    await c.remove({ a: 2 });
    assert.equal(await c.updateAll({}, { $set: { b: 1 } }), undefined);
    assert.equal(await c.removeAll({}), undefined);
    assert.equal(router.requests.length, 5);
    for (const request of router.requests) {
      assert.equal(request.moreToCome, true);
      assert.deepEqual(request.command.writeConcern, { w: 0 });
    }
  });

  test('rMode becomes the readConcern of reads', async () => {
    const { router, session, c } = setup();
    session.setSafe({ rMode: 'majority' });
    await c.find({}).count();
    assert.deepEqual(router.requests[0]!.command.readConcern, { level: 'majority' });
  });

  test('safe() returns a copy; an invalid Safe is refused', () => {
    const { session } = setup();
    session.setSafe({ w: 3 });
    session.safe()!.w = 9;
    assert.deepEqual(session.safe(), { w: 3 });
    assert.throws(() => session.setSafe({ w: -1 }), { code: 'ERR_INVALID_ARGUMENT' });
    assert.throws(() => session.setSafe({ W: 1 } as never), { code: 'ERR_INVALID_ARGUMENT', message: /unknown field 'W'/ });
  });
});

describe('commands', () => {
  test('insert, update, delete statements as mgo sends them', async () => {
    const { router, c } = setup(() => ({ n: 1, nModified: 1 }));
    await c.insert({ _id: 1 }, { _id: 2 });
    await c.update({ _id: 1 }, { $set: { a: 1 } });
    await c.updateAll(null, { $set: { a: 2 } });
    await c.upsertId(3, { $set: { a: 3 } });
    await c.removeId(1);
    await c.removeAll({ a: 2 });
    assert.deepEqual(
      router.requests.map((r) => [r.command, r.sequences!.map((s) => [s.identifier, sequenceDocuments(s)])]),
      [
        [{ insert: 'c', ordered: true }, [['documents', [{ _id: 1 }, { _id: 2 }]]]],
        [{ update: 'c', ordered: true }, [['updates', [{ q: { _id: 1 }, u: { $set: { a: 1 } } }]]]],
        [{ update: 'c', ordered: true }, [['updates', [{ q: {}, u: { $set: { a: 2 } }, multi: true }]]]],
        [{ update: 'c', ordered: true }, [['updates', [{ q: { _id: 3 }, u: { $set: { a: 3 } }, upsert: true }]]]],
        [{ delete: 'c', ordered: true }, [['deletes', [{ q: { _id: 1 }, limit: 1 }]]]],
        [{ delete: 'c', ordered: true }, [['deletes', [{ q: { a: 2 }, limit: 0 }]]]],
      ],
    );
    assert.ok(router.requests.every((r) => r.db === 'd'));
  });

  test('insert() without documents is refused', async () => {
    const { router, c } = setup();
    await assert.rejects(c.insert(), { code: 'ERR_INVALID_ARGUMENT' });
    assert.equal(router.requests.length, 0);
  });
});

describe('results', () => {
  test('update() and remove() fail with ErrNotFound when nothing matched', async () => {
    const { c } = setup(() => ({ n: 0, nModified: 0 }));
    await assert.rejects(c.update({ a: 1 }, { $set: { b: 1 } }), (err) => err === ErrNotFound);
    await assert.rejects(c.removeId(7), (err: Error & { code: string }) => err === ErrNotFound && err.code === 'ERR_NOT_FOUND' && err.message === 'not found');
  });

  test('ChangeInfo of updateAll, upsert (updated and inserted) and removeAll', async () => {
    const replies: Document[] = [
      { n: 3, nModified: 2 },
      { n: 1, nModified: 0 },
      { n: 1, nModified: 0, upserted: [{ index: 0, _id: 'new' }] },
      { n: 4 },
    ];
    const { c } = setup(() => replies.shift()!);
    assert.deepEqual(await c.updateAll({}, { $set: { a: 1 } }), { updated: 2, removed: 0, matched: 3 });
    assert.deepEqual(await c.upsert({ a: 1 }, { $set: { a: 1 } }), { updated: 0, removed: 0, matched: 1 });
    assert.deepEqual(await c.upsert({ a: 2 }, { $set: { a: 2 } }), { updated: 0, removed: 0, matched: 0, upsertedId: 'new' });
    assert.deepEqual(await c.removeAll({}), { updated: 0, removed: 4, matched: 4 });
  });

  test('a write error is a LastError with the first error and every failed document', async () => {
    const { c } = setup(() => ({
      n: 1,
      writeErrors: [
        { index: 1, code: 11000, codeName: 'DuplicateKey', errmsg: 'E11000 duplicate key error' },
        { index: 2, code: 121, errmsg: 'Document failed validation', errInfo: { why: 1 } },
      ],
    }));
    const err = await c.insert({ _id: 1 }, { _id: 1 }, { _id: 'x' }).then(
      () => assert.fail('insert should fail'),
      (e: unknown) => e as LastError,
    );
    assert.ok(err instanceof LastError);
    assert.equal(err.code, 'ERR_WRITE');
    assert.equal(err.serverCode, 11000);
    assert.equal(err.codeName, 'DuplicateKey');
    assert.equal(err.message, 'E11000 duplicate key error');
    assert.equal(err.n, 1);
    assert.deepEqual(
      err.cases().map((c) => [c.index, (c.err as QueryError).serverCode]),
      [
        [1, 11000],
        [2, 121],
      ],
    );
    assert.equal(isDup(err), false, 'not every failure is a duplicate');
  });

  test('a write concern error is a LastError marked writeConcern, with wtimeout', async () => {
    const { c } = setup(() => ({ n: 1, nModified: 1, writeConcernError: { code: 64, codeName: 'WriteConcernFailed', errmsg: 'waiting for replication timed out', errInfo: { wtimeout: true } } }));
    await assert.rejects(c.update({ a: 1 }, { $set: { b: 1 } }), (err: LastError) => {
      assert.ok(err instanceof LastError);
      assert.equal(err.writeConcern, true);
      assert.equal(err.wtimeout, true);
      assert.equal(err.serverCode, 64);
      assert.equal(err.updatedExisting, true);
      assert.equal(err.updated, 1);
      return true;
    });
  });

  test('upsert() retries a duplicate key error, as mgo, up to 5 attempts', async () => {
    let calls = 0;
    const { c } = setup(() => {
      calls++;
      return calls < 3 ? { n: 0, writeErrors: [{ index: 0, code: 11000, errmsg: 'E11000' }] } : { n: 1, nModified: 1 };
    });
    assert.deepEqual(await c.upsert({ k: 1 }, { $inc: { n: 1 } }), { updated: 1, removed: 0, matched: 1 });
    assert.equal(calls, 3);
    calls = -10;
    await assert.rejects(c.upsert({ k: 1 }, { $inc: { n: 1 } }), (err) => isDup(err));
    assert.equal(calls, -5);
  });
});

describe('batches', () => {
  test('more than maxWriteBatchSize documents are split; positions stay those of the call', async () => {
    const { router, c } = setup((request) => {
      const docs = sequenceDocuments(request.sequences![0]!);
      // The very last document fails.
      return docs.length === 1 ? { n: 0, writeErrors: [{ index: 0, code: 11000, errmsg: 'dup' }] } : { n: docs.length };
    });
    const docs = Array.from({ length: MAX_WRITE_BATCH_SIZE + 1 }, (_, i) => ({ _id: i }));
    const err = await c.insert(...docs).then(
      () => assert.fail('insert should fail'),
      (e: unknown) => e as LastError,
    );
    assert.deepEqual(
      router.requests.map((r) => sequenceDocuments(r.sequences![0]!).length),
      [MAX_WRITE_BATCH_SIZE, 1],
    );
    assert.equal(err.n, MAX_WRITE_BATCH_SIZE);
    assert.deepEqual(
      err.cases().map((c) => c.index),
      [MAX_WRITE_BATCH_SIZE],
    );
  });

  test('batches are cut before 48 MB of documents', () => {
    const big = 15 * 1024 * 1024;
    // Only the sizes matter to splitting: zero-filled arrays of statement size, tagged in their first byte.
    const statements = Array.from({ length: 4 }, (_, i) => {
      const bytes = new Uint8Array(big);
      bytes[0] = i;
      return { bytes };
    });
    assert.deepEqual(
      splitBatches(statements, DEFAULT_WIRE_LIMITS).map((b) => b.map((s) => s.bytes[0])),
      [[0, 1, 2], [3]],
    );
  });

  test('an ordered write stops at the first batch that fails; the rest is not sent', async () => {
    const { router, c } = setup(() => ({ n: 0, writeErrors: [{ index: 0, code: 2, errmsg: 'bad' }] }));
    const docs = Array.from({ length: MAX_WRITE_BATCH_SIZE + 5 }, (_, i) => ({ _id: i }));
    await assert.rejects(c.insert(...docs), LastError);
    assert.equal(router.requests.length, 1);
    assert.equal(sequenceOf(router, 0).length, MAX_WRITE_BATCH_SIZE);
  });
});

describe("the servers' own limits (Router.limits())", () => {
  /** A session whose router reports these limits, as a server's hello reply would. */
  function limited(limits: Partial<typeof DEFAULT_WIRE_LIMITS>) {
    const setupResult = setup((request) => ({ n: sequenceDocuments(request.sequences![0]!).length }));
    setupResult.router.wireLimits = { ...DEFAULT_WIRE_LIMITS, ...limits };
    return setupResult;
  }
  const sent = (router: FakeRouter) => router.requests.map((r) => sequenceDocuments(r.sequences![0]!).map((d) => d._id));

  test('a smaller maxWriteBatchSize splits inserts, bulks and updates at that count', async () => {
    const { router, c } = limited({ maxWriteBatchSize: 2 });
    await c.insert({ _id: 1 }, { _id: 2 }, { _id: 3 }, { _id: 4 }, { _id: 5 });
    assert.deepEqual(sent(router), [[1, 2], [3, 4], [5]]);
    router.requests.length = 0;
    await c.bulk().unordered().update({ a: 1 }, { $set: { b: 1 } }, { a: 2 }, { $set: { b: 2 } }, { a: 3 }, { $set: { b: 3 } }).run();
    assert.deepEqual(
      router.requests.map((r) => sequenceDocuments(r.sequences![0]!).length),
      [2, 1],
    );
  });

  test('a smaller maxMessageSizeBytes cuts batches before that many bytes', async () => {
    // 64 KiB of each message is kept for the header and the command; about 2.5 documents of 1 KB fit in the rest.
    const { router, c } = limited({ maxMessageSizeBytes: 64 * 1024 + 2_500 });
    const docs = Array.from({ length: 5 }, (_, i) => ({ _id: i, pad: 'x'.repeat(1_000) }));
    await c.insert(...docs);
    assert.deepEqual(sent(router), [[0, 1], [2, 3], [4]]);
  });

  test('a smaller maxBsonObjectSize refuses a larger document before anything is sent', async () => {
    const { router, c } = limited({ maxBsonObjectSize: 1_000 });
    const big = { pad: 'x'.repeat(1_000) };
    const tooLarge = (err: unknown) => err instanceof Error && (err as { code?: string }).code === 'ERR_DOCUMENT_TOO_LARGE' && /over the limit of 1000 bytes/.test(err.message);
    await assert.rejects(c.insert({ a: 1 }, big), tooLarge);
    await assert.rejects(c.update({ a: 1 }, { $set: big }), tooLarge);
    await assert.rejects(c.remove(big), tooLarge);
    assert.throws(() => c.bulk().insert(big), tooLarge);
    await assert.rejects(c.find(big).apply({ update: { $set: { b: 1 } } }), tooLarge);
    assert.equal(router.requests.length, 0);
    await c.insert({ a: 1 }, { pad: 'x'.repeat(900) });
    assert.equal(router.requests.length, 1);
  });
});

describe('client-side document checks (nothing is sent)', () => {
  const cyclic: Document = { a: { b: {} } };
  cyclic.a.b.back = cyclic.a;
  const cases: [string, () => Promise<unknown>, string, RegExp][] = [
    ['a top-level $ key in an inserted document', () => c.insert({ ok: 1 }, { $set: { a: 1 } }), 'ERR_INVALID_DOCUMENT', /document 1 of the insert into d\.c has a top-level key '\$set'/],
    ['a NUL in a nested key', () => c.insert({ a: { 'b\0c': 1 } }), 'ERR_INVALID_DOCUMENT', /NUL character at 'a\.b\\0c'/],
    ['a cyclic document', () => c.insert(cyclic), 'ERR_INVALID_DOCUMENT', /is cyclic: 'a\.b\.back' refers back/],
    ['a cyclic selector', () => c.update(cyclic, { $set: { a: 1 } }), 'ERR_INVALID_DOCUMENT', /selector of update\(\) on d\.c is cyclic/],
    ['a document over 16 MiB', () => c.insert({ big: 'x'.repeat(16 * 1024 * 1024) }), 'ERR_DOCUMENT_TOO_LARGE', /16777\d+ bytes, over the limit of 16777216/],
    ['an array as a document', () => c.insert([1, 2] as never), 'ERR_INVALID_DOCUMENT', /must be a document/],
    ['a NUL key in a bulk operation', async () => c.bulk().insert({ ok: 1 }).upsert({ 'a\0': 1 }, { $set: { b: 1 } }).run(), 'ERR_INVALID_DOCUMENT', /operation 1 \(upsert\) of the bulk/],
  ];
  let router: FakeRouter;
  let c: ReturnType<typeof setup>['c'];
  for (const [name, run, code, message] of cases) {
    test(name, async () => {
      ({ router, c } = setup());
      await assert.rejects(run(), (err: Error & { code: string }) => {
        assert.equal(err.code, code);
        assert.match(err.message, message);
        return true;
      });
      assert.equal(router.requests.length, 0);
      assert.equal(router.reservations.length, 0);
    });
  }

  test('the same object twice (not a cycle) and $ keys below the top level are fine', async () => {
    ({ router, c } = setup(() => ({ n: 1 })));
    const shared = { x: 1 };
    await c.insert({ a: shared, b: shared, c: { $ref: 'c', $id: 1 } });
    assert.equal(router.requests.length, 1);
  });
});
