// Change streams (Collection/Database/Session.watch(), ChangeStream) over a
// scripted server, because FerretDB 1.24 has no change streams (its refusal
// is tested in test/integration/change-streams.test.ts). The server answers
// the $changeStream aggregate with a cursor and each getMore with the next
// step of the test's script: a batch of events (with or without a
// postBatchResumeToken), an empty batch (the server's wait ran out), a
// server error, or a cut connection. Workers 0 and 2.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Long, Timestamp, type Document } from 'bson';
import { dial, ServerError, type ChangeStream, type Session } from '../../../src/index.js';
import { defaultHello, startFakeServer, type FakeServer, type ReceivedCommand } from '../../fixtures/fake-server.js';
import { waitFor } from '../../fixtures/wait.js';

/** One reply of the script: events (and the batch's postBatchResumeToken), a server error, or a cut connection. */
type Step = { events: Document[]; pbrt?: Document; closed?: boolean } | { error: Document } | 'hangup';

interface Script {
  /** Replies to the aggregates, in order; an empty batch with a live cursor when the script has no more. */
  aggregates?: Step[];
  /** Replies to the getMores, in order; an empty batch when the script has no more. */
  getMores?: Step[];
}

/** 4.4+ replica-set member: sessions, and errors labelled by the server (ResumableChangeStreamError). */
const LABELLING = (me: string): Document => ({ ...defaultHello, setName: 'rs0', hosts: [me], me, logicalSessionTimeoutMinutes: 30 });
/** No sessions known: the driver decides resumability by the pre-4.4 code list. */
const CODE_LIST = (): Document => defaultHello;

const OPERATION_TIME = new Timestamp({ t: 1_700_000_000, i: 7 });
const event = (n: number, extra: Document = {}): Document => ({ _id: { _data: `E${n}` }, operationType: 'insert', ns: { db: 'd', coll: 'c' }, documentKey: { _id: n }, fullDocument: { _id: n }, ...extra });

/** A scripted server with its session: one per worker count and hello, re-scripted by each test (a dial with workers costs seconds). */
interface Scripted {
  session: Session;
  /** The commands named `name` received since the test scripted the server. */
  sent(name: string): Document[];
  /** The cursor id of the first aggregate since then. */
  firstCursor(): number;
}

interface Scripting {
  server: FakeServer;
  session: Session;
  script: Required<Script>;
  /** server.received.length when the test scripted it. */
  mark: number;
  cursors: number[];
}

const scriptings = new Map<string, Scripting>();
after(async () => {
  for (const { server, session } of scriptings.values()) {
    await session.close();
    await server.close();
  }
});

async function startScripted(hello: (me: string) => Document, workers: number): Promise<Scripting> {
  let address = '';
  let nextCursor = 100;
  const answer = (cmd: ReceivedCommand, step: Step | undefined, batch: 'firstBatch' | 'nextBatch', id: Long, ns: string): void => {
    if (step === 'hangup') {
      cmd.connection.socket.destroy();
      return;
    }
    if (step && 'error' in step) {
      cmd.connection.reply(cmd, { ok: 0, errmsg: 'scripted failure', ...step.error });
      return;
    }
    const cursor: Document = { [batch]: step?.events ?? [], id: step?.closed ? Long.ZERO : id, ns };
    if (step?.pbrt) cursor.postBatchResumeToken = step.pbrt;
    cmd.connection.reply(cmd, { cursor, operationTime: OPERATION_TIME, ok: 1 });
  };
  const server = await startFakeServer((cmd) => {
    const c = cmd.command;
    const { script } = scripting;
    if (cmd.name === 'hello' || cmd.name === 'isMaster') cmd.connection.reply(cmd, { ...hello(address), connectionId: cmd.connection.id });
    else if (cmd.name === 'aggregate') {
      const ns = `${c.$db as string}.${c.aggregate === 1 ? '$cmd.aggregate' : (c.aggregate as string)}`;
      scripting.cursors.push(++nextCursor);
      answer(cmd, script.aggregates.shift(), 'firstBatch', Long.fromNumber(nextCursor), ns);
    } else if (cmd.name === 'getMore') answer(cmd, script.getMores.shift(), 'nextBatch', c.getMore as Long, `${c.$db as string}.${c.collection as string}`);
    else if (cmd.name === 'killCursors') cmd.connection.reply(cmd, { cursorsKilled: c.cursors, ok: 1 });
  });
  address = server.address;
  const scripting: Scripting = { server, session: undefined as unknown as Session, script: { aggregates: [], getMores: [] }, mark: 0, cursors: [] };
  scripting.session = await dial(`mongodb://${server.address}/d?directConnection=true&serverSelectionTimeoutMS=5000`, { workers });
  return scripting;
}

