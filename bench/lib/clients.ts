// The variants every scenario runs side by side, behind one small client
// interface: mgo-threads with `workers` 0 (sockets in the main thread), 1, 2
// and N, and the official `mongodb` driver with the same connection limit
// (maxPoolSize = poolLimit).
//
// mgo-threads sessions run in Eventual mode here: nothing is reserved, every
// operation is routed on its own to any pooled socket, which is what the
// official driver does with each operation. (Strong mode would put all of
// a session's operations on one reserved socket: the seed experiment uses
// that, with one session copy per simulated user.)
import type { Document } from 'bson';
import { MongoClient } from 'mongodb';
import { dial, ErrNotFound, Mode, type Session } from '../../src/index.js';

export interface Variant {
  /** 'mgo w0', 'mgo w2', 'official' */
  name: string;
  /** Worker threads; null for the official driver. */
  workers: number | null;
}

/** mgo-threads at workers 0, 1, 2 and n (n left out when it is one of those), then the official driver. */
export function variantsFor(n: number): Variant[] {
  const counts = [...new Set([0, 1, 2, n])];
  return [...counts.map((workers) => ({ name: `mgo w${workers}`, workers })), { name: 'official', workers: null }];
}

export const OFFICIAL = 'official';

export interface BenchClient {
  readonly variant: Variant;
  command(db: string, command: Document): Promise<Document>;
  findOne(db: string, collection: string, filter: Document): Promise<Document | null>;
  insertOne(db: string, collection: string, doc: Document): Promise<void>;
  insertMany(db: string, collection: string, docs: Document[]): Promise<void>;
  /** Iterates every document of the collection; returns how many. */
  forEach(db: string, collection: string, each: (doc: Document) => void): Promise<number>;
  dropDatabase(db: string): Promise<void>;
  close(): Promise<void>;
  /** mgo-threads only: the dialed session, for scenarios that need sessions of their own. */
  readonly session?: Session;
}

/** The longest slice the main thread spent settling worker replies since the last call (ms); undefined without workers. */
export function largestSlice(client: BenchClient): number | undefined {
  return client.session?.deliveryStats(true)?.largestSliceMS;
}

export interface ClientOptions {
  poolLimit: number;
  /** How long an operation may wait for a connection. */
  waitQueueTimeoutMS?: number;
  /** Wire compressors to offer (none by default). */
  compressors?: ('snappy' | 'zlib' | 'zstd')[];
}

export async function openClient(variant: Variant, uri: string, options: ClientOptions): Promise<BenchClient> {
  return variant.workers === null ? openOfficial(variant, uri, options) : openMgo(variant, variant.workers, uri, options);
}

async function openMgo(variant: Variant, workers: number, uri: string, options: ClientOptions): Promise<BenchClient> {
  const session = await dial(uri, {
    workers,
    poolLimit: options.poolLimit,
    waitQueueTimeoutMS: options.waitQueueTimeoutMS ?? 120_000,
    ...(options.compressors ? { compressors: options.compressors } : {}),
  });
  session.setMode(Mode.Eventual, true);
  const c = (db: string, collection: string) => session.db(db).c(collection);
  return {
    variant,
    session,
    command: (db, command) => session.db(db).run(command),
    findOne: (db, collection, filter) =>
      c(db, collection)
        .find(filter)
        .one()
        .catch((err: unknown) => {
          if (err === ErrNotFound) return null;
          throw err;
        }),
    insertOne: (db, collection, doc) => c(db, collection).insert(doc),
    insertMany: (db, collection, docs) => c(db, collection).insert(...docs),
    forEach: async (db, collection, each) => {
      let n = 0;
      for await (const doc of c(db, collection).find().iter()) {
        each(doc);
        n++;
      }
      return n;
    },
    dropDatabase: (db) => session.db(db).dropDatabase(),
    close: () => session.close(),
  };
}

async function openOfficial(variant: Variant, uri: string, options: ClientOptions): Promise<BenchClient> {
  const client = new MongoClient(uri, {
    directConnection: true,
    maxPoolSize: options.poolLimit,
    waitQueueTimeoutMS: options.waitQueueTimeoutMS ?? 120_000,
    ...(options.compressors ? { compressors: options.compressors } : {}),
  });
  await client.connect();
  const c = (db: string, collection: string) => client.db(db).collection(collection);
  return {
    variant,
    command: (db, command) => client.db(db).command(command),
    findOne: (db, collection, filter) => c(db, collection).findOne(filter),
    insertOne: async (db, collection, doc) => {
      await c(db, collection).insertOne(doc);
    },
    insertMany: async (db, collection, docs) => {
      await c(db, collection).insertMany(docs);
    },
    forEach: async (db, collection, each) => {
      let n = 0;
      for await (const doc of c(db, collection).find()) {
        each(doc);
        n++;
      }
      return n;
    },
    dropDatabase: async (db) => {
      await client.db(db).dropDatabase();
    },
    close: () => client.close(),
  };
}
