// Tailable cursors (Query.tail, Iter.timeout) on FerretDB's capped
// collections, for workers 0 and 2, through a standalone bridge that records
// each command: documents inserted while next() waits arrive; the wait ends
// with timeout() true and the same iterator goes on afterwards; a wait longer
// than one getMore's await is a loop of getMores; close() kills the cursor;
// a dropped collection and a collection that is not capped end the iterator
// with timeout() false and err() saying why (so does an empty capped
// collection, which FerretDB 1.24 cannot tail); socket timeouts shorter than
// the wait (the session's, the connection's) do not break it. Ported from mgo's TestFindTailTimeoutWithSleep,
// TestFindTailTimeoutNoSleep and TestFindTailNoTimeout (session_test.go).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Long } from 'bson';
import { MongoClient } from 'mongodb';
import { dial, type Iter, type Session } from '../../src/index.js';
import { MAX_AWAIT_MS } from '../../src/session/iter.js';
import type { Bridge, CommandRecord } from '../fixtures/bridge/index.js';
import { startRecordingStandalone, type RecordingStandalone } from '../fixtures/recording-standalone.js';
import { waitFor, waitForAsync, withTimeout } from '../fixtures/wait.js';

const DB = `mgo_tail_${process.pid}`;
const DEADLINE = 30_000;
let setup: RecordingStandalone;
let bridge: Bridge;
let records: CommandRecord[];
let official: MongoClient;

before(async () => {
  setup = await startRecordingStandalone(DB);
  ({ bridge, records } = setup);
  official = new MongoClient(setup.server.uri);
  await official.connect();
});

after(async () => {
  await official?.db(DB).dropDatabase().catch(() => {});
  await official?.close();
  await setup?.stop();
});

/** A capped collection holding { n } for each of `ns`, inserted in order. */
async function cappedWith(session: Session, name: string, ns: number[]) {
  const c = session.db(DB).c(name);
  await c.create({ capped: true, maxBytes: 64 * 1024 });
  if (ns.length > 0) await c.insert(...ns.map((n) => ({ n })));
  return c;
}

function getMoresOf(name: string): CommandRecord[] {
  return records.filter((r) => r.commandName === 'getMore' && r.command.collection === name);
}

/** Resolves once the member holds a command it has not answered (the waiting getMore) beyond `baseline`. */
async function waitForPending(baseline: number): Promise<void> {
  await waitFor('a getMore waiting on the server', () => bridge.members[0]!.pendingCommands() > baseline, DEADLINE);
}

async function nextN(iter: Iter, count: number): Promise<number[]> {
  const ns: number[] = [];
  for (let i = 0; i < count; i++) {
    const doc = await iter.next();
    assert.ok(doc, `document ${i}: ${String(iter.err())}`);
    assert.equal(iter.timeout(), false);
    ns.push(doc.n as number);
  }
  return ns;
}

