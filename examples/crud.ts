// Basic CRUD with mgo's session API: dial, insert, find (one, all, iter,
// for await), update, upsert, remove, close.
//
//   node --import tsx examples/crud.ts [mongodb://127.0.0.1:27017/]
//
// The server comes from the first argument, else MONGODB_URI, else
// mongodb://127.0.0.1:27017/. In your application, import from
// 'mgo-threads' instead of '../src/index.js'.
import { dial, ErrNotFound, isDup } from '../src/index.js';

interface Person {
  _id: number;
  name: string;
  phone: string;
  visits?: number;
}

const uri = process.argv[2] ?? process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/';
const dbName = process.env.EXAMPLE_DB ?? 'examples';

// workers: 2 puts the sockets in two worker threads (0 keeps them on this
// thread); poolLimit is the exact connection limit per server, shared by
// all of them. mgo's Dial returned (session, err); here dial() rejects.
const session = await dial(uri, { workers: 2, poolLimit: 4 });
try {
  const people = session.db(dbName).c('people');
  await people.dropCollection().catch(() => {}); // a clean start; no such collection is fine

  // Insert takes any number of documents (mgo's Insert(docs...)).
  await people.insert(
    { _id: 1, name: 'Ale', phone: '+55 53 8116 9639' },
    { _id: 2, name: 'Cla', phone: '+55 53 8402 8510' },
  );
  try {
    await people.insert({ _id: 1, name: 'Ale again', phone: '' });
  } catch (err) {
    if (!isDup(err)) throw err; // mgo.IsDup: a duplicate key
    console.log('duplicate _id 1 refused');
  }

  // One document: the promise's value (mgo filled a result argument).
  const ale = await people.find<Person>({ name: 'Ale' }).one();
  console.log('one:', ale.name, ale.phone);

  // All matching documents, sorted as mgo writes it ("-field" descends).
  const all = await people.find<Person>().sort('-name').all();
  console.log('all:', all.map((p) => p.name).join(', '));

  // An update; ErrNotFound when nothing matches, as in mgo.
  await people.update({ _id: 2 }, { $set: { phone: '+55 53 0000 0000' } });
  try {
    await people.update({ _id: 99 }, { $set: { phone: '' } });
  } catch (err) {
    if (err !== ErrNotFound) throw err;
    console.log('update of _id 99: not found');
  }

  // An upsert inserts when nothing matches; its ChangeInfo says what it did.
  const info = await people.upsertId(3, { $set: { name: 'Bob', phone: '+1 555 0100' }, $inc: { visits: 1 } });
  console.log('upserted id:', info?.upsertedId);

  // An iterator, batch by batch: next() resolves undefined at the end, and
  // close() reports an error the iteration met (mgo's iter.Close()).
  const iter = people.find<Person>({}).sort('_id').batch(2).iter();
  for (let p = await iter.next(); p !== undefined; p = await iter.next()) console.log('iter:', p._id, p.name);
  await iter.close();

  // Or a for await loop, which closes the cursor when it ends or is left.
  for await (const p of people.find<Person>({ visits: { $gte: 1 } })) console.log('visited:', p.name);

  // Remove one, then all that match; count what is left.
  await people.removeId(3);
  const removed = await people.removeAll({ name: { $in: ['Ale', 'Cla'] } });
  console.log('removed:', removed?.removed, 'left:', await people.count());

  await people.dropCollection();
} finally {
  // Closes the session; the last session of a dial closes its pools and workers.
  await session.close();
}
console.log('done');
