// mgo's With, Explain, Collation, DropIndexName/DropAllIndexes, DropDups and
// EnsureSafe against the test server (FerretDB 1.24), workers 0 and 2. The
// command shapes FerretDB cannot show (collation, which it refuses, and
// bypassDocumentValidation, which it ignores) are checked against a scripted
// server in test/unit/session/query-options-wire.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dial, isDup, Mode, MgoError, QueryError, type Session } from '../../src/index.js';
import { testServerForFile } from '../fixtures/file-server.js';

const DB = `mgo_queries_${process.pid}`;
const server = testServerForFile(DB);

/** The client address of the socket a command ran on, as the server saw it. */
async function socketOf(run: (command: string) => Promise<{ you?: unknown }>): Promise<string> {
  const { you } = await run('whatsmyuri');
  assert.equal(typeof you, 'string');
  return you as string;
}

for (const workers of [0, 2]) {
  describe(`workers ${workers}`, () => {
    let session: Session;
    before(async () => {
      session = await dial(server.uri, { workers, poolLimit: 8 });
    });
    after(async () => {
      await session?.close();
    });

    test("with(): the collection and database run on the other session's reserved socket, and fail once it is closed", { timeout: 60_000 }, async () => {
      session.setMode(Mode.Strong, true);
      const c = session.db(DB).c(`with${workers}`);
      await c.insert({ _id: 1, n: 1 });
      const other = session.copy();
      const withed = c.with(other);
      assert.equal(withed.session, other);
      assert.equal(withed.fullName, c.fullName);
      const db = session.db(DB).with(other);
      assert.equal(db.session, other);
      assert.equal(db.name, DB);

      // A Strong copy reserves its own socket on its first operation; the with'ed names use it.
      const mine = await socketOf((cmd) => session.db(DB).run(cmd));
      const theirs = await socketOf((cmd) => other.db(DB).run(cmd));
      assert.notEqual(mine, theirs, 'the copy has a socket of its own');
      assert.equal(await socketOf((cmd) => db.run(cmd)), theirs);
      assert.equal(await socketOf((cmd) => withed.database.run(cmd)), theirs);
      assert.equal(await socketOf((cmd) => withed.database.with(session).run(cmd)), mine, 'and back');
      assert.deepEqual(await withed.find({ _id: 1 }).one(), { _id: 1, n: 1 });
      await withed.update({ _id: 1 }, { $set: { n: 2 } });
      assert.deepEqual(await c.find({ _id: 1 }).one(), { _id: 1, n: 2 }, 'same collection');

      // Its safety too: unacknowledged on the copy, so a duplicate goes unreported there only.
      other.setSafe(null);
      await withed.insert({ _id: 1 });
      await assert.rejects(c.insert({ _id: 1 }), (err) => isDup(err));

      await other.close();
      await assert.rejects(withed.insert({ _id: 3 }), (err: MgoError) => err.code === 'ERR_SESSION_CLOSED');
      await assert.rejects(withed.count(), (err: MgoError) => err.code === 'ERR_SESSION_CLOSED');
      await assert.rejects(db.run('ping'), (err: MgoError) => err.code === 'ERR_SESSION_CLOSED');
      assert.throws(() => withed.find(), (err: MgoError) => err.code === 'ERR_SESSION_CLOSED');
      assert.throws(() => c.with(other), (err: MgoError) => err.code === 'ERR_SESSION_CLOSED');
      // The original is untouched.
      assert.deepEqual(await c.find({ _id: 1 }).one(), { _id: 1, n: 2 });
    });

    test('explain(): the server explains the query and the pipeline it would run', { timeout: 60_000 }, async () => {
      const c = session.db(DB).c(`explain${workers}`);
      await c.insert({ _id: 1, a: 1 }, { _id: 2, a: 2 });
      const query = await c.find({ a: { $gt: 0 } }).sort('-a').limit(1).explain('queryPlanner');
      assert.ok(query.queryPlanner, `a queryPlanner section: ${JSON.stringify(query)}`);
      // FerretDB echoes the command it explained.
      assert.deepEqual({ ...query.command, $db: undefined }, { find: c.name, filter: { a: { $gt: 0 } }, sort: { a: -1 }, limit: 1, $db: undefined });
      const pipe = await c.pipe([{ $match: { a: 1 } }]).explain();
      assert.ok(pipe.queryPlanner);
      assert.equal(pipe.command.aggregate, c.name);
      assert.deepEqual(pipe.command.pipeline, [{ $match: { a: 1 } }]);
      // An explained $out writes nothing.
      await c.pipe([{ $match: {} }, { $out: `explained${workers}` }]).explain();
      assert.ok(!(await session.db(DB).collectionNames()).includes(`explained${workers}`));
      assert.equal(await c.find().count(), 2, 'explain ran nothing');
    });

    test('collation: FerretDB refuses it with a ServerError naming collation, on find, count, distinct, apply and pipes', { timeout: 60_000 }, async () => {
      const c = session.db(DB).c(`collation${workers}`);
      await c.insert({ _id: 1, name: 'a' });
      const refused = (err: unknown) => err instanceof QueryError && err.code === 'ERR_QUERY' && err.serverCode === 238 && /collation/.test(err.message);
      const query = () => c.find({ name: 'A' }).collation({ locale: 'en', strength: 1 });
      await assert.rejects(query().all(), refused);
      await assert.rejects(query().one(), refused);
      await assert.rejects(query().count(), refused);
      await assert.rejects(query().distinct('name'), refused);
      await assert.rejects(query().apply({ update: { $set: { n: 1 } } }), refused);
      await assert.rejects(c.pipe([{ $match: { name: 'A' } }]).collation({ locale: 'en', strength: 1 }).all(), refused);
      // Checked before sending: a bad collation never reaches the server.
      assert.throws(() => c.find().collation({ locale: 'en', strength: 9 } as never), (err: MgoError) => err.code === 'ERR_INVALID_ARGUMENT');
      assert.deepEqual(await c.find({ _id: 1 }).one(), { _id: 1, name: 'a' }, 'the session works on');
    });

    test('dropIndexName(), dropAllIndexes() (the _id index stays), and ensureIndex() with dropDups', { timeout: 60_000 }, async () => {
      const c = session.db(DB).c(`indexes${workers}`);
      await c.insert({ _id: 1, a: 1, b: 1 });
      await c.ensureIndex({ key: ['a'], unique: true, dropDups: true });
      await c.ensureIndex({ key: ['-b'], name: 'custom' });
      await c.ensureIndexKey('a', 'b');
      const names = async () => (await c.indexes()).map((i) => i.name);
      assert.deepEqual(await names(), ['_id_', 'a_1', 'a_1_b_1', 'custom']);
      await c.dropIndexName('custom');
      assert.deepEqual(await names(), ['_id_', 'a_1', 'a_1_b_1']);
      await assert.rejects(c.dropIndexName('custom'), (err) => err instanceof QueryError && err.serverCode === 27);
      await c.dropAllIndexes();
      assert.deepEqual(await names(), ['_id_']);
      await c.dropAllIndexes();
      assert.deepEqual(await names(), ['_id_']);
    });

    test('ensureSafe() and setBypassValidation() on a real server: an unacknowledged copy reports errors again after ensureSafe({})', { timeout: 60_000 }, async () => {
      const s = session.copy();
      try {
        const c = s.db(DB).c(`safe${workers}`);
        await c.insert({ _id: 1 });
        s.setSafe(null);
        await c.insert({ _id: 1 });
        s.ensureSafe({});
        await assert.rejects(c.insert({ _id: 1 }), (err) => isDup(err));
        s.ensureSafe({ w: 1, j: true });
        assert.deepEqual(s.safe(), { w: 1, j: true });
        // FerretDB takes bypassDocumentValidation (it has no validators to bypass).
        s.setBypassValidation(true);
        await c.insert({ _id: 2 });
        await c.update({ _id: 2 }, { $set: { n: 1 } });
        assert.deepEqual(await c.find({ _id: 2 }).one(), { _id: 2, n: 1 });
      } finally {
        await s.close();
      }
    });
  });
}
