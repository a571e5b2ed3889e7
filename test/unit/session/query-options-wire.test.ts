// The command shapes of collation (Query.collation, Pipe.collation), explain
// (Query.explain, Pipe.explain), setBypassValidation and dropIndexName /
// dropAllIndexes, as a scripted server receives them, for workers 0 and 2.
// A scripted server because FerretDB (the test server) refuses collation and
// cannot show what a command carried; test/integration/queries.test.ts runs
// what FerretDB supports.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'bson';
import { dial, MgoError, type Collation, type Session } from '../../../src/index.js';
import { startFakeServer, type FakeServer, type ReceivedCommand } from '../../fixtures/fake-server.js';
import { COLLECTION, DB, validReply } from '../../fixtures/scripted-replies.js';

const FRENCH: Collation = { locale: 'fr', strength: 2, caseFirst: 'upper', numericOrdering: true, backwards: true, caseLevel: false };
/** What FRENCH is sent as: false flags are left out, as mgo's omitempty struct left them. */
const FRENCH_SENT = { locale: 'fr', strength: 2, caseFirst: 'upper', numericOrdering: true, backwards: true };

function explainReply(cmd: ReceivedCommand): Document {
  return { queryPlanner: { plan: 'scripted' }, command: cmd.command.explain, ok: 1 };
}

