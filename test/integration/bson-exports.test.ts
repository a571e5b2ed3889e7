// Issue 14, item 11, end to end: what the driver returns, decoded in this
// thread (workers 0) or in a worker and rebuilt here (workers 2), is made
// of the classes the package entry exports. (No Decimal128: FerretDB 1.24
// closes the connection on one; no DBRef: it refuses keys starting with '$'.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, Int32, Long, ObjectId, Timestamp, UUID, dial } from '../../src/index.js';
import { testServerForFile } from '../fixtures/file-server.js';

const DB = `mgo_bson_exports_${process.pid}`;
const server = testServerForFile(DB);

describe('BSON classes from the package entry', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: found documents are instances of the exported classes`, { timeout: 30_000 }, async () => {
      const session = await dial(server.uri, { workers });
      try {
        const c = session.db(DB).c(`w${workers}`);
        await c.insert({
          _id: new ObjectId(),
          long: Long.fromString('9007199254740993'),
          binary: new Binary(Buffer.from('abc')),
          uuid: new UUID(),
          ts: new Timestamp({ t: 1, i: 2 }),
          n: new Int32(3),
        });
        session.setBSONOptions({ promoteValues: false });
        const doc = await c.find().one();
        assert.ok(doc);
        assert.ok(doc._id instanceof ObjectId, '_id is an ObjectId');
        assert.ok(doc.long instanceof Long, 'long is a Long');
        assert.ok(doc.binary instanceof Binary, 'binary is a Binary');
        assert.ok(doc.ts instanceof Timestamp, 'ts is a Timestamp');
        assert.ok(doc.n instanceof Int32, 'n is an Int32 (promoteValues off)');
        assert.ok(doc.uuid instanceof Binary, 'uuid is a Binary (subtype 4)');
      } finally {
        await session.close();
      }
    });
  }
});
