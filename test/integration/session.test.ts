// The mgo session API against the real test server (embedded FerretDB, or
// MONGODB_URI). Every method makes a round trip, and each operation runs
// twice on identical data: through this driver on one collection and
// through the official `mongodb` driver on another; the results must match.
// Where FerretDB lacks a command, the case is skipped naming the command
// and the server's error.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { MinKey, type Document } from 'bson';
import { MongoClient, type Collection as OfficialCollection, type Db } from 'mongodb';
import { ServerError } from '../../src/errors.js';
import { dial, dialWithInfo } from '../../src/session/dial.js';
import { BulkError, ErrNotFound, LastError, isDup } from '../../src/session/errors.js';
import type { Collection } from '../../src/session/collection.js';
import { Mode } from '../../src/session/modes.js';
import type { Session } from '../../src/session/session.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';

let server: TestServer;
let root: Session;
let official: MongoClient;
const dbName = `mgo_session_it_${process.pid}`;

before(async () => {
  server = await startTestServer();
  root = await dial(`${server.uri}${server.uri.includes('?') ? '&' : '?'}serverSelectionTimeoutMS=10000`, { appName: 'mgo-threads-session-it' });
  official = new MongoClient(server.uri, { directConnection: true, serverSelectionTimeoutMS: 10_000 });
  await official.connect();
});

after(async () => {
  await root?.db(dbName).dropDatabase().catch(() => {});
  await root?.close();
  await official?.close();
  await server?.stop();
});

/** Server codes meaning "this server does not do that". */
const UNSUPPORTED = new Set([59, 115, 238]); // CommandNotFound, CommandNotSupported, NotImplemented

/**
 * Runs `body`; when the server refuses `command` as unsupported, marks the
 * test skipped with the server's error and returns undefined.
 */
async function unlessUnsupported<T>(t: TestContext, command: string, body: () => Promise<T>): Promise<T | undefined> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof ServerError && UNSUPPORTED.has(err.serverCode)) {
      t.skip(`FerretDB lacks ${command}: ${err.message} (code ${err.serverCode})`);
      return undefined;
    }
    throw err;
  }
}

let pairCount = 0;
/** A fresh pair of identical collections: ours (this driver) and theirs (official driver), same documents. */
// Numeric _ids: the official driver's typings assume ObjectIds unless told otherwise.
type Theirs = OfficialCollection<any>;

async function pair(docs: Document[] = []): Promise<{ ours: Collection; theirs: Theirs; db: Db }> {
  const name = `c${++pairCount}`;
  const ours = root.db(dbName).c(`${name}_ours`);
  const db = official.db(dbName);
  const theirs: Theirs = db.collection(`${name}_theirs`);
  if (docs.length > 0) {
    await ours.insert(...docs.map((d) => ({ ...d })));
    await theirs.insertMany(docs.map((d) => ({ ...d })));
  }
  return { ours, theirs, db };
}

const byId = (a: Document, b: Document) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0);

/** Both collections hold the same documents. */
async function assertSameContents(ours: Collection, theirs: Theirs): Promise<void> {
  const mine = (await ours.find().all()).sort(byId);
  const others = (await theirs.find().toArray()).sort(byId);
  assert.deepEqual(mine, others);
}

const people: Document[] = [
  { _id: 1, name: 'ada', g: 1, n: 5, tags: ['x'] },
  { _id: 2, name: 'bob', g: 2, n: 3 },
  { _id: 3, name: 'cy', g: 1, n: 9 },
  { _id: 4, name: 'di', g: 2, n: 1 },
  { _id: 5, name: 'ed', g: 1, n: 7 },
  { _id: 6, name: 'flo', g: 3, n: 2 },
];