async function scripted(workers: number, script: Script, hello: (me: string) => Document = LABELLING): Promise<Scripted> {
  const key = `${workers} ${hello.name}`;
  let scripting = scriptings.get(key);
  if (!scripting) {
    scripting = await startScripted(hello, workers);
    scriptings.set(key, scripting);
  }
  const { server } = scripting;
  scripting.script = { aggregates: [...(script.aggregates ?? [])], getMores: [...(script.getMores ?? [])] };
  scripting.mark = server.received.length;
  scripting.cursors = [];
  const { mark, cursors } = scripting;
  return {
    session: scripting.session,
    sent: (name) => server.received.slice(mark).filter((c) => c.name === name).map((c) => c.command),
    firstCursor: () => cursors[0]!,
  };
}

const stageOf = (aggregate: Document): Document => (aggregate.pipeline as Document[])[0]!.$changeStream as Document;

for (const workers of [0, 2]) {
  describe(`change streams over a scripted server (FerretDB 1.24 has none), workers ${workers}`, () => {
    test('Collection.watch(): $changeStream first with the options; events over getMores; the resume token; an empty batch is a timeout', async () => {
      const server = await scripted(workers, {
        getMores: [{ events: [event(1), event(2)], pbrt: { _data: 'P2' } }, { events: [], pbrt: { _data: 'P3' } }, { events: [event(4)] }],
      });
      const { session } = server;
      const stream = await session
        .db('d')
        .c('c')
        .watch([{ $match: { operationType: 'insert' } }], { fullDocument: 'updateLookup', batchSize: 2, maxAwaitTimeMS: 50, collation: { locale: 'en' } });
      const [aggregate] = server.sent('aggregate');
      assert.equal(aggregate!.aggregate, 'c');
      assert.deepEqual(aggregate!.pipeline, [{ $changeStream: { fullDocument: 'updateLookup' } }, { $match: { operationType: 'insert' } }]);
      assert.deepEqual(aggregate!.cursor, { batchSize: 2 });
      assert.deepEqual(aggregate!.collation, { locale: 'en' });
      assert.equal(aggregate!.maxTimeMS, undefined, 'maxAwaitTimeMS is for the getMores');
      assert.equal(stream.resumeToken(), undefined);

      assert.deepEqual(await stream.next(), event(1));
      assert.deepEqual(stream.resumeToken(), { _data: 'E1' }, 'mid-batch: the event _id');
      assert.deepEqual(await stream.next(), event(2));
      assert.deepEqual(stream.resumeToken(), { _data: 'P2' }, "the batch's last event: its postBatchResumeToken");
      const [getMore] = server.sent('getMore');
      assert.equal(getMore!.collection, 'c');
      assert.equal(getMore!.maxTimeMS, 50);
      assert.equal(getMore!.batchSize, 2);

      assert.equal(await stream.next(), undefined);
      assert.equal(stream.timeout(), true, 'an empty batch: the wait ran out');
      assert.equal(stream.err(), undefined);
      assert.deepEqual(stream.resumeToken(), { _data: 'P3' }, "an empty batch's postBatchResumeToken");
      const [fourth, none] = await Promise.all([stream.next(), stream.next()]);
      assert.deepEqual(fourth, event(4), 'the same stream goes on after a timeout');
      assert.equal(none, undefined, 'concurrent next() calls take turns: the second asked after the first got its event');
      assert.equal(stream.timeout(), true);
      assert.deepEqual(stream.resumeToken(), { _data: 'E4' });
      await stream.close();
      assert.equal(server.sent('killCursors').length, 1, 'close() kills the cursor');
      assert.equal(await stream.next(), undefined);
    });

    test('Database.watch() aggregates 1 on the database; Session.watch() on admin with allChangesForCluster', async () => {
      const server = await scripted(workers, { getMores: [{ events: [event(1)] }, { events: [event(2)] }] });
      const { session } = server;
      const db = await session.db('d').watch();
      assert.deepEqual(await db.next(), event(1));
      await db.close();
      const cluster = await session.watch([], { startAtOperationTime: OPERATION_TIME });
      assert.deepEqual(await cluster.next(), event(2));
      await cluster.close();
      const [onDb, onCluster] = server.sent('aggregate');
      assert.equal(onDb!.aggregate, 1);
      assert.equal(onDb!.$db, 'd');
      assert.deepEqual(stageOf(onDb!), {});
      assert.equal(onCluster!.aggregate, 1);
      assert.equal(onCluster!.$db, 'admin');
      assert.deepEqual(stageOf(onCluster!), { allChangesForCluster: true, startAtOperationTime: OPERATION_TIME });
      assert.deepEqual(
        server.sent('getMore').map((g) => [g.$db, g.collection]),
        [
          ['d', '$cmd.aggregate'],
          ['admin', '$cmd.aggregate'],
        ],
      );
    });

    test('a resumable error (ResumableChangeStreamError label) resumes once: the old cursor killed, resumeAfter = the last token', async () => {
      const server = await scripted(workers, {
        getMores: [{ events: [event(1), event(2)] }, { error: { code: 10107, codeName: 'NotWritablePrimary', errorLabels: ['ResumableChangeStreamError'] } }],
        aggregates: [{ events: [] }, { events: [event(3)] }],
      });
      const { session } = server;
      const stream = await session.db('d').c('c').watch([], { fullDocument: 'updateLookup' });
      assert.deepEqual(await stream.next(), event(1));
      assert.deepEqual(await stream.next(), event(2));
      assert.deepEqual(await stream.next(), event(3), 'the event after the resume');
      const aggregates = server.sent('aggregate');
      assert.equal(aggregates.length, 2);
      assert.deepEqual(stageOf(aggregates[1]!), { fullDocument: 'updateLookup', resumeAfter: { _data: 'E2' } });
      await waitFor('the killCursors of the first cursor', () => server.sent('killCursors').length > 0, 10_000);
      assert.deepEqual(server.sent('killCursors')[0]!.cursors, [server.firstCursor()], 'the first cursor (the fake server reads its id as a number)');
      assert.deepEqual(server.sent('killCursors')[0]!.lsid, aggregates[0]!.lsid, "in the first cursor's session (sessions spec)");
      assert.deepEqual(stream.resumeToken(), { _data: 'E3' });
      await stream.close();
    });

    test('a cut connection resumes; with no token yet, at the opening reply operationTime', async () => {
      const server = await scripted(workers, { getMores: ['hangup'], aggregates: [{ events: [] }, { events: [event(1)] }] });
      const { session } = server;
      const stream = await session.db('d').c('c').watch();
      assert.deepEqual(await stream.next(), event(1));
      const [, resume] = server.sent('aggregate');
      assert.deepEqual(stageOf(resume!), { startAtOperationTime: OPERATION_TIME });
      await stream.close();
    });

    test('a stream opened with startAfter resumes with startAfter until an event came back', async () => {
      const server = await scripted(workers, { getMores: [{ events: [], pbrt: { _data: 'P1' } }, 'hangup'], aggregates: [{ events: [] }, { events: [event(2)] }] });
      const { session } = server;
      const stream = await session.db('d').c('c').watch([], { startAfter: { _data: 'S0' } });
      assert.deepEqual(stream.resumeToken(), { _data: 'S0' });
      assert.equal(await stream.next(), undefined);
      assert.equal(stream.timeout(), true);
      assert.deepEqual(await stream.next(), event(2));
      const [opening, resume] = server.sent('aggregate');
      assert.deepEqual(stageOf(opening!), { startAfter: { _data: 'S0' } });
      assert.deepEqual(stageOf(resume!), { startAfter: { _data: 'P1' } });
      await stream.close();
    });

    test('not resumed: CappedPositionLost, an unlabelled error from a labelling server, a second failure in a row', async () => {
      const capped = await scripted(workers, { getMores: [{ error: { code: 136, codeName: 'CappedPositionLost', errorLabels: [] } }] });
      const s1 = await capped.session.db('d').c('c').watch();
      assert.equal(await s1.next(), undefined);
      assert.equal(s1.timeout(), false);
      assert.ok(s1.err() instanceof ServerError);
      assert.equal((s1.err() as ServerError).serverCode, 136);
      await assert.rejects(s1.close(), (err) => err === s1.err(), 'close() reports the error, as mgo');
      assert.equal(capped.sent('aggregate').length, 1, 'no resume');

      const unlabelled = await scripted(workers, { getMores: [{ error: { code: 6, codeName: 'HostUnreachable' } }] });
      const s2 = await unlabelled.session.db('d').c('c').watch();
      assert.equal(await s2.next(), undefined);
      assert.equal((s2.err() as ServerError).serverCode, 6);
      assert.equal(unlabelled.sent('aggregate').length, 1, 'a 4.4+ server labels what is resumable');

      const twice = await scripted(workers, { getMores: ['hangup', 'hangup'] });
      const s3 = await twice.session.db('d').c('c').watch();
      assert.equal(await s3.next(), undefined);
      assert.equal(s3.err()?.name, 'NetworkError');
      assert.equal(twice.sent('aggregate').length, 2, 'one resume, then the second failure surfaces');
    });

    test('before 4.4 (no labels), the code list decides: HostUnreachable resumes, Interrupted does not', async () => {
      const server = await scripted(workers, { getMores: [{ error: { code: 6, codeName: 'HostUnreachable' } }, { events: [event(1)] }, { error: { code: 11601, codeName: 'Interrupted' } }] }, CODE_LIST);
      const stream = await server.session.db('d').c('c').watch();
      assert.deepEqual(await stream.next(), event(1));
      assert.equal(await stream.next(), undefined);
      assert.equal((stream.err() as ServerError).serverCode, 11601);
      assert.equal(server.sent('aggregate').length, 2);
      await stream.close().catch(() => {});
    });

    test('an event without _id fails with ERR_CHANGE_STREAM and is not resumed from', async () => {
      const server = await scripted(workers, { getMores: [{ events: [{ operationType: 'insert' }] }] });
      const stream = await server.session.db('d').c('c').watch([{ $project: { _id: 0 } }]);
      assert.equal(await stream.next(), undefined);
      assert.equal((stream.err() as { code?: string }).code, 'ERR_CHANGE_STREAM');
      assert.match(stream.err()!.message, /no _id \(resume token\)/);
      assert.equal(server.sent('aggregate').length, 1);
      await assert.rejects(stream.close(), { code: 'ERR_CHANGE_STREAM' });
    });

    test('for await yields events across empty batches until break; it throws the stream error; a refused aggregate rejects watch()', async () => {
      const server = await scripted(workers, {
        getMores: [{ events: [event(1)] }, { events: [] }, { events: [] }, { events: [event(2), event(3)] }, { events: [event(4)] }, { error: { code: 136 } }],
      });
      const { session } = server;
      const stream = await session.db('d').c('c').watch();
      const seen: unknown[] = [];
      for await (const change of stream) {
        seen.push(change.documentKey?._id);
        if (seen.length === 3) break;
      }
      assert.deepEqual(seen, [1, 2, 3]);
      assert.equal(await stream.next(), undefined, 'leaving the loop closed the stream');
      assert.equal(server.sent('killCursors').length, 1, 'and killed its cursor');

      const failing = await session.db('d').c('c').watch();
      const events: unknown[] = [];
      await assert.rejects(
        (async () => {
          for await (const change of failing as ChangeStream) events.push(change.documentKey?._id);
        })(),
        (err: ServerError) => err.serverCode === 136,
      );
      assert.deepEqual(events, [4]);

      const refusing = await scripted(workers, { aggregates: [{ error: { code: 40573, codeName: 'Location40573', errmsg: 'The $changeStream stage is only supported on replica sets' } }] });
      await assert.rejects(refusing.session.db('d').c('c').watch(), (err: ServerError) => err instanceof ServerError && err.serverCode === 40573);
    });
  });
}

describe('watch() arguments', () => {
  test('a bad pipeline or option is ERR_INVALID_ARGUMENT, before any command', async () => {
    const server = await scripted(0, {});
    const c = server.session.db('d').c('c');
    await assert.rejects(c.watch({} as never), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(c.watch([], { maxAwaitTimeMS: -1 }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(c.watch([], { resumeAfter: { _data: 'a' }, startAfter: { _data: 'b' } }), { code: 'ERR_INVALID_ARGUMENT' });
    await assert.rejects(c.watch([], { startAtOperationTime: 5 as never }), { code: 'ERR_INVALID_ARGUMENT' });
    assert.equal(server.sent('aggregate').length, 0);
  });
});
