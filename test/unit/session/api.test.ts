// The rest of the API over the fake router: isDup, apply() (findAndModify)
// and its ChangeInfo, indexes, collections and databases, buildInfo, and
// how dial options become the first session's settings.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'bson';
import { ServerError } from '../../../src/errors.js';
import { resolveOptions } from '../../../src/uri/resolve.js';
import { dial, dialWithInfo } from '../../../src/session/dial.js';
import { fromDialInfo, sessionOptionsOf } from '../../../src/session/dial-info.js';
import { BulkError, ErrNotFound, LastError, QueryError, isDup } from '../../../src/session/errors.js';
import { indexFromSpec, indexSpec, parseIndexKey } from '../../../src/session/indexes.js';
import { Mode } from '../../../src/session/modes.js';
import { openSession } from '../../../src/session/session.js';
import { FakeRouter, cursorReply } from '../../fixtures/fake-router.js';

describe('isDup', () => {
  const dupCase = (index: number) => ({ index, err: new QueryError('E11000', 11000, 'DuplicateKey') });
  const lastError = (serverCode: number, message = 'x', cases: { index: number; err: Error }[] = []) =>
    new LastError({ message, serverCode, n: 0, updated: 0, updatedExisting: false, cases });
  const cases: [string, unknown, boolean][] = [
    ['QueryError 11000', new QueryError('E11000', 11000, undefined), true],
    ['ServerError 11001', new ServerError('dup', 11001, undefined), true],
    ['ServerError 12582', new ServerError('dup', 12582, undefined), true],
    ['ServerError 2', new ServerError('bad', 2, undefined), false],
    ['LastError 11000 without cases', lastError(11000), true],
    ['LastError 16460 wrapping E11000 (old mongos)', lastError(16460, 'x E11000 duplicate'), true],
    ['LastError 16460 otherwise', lastError(16460, 'other'), false],
    ['LastError whose cases are all duplicates', lastError(11000, 'x', [dupCase(0), dupCase(3)]), true],
    ['LastError with one other failure', lastError(11000, 'x', [dupCase(0), { index: 1, err: new QueryError('bad', 2, undefined) }]), false],
    ['BulkError of duplicates', new BulkError([dupCase(0), dupCase(1)], { matched: 0, modified: 0 }), true],
    ['BulkError with another failure', new BulkError([dupCase(0), { index: 1, err: new Error('x') }], { matched: 0, modified: 0 }), false],
    ['BulkError without cases', new BulkError([], { matched: 0, modified: 0 }), false],
    ['ErrNotFound', ErrNotFound, false],
    ['a plain Error', new Error('E11000'), false],
    ['not an error', 11000, false],
  ];
  for (const [name, err, expected] of cases) test(name, () => assert.equal(isDup(err), expected));
});

describe('apply (findAndModify)', () => {
  function setup(reply: Document | ((r: Document) => Document)) {
    const router = new FakeRouter();
    router.on('findAndModify', (r) => (typeof reply === 'function' ? reply(r.command) : reply));
    return { router, c: openSession(router, { safe: { w: 1 } }).db('d').c('c') };
  }

  test('the command, with sort, fields and the write concern, on the primary', async () => {
    const { router, c } = setup({ value: { _id: 1, n: 2 }, lastErrorObject: { n: 1, updatedExisting: true } });
    const result = await c.find({ _id: 1 }).sort('-n').select({ n: 1 }).apply({ update: { $inc: { n: 1 } }, returnNew: true });
    assert.deepEqual(router.requests[0]!.command, {
      findAndModify: 'c',
      query: { _id: 1 },
      sort: { n: -1 },
      fields: { n: 1 },
      update: { $inc: { n: 1 } },
      new: true,
      writeConcern: { w: 1 },
    });
    assert.deepEqual(result, { info: { updated: 1, removed: 0, matched: 1 }, doc: { _id: 1, n: 2 } });
  });

  test('ChangeInfo of a removal and of an upsert', async () => {
    const removed = setup({ value: { _id: 1 }, lastErrorObject: { n: 1 } });
    assert.deepEqual((await removed.c.find({ _id: 1 }).apply({ remove: true })).info, { updated: 0, removed: 1, matched: 1 });
    assert.equal(removed.router.requests[0]!.command.remove, true);
    const upserted = setup({ value: null, lastErrorObject: { n: 1, updatedExisting: false, upserted: 'id9' } });
    assert.deepEqual(await upserted.c.find({ k: 1 }).apply({ update: { $set: { k: 1 } }, upsert: true }), {
      info: { updated: 0, removed: 0, matched: 0, upsertedId: 'id9' },
      doc: undefined,
    });
  });

  test('nothing matched: ErrNotFound', async () => {
    const { c } = setup({ value: null, lastErrorObject: { n: 0, updatedExisting: false } });
    await assert.rejects(c.find({ _id: 1 }).apply({ update: { $set: { a: 1 } } }), (err) => err === ErrNotFound);
  });

  test('a write concern error is a LastError', async () => {
    const { c } = setup({ value: { _id: 1 }, lastErrorObject: { n: 1, updatedExisting: true }, writeConcernError: { code: 64, errmsg: 'timed out' } });
    await assert.rejects(c.find({ _id: 1 }).apply({ update: { $set: { a: 1 } } }), (err: LastError) => err instanceof LastError && err.writeConcern && err.n === 1);
  });
});

