// Logical sessions and retries as the session layer applies them (driver
// sessions, retryable writes and retryable reads specs), over a scripted
// router: which commands carry lsid and txnNumber, what is retried once,
// which error is reported, and how server sessions are pooled.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Int32, Long, type Document } from 'bson';
import { NO_SESSION_SUPPORT, type SessionSupport } from '../../../src/cluster/topology-description.js';
import { NetworkError, ServerError } from '../../../src/errors.js';
import { LastError, QueryError } from '../../../src/session/errors.js';
import { Mode } from '../../../src/session/modes.js';
import { ServerSession, ServerSessionPool } from '../../../src/session/server-sessions.js';
import { openSession, type SessionOptions } from '../../../src/session/session.js';
import { cursorReply, FakeRouter, REPLICA_SET } from '../../fixtures/fake-router.js';

const REPLICA_SET_SUPPORT: SessionSupport = { known: true, timeoutMinutes: 30, retryableWrites: true, serverLabelsWrites: true };
const STANDALONE_SUPPORT: SessionSupport = { known: true, timeoutMinutes: 30, retryableWrites: false, serverLabelsWrites: true };

function setup(support: SessionSupport = REPLICA_SET_SUPPORT, options: SessionOptions = {}) {
  const router = new FakeRouter({ servers: REPLICA_SET });
  router.support = support;
  router.on('insert', () => ({ n: 1 }));
  router.on('update', () => ({ n: 1, nModified: 1 }));
  router.on('delete', () => ({ n: 1 }));
  const session = openSession(router, { mode: Mode.Eventual, ...options });
  return { router, session, c: session.db('d').c('c') };
}

const lost = () => new NetworkError('ERR_CONNECTION_CLOSED', 'connection to primary.test:27017 closed', { address: 'primary.test:27017' });
const steppedDown = (labels: string[] = ['RetryableWriteError']) =>
  ServerError.fromReply({ ok: 0, code: 10107, codeName: 'NotWritablePrimary', errmsg: 'not primary', errorLabels: labels }, 'primary.test:27017');

/** From the router's first failure on, sessionSupport() reports `support` (what the failure taught the topology). */
function supportAfterFailure(router: FakeRouter, support: SessionSupport): void {
  const run = router.run.bind(router);
  router.run = async (request) => {
    try {
      return await run(request);
    } catch (err) {
      router.support = support;
      throw err;
    }
  };
}

function idOf(command: Document): string {
  return (command.lsid.id as { toHexString(): string }).toHexString();
}

