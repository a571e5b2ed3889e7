// GridFS uploads that fail, against the test server, workers 0 and 2:
// - a write whose index creation fails (the GridFS spec's indexes, made
//   before the first chunk) fails the file: a later write and close() report
//   that error and no file appears, instead of the chunk it was storing being
//   dropped and a file of missing bytes being stored by close();
// - an upload that fails on a duplicate _id (setId() of a stored file)
//   removes only the chunks it stored itself, never those of the file that
//   already has that _id (and those it stored, when the files document is
//   what failed);
// - a file's Writable destroyed before it finished, without an error (a
//   cancelled upload), aborts the file as an error does: its chunks go and
//   a later close() stores no file of the bytes written so far.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { MongoClient } from 'mongodb';
import { dial, ErrNotFound, MgoError, type GridFS, type Session } from '../../src/index.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';

const DB = `mgo_gridfs_failed_${process.pid}`;
let server: TestServer;
let official: MongoClient;

before(async () => {
  server = await startTestServer();
  official = new MongoClient(server.uri, { directConnection: true, serverSelectionTimeoutMS: 10_000 });
});

after(async () => {
  await official?.db(DB).dropDatabase().catch(() => {});
  await official?.close();
  await server?.stop();
});

async function readAll(gfs: GridFS, id: unknown): Promise<string> {
  const file = await gfs.openId(id);
  const pieces: Buffer[] = [];
  for await (const piece of file) pieces.push(piece);
  await file.close();
  return Buffer.concat(pieces).toString();
}

for (const workers of [0, 2]) {
  describe(`GridFS failed writes, workers ${workers}`, { timeout: 60_000 }, () => {
    let session: Session;

    before(async () => {
      session = await dial(server.uri, { workers, poolLimit: 4 });
    });

    after(async () => {
      await session?.close();
    });

    test('a write whose index creation fails fails the file: later writes and close() report it, no file appears', async () => {
      const prefix = `idx${workers}`;
      const gfs = session.db(DB).gridFS(prefix);
      // An index of the chunks index's name on another key: creating the spec's index conflicts with it.
      await official.db(DB).collection(`${prefix}.chunks`).createIndex({ files_id: -1 }, { name: 'files_id_1_n_1' });
      const file = await gfs.create('a.txt');
      file.setChunkSize(4);
      const failure = await file.write('abcd').then(
        () => assert.fail('the first chunk was stored although its index could not be created'),
        (err: unknown) => err,
      );
      assert.ok(failure instanceof MgoError, String(failure));
      // The conflict is gone: a retried index creation would now succeed, yet the file lost 'abcd'.
      await official.db(DB).collection(`${prefix}.chunks`).dropIndex('files_id_1_n_1');
      await assert.rejects(file.write('efgh'), (err) => err === failure);
      await assert.rejects(file.close(), (err) => err === failure);
      await assert.rejects(gfs.openId(file.id()), (err) => err === ErrNotFound);
      assert.equal(await official.db(DB).collection(`${prefix}.chunks`).countDocuments({ files_id: file.id() }), 0);
    });

    test('an upload failing on a stored file\'s _id removes its own chunks only', async () => {
      const gfs = session.db(DB).gridFS(`dup${workers}`);
      const first = await gfs.create('first.txt');
      first.setChunkSize(4);
      await first.write('0123456789');
      await first.close();

      const second = await gfs.create('second.txt');
      second.setId(first.id());
      second.setChunkSize(8);
      await second.write('x').catch(() => undefined);
      await assert.rejects(second.close());

      assert.equal(await readAll(gfs, first.id()), '0123456789');

      // An empty stored file: the chunks go in, the files document fails, and they are removed.
      const empty = await gfs.create('empty.txt');
      await empty.close();
      const third = await gfs.create('third.txt');
      third.setId(empty.id());
      third.setChunkSize(2);
      await third.write('abcde');
      await assert.rejects(third.close());
      assert.equal(await official.db(DB).collection(`dup${workers}.chunks`).countDocuments({ files_id: empty.id() }), 0);
      assert.equal(await readAll(gfs, empty.id()), '');
    });

    test('a Writable destroyed before its end, without an error, aborts the file', async () => {
      const gfs = session.db(DB).gridFS(`destroyed${workers}`);
      const file = await gfs.create('cancelled.bin');
      file.setChunkSize(1024);
      const writable = file.stream();
      const written = new Promise<void>((resolve, reject) => writable.write(Buffer.alloc(5000, 7), (err) => (err ? reject(err) : resolve())));
      await written;
      writable.destroy();
      await once(writable, 'close');
      await assert.rejects(file.close(), (err) => err instanceof MgoError && err.code === 'ERR_GRIDFS_ABORTED');
      await assert.rejects(gfs.openId(file.id()), (err) => err === ErrNotFound);
      assert.equal(await official.db(DB).collection(`destroyed${workers}.chunks`).countDocuments({ files_id: file.id() }), 0);
    });
  });
}
