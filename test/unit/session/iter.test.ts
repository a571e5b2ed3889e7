// Iterators: the find command, getMore on the cursor's server with the
// batch size, mgo's prefetch, limits, killCursors on close() and when a
// for-await loop is left early, cursor ids as Long.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Long, type Document } from 'bson';
import { NetworkError } from '../../../src/errors.js';
import { ErrNotFound } from '../../../src/session/errors.js';
import { Mode } from '../../../src/session/modes.js';
import { openSession } from '../../../src/session/session.js';
import { FakeRouter, REPLICA_SET, SECONDARY_ADDRESS, commandName, cursorReply } from '../../fixtures/fake-router.js';

const CURSOR_ID = Long.fromString('9007199254740993'); // beyond 2^53: must stay a Long

/** A server holding `total` documents { i }, served `batch` at a time (or as asked by batchSize). */
function cursorServer(total: number, options: { servers?: typeof REPLICA_SET } = {}) {
  const router = new FakeRouter(options);
  let next = 0;
  const take = (size: number | undefined) => {
    const docs = Array.from({ length: Math.min(size ?? 101, total - next) }, (_, k) => ({ i: next + k }));
    next += docs.length;
    return docs;
  };
  router.on('find', (request) => {
    const limit = request.command.limit as number | undefined;
    const docs = take(request.command.batchSize as number | undefined);
    const done = next >= total || (limit !== undefined && next >= limit) || request.command.singleBatch;
    return cursorReply('d.c', docs, done ? 0 : CURSOR_ID);
  });
  router.on('getMore', (request) => {
    assert.ok(Long.isLong(request.command.getMore), 'getMore cursor id must be a Long');
    assert.ok((request.command.getMore as Long).equals(CURSOR_ID));
    const docs = take(request.command.batchSize as number | undefined);
    return cursorReply('d.c', docs, next >= total ? 0 : CURSOR_ID, 'nextBatch');
  });
  const session = openSession(router);
  return { router, session, c: session.db('d').c('c') };
}

const names = (router: FakeRouter) => router.requests.map(commandName);

describe('find', () => {
  test('the find command carries the query modifiers', async () => {
    const { router, c } = cursorServer(0);
    await c.find({ a: 1 }).sort('-b', '+c', '$textScore:s').select({ a: 1 }).skip(2).limit(5).hint('-b').setMaxTime(100).comment('hi').all();
    assert.deepEqual(router.requests[0]!.command, {
      find: 'c',
      filter: { a: 1 },
      sort: { b: -1, c: 1, s: { $meta: 'textScore' } },
      projection: { a: 1 },
      hint: { b: -1 },
      skip: 2,
      limit: 5,
      // CRUD spec: a batchSize equal to the limit goes as limit + 1 (the server then closes the cursor).
      batchSize: 6,
      comment: 'hi',
      maxTimeMS: 100,
    });
  });

  test('one() asks for a single document in a single batch; ErrNotFound when there is none', async () => {
    const { router, c } = cursorServer(3);
    assert.deepEqual(await c.find().one(), { i: 0 });
    assert.deepEqual(router.requests[0]!.command, { find: 'c', limit: 1, singleBatch: true });
    const empty = cursorServer(0);
    await assert.rejects(empty.c.findId(1).one(), (err) => err === ErrNotFound);
    assert.deepEqual(empty.router.requests[0]!.command.filter, { _id: 1 });
  });

  test('an empty sort field is refused', () => {
    const { c } = cursorServer(0);
    assert.throws(() => c.find().sort('-'), { code: 'ERR_INVALID_ARGUMENT' });
  });
});