describe('indexes', () => {
  test('mgo key notation: names and key documents', () => {
    assert.deepEqual(parseIndexKey(['a', '-b', '+c']), { name: 'a_1_b_-1_c_1', key: { a: 1, b: -1, c: 1 }, weights: undefined });
    assert.deepEqual(parseIndexKey(['$2dsphere:loc']), { name: 'loc_2dsphere', key: { loc: '2dsphere' }, weights: undefined });
    assert.deepEqual(parseIndexKey(['@pos']), { name: 'pos_2d', key: { pos: '2d' }, weights: undefined });
    assert.deepEqual(parseIndexKey(['$text:title', '$text:body']), { name: 'title_text_body_text', key: { _fts: 'text', _ftsx: 1 }, weights: { title: 1, body: 1 } });
    for (const bad of [[], [''], ['-'], ['$text'], ['$:x'], ['$text:-x']]) assert.throws(() => parseIndexKey(bad), { code: 'ERR_INVALID_ARGUMENT' }, JSON.stringify(bad));
  });

  test('the createIndexes spec and back', () => {
    const spec = indexSpec({ key: ['a', '-b'], unique: true, sparse: true, expireAfterSeconds: 60, name: 'custom' });
    assert.deepEqual(spec, { key: { a: 1, b: -1 }, name: 'custom', unique: true, sparse: true, expireAfterSeconds: 60 });
    assert.deepEqual(indexFromSpec({ v: 2, ...spec }), { name: 'custom', key: ['a', '-b'], unique: true, sparse: true, expireAfterSeconds: 60 });
    assert.deepEqual(indexFromSpec({ v: 2, key: { _fts: 'text', _ftsx: 1 }, name: 't', weights: { body: 3 }, textIndexVersion: 3, default_language: 'english' }), {
      name: 't',
      key: ['$text:body'],
      weights: { body: 3 },
      defaultLanguage: 'english',
    });
    assert.throws(() => indexSpec({ key: ['a'], sparse: true, partialFilter: { a: 1 } }), { code: 'ERR_INVALID_ARGUMENT' });
  });

  test('ensureIndex, indexes, dropIndex commands', async () => {
    const router = new FakeRouter();
    router.on('listIndexes', () => cursorReply('d.c', [{ v: 2, key: { b: -1 }, name: 'b_-1' }, { v: 2, key: { _id: 1 }, name: '_id_' }]));
    const c = openSession(router).db('d').c('c');
    await c.ensureIndexKey('a', '-b');
    assert.deepEqual(await c.indexes(), [
      { name: '_id_', key: ['_id'] },
      { name: 'b_-1', key: ['-b'] },
    ]);
    await c.dropIndex('a', '-b');
    assert.deepEqual(router.commands(), [
      { createIndexes: 'c', indexes: [{ key: { a: 1, b: -1 }, name: 'a_1_b_-1' }] },
      { listIndexes: 'c', cursor: {} },
      { dropIndexes: 'c', index: 'a_1_b_-1' },
    ]);
  });
});

describe('databases and collections', () => {
  test('collectionNames, dropDatabase, dropCollection, create', async () => {
    const router = new FakeRouter();
    router.on('listCollections', () => cursorReply('d.$cmd.listCollections', [{ name: 'z' }, { name: 'a' }]));
    const db = openSession(router).db('d');
    assert.deepEqual(await db.collectionNames(), ['a', 'z']);
    await db.c('c').create({ capped: true, maxBytes: 4096, maxDocs: 10, validator: { a: { $exists: true } } });
    await db.c('c').dropCollection();
    await db.dropDatabase();
    assert.deepEqual(router.commands(), [
      { listCollections: 1, nameOnly: true, cursor: {} },
      { create: 'c', capped: true, size: 4096, max: 10, validator: { a: { $exists: true } } },
      { drop: 'c' },
      { dropDatabase: 1 },
    ]);
    await assert.rejects(db.c('c').create({ capped: true }), { code: 'ERR_INVALID_ARGUMENT' });
  });

  test('databaseNames skips empty databases and sorts; run() takes a command name', async () => {
    const router = new FakeRouter();
    router.on('listDatabases', () => ({ databases: [{ name: 'b' }, { name: 'a' }, { name: 'e', empty: true }] }));
    const session = openSession(router);
    assert.deepEqual(await session.databaseNames(), ['a', 'b']);
    await session.run('hostInfo');
    assert.deepEqual(router.requests.at(-1)!.command, { hostInfo: 1 });
    assert.equal(router.requests.at(-1)!.db, 'admin');
  });

  test('buildInfo fills versionArray to four numbers and trims gitVersion', async () => {
    const router = new FakeRouter();
    router.on('buildInfo', () => ({ version: '7.0.12', gitVersion: 'abc modules: enterprise', maxBsonObjectSize: 16777216, bits: 64 }));
    const info = await openSession(router).buildInfo();
    assert.deepEqual(info.versionArray, [7, 0, 12, 0]);
    assert.equal(info.gitVersion, 'abc');
    assert.equal(info.maxObjectSize, 16777216);
    assert.equal(info.versionAtLeast(7), true);
    assert.equal(info.versionAtLeast(7, 0, 13), false);
    assert.equal(info.versionAtLeast(6, 9), true);
  });
});

