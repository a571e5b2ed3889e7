// Fuzzing the replies: a scripted server (fake-server.ts) answers each
// operation of mgo's API with its valid reply (scripted-replies.ts)
// mutated (test/fixtures/fuzz.ts: bit flips, byte changes, truncation,
// length fields, BSON type bytes, header fields, compression, values of
// the wrong type swapped in), and every operation must either succeed with
// a well-typed result or fail with an MgoError of a stable code that names
// the server; nothing else: no TypeError, no hang (each operation is raced
// against a generous deadline), no unhandled rejection, no uncaught
// exception, no socket left checked out, and good operations succeed
// afterwards. Workers 0, then 2 (errors cross the thread as records).
//
// Reproducible: the run's seed is printed (MGO_FUZZ_SEED=<seed> runs it
// again, MGO_FUZZ_ONLY=<iteration> only that iteration), and each mutation
// is derived from the seed, the iteration and the command's place in it,
// never from arrival order. A malformed message closes its connection and
// makes the server Unknown, its pool cleared, until the monitor's next
// check (at most every 500 ms): one at a time, the run would take minutes.
// So iterations run LANES at a time over several scripted servers, each
// dialed on its own, and each iteration names its own database
// (f<iteration>: every command carries it as $db), so that a server knows
// which iteration a command belongs to whatever the interleaving. An
// iteration whose operation failed before any of its commands reached the
// server (its checkout met another iteration's pool clear) is run again:
// it has met no reply yet.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'bson';
import { MgoError, type ErrorCode } from '../../../src/errors.js';
import { dial } from '../../../src/session/dial.js';
import { BulkError } from '../../../src/session/errors.js';
import { Mode } from '../../../src/session/modes.js';
import type { Session } from '../../../src/session/session.js';
import type { BSONOptions } from '../../../src/uri/options.js';
import { MessageReader } from '../../../src/wire/message-reader.js';
import { isDocument } from '../../../src/wire/reply-shape.js';
import { defaultHello, encodeReply, startFakeServer, type FakeConnection, type FakeServer, type ReceivedCommand } from '../../fixtures/fake-server.js';
import { Rng, fuzzSeed, mutateReply, seedOf } from '../../fixtures/fuzz.js';
import { COLLECTION, validReply } from '../../fixtures/scripted-replies.js';
import { settleWithin } from '../../fixtures/settle.js';
import { waitFor } from '../../fixtures/wait.js';

const SEED = fuzzSeed();
const ONLY = process.env.MGO_FUZZ_ONLY === undefined || process.env.MGO_FUZZ_ONLY === '' ? undefined : Number(process.env.MGO_FUZZ_ONLY);
console.log(`reply fuzzing: seed ${SEED} (MGO_FUZZ_SEED=${SEED} repeats this run)`);

/** Generous: an operation that has not settled by then hangs. */
const DEADLINE_MS = 20_000;
/**
 * How the sessions decode replies, one per scripted server (setBSONOptions):
 * numbers as BSON wrappers, int64 as Long or bigint, query and pipe
 * results as raw bytes. Whatever the decoding, the results keep their types.
 */
const BSON_VARIANTS: readonly BSONOptions[] = [{}, { promoteValues: false }, { raw: true }, { promoteLongs: false, promoteBuffers: true }, { useBigInt64: true, bsonRegExp: true }];

/** Per mode: operations, scripted servers (one dial each, decoding as BSON_VARIANTS[i]), operations in flight at once. */
const RUNS = {
  0: { iterations: 320, servers: 8, lanes: 16 },
  2: { iterations: 120, servers: 3, lanes: 6 },
} as const;
/** Runs of one iteration that never reached its server, at most. */
const MAX_UNSENT_RUNS = 200;

/** The codes an operation may fail with here, and whether the error must name the server. */
const ALLOWED: ReadonlyMap<ErrorCode, 'names the server' | 'no server'> = new Map([
  ['ERR_PROTOCOL', 'names the server'],
  ['ERR_CONNECTION_CLOSED', 'names the server'],
  ['ERR_NETWORK', 'names the server'],
  ['ERR_COMPRESSION_UNSUPPORTED', 'names the server'],
  // Mutated error fields, ok: 0: the server's message, its address kept on the error.
  ['ERR_QUERY', 'names the server'],
  ['ERR_WRITE', 'names the server'],
  // A checkout waiting in a pool another iteration's failure cleared (not retried: retryReads is off, writes have no sessions).
  ['ERR_POOL_CLEARED', 'names the server'],
  // Bulk.run(): each case holds its own error, checked as these are.
  ['ERR_BULK', 'no server'],
  // ErrNotFound: a mutated batch or count came back empty or zero.
  ['ERR_NOT_FOUND', 'no server'],
]);

