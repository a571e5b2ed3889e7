// GridFS against the test server, for workers 0 and 2: a file of several
// chunks written in uneven pieces round-trips byte-exact (read(), async
// iteration, streams, and the official driver's GridFSBucket reading it);
// seeks cross chunk borders; open() finds the newest upload; openNext()
// walks a find(); remove() and removeId() take the chunks with the files;
// abort() and a failed pipeline leave nothing behind; a missing or
// wrong-sized chunk fails with ERR_GRIDFS_CORRUPT instead of wrong bytes.
// Failed uploads: a write whose index creation fails fails the file (later
// writes and close() report it, no file of missing bytes is stored); a
// failure on a stored file's _id removes only the chunks the upload sent;
// a Writable destroyed before its end, even without an error, aborts.
// Behind the replica-set bridge, a Secondary-mode session still checks the
// files collection on the primary before its first write (GridFS spec).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, MongoClient } from 'mongodb';
import { dial, ErrNotFound, GridFS, MgoError, Mode, type Session } from '../../src/index.js';
import { startBridge, type CommandRecord } from '../fixtures/bridge/index.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { waitFor } from '../fixtures/wait.js';

const DB = `mgo_gridfs_${process.pid}`;
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

function isCode(code: string) {
  return (err: unknown) => err instanceof MgoError && err.code === code;
}

async function readAll(gfs: GridFS, name: string, pieceSize: number): Promise<Buffer> {
  const file = await gfs.open(name);
  const pieces: Buffer[] = [];
  for (let piece = await file.read(pieceSize); piece.length > 0; piece = await file.read(pieceSize)) pieces.push(piece);
  await file.close();
  return Buffer.concat(pieces);
}

/** The content of the file with this _id, through async iteration. */
async function readId(gfs: GridFS, id: unknown): Promise<string> {
  const file = await gfs.openId(id);
  const pieces: Buffer[] = [];
  for await (const piece of file) pieces.push(piece);
  await file.close();
  return Buffer.concat(pieces).toString();
}

async function upload(gfs: GridFS, name: string, content: Buffer, chunkSize?: number): Promise<unknown> {
  const file = await gfs.create(name);
  if (chunkSize) file.setChunkSize(chunkSize);
  await file.write(content);
  await file.close();
  return file.id();
}

