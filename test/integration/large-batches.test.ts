// Results and writes far over 16 MiB crossing real MessagePorts: 48
// documents of ~1.1 MB (53 MB in all) inserted through workers: 2 (the
// session splits them into OP_MSGs under the server's 48 MB
// maxMessageSizeBytes, each batch's bytes transferred to a worker), then
// read back in batches of ~15 MB (a find and its getMores, an aggregate
// and its getMores), each reply crossing back: decoded in the worker and
// sent as a typed clone (src/worker/protocol.ts encodeReply), or, with
// raw, as the server's bytes. Every document is compared by a checksum
// of its BSON; nothing is left checked out.
//
// FerretDB sends as many documents as the batch size asks for, whatever
// their size (a MongoDB server stops a batch at 16 MiB): without a batch
// size its first batch of this collection is one 50 MB message, which the
// driver refuses (over maxMessageSizeBytes). The batch sizes below keep
// each reply under 16 MiB, as a MongoDB server would.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BSON, Binary, Double, Long, ObjectId, type Document } from 'bson';
import { dial } from '../../src/session/dial.js';
import { Mode } from '../../src/session/modes.js';
import { openSession, type Session } from '../../src/session/session.js';
import type { RouterReply, RouterRequest } from '../../src/router/router.js';
import { resolveOptions } from '../../src/uri/resolve.js';
import { WorkerRouter } from '../../src/worker/worker-router.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { waitForBaseline } from '../fixtures/worker-baseline.js';

let server: TestServer;
let router: WorkerRouter;
let session: Session;
const DB = `mgo_large_batches_${process.pid}`;
const COUNT = 48;
const BINARY_BYTES = 1_100_000;
/** Documents per batch: 14 x ~1.1 MB, about 15.4 MB a reply, under 16 MiB. */
const BATCH = 14;
const MIB16 = 16 * 1024 * 1024;

/** What each command sent through the router got back: its name, its documents sent, the batch it returned. */
const log: { command: string; sentDocuments: number; sentBytes: number; batch: number }[] = [];

