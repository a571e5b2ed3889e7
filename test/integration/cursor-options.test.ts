// mgo's cursor settings against FerretDB, for workers 0 and 2, through a
// standalone bridge that records each command and its reply: negative batch
// sizes return one batch and leave no cursor open on the server (the find's
// singleBatch ends it there; a pipe's is killed); batch 1 is no single
// batch (mgo's TestBatch1Bug); limit(3).batch(2) is a find and one getMore
// (TestFindIterLimitWithBatch); setCursorTimeout(0) sends noCursorTimeout,
// which FerretDB 1.24 lacks (it answers NotImplemented, where mgo's
// TestSetCursorTimeout expects the find to run).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Long } from 'bson';
import { dial } from '../../src/index.js';
import type { Bridge, CommandRecord } from '../fixtures/bridge/index.js';
import { startRecordingStandalone, type RecordingStandalone } from '../fixtures/recording-standalone.js';

const DB = `mgo_cursor_options_${process.pid}`;
let setup: RecordingStandalone;
let bridge: Bridge;
let records: CommandRecord[];

before(async () => {
  setup = await startRecordingStandalone(DB);
  ({ bridge, records } = setup);
});

after(async () => {
  const direct = await dial(setup.server.uri);
  await direct.db(DB).dropDatabase().catch(() => {});
  await direct.close();
  await setup?.stop();
});

/** The cursor ids the server's replies to `name` commands on collection `collection` left open. */
function openedCursors(name: string, collection: string): Long[] {
  return records
    .filter((r) => r.commandName === name && r.command[name] === collection && r.reply?.cursor)
    .map((r) => Long.fromValue(r.reply!.cursor.id))
    .filter((id) => !id.isZero());
}

/** The cursor ids killCursors killed on `collection`, as the server reported. */
function killedCursors(collection: string): Long[] {
  return records.filter((r) => r.commandName === 'killCursors' && r.command.killCursors === collection).flatMap((r) => (r.reply?.cursorsKilled ?? []).map((id: unknown) => Long.fromValue(id as number)));
}

describe('cursor options on FerretDB', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: negative batch sizes return one batch and leave no cursor open; batch 1 reads everything`, { timeout: 60_000 }, async () => {
      const session = await dial(bridge.uri, { workers });
      const name = `batches${workers}`;
      try {
        const c = session.db(DB).c(name);
        await c.insert(...Array.from({ length: 5 }, (_, n) => ({ _id: n, n })));
        await c.ensureIndexKey('n');

        // Query.batch(-2): the first two, in one batch that ends the cursor on the server.
        const iter = c.find().sort('n').batch(-2).iter();
        assert.deepEqual(await iter.next(), { _id: 0, n: 0 });
        assert.equal(iter.cursorId.isZero(), true, 'the one batch ended the cursor');
        assert.deepEqual(await iter.all(), [{ _id: 1, n: 1 }]);
        assert.deepEqual(openedCursors('find', name), []);

        // Pipe.batch(-2): FerretDB keeps the aggregate's cursor open; the Iter kills it.
        assert.deepEqual(await c.pipe([{ $sort: { n: 1 } }, { $project: { _id: 0, n: 1 } }]).batch(-2).all(), [{ n: 0 }, { n: 1 }]);
        const opened = openedCursors('aggregate', name);
        assert.equal(opened.length, 1);
        // all() closes the iterator, and close() waits for the kill sent when the batch came.
        assert.deepEqual(killedCursors(name), opened);

        // Session.setBatch(-3) on a copy: finds and pipes take one batch of 3; indexes() reads them all.
        const copy = session.copy();
        copy.setBatch(-3);
        const cc = copy.db(DB).c(name);
        assert.equal((await cc.find().all()).length, 3);
        assert.equal((await cc.pipe([]).all()).length, 3);
        copy.setBatch(-1);
        assert.deepEqual((await cc.indexes()).map((i) => i.name).sort(), ['_id_', 'n_1']);
        await copy.close();
        assert.deepEqual(openedCursors('find', name), []);
        assert.deepEqual(killedCursors(name), openedCursors('aggregate', name));

        // mgo's TestBatch1Bug: a batch of 1 is not a single batch.
        assert.equal((await c.find().batch(1).all()).length, 5);
        const ones = session.copy();
        ones.setBatch(1);
        assert.equal((await ones.db(DB).c(name).find().all()).length, 5);
        await ones.close();
      } finally {
        await session.close();
      }
    });

    test(`workers ${workers}: mgo's TestFindIterLimitWithBatch: limit(3).batch(2) is a find and one getMore for the last one, and no cursor stays open`, { timeout: 60_000 }, async () => {
      const session = await dial(bridge.uri, { workers });
      const name = `limitbatch${workers}`;
      try {
        const c = session.db(DB).c(name);
        await c.insert(...[40, 41, 42, 43, 44, 45, 46].map((n) => ({ n })));
        // mgo sorts by $natural, which FerretDB 1.24 refuses on a collection that is not capped.
        const iter = c.find({ n: { $gte: 42 } }).sort('n').limit(3).batch(2).iter();
        const ns: unknown[] = [];
        for (let doc = await iter.next(); doc !== undefined; doc = await iter.next()) ns.push(doc.n);
        assert.deepEqual(ns, [42, 43, 44], String(iter.err()));
        await iter.close();
        const sent = records.filter((r) => r.command[r.commandName] === name || r.command.collection === name).filter((r) => r.commandName !== 'insert');
        assert.deepEqual(
          sent.map((r) => [r.commandName, r.command.batchSize, r.command.limit]),
          [
            ['find', 2, 3],
            ['getMore', 1, undefined],
          ].concat(killedCursors(name).length > 0 ? [['killCursors', undefined, undefined]] : []),
        );
        // The server ended the cursor with the getMore, or the Iter killed it.
        const getMore = sent.find((r) => r.commandName === 'getMore')!;
        const endedByServer = Long.fromValue(getMore.reply!.cursor.id).isZero();
        assert.equal(endedByServer || killedCursors(name).length === 1, true);
      } finally {
        await session.close();
      }
    });

    test(`workers ${workers}: setCursorTimeout(0) sends noCursorTimeout, which FerretDB 1.24 refuses (NotImplemented)`, { timeout: 60_000 }, async () => {
      const session = await dial(bridge.uri, { workers });
      const name = `notimeout${workers}`;
      try {
        const c = session.db(DB).c(name);
        await c.insert({ n: 42 });
        session.setCursorTimeout(0);
        const iter = c.find().iter();
        assert.equal(await iter.next(), undefined);
        const err = iter.err() as { code?: string; codeName?: string; message: string } | undefined;
        assert.equal(err?.code, 'ERR_QUERY');
        assert.equal(err?.codeName, 'NotImplemented');
        assert.match(err.message, /noCursorTimeout/);
        await assert.rejects(iter.close());
        const find = records.find((r) => r.commandName === 'find' && r.command.find === name);
        assert.equal(find?.command.noCursorTimeout, true);
        // A session without the setting still reads.
        const plain = await dial(bridge.uri, { workers });
        try {
          assert.deepEqual(await plain.db(DB).c(name).find().select({ _id: 0 }).all(), [{ n: 42 }]);
        } finally {
          await plain.close();
        }
      } finally {
        await session.close();
      }
    });
  }
});
