// Wire compression against the real test server. FerretDB has none (it
// closes the connection on OP_COMPRESSED), so the compressing proxy
// (test/fixtures/compressing-proxy.ts) stands in front of it and speaks
// compression to the driver as mongod does; its counters show what really
// went compressed.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, type Document } from 'bson';
import { MongoClient } from 'mongodb';
import { Connection } from '../../src/connection/connection.js';
import { dial } from '../../src/session/dial.js';
import type { CompressorName } from '../../src/wire/compression.js';
import { compressedMessages, startCompressingProxy, type CompressingProxy } from '../fixtures/compressing-proxy.js';
import { haveCompressors } from '../fixtures/compressors.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';

const DB = `mgo_compression_it_${process.pid}`;
const DOCS = 3000;
const BATCH = 500;

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

/** A proxy of the test's own, so that its counters hold that test's messages only. */
async function proxyFor(t: TestContext): Promise<CompressingProxy> {
  const proxy = await startCompressingProxy(server, ['snappy', 'zlib', 'zstd']);
  t.after(() => proxy.close());
  return proxy;
}

after(async () => {
  const cleanup = server && (await Connection.connect({ id: 0, generation: 0, host: server.host, port: server.port, connectTimeoutMS: 10_000, socketTimeoutMS: 30_000 }).catch(() => undefined));
  await cleanup?.command(DB, { dropDatabase: 1 }).catch(() => {});
  await cleanup?.close();
  await server?.stop();
});

function documents(from: number, count: number): Document[] {
  return Array.from({ length: count }, (_, i) => ({ _id: from + i, name: `document ${from + i}`, text: 'lorem ipsum dolor sit amet '.repeat(20), tags: ['a', 'b', String(i % 7)] }));
}

/** insert in batches, then find + getMore to the end; returns the _ids read and how many commands that took. */
async function roundTrip(conn: Connection, collection: string): Promise<{ ids: number[]; commands: number }> {
  let commands = DOCS / BATCH + 1;
  for (let from = 0; from < DOCS; from += BATCH) {
    const reply = await conn.command(DB, { insert: collection }, { sequences: [{ identifier: 'documents', documents: documents(from, BATCH) }] });
    assert.equal(reply.n, BATCH);
  }
  const ids: number[] = [];
  // Cursor ids are int64: read as bigint so that getMore sends them back as one.
  const deserialize = { useBigInt64: true };
  let reply = await conn.command(DB, { find: collection, filter: {}, sort: { _id: 1 }, batchSize: 200 }, { deserialize });
  for (;;) {
    const batch: Document[] = reply.cursor.firstBatch ?? reply.cursor.nextBatch;
    for (const doc of batch) {
      assert.equal(doc.text, 'lorem ipsum dolor sit amet '.repeat(20));
      ids.push(doc._id);
    }
    if (reply.cursor.id === 0n) break;
    commands++;
    reply = await conn.command(DB, { getMore: reply.cursor.id, collection, batchSize: 200 }, { deserialize });
  }
  return { ids, commands };
}

describe('compression through the proxy to FerretDB', () => {
  for (const name of ['snappy', 'zlib', 'zstd'] as const satisfies readonly CompressorName[]) {
    test(`${name}: insert, find and getMore of ${DOCS} documents go compressed both ways`, async (t) => {
      if (!haveCompressors(t, name)) return;
      const proxy = await proxyFor(t);
      const conn = await Connection.connect({ id: 1, generation: 0, host: proxy.host, port: proxy.port, connectTimeoutMS: 10_000, socketTimeoutMS: 30_000, compressors: [name] });
      try {
        assert.equal(conn.compressor, name);
        const { ids, commands: expected } = await roundTrip(conn, `c_${name}`);
        assert.deepEqual(ids, Array.from({ length: DOCS }, (_, i) => i));
        assert.ok(expected >= DOCS / BATCH + DOCS / 200, 'the reads took getMores');
        const { requests, replies } = proxy.counts;
        // Every insert, find and getMore went compressed; only the handshake went plain.
        assert.equal(requests[name].messages, expected);
        assert.equal(replies[name].messages, expected);
        assert.equal(compressedMessages(requests), expected, 'no other compressor was used');
        assert.deepEqual([requests.plain.messages, replies.plain.messages], [1, 1]);
        // The documents repeat their text: what crossed the wire is a fraction of their BSON.
        const bson = DOCS * BSON.calculateObjectSize(documents(0, 1)[0]!);
        assert.ok(requests[name].bytes < bson / 2, `${name} requests: ${requests[name].bytes} bytes for ${bson} of BSON`);
        assert.ok(replies[name].bytes < bson / 2, `${name} replies: ${replies[name].bytes} bytes for ${bson} of BSON`);
      } finally {
        await conn.close();
      }
    });
  }
});