for (const workers of [0, 2]) {
  describe(`workers ${workers}`, () => {
    let server: FakeServer;
    let session: Session;

    before(async () => {
      server = await startFakeServer((cmd) => {
        const reply = cmd.name === 'explain' ? explainReply(cmd) : (validReply(cmd) ?? (cmd.name === 'dropIndexes' ? { nIndexesWas: 2, ok: 1 } : undefined));
        if (reply) cmd.connection.reply(cmd, reply);
      });
      session = await dial(`mongodb://${server.address}/${DB}?directConnection=true`, { workers });
    });
    after(async () => {
      await session?.close();
      await server?.close();
    });

    /** The commands named `name` that `run` sent. */
    async function sent(name: string, run: () => Promise<unknown>): Promise<Document[]> {
      const from = server.received.length;
      await run();
      return server.received.slice(from).filter((cmd) => cmd.name === name).map((cmd) => cmd.command);
    }

    test('Query.collation() goes with find, count, distinct, apply and explain', async () => {
      const c = session.db().c(COLLECTION);
      const query = () => c.find({ name: 'ONE' }).collation(FRENCH);
      const [find] = await sent('find', () => query().all());
      assert.deepEqual(find!.collation, FRENCH_SENT);
      const [one] = await sent('find', () => query().one());
      assert.deepEqual(one!.collation, FRENCH_SENT);
      const [count] = await sent('count', () => query().count());
      assert.deepEqual(count!.collation, FRENCH_SENT);
      const [distinct] = await sent('distinct', () => query().distinct('name'));
      assert.deepEqual(distinct!.collation, FRENCH_SENT);
      const [apply] = await sent('findAndModify', () => query().apply({ update: { $set: { n: 1 } } }));
      assert.deepEqual(apply!.collation, FRENCH_SENT);
      const [explain] = await sent('explain', () => query().explain());
      assert.deepEqual(explain!.explain.collation, FRENCH_SENT);
      // Without collation(): none sent.
      const [plain] = await sent('find', () => c.find({ name: 'one' }).all());
      assert.equal(plain!.collation, undefined);
    });

    test('Pipe.collation() goes with the aggregate and its explain', async () => {
      const c = session.db().c(COLLECTION);
      const [aggregate] = await sent('aggregate', () => c.pipe([{ $match: { name: 'ONE' } }]).collation({ locale: 'en', strength: 1 }).all());
      assert.deepEqual(aggregate!.collation, { locale: 'en', strength: 1 });
      const [explain] = await sent('explain', () => c.pipe([{ $sort: { name: 1 } }]).collation({ locale: 'en', alternate: 'shifted', maxVariable: 'space' }).explain());
      assert.deepEqual(explain!.explain.collation, { locale: 'en', alternate: 'shifted', maxVariable: 'space' });
    });

    test('Query.explain() wraps the find the query would send; Pipe.explain() the aggregate, queryPlanner by default', async () => {
      const c = session.db().c(COLLECTION);
      const query = c.find({ n: { $gt: 1 } }).sort('-n').select({ name: 1 }).skip(1).limit(2).hint('n').comment('why').setMaxTime(500);
      const [explain] = await sent('explain', async () => {
        const reply = await query.explain('executionStats');
        assert.deepEqual(reply.queryPlanner, { plan: 'scripted' }, 'the reply is the explain command reply');
      });
      assert.equal(explain!.verbosity, 'executionStats');
      const { find, filter, sort, projection, skip, limit, hint, comment, maxTimeMS } = explain!.explain;
      assert.deepEqual({ find, filter, sort, projection, skip, limit, hint, comment, maxTimeMS }, {
        find: COLLECTION,
        filter: { n: { $gt: 1 } },
        sort: { n: -1 },
        projection: { name: 1 },
        skip: 1,
        limit: 2,
        hint: { n: 1 },
        comment: 'why',
        maxTimeMS: 500,
      });
      assert.equal(explain!.$db, DB);
      const [defaulted] = await sent('explain', () => c.find().explain());
      assert.equal(defaulted!.verbosity, undefined, "the server's default verbosity");

      const pipeline = [{ $match: { n: 1 } }, { $out: 'elsewhere' }];
      const [piped] = await sent('explain', () => c.pipe(pipeline).allowDiskUse().explain());
      assert.equal(piped!.verbosity, 'queryPlanner');
      assert.deepEqual({ aggregate: piped!.explain.aggregate, pipeline: piped!.explain.pipeline, allowDiskUse: piped!.explain.allowDiskUse }, { aggregate: COLLECTION, pipeline, allowDiskUse: true });
      assert.equal(piped!.explain.writeConcern, undefined, 'an explained $out writes nothing: no write concern');

      await assert.rejects(c.find().explain('everything' as 'queryPlanner'), (err: MgoError) => err.code === 'ERR_INVALID_ARGUMENT' && /verbosity/.test(err.message));
    });

    test('setBypassValidation(true): inserts, updates, bulks, apply() updates and $out pipelines carry bypassDocumentValidation; deletes and reads do not', async () => {
      const s = session.copy();
      try {
        s.setBypassValidation(true);
        const c = s.db().c(COLLECTION);
        const flagged = async (name: string, run: () => Promise<unknown>) => (await sent(name, run)).map((cmd) => cmd.bypassDocumentValidation);
        assert.deepEqual(await flagged('insert', () => c.insert({ _id: 10 })), [true]);
        assert.deepEqual(await flagged('update', () => c.update({ _id: 1 }, { $set: { n: 2 } })), [true]);
        assert.deepEqual(await flagged('update', () => c.upsert({ _id: 1 }, { $set: { n: 2 } })), [true]);
        assert.deepEqual(
          await flagged('insert', () => {
            const bulk = c.bulk();
            bulk.insert({ _id: 11 });
            return bulk.run();
          }),
          [true],
        );
        assert.deepEqual(await flagged('findAndModify', () => c.find({ _id: 1 }).apply({ update: { $set: { n: 3 } } })), [true]);
        assert.deepEqual(await flagged('findAndModify', () => c.find({ _id: 1 }).apply({ remove: true })), [undefined]);
        assert.deepEqual(await flagged('aggregate', () => c.pipe([{ $match: {} }, { $out: 'copy' }]).all()), [true]);
        assert.deepEqual(await flagged('aggregate', () => c.pipe([{ $match: {} }]).all()), [undefined]);
        assert.deepEqual(await flagged('delete', () => c.remove({ _id: 1 })), [undefined]);
        // Copies made later inherit it; turning it off stops it.
        const copy = s.copy();
        try {
          assert.deepEqual(await flagged('insert', () => copy.db().c(COLLECTION).insert({ _id: 12 })), [true]);
        } finally {
          await copy.close();
        }
        s.setBypassValidation(false);
        assert.deepEqual(await flagged('insert', () => c.insert({ _id: 13 })), [undefined]);
        assert.throws(() => s.setBypassValidation('yes' as unknown as boolean), (err: MgoError) => err.code === 'ERR_INVALID_ARGUMENT');
      } finally {
        await s.close();
      }
      // The session it was copied from never had it.
      const [insert] = await sent('insert', () => session.db().c(COLLECTION).insert({ _id: 14 }));
      assert.equal(insert!.bypassDocumentValidation, undefined);
    });

    test('ensureSafe() strengthens the write concern writes carry; an unacknowledged session becomes acknowledged', async () => {
      const s = session.copy();
      try {
        const c = s.db().c(COLLECTION);
        s.setSafe({ w: 1, wTimeout: 1000 });
        s.ensureSafe({ w: 2, wTimeout: 500, j: true });
        s.ensureSafe({ w: 1, wTimeout: 2000 });
        const [strong] = await sent('insert', () => c.insert({ _id: 20 }));
        assert.deepEqual(strong!.writeConcern, { w: 2, j: true, wtimeout: 500 });
        s.setSafe(null);
        s.ensureSafe({});
        const [acknowledged] = await sent('insert', () => c.insert({ _id: 21 }));
        assert.equal(acknowledged!.writeConcern, undefined, "acknowledged with the server's default, no longer w: 0");
        assert.deepEqual(s.safe(), {});
      } finally {
        await s.close();
      }
    });

    test("dropIndexName() and dropAllIndexes() send dropIndexes with the name and with '*'", async () => {
      const c = session.db().c(COLLECTION);
      const [byName] = await sent('dropIndexes', () => c.dropIndexName('name_1_n_-1'));
      assert.deepEqual({ dropIndexes: byName!.dropIndexes, index: byName!.index }, { dropIndexes: COLLECTION, index: 'name_1_n_-1' });
      const [all] = await sent('dropIndexes', () => c.dropAllIndexes());
      assert.deepEqual({ dropIndexes: all!.dropIndexes, index: all!.index }, { dropIndexes: COLLECTION, index: '*' });
      // '*' through dropIndexName() would drop them all: refused, nothing sent.
      const none = await sent('dropIndexes', () => assert.rejects(c.dropIndexName('*'), (err: MgoError) => err.code === 'ERR_INVALID_ARGUMENT'));
      assert.deepEqual(none, []);
    });

    test('Index.dropDups is accepted and not sent', async () => {
      const [create] = await sent('createIndexes', () => session.db().c(COLLECTION).ensureIndex({ key: ['n'], unique: true, dropDups: true }));
      assert.deepEqual(create!.indexes, [{ key: { n: 1 }, name: 'n_1', unique: true }]);
    });
  });
}