describe('Session', () => {
  test('dial returns a Strong session that pings, with live servers and stats', async () => {
    assert.equal(root.mode(), Mode.Strong);
    await root.ping();
    assert.deepEqual(root.liveServers(), [server.address]);
    const [stats] = root.stats();
    assert.equal(stats!.address, server.address);
    assert.ok(stats!.open >= 1);
  });

  test('dialWithInfo', async () => {
    const session = await dialWithInfo({ addrs: [server.address], timeoutMS: 10_000, readPreference: { mode: Mode.Monotonic }, database: dbName });
    try {
      assert.equal(session.mode(), Mode.Monotonic);
      assert.equal(session.db().name, dbName);
      await session.ping();
    } finally {
      await session.close();
    }
  });

  test('dial fails clearly when no server answers', async () => {
    await assert.rejects(dial('mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=200'), (err: Error & { code: string }) => {
      assert.match(err.code, /ERR_SERVER_SELECTION|ERR_SYNC_TIMEOUT/);
      return true;
    });
  });

  test('buildInfo matches the official driver', async () => {
    const ours = await root.buildInfo();
    const theirs = await official.db('admin').command({ buildInfo: 1 });
    assert.equal(ours.version, theirs.version);
    assert.equal(ours.versionArray.length >= 4, true);
    assert.ok(ours.versionAtLeast(ours.versionArray[0]!));
  });

  test('run and databaseNames', async () => {
    assert.equal((await root.run({ ping: 1 })).ok, 1);
    await root.db(dbName).c('names').insert({ _id: 1 });
    const ours = await root.databaseNames();
    const theirs = (await official.db('admin').admin().listDatabases({ nameOnly: true })).databases.map((d) => d.name).sort();
    assert.ok(ours.includes(dbName));
    assert.deepEqual(ours, theirs.filter((n) => ours.includes(n) || n === dbName));
  });

  test('copy, clone, new, refresh, modes, safety, timeouts and close', async () => {
    const session = root.copy();
    const clone = session.clone();
    const fresh = session.new();
    try {
      for (const s of [session, clone, fresh]) await s.ping();
      session.setMode(Mode.Monotonic, true);
      assert.equal(session.mode(), Mode.Monotonic);
      session.setMode(Mode.Eventual, false);
      session.refresh();
      session.setSafe({ w: 1, j: false, wTimeout: 1000 });
      assert.deepEqual(session.safe(), { w: 1, j: false, wTimeout: 1000 });
      session.setSocketTimeout(5000);
      session.setSyncTimeout(5000);
      session.setPoolLimit(100);
      await session.db(dbName).c('modes').insert({ _id: 1 });
      assert.equal(await session.db(dbName).c('modes').count(), 1);
    } finally {
      await session.close();
      await clone.close();
      await fresh[Symbol.asyncDispose]();
    }
    await assert.rejects(session.ping(), { code: 'ERR_SESSION_CLOSED' });
  });

  test('unacknowledged writes reach the server before the next read on the same socket', async () => {
    const session = root.copy();
    try {
      const c = session.db(dbName).c('unsafe');
      session.setSafe(null);
      await c.insert(...Array.from({ length: 50 }, (_, i) => ({ _id: i })));
      await c.insert({ _id: 0 }); // a duplicate: nobody hears of it
      session.setSafe({});
      assert.equal(await c.count(), 50);
    } finally {
      await session.close();
    }
  });

  test('a session recovers from a socket the server closed under it', async () => {
    const session = root.copy();
    try {
      const c = session.db(dbName).c('recover');
      await c.insert({ _id: 1 });
      // FerretDB 1.24 closes the connection when a document holds MinKey,
      // which it cannot store: a real server-side close of the reserved socket.
      await assert.rejects(c.insert({ _id: 2, bad: new MinKey() }), { code: 'ERR_CONNECTION_CLOSED' });
      assert.equal(await c.count(), 1, 'the next operation runs on a new socket');
      await c.insert({ _id: 3 });
      assert.equal(await c.count(), 2);
    } finally {
      await session.close();
    }
  });
});