describe('logical sessions', () => {
  test('every acknowledged command carries an lsid where the servers support sessions; none without support', async () => {
    const { router, c, session } = setup();
    await c.insert({ a: 1 });
    await session.ping();
    for (const command of router.commands()) assert.ok(command.lsid?.id, `${Object.keys(command)[0]} has an lsid`);
    const none = setup({ known: true, timeoutMinutes: null, retryableWrites: false, serverLabelsWrites: false });
    await none.c.insert({ a: 1 });
    assert.equal(none.router.commands('insert')[0]!.lsid, undefined);
    assert.equal(none.router.commands('insert')[0]!.txnNumber, undefined);
  });

  test('an unacknowledged write carries neither lsid nor txnNumber', async () => {
    const { router, c, session } = setup();
    session.setSafe(null);
    await c.insert({ a: 1 });
    const [insert] = router.commands('insert');
    assert.equal(insert!.lsid, undefined);
    assert.equal(insert!.txnNumber, undefined);
  });

  test('sequential operations reuse one pooled server session; concurrent ones get one each', async () => {
    const { router, c } = setup();
    await c.insert({ a: 1 });
    await c.insert({ a: 2 });
    const [first, second] = router.commands('insert');
    assert.equal(idOf(first!), idOf(second!));
    assert.equal(Number(second!.txnNumber), Number(first!.txnNumber) + 1, 'each retryable write takes the next txnNumber');
    router.requests.length = 0;
    await Promise.all([c.insert({ a: 3 }), c.insert({ a: 4 }), c.insert({ a: 5 })]);
    assert.equal(new Set(router.commands('insert').map(idOf)).size, 3);
  });

  test("a cursor's getMore and killCursors carry the lsid of its find", async () => {
    const { router, c } = setup();
    router.on('find', () => cursorReply('d.c', [{ _id: 1 }, { _id: 2 }], 7));
    router.on('getMore', () => cursorReply('d.c', [{ _id: 3 }], 7, 'nextBatch'));
    router.on('killCursors', () => ({ cursorsKilled: [7] }));
    // Another operation while the cursor is open must not take the cursor's session.
    const iter = c.find({}).batch(2).iter();
    assert.deepEqual(await iter.next(), { _id: 1 });
    await c.insert({ x: 1 });
    await iter.next();
    await iter.next();
    await iter.close();
    const lsid = idOf(router.commands('find')[0]!);
    assert.equal(idOf(router.commands('getMore')[0]!), lsid);
    assert.equal(idOf(router.commands('killCursors')[0]!), lsid);
    assert.notEqual(idOf(router.commands('insert')[0]!), lsid);
  });

  test('withLogicalSession(): one explicit lsid on every command until close(); copies take implicit ones', async () => {
    const { router, session, c } = setup();
    const explicit = session.withLogicalSession();
    const id = explicit.logicalSessionId!.toHexString();
    await explicit.db('d').c('c').insert({ a: 1 });
    await Promise.all([explicit.db('d').c('c').insert({ a: 2 }), explicit.ping()]);
    for (const command of router.commands()) assert.equal(idOf(command), id);
    assert.equal(session.logicalSessionId, undefined);
    const copy = explicit.copy();
    assert.equal(copy.logicalSessionId, undefined);
    await explicit.close();
    await c.insert({ a: 3 });
    assert.equal(idOf(router.commands('insert').at(-1)!), id, 'the ended session went back to the pool');
    await copy.close();
    const none = setup({ known: true, timeoutMinutes: null, retryableWrites: false, serverLabelsWrites: false });
    assert.throws(() => none.session.withLogicalSession(), { code: 'ERR_UNSUPPORTED_OPTION' });
  });

  test('an explicit session refuses unacknowledged writes', async () => {
    const { session } = setup();
    const explicit = session.withLogicalSession();
    explicit.setSafe(null);
    await assert.rejects(explicit.db('d').c('c').insert({ a: 1 }), { code: 'ERR_INVALID_ARGUMENT' });
    await explicit.close();
  });

  test("the last close() ends the pooled sessions with endSessions (errors ignored); a session that met a network error is not pooled", async () => {
    const { router, session, c } = setup();
    await c.insert({ a: 1 });
    router.on('find', () => cursorReply('d.c', [{ _id: 1 }]));
    // A network error its retry recovers from still makes the server session dirty (sessions spec).
    router.failNext(lost(), (r) => 'find' in r.command);
    await c.find({}).one();
    const dirty = idOf(router.commands('find')[0]!);
    await c.insert({ a: 2 });
    const clean = idOf(router.commands('insert').at(-1)!);
    assert.notEqual(clean, dirty, 'the dirty session was not pooled');
    router.on('endSessions', () => ({ ok: 0, code: 59, errmsg: 'no such command' }));
    await session.close();
    const ended = router.commands('endSessions');
    assert.equal(ended.length, 1);
    assert.deepEqual(
      ended[0]!.endSessions.map((lsid: Document) => idOf({ lsid })),
      [clean],
    );
    assert.equal(router.requestsNamed('endSessions')[0]!.readPreference.mode, 'primaryPreferred');
  });
});

