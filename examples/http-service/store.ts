// The service's data access: the same three calls on either driver, so that
// the request handler (handler.ts) is one piece of code whichever driver
// runs under it.
//   - mgo-threads: dial(uri, { workers, poolLimit }); sockets and pools live
//     in `workers` worker threads (0: on the main thread).
//   - the official driver: new MongoClient(uri, { maxPoolSize: poolLimit }),
//     the same connection limit.
// With `slowMS` set, each logs the commands that took that long or longer
// from its command events: mgo-threads' session.events (a worker's
// commands included, with the worker's id), the official driver's
// MongoClient events under monitorCommands.
// In your application, import from 'mgo-threads' instead of '../../src/index.js'.
import type { Document } from 'bson';
import { MongoClient } from 'mongodb';
import { dial, ErrNotFound, Mode } from '../../src/index.js';

export type DriverName = 'official' | 'mgo';

export interface Store {
  /** The document with this _id, or null. */
  findById(collection: string, id: unknown): Promise<Document | null>;
  insert(collection: string, doc: Document): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  driver: DriverName;
  uri: string;
  db: string;
  /** Connection limit per server: mgo's poolLimit, the official driver's maxPoolSize. */
  poolLimit: number;
  /** mgo-threads only: worker threads that own the sockets (0: the main thread). */
  workers: number;
  /** Log each command that took this many ms or more (undefined: listen to no command event, which costs nothing). */
  slowMS?: number;
}

/** The line a slow command is logged as, the same for both drivers. */
export function slowCommandLine(event: { commandName: string; databaseName: string; duration: number; workerId?: number }): string {
  const where = event.workerId === undefined ? 'main thread' : `worker ${event.workerId}`;
  return `slow command: ${event.commandName} on ${event.databaseName} took ${event.duration.toFixed(1)} ms (${where})`;
}

export async function openStore(options: StoreOptions): Promise<Store> {
  return options.driver === 'mgo' ? openMgo(options) : openOfficial(options);
}

async function openMgo({ uri, db, poolLimit, workers, slowMS }: StoreOptions): Promise<Store> {
  const session = await dial(uri, { workers, poolLimit });
  if (slowMS !== undefined) {
    session.events.on('commandSucceeded', (event) => {
      if (event.duration >= slowMS) console.log(slowCommandLine(event));
    });
  }
  // Eventual mode: each operation takes any pooled socket and returns it at
  // once, as the official driver does. (The default, Strong, reserves one
  // socket for the session: a Go service copies the session per request for
  // that reason; one shared Eventual session is the cheaper equivalent here.)
  session.setMode(Mode.Eventual, true);
  const database = session.db(db);
  return {
    findById: (collection, id) =>
      database
        .c(collection)
        .findId(id)
        .one()
        .catch((err: unknown) => {
          if (err === ErrNotFound) return null;
          throw err;
        }),
    insert: (collection, doc) => database.c(collection).insert(doc),
    close: () => session.close(),
  };
}

async function openOfficial({ uri, db, poolLimit, slowMS }: StoreOptions): Promise<Store> {
  const client = new MongoClient(uri, { maxPoolSize: poolLimit, monitorCommands: slowMS !== undefined });
  if (slowMS !== undefined) {
    client.on('commandSucceeded', (event) => {
      if (event.duration >= slowMS) console.log(slowCommandLine(event));
    });
  }
  await client.connect();
  const database = client.db(db);
  return {
    findById: (collection, id) => database.collection(collection).findOne({ _id: id as never }),
    insert: async (collection, doc) => {
      await database.collection(collection).insertOne(doc);
    },
    close: () => client.close(),
  };
}