describe('Database', () => {
  test('c, run, collectionNames, dropDatabase', async () => {
    const name = `${dbName}_drop`;
    const db = root.db(name);
    await db.c('b').insert({ _id: 1 });
    await db.c('a').insert({ _id: 1 });
    assert.equal((await db.run('ping')).ok, 1);
    const theirs = (await official.db(name).listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
    assert.deepEqual(await db.collectionNames(), theirs);
    assert.deepEqual(theirs, ['a', 'b']);
    await db.dropDatabase();
    assert.deepEqual(await db.collectionNames(), []);
  });
});

describe('Collection, compared with the official driver', () => {
  test('insert and find', async () => {
    const { ours, theirs } = await pair(people);
    await assertSameContents(ours, theirs);
    assert.deepEqual(await ours.findId(3).one(), await theirs.findOne({ _id: 3 }));
    await assert.rejects(ours.findId(99).one(), (err) => err === ErrNotFound);
    assert.equal(await theirs.findOne({ _id: 99 }), null);
  });

  test('query modifiers: sort, select, skip, limit, batch', async () => {
    const { ours, theirs } = await pair(people);
    const mine = await ours.find({ g: { $in: [1, 2] } }).sort('-n', 'name').select({ name: 1, n: 1 }).skip(1).limit(3).all();
    const others = await theirs.find({ g: { $in: [1, 2] } }).sort({ n: -1, name: 1 }).project({ name: 1, n: 1 }).skip(1).limit(3).toArray();
    assert.deepEqual(mine, others);
    assert.equal(mine.length, 3);
    const batched = await ours.find().sort('_id').batch(2).all();
    assert.deepEqual(batched, await theirs.find().sort({ _id: 1 }).batchSize(2).toArray());
  });

  test('hint, setMaxTime, comment', async (t) => {
    const { ours, theirs } = await pair(people);
    const mine = await unlessUnsupported(t, 'find with hint', () => ours.find({ g: 1 }).hint('_id').setMaxTime(5000).comment('it').sort('_id').all());
    if (!mine) return;
    assert.deepEqual(mine, await theirs.find({ g: 1 }).hint({ _id: 1 }).maxTimeMS(5000).comment('it').sort({ _id: 1 }).toArray());
  });

  test('iterating across batches; leaving early kills the cursor', async () => {
    const docs = Array.from({ length: 25 }, (_, i) => ({ _id: i, v: i * i }));
    const { ours, theirs } = await pair(docs);
    const seen: Document[] = [];
    for await (const doc of ours.find().sort('_id').batch(4)) seen.push(doc);
    assert.deepEqual(seen, await theirs.find().sort({ _id: 1 }).toArray());
    const iter = ours.find().sort('_id').batch(4).iter();
    assert.equal((await iter.next())!._id, 0);
    assert.equal(iter.cursorId.isZero(), false);
    await iter.close();
    assert.equal(iter.cursorId.isZero(), true);
    assert.equal(await iter.done(), true);
    let count = 0;
    for await (const _doc of ours.find().batch(3)) if (++count === 5) break;
    assert.equal(count, 5);
    // The session is still usable after the kills.
    assert.equal(await ours.count(), 25);
  });

  test('count and distinct', async () => {
    const { ours, theirs } = await pair(people);
    assert.equal(await ours.count(), await theirs.countDocuments());
    assert.equal(await ours.find({ g: 1 }).count(), await theirs.countDocuments({ g: 1 }));
    assert.equal(await ours.find({ g: 1 }).skip(1).limit(1).count(), await theirs.countDocuments({ g: 1 }, { skip: 1, limit: 1 }));
    const mine = (await ours.find({ n: { $gt: 1 } }).distinct<number>('g')).sort();
    const others = (await theirs.distinct('g', { n: { $gt: 1 } })).sort();
    assert.deepEqual(mine, others);
  });

  test('update, updateId, updateAll', async () => {
    const { ours, theirs } = await pair(people);
    await ours.update({ name: 'ada' }, { $set: { n: 50 } });
    await theirs.updateOne({ name: 'ada' }, { $set: { n: 50 } });
    await ours.updateId(2, { $push: { tags: 'y' } });
    await theirs.updateOne({ _id: 2 }, { $push: { tags: 'y' } } as Document);
    const info = await ours.updateAll({ g: 1 }, { $inc: { n: 1 } });
    const result = await theirs.updateMany({ g: 1 }, { $inc: { n: 1 } });
    assert.deepEqual(info, { updated: result.modifiedCount, removed: 0, matched: result.matchedCount });
    const none = await ours.updateAll({ g: 99 }, { $inc: { n: 1 } });
    assert.deepEqual(none, { updated: 0, removed: 0, matched: 0 });
    await assert.rejects(ours.update({ g: 99 }, { $set: { a: 1 } }), (err) => err === ErrNotFound);
    await assertSameContents(ours, theirs);
  });

  test('upsert and upsertId', async () => {
    const { ours, theirs } = await pair(people);
    const inserted = await ours.upsertId(100, { $set: { name: 'new' } });
    const official1 = await theirs.updateOne({ _id: 100 }, { $set: { name: 'new' } }, { upsert: true });
    assert.deepEqual(inserted, { updated: 0, removed: 0, matched: 0, upsertedId: official1.upsertedId });
    const updated = await ours.upsert({ name: 'new' }, { $set: { n: 1 } });
    const official2 = await theirs.updateOne({ name: 'new' }, { $set: { n: 1 } }, { upsert: true });
    assert.deepEqual(updated, { updated: official2.modifiedCount, removed: 0, matched: official2.matchedCount });
    await assertSameContents(ours, theirs);
  });

  test('remove, removeId, removeAll', async () => {
    const { ours, theirs } = await pair(people);
    await ours.remove({ g: 3 });
    await theirs.deleteOne({ g: 3 });
    await ours.removeId(1);
    await theirs.deleteOne({ _id: 1 });
    await assert.rejects(ours.removeId(1), (err) => err === ErrNotFound);
    const info = await ours.removeAll({ g: 2 });
    const result = await theirs.deleteMany({ g: 2 });
    assert.deepEqual(info, { updated: 0, removed: result.deletedCount, matched: result.deletedCount });
    await assertSameContents(ours, theirs);
  });

  test('apply: findAndModify update, upsert, remove', async (t) => {
    const { ours, theirs } = await pair(people);
    const bumped = await unlessUnsupported(t, 'findAndModify', () => ours.find({ g: 1 }).sort('n').apply({ update: { $inc: { n: 100 } }, returnNew: true }));
    if (!bumped) return;
    const theirBump = await theirs.findOneAndUpdate({ g: 1 }, { $inc: { n: 100 } }, { sort: { n: 1 }, returnDocument: 'after' });
    assert.deepEqual(bumped.doc, theirBump);
    assert.deepEqual(bumped.info, { updated: 1, removed: 0, matched: 1 });

    const before = await ours.find({ name: 'bob' }).apply({ update: { $set: { n: 0 } } });
    const theirBefore = await theirs.findOneAndUpdate({ name: 'bob' }, { $set: { n: 0 } });
    assert.deepEqual(before.doc, theirBefore);

    const upserted = await ours.find({ _id: 200 }).apply({ update: { $set: { name: 'up' } }, upsert: true, returnNew: true });
    const theirUpsert = await theirs.findOneAndUpdate({ _id: 200 }, { $set: { name: 'up' } }, { upsert: true, returnDocument: 'after' });
    assert.deepEqual(upserted.doc, theirUpsert);
    assert.equal(upserted.info.upsertedId, 200);

    const removed = await ours.find({ g: 3 }).apply({ remove: true });
    const theirRemoved = await theirs.findOneAndDelete({ g: 3 });
    assert.deepEqual(removed.doc, theirRemoved);
    assert.deepEqual(removed.info, { updated: 0, removed: 1, matched: 1 });

    await assert.rejects(ours.find({ g: 99 }).apply({ update: { $set: { a: 1 } } }), (err) => err === ErrNotFound);
    await assertSameContents(ours, theirs);
  });

  test('pipe: all, one, iter, batch, allowDiskUse', async (t) => {
    const { ours, theirs } = await pair(people);
    const pipeline = [{ $match: { n: { $gt: 1 } } }, { $group: { _id: '$g', total: { $sum: '$n' } } }, { $sort: { _id: 1 } }];
    const mine = await unlessUnsupported(t, 'aggregate', () => ours.pipe(pipeline).batch(1).all());
    if (!mine) return;
    assert.deepEqual(mine, await theirs.aggregate(pipeline, { batchSize: 1 }).toArray());
    assert.deepEqual(await ours.pipe(pipeline).one(), mine[0]);
    const viaIter: Document[] = [];
    for await (const doc of ours.pipe(pipeline).batch(1).iter()) viaIter.push(doc);
    assert.deepEqual(viaIter, mine);
    const disk = await unlessUnsupported(t, 'aggregate with allowDiskUse', () => ours.pipe(pipeline).allowDiskUse().all());
    if (disk) assert.deepEqual(disk, mine);
    await assert.rejects(ours.pipe([{ $match: { g: 99 } }]).one(), (err) => err === ErrNotFound);
  });

  test('bulk: ordered and unordered, with positions of failures', async () => {
    const { ours, theirs } = await pair(people);
    const result = await ours
      .bulk()
      .insert({ _id: 10, g: 4 }, { _id: 11, g: 4 })
      .update({ _id: 1 }, { $set: { n: 0 } })
      .updateAll({ g: 4 }, { $set: { n: 4 } })
      .upsert({ _id: 12 }, { $set: { g: 4 } })
      .remove({ _id: 2 })
      .removeAll({ g: 3 })
      .run();
    const theirResult = await theirs.bulkWrite([
      { insertOne: { document: { _id: 10, g: 4 } } },
      { insertOne: { document: { _id: 11, g: 4 } } },
      { updateOne: { filter: { _id: 1 }, update: { $set: { n: 0 } } } },
      { updateMany: { filter: { g: 4 }, update: { $set: { n: 4 } } } },
      { updateOne: { filter: { _id: 12 }, update: { $set: { g: 4 } }, upsert: true } },
      { deleteOne: { filter: { _id: 2 } } },
      { deleteMany: { filter: { g: 3 } } },
    ]);
    // mgo counts matched updates (upserts included) and removals.
    assert.deepEqual(result, {
      matched: theirResult.matchedCount + theirResult.upsertedCount + theirResult.deletedCount,
      modified: theirResult.modifiedCount,
    });
    await assertSameContents(ours, theirs);

    const err = await ours
      .bulk()
      .unordered()
      .insert({ _id: 20 }, { _id: 1 }, { _id: 21 }, { _id: 3 })
      .run()
      .then(
        () => assert.fail('the bulk should fail'),
        (e: unknown) => e as BulkError,
      );
    assert.ok(err instanceof BulkError);
    assert.deepEqual(
      err.cases().map((c) => c.index),
      [1, 3],
    );
    assert.equal(isDup(err), true);
    const theirErr = await theirs.insertMany([{ _id: 20 }, { _id: 1 }, { _id: 21 }, { _id: 3 }], { ordered: false }).catch((e: { writeErrors: { index: number; code: number }[] }) => e);
    assert.deepEqual(
      (theirErr as { writeErrors: { index: number; code: number }[] }).writeErrors.map((e) => [e.index, e.code]),
      err.cases().map((c) => [c.index, 11000]),
    );
    await assertSameContents(ours, theirs);
  });

  test('a duplicate insert is a LastError that isDup, stopping an ordered insert', async () => {
    const { ours, theirs } = await pair(people);
    const err = await ours.insert({ _id: 30 }, { _id: 1 }, { _id: 31 }).then(
      () => assert.fail('insert should fail'),
      (e: unknown) => e as LastError,
    );
    assert.ok(err instanceof LastError);
    assert.equal(err.serverCode, 11000);
    assert.ok(isDup(err));
    assert.deepEqual(
      err.cases().map((c) => c.index),
      [1],
    );
    await theirs.insertMany([{ _id: 30 }, { _id: 1 }, { _id: 31 }]).catch(() => {});
    await assertSameContents(ours, theirs);
  });

  test('invalid documents are refused before anything is sent', async () => {
    const { ours } = await pair(people);
    await assert.rejects(ours.insert({ _id: 40 }, { $bad: 1 }), { code: 'ERR_INVALID_DOCUMENT' });
    await assert.rejects(ours.insert({ _id: 41, ['a\0b']: 1 }), { code: 'ERR_INVALID_DOCUMENT' });
    await assert.rejects(ours.insert({ _id: 42, big: 'x'.repeat(16 * 1024 * 1024) }), { code: 'ERR_DOCUMENT_TOO_LARGE' });
    assert.equal(await ours.count(), people.length);
  });

  test('indexes: ensureIndex, ensureIndexKey, indexes, dropIndex', async (t) => {
    const { ours, theirs } = await pair(people);
    const made = await unlessUnsupported(t, 'createIndexes', async () => {
      await ours.ensureIndex({ key: ['name'], unique: true });
      await ours.ensureIndexKey('g', '-n');
      return true;
    });
    if (!made) return;
    await theirs.createIndex({ name: 1 }, { unique: true });
    await theirs.createIndex({ g: 1, n: -1 });
    const mine = await ours.indexes();
    const others = (await theirs.listIndexes().toArray()).sort((a, b) => (a.name < b.name ? -1 : 1));
    assert.deepEqual(
      mine.map((i) => i.name),
      others.map((i) => i.name),
    );
    assert.deepEqual(mine.find((i) => i.name === 'g_1_n_-1')!.key, ['g', '-n']);
    assert.equal(mine.find((i) => i.name === 'name_1')!.unique, true);
    await assert.rejects(ours.insert({ _id: 50, name: 'ada' }), (err) => isDup(err));
    await ours.dropIndex('g', '-n');
    assert.deepEqual(
      (await ours.indexes()).map((i) => i.name),
      ['_id_', 'name_1'],
    );
  });

  test('create, dropCollection', async (t) => {
    const db = root.db(dbName);
    const c = db.c('created');
    const made = await unlessUnsupported(t, 'create (capped)', async () => {
      await c.create({ capped: true, maxBytes: 1 << 20, maxDocs: 100 });
      return true;
    });
    if (made) {
      const [info] = await official.db(dbName).listCollections({ name: 'created' }).toArray();
      assert.equal((info as Document).options.capped, true);
    } else {
      await c.create();
    }
    assert.ok((await db.collectionNames()).includes('created'));
    await c.dropCollection();
    assert.ok(!(await db.collectionNames()).includes('created'));
  });
});