/** Seeded bytes (xorshift32), so that every document differs and a run is reproducible. */
function bytes(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function documentOf(i: number): Document {
  return {
    _id: i,
    n: new Double(i + 0.5),
    big: Long.fromString((9_007_199_254_740_000n + BigInt(i) * 100n).toString()), // past 2^53 from i = 10: a Long, below it a number
    oid: ObjectId.createFromHexString(i.toString(16).padStart(24, '0')),
    when: new Date(Date.UTC(2024, 0, 1, 0, 0, i)),
    tags: ['a', i, { nested: [i, 'x'.repeat(i)] }],
    bin: new Binary(bytes(i + 1, BINARY_BYTES), 0),
    text: `document ${i} `.repeat(1_000),
  };
}

/** A checksum of the document as js-bson on this thread would decode it from the server's bytes (what a reply must give). */
function checksum(doc: Document): string {
  return createHash('sha256').update(BSON.serialize(doc)).digest('hex');
}

const expected = new Map<number, string>();

before(async () => {
  server = await startTestServer();
  router = await WorkerRouter.create(await resolveOptions(server.uri, { workers: 2 }));
  // Every command the session sends, and the batch it gets back (the router is the session's way to the workers).
  const run = router.run.bind(router);
  router.run = async (request: RouterRequest): Promise<RouterReply> => {
    const command = Object.keys(request.command)[0]!;
    const sequence = request.sequences?.[0];
    const entry = { command, sentDocuments: 0, sentBytes: 0, batch: 0 };
    if (sequence && 'bytes' in sequence) {
      entry.sentDocuments = sequence.count;
      entry.sentBytes = sequence.bytes.byteLength;
    }
    log.push(entry);
    const reply = await run(request);
    const cursor = reply.reply.cursor as { firstBatch?: unknown[]; nextBatch?: unknown[] } | undefined;
    entry.batch = (cursor?.firstBatch ?? cursor?.nextBatch ?? []).length;
    return reply;
  };
  session = openSession(router, { mode: Mode.Eventual, database: DB });
  for (let i = 0; i < COUNT; i++) expected.set(i, checksum(BSON.deserialize(BSON.serialize(documentOf(i)))));
});

after(async () => {
  await session?.db(DB).dropDatabase().catch(() => {});
  await session?.close();
  await router?.destroy();
  await server?.stop();
});

function commands(name: string): typeof log {
  return log.filter((entry) => entry.command === name);
}

/** Every document, once, with the content it was written with. */
function assertAll(docs: Document[], what: string): void {
  assert.equal(docs.length, COUNT, `${what}: ${docs.length} documents`);
  const seen = new Set<number>();
  for (const doc of docs) {
    const id = doc._id as number;
    assert.ok(!seen.has(id), `${what}: _id ${id} twice`);
    seen.add(id);
    assert.equal(checksum(doc), expected.get(id), `${what}: document ${id} differs from what was written`);
  }
}

/** The reads' batches: a first one and getMores, each under 16 MiB, more than 16 MiB in all. */
function assertBatches(entries: typeof log, first: string, what: string): void {
  assert.equal(entries[0]?.command, first, what);
  assert.deepEqual(
    entries.map((e) => e.batch),
    [BATCH, BATCH, BATCH, COUNT - 3 * BATCH],
    `${what}: a first batch and three getMores`,
  );
  assert.deepEqual(
    entries.slice(1).map((e) => e.command),
    ['getMore', 'getMore', 'getMore'],
  );
}

describe('batches over 16 MiB across the MessagePorts of real workers', () => {
  test(`insert of ${COUNT} documents of ~1.1 MB (53 MB): split into OP_MSGs under maxMessageSizeBytes, every document stored once`, { timeout: 60_000 }, async () => {
    const docs = Array.from({ length: COUNT }, (_, i) => documentOf(i));
    log.length = 0;
    await session.db(DB).c('big').insert(...docs);
    const inserts = commands('insert');
    assert.ok(inserts.length >= 2, `${inserts.length} insert commands`);
    assert.equal(
      inserts.reduce((sum, e) => sum + e.sentDocuments, 0),
      COUNT,
      'each document sent once',
    );
    const total = inserts.reduce((sum, e) => sum + e.sentBytes, 0);
    assert.ok(total > 3 * MIB16, `${total} bytes sent in all`);
    for (const entry of inserts) assert.ok(entry.sentBytes < 48_000_000, `an OP_MSG of ${entry.sentBytes} bytes of documents`);
    assert.equal(await session.db(DB).c('big').count(), COUNT);
  });

  test('a find read back in ~15 MB batches (a typed clone per reply, decoded in the worker): complete and unchanged', { timeout: 60_000 }, async () => {
    log.length = 0;
    const docs: Document[] = [];
    for await (const doc of session.db(DB).c('big').find({}).sort('_id').batch(BATCH).iter()) docs.push(doc);
    assertAll(docs, 'find');
    assertBatches(log, 'find', 'find');
    assert.deepEqual(
      docs.map((d) => d._id),
      Array.from({ length: COUNT }, (_, i) => i),
      'in order',
    );
    assert.ok(docs[0]!.big instanceof Long || typeof docs[0]!.big === 'number');
    assert.ok(docs[0]!.bin instanceof Binary && docs[0]!.oid instanceof ObjectId && docs[0]!.when instanceof Date);
  });

  test('the same with raw: each reply crosses as the server’s bytes and every document stays BSON', { timeout: 60_000 }, async () => {
    log.length = 0;
    const raw = (await session.db(DB).c('big').find({}).batch(BATCH).bsonOptions({ raw: true }).all()) as unknown as Uint8Array[];
    assert.ok(raw.every((doc) => doc instanceof Uint8Array));
    assertAll(
      raw.map((doc) => BSON.deserialize(doc)),
      'raw find',
    );
    assertBatches(log, 'find', 'raw find');
  });

  test('an aggregate read back in ~15 MB batches: complete and unchanged', { timeout: 60_000 }, async () => {
    log.length = 0;
    const docs = await session.db(DB).c('big').pipe([{ $match: {} }]).batch(BATCH).all();
    assertAll(docs, 'aggregate');
    assertBatches(log, 'aggregate', 'aggregate');
  });

  test('nothing is left checked out, and the accounting balances', { timeout: 60_000 }, async () => {
    await waitForBaseline(router, server.address, 'after the large batches');
  });
});

// A guard on the fixture itself: dial() is the public way in, and reads the same with workers 0.
test('workers 0 reads the same documents (the expected checksums are what a reply decoded on one thread gives)', { timeout: 60_000 }, async () => {
  const local = await dial(server.uri, { workers: 0 });
  try {
    const docs: Document[] = [];
    for await (const doc of local.db(DB).c('big').find({}).batch(BATCH).iter()) docs.push(doc);
    assertAll(docs, 'workers 0');
  } finally {
    await local.close();
  }
});
