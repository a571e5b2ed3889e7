// GridFile accessors the GridFS tests leave out, against the test server,
// workers 0 and 2 (the mgo API table's GridFile.SetName, Name, SetId and
// UploadDate rows): a file renamed while written is found under its new
// name only, a chosen _id is what openId() finds, setId() after the first
// write and both setters on a file open for reading are refused, and
// uploadDate() is unset until close() (or setUploadDate()) and then stored.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dial, ErrNotFound, MgoError, type GridFS, type Session } from '../../src/index.js';
import { testServerForFile } from '../fixtures/file-server.js';

const DB = `mgo_gridfs_accessors_${process.pid}`;
const server = testServerForFile(DB);

const isCode = (code: string) => (err: unknown) => err instanceof MgoError && err.code === code;

for (const workers of [0, 2]) {
  describe(`GridFile accessors, workers ${workers}`, { timeout: 60_000 }, () => {
    let session: Session;
    let gfs: GridFS;

    before(async () => {
      session = await dial(server.uri, { workers, poolLimit: 4 });
      gfs = session.db(DB).gridFS(`names${workers}`);
    });

    after(async () => {
      await session?.close();
    });

    test('setName() while writing: stored, and found, under the new name only', async () => {
      const file = await gfs.create('draft.txt');
      assert.equal(file.name(), 'draft.txt');
      file.setName('final.txt');
      assert.equal(file.name(), 'final.txt');
      await file.write('hello');
      await file.close();
      const opened = await gfs.open('final.txt');
      assert.equal(opened.name(), 'final.txt');
      assert.equal((await opened.read(16)).toString(), 'hello');
      await opened.close();
      await assert.rejects(gfs.open('draft.txt'), (err) => err === ErrNotFound);
    });

    test('setId() before the first write: openId() finds the file by it; after a write it is refused', async () => {
      const file = await gfs.create('by-id.txt');
      file.setId('my-own-id');
      assert.equal(file.id(), 'my-own-id');
      await file.write('abc');
      assert.throws(() => file.setId('too-late'), isCode('ERR_GRIDFS_MODE'));
      await file.close();
      const opened = await gfs.openId('my-own-id');
      assert.equal(opened.name(), 'by-id.txt');
      assert.equal((await opened.read(16)).toString(), 'abc');
      await opened.close();
    });

    test('uploadDate(): unset while writing, the close() time once stored; setUploadDate() chooses it', async () => {
      const file = await gfs.create('dated.txt');
      assert.equal(file.uploadDate(), undefined);
      await file.write('x');
      await file.close();
      const stored = file.uploadDate();
      assert.ok(stored instanceof Date, `close() dated it: ${String(stored)}`);
      const opened = await gfs.open('dated.txt');
      assert.equal(opened.uploadDate()?.getTime(), stored.getTime());
      await opened.close();

      const chosen = new Date(Date.UTC(2001, 8, 9, 1, 46, 40));
      const old = await gfs.create('old.txt');
      old.setUploadDate(chosen);
      assert.equal(old.uploadDate(), chosen);
      await old.close();
      const reopened = await gfs.open('old.txt');
      assert.equal(reopened.uploadDate()?.getTime(), chosen.getTime());
      assert.throws(() => reopened.setUploadDate(new Date()), isCode('ERR_GRIDFS_MODE'));
      await reopened.close();
    });

    test('a file open for reading refuses setName() and setId()', async () => {
      const opened = await gfs.open('by-id.txt');
      assert.throws(() => opened.setName('other'), isCode('ERR_GRIDFS_MODE'));
      assert.throws(() => opened.setId('other'), isCode('ERR_GRIDFS_MODE'));
      await opened.close();
    });
  });
}