for (const workers of [0, 2]) {
  describe(`GridFS, workers ${workers}`, { timeout: 60_000 }, () => {
    let session: Session;
    let gfs: GridFS;

    before(async () => {
      session = await dial(server.uri, { workers, poolLimit: 4 });
      gfs = session.db(DB).gridFS(`w${workers}`);
    });

    after(async () => {
      await session?.close();
    });

    test('3 MiB written in uneven pieces: whole chunks, the files document, byte-exact reads', async () => {
      const content = randomBytes(3 * 1024 * 1024 + 123);
      const file = await gfs.create('big.bin');
      file.setContentType('application/octet-stream');
      file.setMeta({ owner: 'test' });
      let written = 0;
      for (let at = 0; at < content.length; at += 700_001) written += await file.write(content.subarray(at, at + 700_001));
      assert.equal(written, content.length);
      assert.equal(file.size(), content.length);
      await file.close();

      const md5 = createHash('md5').update(content).digest('hex');
      assert.equal(file.md5(), md5);
      const stored = await gfs.files.findId(file.id()).one();
      assert.equal(stored.length, content.length);
      assert.equal(stored.chunkSize, 255 * 1024);
      assert.equal(stored.md5, md5);
      assert.equal(stored.filename, 'big.bin');
      assert.equal(stored.contentType, 'application/octet-stream');
      assert.deepEqual(stored.metadata, { owner: 'test' });
      assert.ok(stored.uploadDate instanceof Date);
      const chunks = await gfs.chunks.find({ files_id: file.id() }).sort('n').select({ n: 1, data: 1 }).all();
      assert.deepEqual(chunks.map((c) => c.n), Array.from({ length: Math.ceil(content.length / (255 * 1024)) }, (_, i) => i));

      assert.ok((await readAll(gfs, 'big.bin', 100_003)).equals(content));
      const opened = await gfs.openId(file.id());
      assert.equal(opened.size(), content.length);
      assert.equal(opened.contentType(), 'application/octet-stream');
      assert.deepEqual(opened.getMeta(), { owner: 'test' });
      assert.equal(opened.md5(), md5);
      const iterated: Buffer[] = [];
      for await (const piece of opened) iterated.push(piece);
      assert.ok(Buffer.concat(iterated).equals(content));
      assert.equal((await opened.read(10)).length, 0, 'at the end, read() gives an empty Buffer');
      await opened.close();

      // The official driver reads what we wrote.
      const bucket = new GridFSBucket(official.db(DB), { bucketName: `w${workers}` });
      const theirs: Buffer[] = [];
      for await (const piece of bucket.openDownloadStream(file.id() as never)) theirs.push(piece as Buffer);
      assert.ok(Buffer.concat(theirs).equals(content));
    });

    test('the spec indexes exist after the first write', async () => {
      const files = await gfs.files.indexes();
      const chunks = await gfs.chunks.indexes();
      assert.ok(files.some((i) => i.key.join() === 'filename,uploadDate'), JSON.stringify(files));
      assert.ok(chunks.some((i) => i.key.join() === 'files_id,n' && i.unique === true), JSON.stringify(chunks));
    });

    test('seeks across chunk borders, from the start, the position and the end', async () => {
      const content = Buffer.from(Array.from({ length: 95 }, (_, i) => i));
      await upload(gfs, 'seek.bin', content, 16);
      const file = await gfs.open('seek.bin');
      assert.deepEqual(await file.read(3), content.subarray(0, 3));
      assert.equal(await file.seek(8, 0), 8);
      assert.deepEqual(await file.read(5), content.subarray(8, 13));
      assert.equal(await file.seek(-6, 1), 7);
      assert.deepEqual(await file.read(25), content.subarray(7, 32));
      assert.equal(await file.seek(-1, 2), 94);
      assert.deepEqual(await file.read(10), content.subarray(94));
      assert.equal(await file.seek(0, 2), 95);
      assert.equal((await file.read(1)).length, 0);
      await assert.rejects(file.seek(1, 2), isCode('ERR_INVALID_ARGUMENT'));
      assert.equal(await file.seek(45), 45);
      assert.deepEqual(await file.read(100), content.subarray(45));
      await file.close();
      await assert.rejects(file.read(1), isCode('ERR_GRIDFS_MODE'));
    });

    test('I/O calls run in call order without awaiting each; strings are written as UTF-8', async () => {
      const file = await gfs.create('ordered.txt');
      file.setChunkSize(3);
      const calls = [file.write('ab'), file.write('cdé'), file.write(Buffer.from('fgh')), file.close()];
      const results = await Promise.all(calls);
      assert.deepEqual(results, [2, 4, 3, undefined]);
      const opened = await gfs.openId(file.id());
      const reads = await Promise.all([opened.read(4), opened.seek(-2, 2), opened.read(5)]);
      assert.deepEqual(reads.map((r) => (Buffer.isBuffer(r) ? r.toString() : r)), ['abcd', 7, 'gh']);
      await opened.close();
    });

    test('open() finds the newest upload of a name; openNext() walks a find()', async () => {
      for (const [i, text] of ['first', 'second', 'third'].entries()) {
        const file = await gfs.create('versions.txt');
        file.setUploadDate(new Date(Date.UTC(2020, 0, 1 + i)));
        await file.write(text);
        await file.close();
      }
      assert.equal((await readAll(gfs, 'versions.txt', 64)).toString(), 'third');
      const iter = gfs.find({ filename: 'versions.txt' }).sort('uploadDate').iter();
      const seen: string[] = [];
      for (let file = await gfs.openNext(iter); file; file = await gfs.openNext(iter, file)) {
        seen.push((await file.read(64)).toString());
      }
      assert.equal(iter.err(), undefined);
      await iter.close();
      assert.deepEqual(seen, ['first', 'second', 'third']);
      await assert.rejects(gfs.open('no such file'), (err) => err === ErrNotFound);
      await assert.rejects(gfs.openId('no such id'), (err) => err === ErrNotFound);
    });

    test('remove() takes every file of a name with its chunks; removeId() one file', async () => {
      const ids = [await upload(gfs, 'gone.txt', Buffer.from('abcdefgh'), 3), await upload(gfs, 'gone.txt', Buffer.from('ijkl'), 3)];
      const kept = await upload(gfs, 'kept.txt', Buffer.from('xyz'), 2);
      assert.equal(await gfs.remove('gone.txt'), 2);
      assert.equal(await gfs.files.find({ _id: { $in: ids } }).count(), 0);
      assert.equal(await gfs.chunks.find({ files_id: { $in: ids } }).count(), 0);
      assert.equal(await gfs.remove('gone.txt'), 0);
      assert.equal(await gfs.chunks.find({ files_id: kept }).count(), 2);
      await gfs.removeId(kept);
      assert.equal(await gfs.chunks.find({ files_id: kept }).count(), 0);
      await assert.rejects(gfs.removeId(kept), (err) => err === ErrNotFound);
    });

    test('abort(): the chunks written go, close() rejects with ERR_GRIDFS_ABORTED, no file appears', async () => {
      const file = await gfs.create('aborted.bin');
      file.setChunkSize(4);
      await file.write(Buffer.alloc(10, 1));
      assert.equal(await gfs.chunks.find({ files_id: file.id() }).count(), 2, 'whole chunks are stored as they fill');
      assert.throws(() => file.setChunkSize(8), isCode('ERR_GRIDFS_MODE'));
      await assert.rejects(file.read(1), isCode('ERR_GRIDFS_MODE'));
      file.abort();
      await assert.rejects(file.write('more'), isCode('ERR_GRIDFS_ABORTED'));
      await assert.rejects(file.close(), isCode('ERR_GRIDFS_ABORTED'));
      assert.equal(await gfs.chunks.find({ files_id: file.id() }).count(), 0);
      await assert.rejects(gfs.open('aborted.bin'), (err) => err === ErrNotFound);
    });

    test('streams: pipeline() into a created file and out of an opened one; a failed pipeline leaves nothing', async () => {
      const content = randomBytes(100_000);
      const pieces = [content.subarray(0, 33_333), content.subarray(33_333, 70_000), content.subarray(70_000)];
      const created = await gfs.create('streamed.bin');
      created.setChunkSize(16 * 1024);
      await pipeline(Readable.from(pieces), created.stream());
      const out: Buffer[] = [];
      const opened = await gfs.open('streamed.bin');
      await pipeline(
        opened.stream(),
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            out.push(chunk);
            done();
          },
        }),
      );
      assert.ok(Buffer.concat(out).equals(content));

      const failing = await gfs.create('failed.bin');
      failing.setChunkSize(1024);
      async function* source() {
        yield Buffer.alloc(5000, 7);
        throw new Error('source failed');
      }
      await assert.rejects(pipeline(Readable.from(source()), failing.stream()), /source failed/);
      // pipeline() does not wait for the Writable's clean-up; close() runs after it and reports the abort.
      await assert.rejects(failing.close(), isCode('ERR_GRIDFS_ABORTED'));
      assert.equal(await gfs.chunks.find({ files_id: failing.id() }).count(), 0);
      assert.equal(await gfs.files.find({ filename: 'failed.bin' }).count(), 0);
    });

    test('a missing chunk or a chunk of the wrong size fails with ERR_GRIDFS_CORRUPT', async () => {
      const content = Buffer.from('0123456789abcdef');
      const id = await upload(gfs, 'corrupt.bin', content, 4);
      await gfs.chunks.remove({ files_id: id, n: 2 });
      const missing = await gfs.openId(id);
      assert.deepEqual(await missing.read(8), content.subarray(0, 8));
      await assert.rejects(missing.read(4), (err) => isCode('ERR_GRIDFS_CORRUPT')(err) && /chunk 2 is missing/.test((err as Error).message));
      await missing.close();

      await gfs.chunks.update({ files_id: id, n: 3 }, { $set: { data: Buffer.from('xy') } });
      const short = await gfs.openId(id);
      await short.seek(12);
      await assert.rejects(short.read(4), (err) => isCode('ERR_GRIDFS_CORRUPT')(err) && /chunk 3 is 2 bytes, expected 4/.test((err as Error).message));
      await short.close();
    });

    test('files the official driver wrote read here; an empty file has no chunks', async () => {
      const bucket = new GridFSBucket(official.db(DB), { bucketName: `w${workers}`, chunkSizeBytes: 1000 });
      const content = randomBytes(4321);
      const stream = bucket.openUploadStream('theirs.bin');
      await pipeline(Readable.from([content]), stream);
      assert.ok((await readAll(gfs, 'theirs.bin', 999)).equals(content));
      assert.equal((await gfs.open('theirs.bin')).md5(), '', 'the official driver stores no md5');

      const empty = await gfs.create('empty');
      empty.disableMD5();
      await empty.close();
      const stored = await gfs.files.findId(empty.id()).one();
      assert.equal(stored.length, 0);
      assert.equal(stored.md5, undefined);
      assert.equal(await gfs.chunks.find({ files_id: empty.id() }).count(), 0);
      assert.equal((await readAll(gfs, 'empty', 10)).length, 0);
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

      assert.equal(await readId(gfs, first.id()), '0123456789');

      // An empty stored file: the chunks go in, the files document fails, and they are removed.
      const empty = await gfs.create('empty.txt');
      await empty.close();
      const third = await gfs.create('third.txt');
      third.setId(empty.id());
      third.setChunkSize(2);
      await third.write('abcde');
      await assert.rejects(third.close());
      assert.equal(await official.db(DB).collection(`dup${workers}.chunks`).countDocuments({ files_id: empty.id() }), 0);
      assert.equal(await readId(gfs, empty.id()), '');
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

describe('GridFS on a replica set (the bridge), session in Secondary mode', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: the emptiness check before the first write and every write go to the primary`, { timeout: 60_000 }, async () => {
      const bridge = await startBridge({ backend: server, topology: 'replicaset', members: 3 });
      const records: CommandRecord[] = [];
      bridge.onCommand((record) => records.push(record));
      const session = await dial(`${bridge.uri}&serverSelectionTimeoutMS=5000`, { workers });
      try {
        await waitFor('all three members discovered', () => session.liveServers().length === 3, 10_000);
        session.setMode(Mode.Secondary, true);
        const gfs = session.db(DB).gridFS(`rs${workers}`);
        records.length = 0;
        await upload(gfs, 'on-primary.txt', Buffer.from('abcdefgh'), 4);
        const primary = bridge.primary()!.address;
        const check = records.find((r) => r.commandName === 'find' && r.command.find === `rs${workers}.files`);
        assert.ok(check, 'the files collection was checked for emptiness');
        assert.deepEqual(check.command.projection, { _id: 1 });
        assert.equal(check.member, primary, 'GridFS spec: the emptiness check reads the primary');
        const inserts = records.filter((r) => r.commandName === 'insert');
        assert.deepEqual(inserts.map((r) => r.command.insert), [`rs${workers}.chunks`, `rs${workers}.files`]);
        assert.ok(inserts.every((r) => r.member === primary));
        assert.equal((await readAll(gfs, 'on-primary.txt', 16)).toString(), 'abcdefgh');
      } finally {
        await session.close();
        await bridge.close();
      }
    });
  }
});