// ------------------------------------------------------------ operations

const isCount = (n: unknown) => Number.isInteger(n) && (n as number) >= 0;
const isChangeInfo = (v: unknown) =>
  v === undefined || (isDocument(v) && isCount(v.updated) && isCount(v.removed) && isCount(v.matched));
/** A query or pipe result: a document, or its BSON bytes when the session asked for raw ones. */
const isResult = (v: unknown, raw: boolean) => isDocument(v) || (raw && v instanceof Uint8Array);
const areResults = (v: unknown, raw: boolean) => Array.isArray(v) && v.every((doc) => isResult(doc, raw));

interface Operation {
  run(session: Session, db: string): Promise<unknown>;
  /** Whether a result is of the type the API promises (`raw`: the session decodes query and pipe results as bytes). */
  typed(result: unknown, raw: boolean): boolean;
}

const c = (session: Session, db: string) => session.db(db).c(COLLECTION);

const OPERATIONS: Record<string, Operation> = {
  'find().one()': { run: (s, db) => c(s, db).find({}).one(), typed: isResult },
  'find().batch(2).all()': { run: (s, db) => c(s, db).find({}).batch(2).all(), typed: areResults },
  'find().limit(3).iter()': {
    async run(s, db) {
      const iter = c(s, db).find({}).limit(3).iter();
      const docs: unknown[] = [];
      for await (const doc of iter) docs.push(doc);
      return docs;
    },
    typed: areResults,
  },
  'count()': { run: (s, db) => c(s, db).count(), typed: isCount },
  'distinct()': { run: (s, db) => c(s, db).find({}).distinct('name'), typed: Array.isArray },
  'insert()': { run: (s, db) => c(s, db).insert({ _id: 9 }, { _id: 10 }), typed: (v) => v === undefined },
  'update()': { run: (s, db) => c(s, db).update({ _id: 1 }, { $set: { a: 1 } }), typed: (v) => v === undefined },
  'updateAll()': { run: (s, db) => c(s, db).updateAll({}, { $set: { a: 1 } }), typed: isChangeInfo },
  'upsert()': { run: (s, db) => c(s, db).upsert({ _id: 9 }, { $set: { a: 1 } }), typed: isChangeInfo },
  'remove()': { run: (s, db) => c(s, db).remove({ _id: 1 }), typed: (v) => v === undefined },
  'removeAll()': { run: (s, db) => c(s, db).removeAll({}), typed: isChangeInfo },
  'apply()': {
    run: (s, db) => c(s, db).find({ _id: 1 }).apply({ update: { $set: { a: 1 } }, returnNew: true }),
    typed: (v) => isDocument(v) && isChangeInfo(v.info) && (v.doc === undefined || isDocument(v.doc)),
  },
  'pipe().all()': { run: (s, db) => c(s, db).pipe([{ $match: {} }]).batch(2).all(), typed: areResults },
  'indexes()': {
    run: (s, db) => c(s, db).indexes(),
    typed: (v) => Array.isArray(v) && v.every((i) => typeof i.name === 'string' && Array.isArray(i.key) && i.key.every((k: unknown) => typeof k === 'string')),
  },
  'collectionNames()': { run: (s, db) => s.db(db).collectionNames(), typed: (v) => Array.isArray(v) && v.every((n) => typeof n === 'string') },
  'bulk().run()': {
    run: (s, db) => c(s, db).bulk().insert({ _id: 11 }).update({ _id: 1 }, { $set: { a: 1 } }).remove({ _id: 2 }).run(),
    typed: (v) => isDocument(v) && isCount(v.matched) && isCount(v.modified),
  },
  'run({ ping: 1 })': { run: (s, db) => s.db(db).run({ ping: 1 }), typed: isDocument },
};
const OPERATION_NAMES = Object.keys(OPERATIONS);