describe('Iter', () => {
  test('all() fetches every batch with getMore on the cursor server, with the batch size', async () => {
    const { router, c } = cursorServer(10, { servers: REPLICA_SET });
    const docs = await c.find().batch(4).all();
    assert.deepEqual(
      docs.map((d) => d.i),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.deepEqual(names(router), ['find', 'getMore', 'getMore']);
    for (const getMore of router.requestsNamed('getMore')) {
      assert.deepEqual({ ...getMore.command, getMore: 'id' }, { getMore: 'id', collection: 'c', batchSize: 4 });
      assert.equal(getMore.db, 'd');
    }
  });

  test('getMore goes to the cursor server even when the session reserves nothing', async () => {
    const router = new FakeRouter({ servers: REPLICA_SET });
    let id = CURSOR_ID;
    router.on('find', () => cursorReply('d.c', [{ i: 0 }], id));
    router.on('getMore', () => ((id = Long.ZERO), cursorReply('d.c', [{ i: 1 }], 0, 'nextBatch')));
    const session = openSession(router, { mode: Mode.Eventual });
    const docs = await session.db('d').c('c').find().all();
    assert.equal(docs.length, 2);
    const [find, getMore] = router.requests;
    assert.equal(find!.reservation, undefined);
    assert.equal(getMore!.address, SECONDARY_ADDRESS, 'the server the find ran on');
    assert.equal(getMore!.reservation, undefined);
  });

  test('a reserved session runs getMore on its own socket when the cursor is there', async () => {
    const { router, c } = cursorServer(4);
    await c.find().batch(2).all();
    const [find, getMore] = router.requests;
    assert.equal(getMore!.reservation, find!.reservation);
  });

  test("prefetch: getMore goes out once fewer than 0.25 x batch documents are left, before they are read", async () => {
    const { router, c } = cursorServer(16);
    const iter = c.find().batch(8).iter();
    const got: number[] = [];
    const getMoresAt: number[] = [];
    for (let k = 0; k < 8; k++) {
      got.push((await iter.next())!.i);
      getMoresAt.push(router.requestsNamed('getMore').length);
    }
    // floor(0.25 * 8) = 2: the getMore is sent when the 7th document is read (1 left < 2).
    assert.deepEqual(getMoresAt, [0, 0, 0, 0, 0, 0, 1, 1]);
    await iter.close();
  });

  test('an unread iterator holds at most one prefetched batch: nothing more is fetched until it is read', async () => {
    const { router, c } = cursorServer(10_000);
    const iter = c.find().batch(100).prefetch(0.5).iter();
    // Read past the prefetch threshold of the first batch: one getMore goes out.
    for (let k = 0; k < 60; k++) await iter.next();
    const settle = async () => {
      for (let t = 0; t < 20; t++) await new Promise((r) => setImmediate(r));
    };
    await settle();
    assert.equal(router.requestsNamed('getMore').length, 1);
    // The reader stops: however long it waits, no further batch is fetched.
    await settle();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(router.requestsNamed('getMore').length, 1, 'a slow reader does not make the iterator buffer more');
    // Reading on past the next threshold fetches exactly one more.
    for (let k = 0; k < 100; k++) await iter.next();
    await settle();
    assert.equal(router.requestsNamed('getMore').length, 2);
    await iter.close();
  });

  test('prefetch(0) fetches only when the buffer is empty', async () => {
    const { router, c } = cursorServer(6);
    const iter = c.find().batch(3).prefetch(0).iter();
    for (let k = 0; k < 3; k++) await iter.next();
    assert.equal(router.requestsNamed('getMore').length, 0);
    await iter.next();
    assert.equal(router.requestsNamed('getMore').length, 1);
    await iter.close();
  });

  test('close() kills an open cursor with its id as a Long, once', async () => {
    const { router, c } = cursorServer(10);
    const iter = c.find().batch(4).prefetch(0).iter();
    await iter.next();
    assert.ok(iter.cursorId.equals(CURSOR_ID));
    await iter.close();
    await iter.close();
    const kills = router.requestsNamed('killCursors');
    assert.equal(kills.length, 1);
    assert.equal(kills[0]!.command.killCursors, 'c');
    const [id] = kills[0]!.command.cursors as Long[];
    assert.ok(Long.isLong(id) && id.equals(CURSOR_ID));
    assert.ok(iter.cursorId.isZero());
    assert.equal(await iter.next(), undefined);
  });

  test('an exhausted cursor is not killed', async () => {
    const { router, c } = cursorServer(3);
    const iter = c.find().batch(2).iter();
    for await (const _doc of iter) void _doc;
    await iter.close();
    assert.deepEqual(names(router), ['find', 'getMore']);
  });

  test('leaving a for-await loop early kills the cursor', async () => {
    const { router, c } = cursorServer(10);
    let seen = 0;
    for await (const doc of c.find().batch(4).prefetch(0)) {
      seen++;
      if (doc.i === 1) break;
    }
    assert.equal(seen, 2);
    assert.deepEqual(names(router), ['find', 'killCursors']);
  });

  test('an exception inside for-await also kills the cursor', async () => {
    const { router, c } = cursorServer(10);
    await assert.rejects(async () => {
      for await (const _doc of c.find().batch(4).iter()) throw new Error('stop');
    }, /stop/);
    assert.deepEqual(names(router), ['find', 'killCursors']);
  });

  test('limit: getMore asks only for what is left, and the cursor ends at the limit', async () => {
    const { router, c } = cursorServer(100);
    const docs = await c.find().limit(7).batch(3).all();
    assert.equal(docs.length, 7);
    assert.deepEqual(
      router.requestsNamed('getMore').map((r) => r.command.batchSize),
      [3, 1],
    );
    assert.equal(router.requestsNamed('killCursors').length, 1, 'the fake server keeps the cursor open past the limit');
  });

  test('a getMore error: buffered documents first, then next() ends and err()/close() report it', async () => {
    const { router, c } = cursorServer(10);
    router.failNext(new NetworkError('ERR_NETWORK', 'reset'), (r) => commandName(r) === 'getMore');
    const iter = c.find().batch(4).iter();
    const got: Document[] = [];
    for (let doc = await iter.next(); doc; doc = await iter.next()) got.push(doc);
    assert.equal(got.length, 4);
    assert.equal(iter.err()?.message, 'reset');
    assert.equal(await iter.done(), true);
    await assert.rejects(iter.close(), /reset/);
    await assert.rejects(iter.close(), /reset/, 'close() reports the same error every time');
  });

  test('for-await throws the iteration error', async () => {
    const { router, c } = cursorServer(10);
    router.failNext(new NetworkError('ERR_NETWORK', 'reset'), (r) => commandName(r) === 'getMore');
    let seen = 0;
    await assert.rejects(async () => {
      for await (const _doc of c.find().batch(4)) seen++;
    }, /reset/);
    assert.equal(seen, 4);
  });

  test('done() is false while documents are buffered, true at the end', async () => {
    const { c } = cursorServer(2);
    const iter = c.find().iter();
    assert.equal(await iter.done(), false);
    await iter.next();
    await iter.next();
    assert.equal(await iter.done(), true);
    assert.equal(iter.err(), undefined);
    assert.equal(iter.timeout(), false);
  });

  test('count() and distinct()', async () => {
    const router = new FakeRouter();
    router.on('count', () => ({ n: 42 }));
    router.on('distinct', () => ({ values: [1, 2] }));
    const c = openSession(router).db('d').c('c');
    assert.equal(await c.find({ a: 1 }).skip(1).limit(10).count(), 42);
    assert.deepEqual(await c.find({ a: 1 }).distinct('b'), [1, 2]);
    assert.deepEqual(router.commands(), [
      { count: 'c', query: { a: 1 }, limit: 10, skip: 1 },
      { distinct: 'c', key: 'b', query: { a: 1 } },
    ]);
  });
});

describe('Pipe', () => {
  test('aggregate with a cursor, batch size and allowDiskUse; getMore like find', async () => {
    const router = new FakeRouter();
    router.on('aggregate', () => cursorReply('d.c', [{ x: 1 }], CURSOR_ID));
    router.on('getMore', () => cursorReply('d.c', [{ x: 2 }], 0, 'nextBatch'));
    const c = openSession(router).db('d').c('c');
    const docs = await c.pipe([{ $match: {} }]).batch(1).allowDiskUse().setMaxTime(50).all();
    assert.deepEqual(docs, [{ x: 1 }, { x: 2 }]);
    assert.deepEqual(router.commands('aggregate'), [{ aggregate: 'c', pipeline: [{ $match: {} }], cursor: { batchSize: 1 }, allowDiskUse: true, maxTimeMS: 50 }]);
  });

  test('one() closes the cursor; ErrNotFound on no result', async () => {
    const router = new FakeRouter();
    router.on('aggregate', (r) => cursorReply('d.c', r.command.pipeline.length > 0 ? [{ x: 1 }] : [], r.command.pipeline.length > 0 ? CURSOR_ID : 0));
    const c = openSession(router).db('d').c('c');
    assert.deepEqual(await c.pipe([{ $match: {} }]).one(), { x: 1 });
    assert.deepEqual(names(router), ['aggregate', 'killCursors']);
    await assert.rejects(c.pipe([]).one(), (err) => err === ErrNotFound);
  });

  test('a pipeline ending in $out runs on the primary with the write concern', async () => {
    const router = new FakeRouter({ servers: REPLICA_SET });
    router.on('aggregate', () => cursorReply('d.c', []));
    const session = openSession(router, { mode: Mode.Eventual, safe: { w: 2 } });
    await session.db('d').c('c').pipe([{ $out: 'other' }]).all();
    assert.equal(router.requests[0]!.readPreference.mode, 'primary');
    assert.deepEqual(router.requests[0]!.command.writeConcern, { w: 2 });
  });
});
