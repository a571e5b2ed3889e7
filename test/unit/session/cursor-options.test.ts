// What mgo's cursor settings put on the wire, against a fake router:
// Query.tail() (tailable + awaitData, getMores with maxTimeMS of at most
// MAX_AWAIT_MS, timeout()), Session.setCursorTimeout(0) (noCursorTimeout),
// and negative batch sizes (one batch, then the cursor is closed).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Long, type Document } from 'bson';
import { openSession } from '../../../src/session/session.js';
import { MAX_AWAIT_MS } from '../../../src/session/iter.js';
import { FakeRouter, commandName, cursorReply } from '../../fixtures/fake-router.js';

const CURSOR_ID = Long.fromNumber(77);

/**
 * A server whose cursors stay open after the first batch: find and aggregate
 * answer `first`, each getMore the next of `more`; once `more` is drained a
 * getMore ends the cursor, unless `tailable` (then it answers empty).
 */
function openCursorServer(first: Document[], more: Document[][] = [], tailable = false) {
  const router = new FakeRouter();
  const opening = () => cursorReply('d.c', first, CURSOR_ID);
  router.on('find', opening).on('aggregate', opening).on('listIndexes', opening);
  router.on('getMore', () => {
    const batch = more.shift();
    return cursorReply('d.c', batch ?? [], batch === undefined && !tailable ? 0 : CURSOR_ID, 'nextBatch');
  });
  const session = openSession(router);
  return { router, session, c: session.db('d').c('c') };
}

const names = (router: FakeRouter) => router.requests.map(commandName);

describe('Query.tail', { timeout: 20_000 }, () => {
  test('the find is tailable and awaitData and asks for no document; getMores ask for the batch and wait at most MAX_AWAIT_MS', async () => {
    const { router, c } = openCursorServer([], [[], [{ n: 1 }]], true);
    const iter = c.find({ n: { $gt: 0 } }).batch(5).tail(-1);
    assert.deepEqual(await iter.next(), { n: 1 });
    assert.deepEqual(router.commands('find'), [{ find: 'c', filter: { n: { $gt: 0 } }, batchSize: 0, tailable: true, awaitData: true }]);
    // tail(-1): the first getMore came back empty, and next() asked again.
    assert.deepEqual(router.commands('getMore'), [
      { getMore: CURSOR_ID, collection: 'c', batchSize: 5, maxTimeMS: MAX_AWAIT_MS },
      { getMore: CURSOR_ID, collection: 'c', batchSize: 5, maxTimeMS: MAX_AWAIT_MS },
    ]);
    await iter.close();
    assert.equal(router.commands('killCursors').length, 1);
  });

  test('tail(0): one getMore with the shortest await, then timeout(); the next next() asks again', async () => {
    const { router, c } = openCursorServer([{ n: 1 }], [[], [{ n: 2 }]], true);
    const iter = c.find().tail(0);
    assert.deepEqual(await iter.next(), { n: 1 });
    assert.equal(await iter.next(), undefined);
    assert.equal(iter.timeout(), true);
    assert.equal(iter.err(), undefined);
    assert.deepEqual(
      router.commands('getMore').map((g) => g.maxTimeMS),
      [1],
    );
    // done() does not wait for new documents on an open tailable cursor.
    assert.equal(await iter.done(), false);
    assert.equal(router.commands('getMore').length, 1);
    assert.deepEqual(await iter.next(), { n: 2 });
    assert.equal(iter.timeout(), false);
    await iter.close();
  });

  test('a wait longer than MAX_AWAIT_MS is a loop of getMores; the session socket timeout counts after each await', async () => {
    const router = new FakeRouter();
    router.on('find', () => cursorReply('d.c', [], CURSOR_ID));
    // The server holds an empty getMore for its maxTimeMS, as awaitData does.
    router.on('getMore', async (request) => {
      await new Promise((resolve) => setTimeout(resolve, request.command.maxTimeMS as number));
      return cursorReply('d.c', [], CURSOR_ID, 'nextBatch');
    });
    const session = openSession(router);
    session.setSocketTimeout(50);
    const iter = session.db('d').c('c').find().tail(1.5 * MAX_AWAIT_MS);
    assert.equal(await iter.next(), undefined);
    assert.equal(iter.err(), undefined, 'no socket timeout during the await');
    assert.equal(iter.timeout(), true);
    const waits = router.commands('getMore').map((g) => g.maxTimeMS as number);
    assert.equal(waits[0], MAX_AWAIT_MS);
    for (const ms of waits.slice(1)) assert.ok(ms >= 1 && ms <= MAX_AWAIT_MS / 2, `a later getMore waits for what is left of the 1.5 s: ${ms}`);
    await iter.close();
  });

  test('a cursor the server ended (id 0) is not a timeout', async () => {
    const router = new FakeRouter();
    router.on('find', () => cursorReply('d.c', [{ n: 1 }], CURSOR_ID));
    router.on('getMore', () => cursorReply('d.c', [], 0, 'nextBatch'));
    const iter = openSession(router).db('d').c('c').find().tail(-1);
    assert.deepEqual(await iter.next(), { n: 1 });
    assert.equal(await iter.next(), undefined);
    assert.equal(iter.timeout(), false);
    assert.equal(await iter.done(), true);
  });
});