describe('retryable writes', () => {
  test('a network error: retried once with the same lsid and txnNumber', async () => {
    const { router, c } = setup();
    router.failNext(lost(), (r) => 'insert' in r.command);
    await c.insert({ a: 1 });
    const [first, retry] = router.commands('insert');
    assert.ok(retry, 'retried');
    assert.equal(idOf(first!), idOf(retry!));
    assert.ok(Long.isLong(first!.txnNumber));
    assert.equal(String(retry!.txnNumber), String(first!.txnNumber));
  });

  test('the retry avoids the server the first attempt failed on (deprioritized), routed or on a newly reserved socket', async () => {
    const { router, c } = setup();
    router.failNext(lost(), (r) => 'insert' in r.command);
    await c.insert({ a: 1 });
    const [first, retry] = router.requestsNamed('insert');
    assert.equal(first!.deprioritized, undefined);
    assert.deepEqual(retry!.deprioritized, ['primary.test:27017']);

    const strong = setup(REPLICA_SET_SUPPORT, { mode: Mode.Strong });
    strong.router.failNext(lost(), (r) => 'insert' in r.command);
    await strong.c.insert({ a: 1 });
    assert.deepEqual(strong.router.reserveDeprioritized, [undefined, ['primary.test:27017']]);
  });

  test('at most one retry: the second failure is reported, labelled RetryableWriteError', async () => {
    const { router, c } = setup();
    router.failNext(lost(), (r) => 'insert' in r.command).failNext(lost(), (r) => 'insert' in r.command);
    const error = await c.insert({ a: 1 }).then(
      () => assert.fail('resolved'),
      (e: NetworkError) => e,
    );
    assert.equal(router.commands('insert').length, 2);
    assert.ok(error.hasErrorLabel('RetryableWriteError'));
  });

  test('a labelled server error is retried; an unlabelled one from a 4.4+ server is not; before 4.4 the code decides', async () => {
    const labelled = setup();
    labelled.router.failNext(steppedDown(), (r) => 'insert' in r.command);
    await labelled.c.insert({ a: 1 });
    assert.equal(labelled.router.commands('insert').length, 2);

    const unlabelled = setup();
    unlabelled.router.failNext(steppedDown([]), (r) => 'insert' in r.command);
    await assert.rejects(unlabelled.c.insert({ a: 1 }), QueryError);
    assert.equal(unlabelled.router.commands('insert').length, 1);

    const old = setup({ ...REPLICA_SET_SUPPORT, serverLabelsWrites: false });
    old.router.failNext(steppedDown([]), (r) => 'insert' in r.command);
    await old.c.insert({ a: 1 });
    assert.equal(old.router.commands('insert').length, 2);
  });

  test('NoWritesPerformed on the retry: the first error is reported', async () => {
    const { router, c } = setup();
    router.failNext(lost(), (r) => 'insert' in r.command).failNext(steppedDown(['RetryableWriteError', 'NoWritesPerformed']), (r) => 'insert' in r.command);
    await assert.rejects(c.insert({ a: 1 }), { code: 'ERR_CONNECTION_CLOSED' });
  });

  test('a retryable writeConcernError is retried; its retry reports the outcome', async () => {
    const { router, c } = setup();
    let calls = 0;
    router.on('insert', () => (++calls === 1 ? { n: 1, writeConcernError: { code: 91, errmsg: 'shutting down' }, errorLabels: ['RetryableWriteError'] } : { n: 1 }));
    await c.insert({ a: 1 });
    assert.equal(calls, 2);
  });

  test('a pre-4.4 writeConcernError whose retryable code was decoded as a BSON Int32 (promoteValues: false) is retried', async () => {
    const { router, session, c } = setup({ ...REPLICA_SET_SUPPORT, serverLabelsWrites: false });
    session.setBSONOptions({ promoteValues: false });
    let calls = 0;
    router.on('insert', () => (++calls === 1 ? { n: new Int32(1), writeConcernError: { code: new Int32(91), errmsg: 'shutting down' } } : { n: new Int32(1) }));
    await c.insert({ a: 1 });
    assert.equal(calls, 2);
  });

  test('not retried: multi updates and deletes, retryWrites false, a standalone, unacknowledged writes', async () => {
    const multi = setup();
    multi.router.failNext(lost(), (r) => 'update' in r.command);
    await assert.rejects(multi.c.updateAll({}, { $set: { a: 1 } }), { code: 'ERR_CONNECTION_CLOSED' });
    assert.equal(multi.router.commands('update')[0]!.txnNumber, undefined);
    multi.router.failNext(lost(), (r) => 'delete' in r.command);
    await assert.rejects(multi.c.removeAll({}), { code: 'ERR_CONNECTION_CLOSED' });

    const off = setup(REPLICA_SET_SUPPORT, { retryWrites: false });
    off.router.failNext(lost(), (r) => 'insert' in r.command);
    await assert.rejects(off.c.insert({ a: 1 }), { code: 'ERR_CONNECTION_CLOSED' });
    assert.equal(off.router.commands('insert')[0]!.txnNumber, undefined);

    const standalone = setup(STANDALONE_SUPPORT);
    standalone.router.failNext(lost(), (r) => 'insert' in r.command);
    await assert.rejects(standalone.c.insert({ a: 1 }), { code: 'ERR_CONNECTION_CLOSED' });
    assert.equal(standalone.router.commands('insert')[0]!.txnNumber, undefined, 'a standalone refuses txnNumber');
    assert.ok(standalone.router.commands('insert')[0]!.lsid, 'but takes an lsid');
  });

  test('single update, remove and findAndModify are retried; a bulk batch without multi statements is', async () => {
    const { router, c } = setup();
    router.on('findAndModify', () => ({ value: { _id: 1, a: 2 }, lastErrorObject: { n: 1, updatedExisting: true } }));
    for (const [name, run] of [
      ['update', () => c.update({ _id: 1 }, { $set: { a: 1 } })],
      ['delete', () => c.remove({ _id: 1 })],
      ['findAndModify', () => c.find({ _id: 1 }).apply({ update: { $set: { a: 2 } } })],
    ] as const) {
      router.failNext(lost(), (r) => name in r.command);
      await run();
      const sent = router.commands(name);
      assert.equal(sent.length, 2, `${name} retried`);
      assert.equal(String(sent[0]!.txnNumber), String(sent[1]!.txnNumber));
    }
    const bulk = c.bulk();
    bulk.insert({ a: 1 });
    bulk.update({ _id: 1 }, { $set: { a: 1 } });
    router.failNext(lost(), (r) => 'update' in r.command);
    await bulk.run();
    assert.equal(router.commands('update').length, 4);
  });

  test('a Strong session whose primary stepped down retries on a newly reserved socket, not the old one', async () => {
    const { router, session } = setup();
    session.setMode(Mode.Strong, true);
    router.failNext(steppedDown(), (r) => 'insert' in r.command);
    await session.db('d').c('c').insert({ a: 1 });
    const [first, retry] = router.requestsNamed('insert');
    assert.notEqual(first!.reservation!.id, retry!.reservation!.id);
    assert.ok(router.releases.includes(first!.reservation!.id), 'the stepped-down socket was given back');
  });

  test("retried when the error left no server known (a single mongos marked Unknown); not when the servers known cannot take it", async () => {
    const single = setup();
    single.router.failNext(lost(), (r) => 'insert' in r.command);
    let calls = 0;
    single.router.on('insert', () => {
      calls++;
      return { n: 1 };
    });
    // The failure made the only router Unknown: nothing is known when the retry is decided.
    supportAfterFailure(single.router, NO_SESSION_SUPPORT);
    await single.c.insert({ a: 1 });
    assert.equal(calls, 1, 'the retry ran');
    single.router.support = REPLICA_SET_SUPPORT;

    const downgraded = setup();
    downgraded.router.failNext(lost(), (r) => 'insert' in r.command);
    supportAfterFailure(downgraded.router, STANDALONE_SUPPORT);
    await assert.rejects(downgraded.c.insert({ a: 1 }), { code: 'ERR_CONNECTION_CLOSED' });
    assert.equal(downgraded.router.commands('insert').length, 1);
  });

  test('a write error is not retried (it is the outcome)', async () => {
    const { router, c } = setup();
    router.on('insert', () => ({ n: 0, writeErrors: [{ index: 0, code: 11000, errmsg: 'E11000 duplicate key' }] }));
    await assert.rejects(c.insert({ _id: 1 }), LastError);
    assert.equal(router.commands('insert').length, 1);
  });
});

