// Issue 14, item 10: findRef, createView and fsync / fsyncLock /
// fsyncUnlock, workers 0 and 2. FerretDB 1.24 has neither views ("viewOn
// ... is not implemented yet") nor fsync (CommandNotFound): the commands'
// shapes are checked against a scripted server, and FerretDB's answers are
// checked to arrive as a clear QueryError.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'bson';
import { DBRef, dial, ErrNotFound, MgoError, Mode, ObjectId, QueryError, type Session } from '../../src/index.js';
import { startFakeServer, type FakeServer } from '../fixtures/fake-server.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';

const DB = `mgo_admin_${process.pid}`;
const OTHER_DB = `mgo_admin_other_${process.pid}`;
const MONITORING = new Set(['hello', 'isMaster', 'ismaster', 'ping', 'endSessions']);
let server: TestServer;
let fake: FakeServer;

before(async () => {
  [server, fake] = await Promise.all([startTestServer(), startFakeServer()]);
});

after(async () => {
  const direct = await dial(server.uri);
  await direct.db(DB).dropDatabase().catch(() => {});
  await direct.db(OTHER_DB).dropDatabase().catch(() => {});
  await direct.close();
  await Promise.all([server?.stop(), fake?.close()]);
});

/** The commands the scripted server received since `from`, without monitoring, handshakes and lsids. */
function sentSince(from: number): { db: unknown; command: Document }[] {
  return fake.received
    .slice(from)
    .filter((c) => !MONITORING.has(c.name))
    .map((c) => {
      const { $db, lsid: _lsid, $readPreference: _rp, ...command } = c.command;
      return { db: $db, command };
    });
}

for (const workers of [0, 2]) {
  describe(`workers ${workers}`, () => {
    test('findRef: Database.findRef resolves in ref.db, else in that database; Session.findRef needs ref.db', { timeout: 30_000 }, async () => {
      const session = await dial(server.uri, { workers });
      try {
        const id = new ObjectId();
        await session.db(DB).c('people').insert({ _id: id, where: 'here' });
        await session.db(OTHER_DB).c('people').insert({ _id: id, where: 'there' });
        const here = new DBRef('people', id);
        const there = new DBRef('people', id, OTHER_DB);
        assert.equal((await session.db(DB).findRef(here).one())?.where, 'here');
        assert.equal((await session.db(DB).findRef(there).one())?.where, 'there');
        assert.equal((await session.findRef(there).one())?.where, 'there');
        // A plain object with DBRef's fields will do too.
        assert.equal((await session.db(DB).findRef({ collection: 'people', oid: id }).one())?.where, 'here');
        await assert.rejects(session.db(DB).findRef(new DBRef('people', new ObjectId())).one(), (err) => err === ErrNotFound);
        assert.throws(
          () => session.findRef(here),
          (err: MgoError) => err.code === 'ERR_INVALID_ARGUMENT' && /can't resolve the database/.test(err.message),
        );
        assert.throws(() => session.db(DB).findRef({ collection: '', oid: 1 }), (err: MgoError) => err.code === 'ERR_INVALID_ARGUMENT');
      } finally {
        await session.close();
      }
    });

    test('FerretDB: createView and fsync fail with a QueryError naming what is missing', { timeout: 30_000 }, async () => {
      const session = await dial(server.uri, { workers });
      try {
        await session.db(DB).c('source').insert({ a: 1 });
        await assert.rejects(session.db(DB).createView(`view${workers}`, 'source', [{ $match: { a: 1 } }]), (err: QueryError) => {
          return err instanceof QueryError && err.serverCode === 238 && /viewOn/.test(err.message);
        });
        for (const call of [() => session.fsync(), () => session.fsyncLock(), () => session.fsyncUnlock()]) {
          await assert.rejects(call(), (err: QueryError) => err instanceof QueryError && err.codeName === 'CommandNotFound' && /fsync/.test(err.message));
        }
      } finally {
        await session.close();
      }
    });

    test('scripted server: the commands of createView, fsync, fsyncLock and fsyncUnlock', { timeout: 30_000 }, async () => {
      const session: Session = await dial(`mongodb://${fake.address}/d?serverSelectionTimeoutMS=5000`, { workers });
      try {
        const from = fake.received.length;
        await session.db('d').createView('v', 'src', [{ $match: { a: 1 } }]);
        await session.db('d').createView('w', 'v', [], { locale: 'fr', strength: 1 });
        await session.fsync();
        await session.fsync(true);
        await session.fsyncLock();
        await session.fsyncUnlock();
        assert.deepEqual(sentSince(from), [
          { db: 'd', command: { create: 'v', viewOn: 'src', pipeline: [{ $match: { a: 1 } }] } },
          { db: 'd', command: { create: 'w', viewOn: 'v', pipeline: [], collation: { locale: 'fr', strength: 1 } } },
          { db: 'admin', command: { fsync: 1, async: false } },
          { db: 'admin', command: { fsync: 1, async: true } },
          { db: 'admin', command: { fsync: 1, lock: true } },
          { db: 'admin', command: { fsyncUnlock: 1 } },
        ]);
        // In Strong mode (the default) the lock and the unlock share the session's reserved socket.
        const [lock, unlock] = fake.received.slice(from).filter((c) => c.name === 'fsync' || c.name === 'fsyncUnlock').slice(-2);
        assert.equal(lock!.connection, unlock!.connection);
        assert.equal(session.mode(), Mode.Strong);
        await assert.rejects(session.db('d').createView('', 'src', []), (err: MgoError) => err.code === 'ERR_INVALID_ARGUMENT');
        await assert.rejects(session.db('d').createView('v', 'src', {} as Document[]), (err: MgoError) => err.code === 'ERR_INVALID_ARGUMENT');
        await assert.rejects(session.db('d').createView('v', 'src', [], { locale: 'fr', strenght: 1 } as never), (err: MgoError) => err.code === 'ERR_INVALID_ARGUMENT' && /strenght/.test(err.message));
      } finally {
        await session.close();
      }
    });
  });
}