describe('dial settings', () => {
  test('the URL gives the mode, tags, safety and database (the pool limit is the router\'s, not a session setting)', async () => {
    const resolved = await resolveOptions(
      'mongodb://h1,h2/app?readPreference=nearest&readPreferenceTags=dc:ny&w=majority&journal=true&wTimeoutMS=200&maxPoolSize=7&promoteLongs=false&bsonRegExp=true',
    );
    assert.deepEqual(sessionOptionsOf(resolved), {
      mode: Mode.Nearest,
      safe: { wMode: 'majority', wTimeout: 200, j: true },
      selection: { tags: [{ dc: 'ny' }], maxStalenessSeconds: undefined },
      syncTimeoutMS: 0,
      loginSource: 'app',
      dialSource: undefined,
      retryWrites: true,
      retryReads: true,
      bson: { promoteLongs: false, promoteValues: true, promoteBuffers: false, useBigInt64: false, bsonRegExp: true, raw: false },
      database: 'app',
    });
    const plain = sessionOptionsOf(await resolveOptions('mongodb://h1/?w=0&retryWrites=false&retryReads=false'));
    assert.equal(plain.mode, Mode.Strong);
    assert.equal(plain.safe, null, 'w=0 is unacknowledged');
    assert.equal(plain.retryWrites, false);
    assert.equal(plain.retryReads, false);
  });

  test('DialInfo becomes a URL, options and session overrides', () => {
    const { url, options, overrides } = fromDialInfo({
      addrs: ['h1:1', '/tmp/mongodb-27017.sock'],
      database: 'app',
      timeoutMS: 5000,
      poolLimit: 3,
      readTimeoutMS: 100,
      writeTimeoutMS: 300,
      direct: true,
      readPreference: { mode: Mode.Monotonic, tagSets: [{ a: 'b' }] },
      safe: null,
      options: { heartbeatFrequencyMS: 1000 },
    });
    assert.equal(url, 'mongodb://h1:1,%2Ftmp%2Fmongodb-27017.sock/app');
    assert.deepEqual(options, {
      heartbeatFrequencyMS: 1000,
      directConnection: true,
      maxPoolSize: 3,
      socketTimeoutMS: 300,
      connectTimeoutMS: 5000,
      serverSelectionTimeoutMS: 5000,
    });
    assert.deepEqual(overrides, { mode: Mode.Monotonic, tags: [{ a: 'b' }], safe: null, syncTimeoutMS: 5000 });
    assert.throws(() => fromDialInfo({ addrs: [] }), { code: 'ERR_INVALID_ARGUMENT' });
  });

  test('DialInfo tls: true, or its files and checks as the tls options', () => {
    assert.equal(fromDialInfo({ addrs: ['h'], tls: true }).options.tls, true);
    const { options } = fromDialInfo({
      addrs: ['h'],
      tls: { caFile: 'ca.pem', certificateKeyFile: 'me.pem', certificateKeyFilePassword: 'pw', allowInvalidHostnames: true },
    });
    assert.deepEqual(options, { tls: true, tlsCAFile: 'ca.pem', tlsCertificateKeyFile: 'me.pem', tlsCertificateKeyFilePassword: 'pw', tlsAllowInvalidHostnames: true });
    assert.equal('tls' in fromDialInfo({ addrs: ['h'] }).options, false);
  });

  test('dial takes DialInfo credentials and never echoes the password', async () => {
    await assert.rejects(dialWithInfo({ addrs: ['127.0.0.1:1'], username: 'u', password: 'sekret-pw', timeoutMS: 300 }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_SERVER_SELECTION');
      assert.doesNotMatch(err.message, /sekret-pw/);
      return true;
    });
  });

  test('dial with workers fails fast like workers: 0 when no server answers', async () => {
    await assert.rejects(dial('mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=200', { workers: 1 }), { code: 'ERR_SERVER_SELECTION' });
  });
});