describe('the compressing proxy, checked with the official driver', () => {
  // The official driver's compression is the reference: if it reads the
  // proxy's replies and the proxy reads its requests, the proxy speaks
  // OP_COMPRESSED as mongod does. It also shakes hands with a legacy
  // OP_QUERY isMaster, whose OP_REPLY the proxy must amend too.
  for (const name of ['snappy', 'zlib'] as const) {
    test(`official driver with compressors=${name}`, async (t) => {
      if (!haveCompressors(t, name)) return;
      const proxy = await proxyFor(t);
      const client = new MongoClient(proxy.uri, { directConnection: true, compressors: [name], serverSelectionTimeoutMS: 10_000 });
      try {
        const c = client.db(DB).collection(`official_${name}`);
        await c.insertMany(documents(0, BATCH));
        assert.equal((await c.find({}).batchSize(100).toArray()).length, BATCH);
        assert.ok(proxy.counts.requests[name].messages >= 1 + BATCH / 100, `${proxy.counts.requests[name].messages} ${name} requests`);
        assert.ok(proxy.counts.replies[name].messages >= 1 + BATCH / 100, `${proxy.counts.replies[name].messages} ${name} replies`);
      } finally {
        await client.close();
      }
    });
  }
});

describe('compression through the proxy to FerretDB, dialed', () => {
  for (const workers of [0, 2]) {
    for (const name of ['snappy', 'zlib', 'zstd'] as const satisfies readonly CompressorName[]) {
      test(`workers ${workers}, compressors=${name}: insert and read back ${DOCS} documents, compressed both ways`, async (t) => {
        if (!haveCompressors(t, name)) return;
        const proxy = await proxyFor(t);
        const session = await dial(`${proxy.uri}/?compressors=${name}`, { workers });
        try {
          const c = session.db(DB).c(`dial_w${workers}_${name}`);
          for (let from = 0; from < DOCS; from += BATCH) await c.insert(...documents(from, BATCH));
          const ids: number[] = [];
          for await (const doc of c.find({}).sort('_id').batch(200).iter()) ids.push(doc._id as number);
          assert.deepEqual(ids, Array.from({ length: DOCS }, (_, i) => i));
          const { requests, replies } = proxy.counts;
          // The inserts, the find and its getMores at least; the handshakes and monitor checks (hello) go plain.
          const commands = DOCS / BATCH + DOCS / 200;
          assert.ok(requests[name].messages >= commands, `${requests[name].messages} ${name} requests for ${commands} commands`);
          assert.ok(replies[name].messages >= commands, `${replies[name].messages} ${name} replies for ${commands} commands`);
          assert.equal(compressedMessages(requests), requests[name].messages, 'no other compressor was used');
          const bson = DOCS * BSON.calculateObjectSize(documents(0, 1)[0]!);
          assert.ok(requests[name].bytes + requests.plain.bytes < bson / 2, `requests: ${requests[name].bytes + requests.plain.bytes} bytes on the wire for ${bson} of BSON`);
          assert.ok(replies[name].bytes + replies.plain.bytes < bson / 2, `replies: ${replies[name].bytes + replies.plain.bytes} bytes on the wire for ${bson} of BSON`);
        } finally {
          await session.close();
        }
      });
    }
  }
});