// ---------------------------------------------------------------- server

interface Fuzzer {
  server: FakeServer;
  /** Mutations on (false: every reply valid, for the checks before and after). */
  hostile: boolean;
  /** What was sent for each iteration (by $db), for the failure message. */
  sent: Map<string, string[]>;
  /** Commands received per $db while hostile. */
  counts: Map<string, number>;
}

/**
 * The scripted server: hello answered as is, every other command with its
 * valid reply mutated by an Rng seeded from (seed, $db, command, its place
 * among the commands of that $db). All bytes go through writeRaw, and a
 * reader like the client's follows each connection's stream: when a
 * mutation leaves a message incomplete (a length past the bytes sent), the
 * client would wait for the rest, so the server ends the connection, as a
 * server that dies mid-message does.
 */
async function startFuzzer(): Promise<Fuzzer> {
  const fuzzer: Fuzzer = { server: undefined!, hostile: false, sent: new Map(), counts: new Map() };
  const streams = new Map<FakeConnection, MessageReader | 'broken'>();
  const counts = fuzzer.counts;
  const write = (connection: FakeConnection, bytes: Buffer) => {
    connection.writeRaw(bytes);
    const reader = streams.get(connection) ?? new MessageReader(defaultHello.maxMessageSizeBytes);
    if (reader === 'broken') return;
    try {
      reader.push(bytes);
      streams.set(connection, reader);
      if (reader.pendingBytes > 0) connection.socket.end();
    } catch {
      // The client refuses this stream and closes the connection itself.
      streams.set(connection, 'broken');
    }
  };
  fuzzer.server = await startFakeServer(
    (cmd: ReceivedCommand) => {
      if (cmd.name === 'hello' || cmd.name === 'isMaster') return write(cmd.connection, encodeReply(cmd.requestId, { ...defaultHello, connectionId: cmd.connection.id }));
      const reply = validReply(cmd) ?? { ok: 1 };
      if (!fuzzer.hostile) return write(cmd.connection, encodeReply(cmd.requestId, reply));
      const db = String(cmd.command.$db);
      const place = counts.get(db) ?? 0;
      counts.set(db, place + 1);
      const mutated = mutateReply(new Rng(seedOf(SEED, db, cmd.name, place)), cmd.requestId, reply);
      const log = fuzzer.sent.get(db) ?? [];
      log.push(`${cmd.name}: ${mutated.what}`);
      fuzzer.sent.set(db, log);
      write(cmd.connection, mutated.bytes);
    },
    { autoReply: 'none' },
  );
  return fuzzer;
}

// --------------------------------------------------------------- running

/** Why an error is not one the fuzzer accepts; undefined when it is. */
function unacceptable(error: unknown, address: string): string | undefined {
  if (!(error instanceof MgoError)) return `not an MgoError: ${error instanceof Error ? error.stack : String(error)}`;
  const rule = ALLOWED.get(error.code);
  if (rule === undefined) return `code ${error.code} is not expected here: ${error.message}`;
  if (rule === 'names the server' && error.address !== address && !error.message.includes(address)) return `${error.code} does not name the server ${address}: ${error.message}`;
  if (error instanceof BulkError) {
    for (const { err } of error.cases()) {
      const why = unacceptable(err, address);
      if (why) return `bulk case: ${why}`;
    }
  }
  return undefined;
}

interface Failure {
  iteration: number;
  operation: string;
  why: string;
}