describe('Query.tail', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: new documents arrive while next() waits; the wait ends with timeout(); the same iter goes on; close() kills the cursor`, { timeout: 60_000 }, async () => {
      const session = await dial(bridge.uri, { workers });
      const name = `arrive${workers}`;
      try {
        const c = await cappedWith(session, name, [40, 41, 42, 43, 44, 45, 46]);
        const iter = c.find({ n: { $gte: 42 } }).sort('$natural').prefetch(0).batch(2).tail(2.5 * MAX_AWAIT_MS);
        assert.deepEqual(await nextN(iter, 5), [42, 43, 44, 45, 46]);

        // A document inserted while a getMore waits on the server arrives.
        const baseline = bridge.members[0]!.pendingCommands();
        const waiting = iter.next();
        await waitForPending(baseline);
        await session.copy().db(DB).c(name).insert({ n: 47 });
        const arrived = await withTimeout(waiting, DEADLINE, 'next() after the insert');
        assert.equal(arrived?.n, 47);
        assert.equal(iter.timeout(), false);

        // Nothing more comes: next() ends with timeout(), after more than one getMore (the wait is 2.5 awaits long).
        const before = getMoresOf(name).length;
        assert.equal(await iter.next(), undefined);
        assert.equal(iter.timeout(), true);
        assert.equal(iter.err(), undefined);
        assert.equal(await iter.done(), false, 'a timed-out tail is not done');
        const waits = getMoresOf(name).slice(before);
        assert.ok(waits.length >= 2, `${waits.length} getMores in a wait of 2.5 x ${MAX_AWAIT_MS} ms`);
        for (const { command } of waits) {
          assert.ok(command.maxTimeMS >= 1 && command.maxTimeMS <= MAX_AWAIT_MS, `getMore maxTimeMS ${command.maxTimeMS}`);
        }

        // The same iterator receives what is inserted later.
        await c.insert({ n: 48 });
        assert.equal((await iter.next())?.n, 48);
        assert.equal(iter.timeout(), false);

        const find = records.find((r) => r.commandName === 'find' && r.command.find === name)!;
        assert.equal(find.command.tailable, true);
        assert.equal(find.command.awaitData, true);

        // close() kills the server cursor: a getMore on its id fails afterwards.
        const id = iter.cursorId;
        assert.equal(id.isZero(), false);
        await iter.close();
        assert.equal(iter.cursorId.isZero(), true);
        const kill = records.find((r) => r.commandName === 'killCursors' && r.command.killCursors === name);
        assert.ok(kill, 'killCursors was sent');
        await assert.rejects(official.db(DB).command({ getMore: Long.fromValue(id), collection: name }), { codeName: 'CursorNotFound' });
      } finally {
        await session.close();
      }
    });

    test(`workers ${workers}: tail(-1) waits across getMores until a document comes; close() while it waits ends next() without a timeout`, { timeout: 60_000 }, async () => {
      const session = await dial(bridge.uri, { workers });
      const name = `forever${workers}`;
      try {
        const c = await cappedWith(session, name, [1]);
        const iter = c.find().tail(-1);
        assert.deepEqual(await nextN(iter, 1), [1]);
        const before = getMoresOf(name).length;
        const waiting = iter.next();
        // Two getMores answered empty: the wait went on past one await.
        await waitFor('two empty getMores', () => getMoresOf(name).length >= before + 2, DEADLINE);
        await c.insert({ n: 2 });
        assert.equal((await withTimeout(waiting, DEADLINE, 'next() after the insert'))?.n, 2);

        const baseline = bridge.members[0]!.pendingCommands();
        const closing = iter.next();
        await waitForPending(baseline);
        await iter.close();
        assert.equal(await closing, undefined);
        assert.equal(iter.timeout(), false);
        assert.equal(iter.err(), undefined);
      } finally {
        await session.close();
      }
    });

    test(`workers ${workers}: the cursor dies when its collection is dropped: next() ends, timeout() false, err() says why`, { timeout: 60_000 }, async () => {
      const session = await dial(bridge.uri, { workers });
      const name = `dropped${workers}`;
      try {
        const c = await cappedWith(session, name, [1]);
        const iter = c.find().tail(-1);
        assert.deepEqual(await nextN(iter, 1), [1]);
        const baseline = bridge.members[0]!.pendingCommands();
        const waiting = iter.next();
        await waitForPending(baseline);
        // FerretDB 1.24 (SQLite) may refuse a drop while the awaitData getMore
        // reads the table ("database table is locked", InternalError): the
        // drop is tried again until the table is free (CI saw it in both
        // worker counts of one run).
        await waitForAsync('the drop, past the getMore holding the table', async () => {
          try {
            await c.dropCollection();
            return true;
          } catch (error) {
            if (/database table is locked/.test((error as Error).message)) return false;
            throw error;
          }
        }, DEADLINE);
        assert.equal(await withTimeout(waiting, DEADLINE, 'next() after the drop'), undefined);
        assert.equal(iter.timeout(), false);
        const err = iter.err() as { code?: string; codeName?: string } | undefined;
        assert.equal(err?.code, 'ERR_QUERY');
        assert.equal(err?.codeName, 'CursorNotFound'); // FerretDB 1.24; MongoDB says QueryPlanKilled
        await assert.rejects(iter.close(), (e) => e === err);
      } finally {
        await session.close();
      }
    });

    test(`workers ${workers}: a tail on a collection that is not capped fails with the server's reason, and on an empty capped collection (a FerretDB lack)`, { timeout: 60_000 }, async () => {
      const session = await dial(bridge.uri, { workers });
      try {
        const plain = session.db(DB).c(`plain${workers}`);
        await plain.insert({ n: 1 });
        const iter = plain.find().tail(1000);
        assert.equal(await iter.next(), undefined);
        assert.equal(iter.timeout(), false);
        assert.match(String(iter.err()?.message), /capped/);
        await assert.rejects(iter.close(), { code: 'ERR_QUERY' });

        // An empty capped collection: FerretDB 1.24 lacks this case, its getMore fails
        // (InternalError "iterator is read to the end or closed") where MongoDB waits;
        // the iterator ends as for any dead cursor: no timeout, err() says why.
        const empty = await cappedWith(session, `empty${workers}`, []);
        const tail = empty.find().tail(MAX_AWAIT_MS / 2);
        assert.equal(await tail.next(), undefined);
        assert.equal(tail.timeout(), false);
        assert.equal((tail.err() as { code?: string } | undefined)?.code, 'ERR_QUERY');
        await assert.rejects(tail.close(), { code: 'ERR_QUERY' });
      } finally {
        await session.close();
      }
    });

    test(`workers ${workers}: socket timeouts shorter than the wait do not break it (the session's counts after each await; the connection's exceeds one getMore's)`, { timeout: 60_000 }, async () => {
      const session = await dial(bridge.uri, { workers });
      const connection = await dial(bridge.uri, { workers, socketTimeoutMS: 2 * MAX_AWAIT_MS });
      try {
        const c = await cappedWith(session, `sockettimeout${workers}`, [1]);
        session.setSocketTimeout(MAX_AWAIT_MS / 4);
        const iter = c.find().tail(MAX_AWAIT_MS * 1.5);
        assert.deepEqual(await nextN(iter, 1), [1]);
        assert.equal(await iter.next(), undefined);
        assert.equal(iter.err(), undefined);
        assert.equal(iter.timeout(), true);
        await iter.close();

        // A wait longer than the connection's socketTimeoutMS is getMores shorter than it.
        const long = connection.db(DB).c(`sockettimeout${workers}`).find().tail(MAX_AWAIT_MS * 3);
        assert.deepEqual(await nextN(long, 1), [1]);
        assert.equal(await long.next(), undefined);
        assert.equal(long.err(), undefined);
        assert.equal(long.timeout(), true);
        await long.close();
      } finally {
        await connection.close();
        await session.close();
      }
    });
  }
});
