// GridFS: store a file in chunks, read it back three ways (read(), a for
// await loop over its chunks, a Node stream), list and remove files.
//
//   node --import tsx examples/gridfs.ts [mongodb://127.0.0.1:27017/]
//
// The server comes from the first argument, else MONGODB_URI, else
// mongodb://127.0.0.1:27017/. In your application, import from
// 'mgo-threads' instead of '../src/index.js'.
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { dial } from '../src/index.js';

const uri = process.argv[2] ?? process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/';
const dbName = process.env.EXAMPLE_DB ?? 'examples';

const session = await dial(uri);
try {
  // mgo's db.GridFS("fs"): the fs.files and fs.chunks collections.
  const gfs = session.db(dbName).gridFS('fs');

  // Write: create() opens a file for writing; each write() resolves once the
  // chunks its bytes complete are stored, and close() stores the last chunk
  // and the files document, which makes the file visible. Await close():
  // it is where a failed upload is reported (mgo's file.Close() error).
  const file = await gfs.create('hello.txt');
  file.setContentType('text/plain');
  await file.write('Hello, ');
  await file.write(Buffer.from('GridFS!\n'));
  await file.close();
  console.log('stored', file.name(), 'id', String(file.id()), file.size(), 'bytes');

  // A larger file from a Node stream: stream() on a file open for writing is
  // a Writable (mgo's GridFile was an io.Writer); its end closes the file.
  const big = Buffer.alloc(600 * 1024, 'abcdefgh'); // three 255 KiB chunks
  const upload = await gfs.create('big.bin');
  await pipeline(Readable.from([big]), upload.stream());
  console.log('stored big.bin,', upload.size(), 'bytes');

  // Read: open() finds the newest file of that name. read(n) resolves up to
  // n bytes; an empty Buffer is the end (where mgo's Read returned io.EOF).
  const hello = await gfs.open('hello.txt');
  const text = Buffer.concat([await hello.read(5), await hello.read(100)]).toString();
  await hello.close();
  console.log('read:', JSON.stringify(text), hello.contentType());

  // A for await loop over the chunks ...
  const reading = await gfs.open('big.bin');
  const hash = createHash('sha256');
  for await (const chunk of reading) hash.update(chunk);
  await reading.close();
  const same = hash.digest('hex') === createHash('sha256').update(big).digest('hex');
  console.log('big.bin read back by chunks, same bytes:', same);

  // ... or a Readable (mgo's io.Reader), e.g. into an HTTP response.
  const streamed = await gfs.open('big.bin');
  let bytes = 0;
  await pipeline(
    streamed.stream(),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        done();
      },
    }),
  );
  await streamed.close();
  console.log('big.bin streamed:', bytes, 'bytes');

  // The files collection is a collection: query it like any other.
  const names = (await gfs.find().sort('filename').all()).map((f) => f.filename);
  console.log('files:', names.join(', '));

  // remove() removes every file of that name with its chunks.
  console.log('removed', (await gfs.remove('hello.txt')) + (await gfs.remove('big.bin')), 'files');
} finally {
  await session.close();
}
console.log('done');