async function fuzz(workers: 0 | 2): Promise<void> {
  const { iterations: count, servers, lanes } = RUNS[workers];
  const unexpected: string[] = [];
  const onRejection = (reason: unknown) => unexpected.push(`unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
  const onException = (error: Error) => unexpected.push(`uncaught exception: ${error.stack}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  const fuzzers = await Promise.all(Array.from({ length: servers }, startFuzzer));
  const sessions: Session[] = [];
  const failures: Failure[] = [];
  const tally = new Map<string, number>();
  const count1 = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);
  try {
    // Reads are not retried (a retry meets another mutation, which only makes the run longer); writes have no sessions (no logicalSessionTimeoutMinutes), so none is retried.
    for (const { server } of fuzzers) sessions.push(await dial(`mongodb://${server.address}/?directConnection=true&retryReads=false`, { workers }));
    sessions.forEach((session, i) => {
      session.setMode(Mode.Eventual, true);
      session.setBSONOptions(BSON_VARIANTS[i % BSON_VARIANTS.length]!);
    });
    const inUseZero = () => sessions.every((session) => session.stats().every((s) => s.inUse === 0));
    for (const fuzzer of fuzzers) fuzzer.hostile = true;
    const iterations = ONLY === undefined ? Array.from({ length: count }, (_, i) => i) : [ONLY];
    let next = 0;
    const lane = async (laneNumber: number) => {
      const fuzzer = fuzzers[laneNumber % servers]!;
      const session = sessions[laneNumber % servers]!;
      const raw = session.bsonOptions().raw === true;
      const address = fuzzer.server.address;
      while (next < iterations.length) {
        const iteration = iterations[next++]!;
        const db = `f${iteration}`;
        const name = new Rng(seedOf(SEED, 'operation', iteration)).pick(OPERATION_NAMES);
        const operation = OPERATIONS[name]!;
        for (let run = 1; ; run++) {
          const before = fuzzer.counts.get(db) ?? 0;
          const outcome = await settleWithin(operation.run(session, db), DEADLINE_MS, `iteration ${iteration} (${name})`).catch((error: Error) => {
            failures.push({ iteration, operation: name, why: error.message });
            return undefined;
          });
          if (outcome === undefined) break;
          const why = outcome.ok ? (operation.typed(outcome.value, raw) ? undefined : `resolved with a value of the wrong type: ${JSON.stringify(outcome.value)}`) : unacceptable(outcome.error, address);
          if (why) {
            failures.push({ iteration, operation: name, why });
            break;
          }
          const unsent = !outcome.ok && (fuzzer.counts.get(db) ?? 0) === before;
          if (unsent && run < MAX_UNSENT_RUNS) {
            count1(`run again (${(outcome.error as MgoError).code} before sending)`);
            continue;
          }
          count1(outcome.ok ? 'succeeded' : `failed ${(outcome.error as MgoError).code}`);
          break;
        }
      }
    };
    await Promise.all(Array.from({ length: lanes }, (_, i) => lane(i)));
    for (const fuzzer of fuzzers) fuzzer.hostile = false;

    // Nothing left checked out (a worker's stats arrive with its next batch), and good operations succeed.
    await waitFor('inUse 0 after the fuzzing', inUseZero, DEADLINE_MS);
    for (const name of OPERATION_NAMES) {
      const outcome = await settleWithin(OPERATIONS[name]!.run(sessions[0]!, 'after'), DEADLINE_MS, `${name} after the fuzzing`);
      assert.ok(outcome.ok && OPERATIONS[name]!.typed(outcome.value, false), `${name} after the fuzzing: ${outcome.ok ? JSON.stringify(outcome.value) : String(outcome.error)}`);
    }
    await waitFor('inUse 0 after the good operations', inUseZero, DEADLINE_MS);
  } finally {
    for (const fuzzer of fuzzers) fuzzer.hostile = false;
    await Promise.all(sessions.map((session) => session.close()));
    await Promise.all(fuzzers.map((fuzzer) => fuzzer.server.close()));
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  }
  console.log(`workers ${workers}: ${[...tally].sort().map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const sent = (iteration: number) => fuzzers.flatMap((f) => f.sent.get(`f${iteration}`) ?? []).join(' | ');
  const report = failures
    .slice(0, 10)
    .map((f) => `iteration ${f.iteration} (${f.operation}; MGO_FUZZ_SEED=${SEED} MGO_FUZZ_ONLY=${f.iteration}): ${f.why}\n    replies: ${sent(f.iteration)}`)
    .join('\n');
  assert.deepEqual(unexpected, [], 'no unhandled rejection or uncaught exception');
  assert.equal(failures.length, 0, `${failures.length} operations broke the rules (seed ${SEED}):\n${report}`);
}

describe(`reply fuzzing (seed ${SEED})`, () => {
  after(() => console.log(`reply fuzzing: seed ${SEED}`));
  test(`workers: 0, ${RUNS[0].iterations} operations`, { timeout: 120_000 }, () => fuzz(0));
  test(`workers: 2, ${RUNS[2].iterations} operations`, { timeout: 120_000 }, () => fuzz(2));
});
