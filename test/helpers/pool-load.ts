// A concurrent load on one pool of real connections, for the pool's
// integration tests and its FerretDB benchmark.
import { createConnector } from '../../src/cluster/connector.js';
import { Connection } from '../../src/connection/connection.js';
import { Pool, type ConnectFn, type PoolOptions } from '../../src/pool/index.js';
import type { TestServer } from './server.js';

// ----------------------------------------------------------------- the load

export type PoolOperation = (conn: Connection) => Promise<unknown>;

export const LOAD_DB = 'mgo_threads_pool';
export const LOAD_COLLECTION = 'pool';

export const findOne: PoolOperation = (conn) => conn.command(LOAD_DB, { find: LOAD_COLLECTION, filter: {}, limit: 1, singleBatch: true });
export const ping: PoolOperation = (conn) => conn.command('admin', { ping: 1 });

export interface LoadResult {
  completed: number;
  failed: number;
  firstError: unknown;
  elapsedMS: number;
  /** Per operation: ms from the checkOut() call to the connection in hand (NaN where the checkout failed). */
  waitMS: Float64Array;
}

/**
 * Starts `count` operations at once (checkOut, `operation`, checkIn), waits
 * for all of them, and throws if that takes longer than `timeoutMS`.
 */
export async function runConcurrent(pool: Pool<Connection>, count: number, operation: PoolOperation, timeoutMS: number): Promise<LoadResult> {
  const waitMS = new Float64Array(count).fill(Number.NaN);
  const result = { completed: 0, failed: 0, firstError: undefined as unknown };
  const one = async (i: number): Promise<void> => {
    const t0 = performance.now();
    let conn: Connection | undefined;
    try {
      conn = await pool.checkOut();
      waitMS[i] = performance.now() - t0;
      await operation(conn);
      result.completed++;
    } catch (error) {
      result.failed++;
      result.firstError ??= error;
    } finally {
      if (conn !== undefined) pool.checkIn(conn);
    }
  };
  const started = performance.now();
  await withTimeout(Promise.all(Array.from({ length: count }, (_, i) => one(i))), timeoutMS, `${count} concurrent operations`);
  return { ...result, elapsedMS: performance.now() - started, waitMS };
}

/** Client-side sockets of a pool, counted by its connector: from the dial until the socket is destroyed. */
export interface ClientSockets {
  open: number;
  max: number;
  dialed: number;
}

/**
 * A ready Pool<Connection> to `server`, through the real connector; with
 * `sockets`, every socket it dials is counted there, independently of the
 * pool's own bookkeeping.
 */
export function connectionPool(server: Pick<TestServer, 'host' | 'port' | 'address'>, options: Omit<PoolOptions<Connection>, 'address' | 'connect'>, sockets?: ClientSockets): Pool<Connection> {
  const host = server.host.replace(/^\[(.*)\]$/, '$1');
  const type = host.includes(':') ? 'ip_literal' : /^[\d.]+$/.test(host) ? 'ipv4' : 'hostname';
  const dial = createConnector(
    { type, host, port: server.port, address: server.address },
    { connectTimeoutMS: 10_000, socketTimeoutMS: 30_000, appName: 'mgo-threads-pool' },
  );
  const connect: ConnectFn<Connection> =
    sockets === undefined
      ? dial
      : async (init) => {
          // Connection.connect creates the socket synchronously, and destroys it before rejecting.
          sockets.dialed++;
          sockets.max = Math.max(sockets.max, ++sockets.open);
          let conn: Connection;
          try {
            conn = await dial(init);
          } catch (error) {
            sockets.open--;
            throw error;
          }
          // 'close' is emitted once the socket has been destroyed.
          if (conn.state === 'closed') sockets.open--;
          else conn.once('close', () => sockets.open--);
          return conn;
        };
  const pool = new Pool<Connection>({ address: server.address, connect, ...options });
  pool.ready();
  return pool;
}

/** The most connections the pool ever had open (stats().open, read on every event that changes it). */
export function trackMaxOpen(pool: Pool<Connection>): { readonly max: number; readonly created: number; readonly closed: number } {
  const track = { max: 0, created: 0, closed: 0 };
  const read = (): void => {
    track.max = Math.max(track.max, pool.stats().open);
  };
  pool.on('ConnectionCreated', () => {
    track.created++;
    read();
  });
  pool.on('ConnectionReady', read);
  pool.on('ConnectionCheckedOut', read);
  pool.on('ConnectionClosed', () => {
    track.closed++;
    read();
  });
  return track;
}

/** Inserts the one document findOne() reads, through a connection closed afterwards. */
export async function seedLoadCollection(server: TestServer): Promise<void> {
  const conn = await Connection.connect({ id: 0, generation: 0, host: server.host, port: server.port, connectTimeoutMS: 10_000, socketTimeoutMS: 30_000 });
  try {
    await conn.command(LOAD_DB, { delete: LOAD_COLLECTION, deletes: [{ q: {}, limit: 0 }] });
    await conn.command(LOAD_DB, { insert: LOAD_COLLECTION }, { sequences: [{ identifier: 'documents', documents: [{ _id: 'one', n: 1 }] }] });
  } finally {
    await conn.close();
  }
}

export function percentile(values: ArrayLike<number>, p: number): number {
  const sorted = Array.from(values).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