describe('Session.setCursorTimeout', { timeout: 20_000 }, () => {
  test('0 puts noCursorTimeout on finds, of this session and of copies and clones made after; not on pipes', async () => {
    const { router, session, c } = openCursorServer([]);
    const before = session.copy();
    session.setCursorTimeout(0);
    for (const s of [session, session.copy(), session.clone()]) await s.db('d').c('c').find({ a: 1 }).iter().close();
    await before.db('d').c('c').find().iter().close();
    await c.pipe([]).iter().close();
    const finds = router.commands('find');
    assert.deepEqual(
      finds.map((f) => f.noCursorTimeout),
      [true, true, true, undefined],
    );
    assert.equal(router.commands('aggregate')[0]!.noCursorTimeout, undefined);
  });

  test('any other value throws ERR_INVALID_ARGUMENT naming the method (mgo panics)', () => {
    const { session } = openCursorServer([]);
    for (const ms of [1, -1, 600_000, Number.NaN]) {
      assert.throws(() => session.setCursorTimeout(ms), { code: 'ERR_INVALID_ARGUMENT', message: /setCursorTimeout/ });
    }
  });
});

describe('negative batch sizes', { timeout: 20_000 }, () => {
  test('Query.batch(-n): one batch of at most n (singleBatch), no getMore; a cursor the server left open is killed', async () => {
    const { router, c } = openCursorServer([{ i: 0 }, { i: 1 }], [[{ i: 2 }]]);
    assert.deepEqual(await c.find().batch(-2).all(), [{ i: 0 }, { i: 1 }]);
    assert.deepEqual(router.commands('find'), [{ find: 'c', batchSize: 2, singleBatch: true }]);
    assert.deepEqual(names(router), ['find', 'killCursors']);
  });

  test('a later batch(n) replaces batch(-n), as in mgo', async () => {
    const { router, c } = openCursorServer([]);
    await c.find().batch(-2).batch(3).iter().close();
    assert.deepEqual(router.commands('find'), [{ find: 'c', batchSize: 3 }]);
  });

  test('Session.setBatch(-n) makes finds and pipes single-batch; listings take it as n and read every batch', async () => {
    const { router, session, c } = openCursorServer([{ i: 0 }], [[{ i: 1 }]]);
    session.setBatch(-1);
    assert.deepEqual(await c.find().all(), [{ i: 0 }]);
    assert.deepEqual(router.commands('find'), [{ find: 'c', batchSize: 1, singleBatch: true }]);
    assert.deepEqual(await c.pipe([{ $match: {} }]).all(), [{ i: 0 }]);
    assert.deepEqual(router.commands('aggregate')[0]!.cursor, { batchSize: 1 });
    assert.equal(router.commands('getMore').length, 0);
    assert.equal(router.commands('killCursors').length, 2);
    router.on('listIndexes', () => cursorReply('d.c', [{ v: 2, key: { _id: 1 }, name: '_id_' }], CURSOR_ID));
    router.on('getMore', () => cursorReply('d.c', [{ v: 2, key: { a: 1 }, name: 'a_1' }], 0, 'nextBatch'));
    const indexes = await c.indexes();
    assert.deepEqual(
      indexes.map((i) => i.name),
      ['_id_', 'a_1'],
    );
    assert.deepEqual(router.commands('listIndexes')[0]!.cursor, { batchSize: 1 });
  });

  test('Pipe.batch(-n): cursor.batchSize n, the first batch only', async () => {
    const { router, c } = openCursorServer([{ i: 0 }, { i: 1 }], [[{ i: 2 }]]);
    assert.deepEqual(await c.pipe([]).batch(-2).all(), [{ i: 0 }, { i: 1 }]);
    assert.deepEqual(router.commands('aggregate')[0]!.cursor, { batchSize: 2 });
    assert.deepEqual(names(router), ['aggregate', 'killCursors']);
  });
});