describe('retryable reads', () => {
  test('find, count, distinct and listDatabases are retried once after a network error or a retryable code', async () => {
    const { router, c, session } = setup();
    router.on('find', () => cursorReply('d.c', [{ _id: 1 }]));
    router.on('count', () => ({ n: 3 }));
    router.on('distinct', () => ({ values: [1] }));
    router.on('listDatabases', () => ({ databases: [{ name: 'd' }] }));
    const recovering = () => ServerError.fromReply({ ok: 0, code: 11600, errmsg: 'interrupted at shutdown' }, 'primary.test:27017');
    router.failNext(lost(), (r) => 'find' in r.command);
    assert.deepEqual(await c.find({}).all(), [{ _id: 1 }]);
    router.failNext(recovering(), (r) => 'count' in r.command);
    assert.equal(await c.find({}).count(), 3);
    router.failNext(lost(), (r) => 'distinct' in r.command);
    assert.deepEqual(await c.find({}).distinct('a'), [1]);
    router.failNext(lost(), (r) => 'listDatabases' in r.command);
    assert.deepEqual(await session.databaseNames(), ['d']);
    for (const name of ['find', 'count', 'distinct', 'listDatabases']) assert.equal(router.commands(name).length, 2, name);
  });

  test('not retried: getMore, a user command, a non-retryable code, retryReads false', async () => {
    const { router, c, session } = setup();
    router.on('find', () => cursorReply('d.c', [{ _id: 1 }], 5));
    router.failNext(lost(), (r) => 'getMore' in r.command);
    const iter = c.find({}).iter();
    await iter.next();
    assert.equal(await iter.next(), undefined);
    assert.equal(iter.err()?.message.includes('closed'), true);
    assert.equal(router.commands('getMore').length, 1);

    router.failNext(lost(), (r) => 'ping' in r.command);
    await assert.rejects(session.ping(), { code: 'ERR_CONNECTION_CLOSED' });
    router.failNext(ServerError.fromReply({ ok: 0, code: 2, errmsg: 'bad value' }, 'primary.test:27017'), (r) => 'count' in r.command);
    await assert.rejects(c.count(), QueryError);
    assert.equal(router.commands('count').length, 1);

    const off = setup(REPLICA_SET_SUPPORT, { retryReads: false });
    off.router.failNext(lost(), (r) => 'count' in r.command);
    await assert.rejects(off.c.count(), { code: 'ERR_CONNECTION_CLOSED' });
  });

  test('a Strong session retries on a newly reserved socket', async () => {
    const { router, session } = setup();
    session.setMode(Mode.Strong, true);
    router.on('count', () => ({ n: 1 }));
    router.failNext(lost(), (r) => 'count' in r.command);
    assert.equal(await session.db('d').c('c').count(), 1);
    const [first, retry] = router.requestsNamed('count');
    assert.notEqual(first!.reservation!.id, retry!.reservation!.id);
  });
});

describe('server session pool', () => {
  test('LIFO, sessions about to expire are discarded, dirty ones never return', () => {
    const pool = new ServerSessionPool();
    const a = pool.acquire(30);
    const b = pool.acquire(30);
    pool.release(a, 30);
    pool.release(b, 30);
    assert.equal(pool.acquire(30), b, 'last in, first out');
    b.dirty = true;
    pool.release(b, 30);
    assert.equal(pool.idle, 1);
    const stale = pool.acquire(30);
    assert.equal(stale, a);
    pool.release(stale, 30);
    stale.lastUse -= 29.5 * 60_000;
    assert.notEqual(pool.acquire(30), stale, 'less than a minute left: discarded');
  });

  test('end(): endSessions commands of at most 10,000 ids; nothing is pooled afterwards', () => {
    const pool = new ServerSessionPool();
    const sessions = Array.from({ length: 10_001 }, () => new ServerSession());
    for (const s of sessions) pool.release(s, 30);
    const commands = pool.end();
    assert.deepEqual(
      commands.map((c) => c.endSessions.length),
      [10_000, 1],
    );
    pool.release(new ServerSession(), 30);
    assert.equal(pool.idle, 0);
  });
});
