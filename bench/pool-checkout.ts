// Pool micro-benchmarks with a fake connection (no I/O):
//   1. uncontended checkOut + checkIn, µs per pair (target < 2 µs), with no
//      event listener and with a monitor subscribed to every event;
//   2. hand-off latency: from checkIn() to the resumption of the caller that
//      was queued for that connection.
// Each figure is measured in REPEATS runs after a warm-up; median, min, max.
//
//   node --import tsx bench/pool-checkout.ts

import { Pool, type PoolableConnection, type PoolEvent } from '../src/pool/index.js';

const REPEATS = 5;
const PAIRS = 1_000_000;
const HANDOFFS = 200_000;

class FakeConnection implements PoolableConnection {
  isClosed = false;
  constructor(
    readonly id: number,
    readonly generation: number,
    readonly address: string,
  ) {}
  destroy(): void {
    this.isClosed = true;
  }
  afterClose(callback: () => void): void {
    callback();
  }
}

function makePool(maxPoolSize: number, monitor?: (event: PoolEvent) => void): Pool<FakeConnection> {
  const pool = new Pool<FakeConnection>({
    address: 'localhost:27017',
    maxPoolSize,
    connect: async ({ id, generation, address }) => new FakeConnection(id, generation, address),
    monitor,
  });
  pool.ready();
  return pool;
}

/** µs per checkOut + checkIn pair on a pool with one idle connection. */
async function uncontended(monitor?: (event: PoolEvent) => void): Promise<number> {
  const pool = makePool(10, monitor);
  pool.checkIn(await pool.checkOut());
  const start = process.hrtime.bigint();
  for (let i = 0; i < PAIRS; i++) {
    const conn = await pool.checkOut();
    pool.checkIn(conn);
  }
  const elapsedNs = Number(process.hrtime.bigint() - start);
  await pool.close();
  return elapsedNs / PAIRS / 1_000;
}

/** Mean µs from checkIn() to the queued caller's resumption. */
async function handOff(): Promise<number> {
  const pool = makePool(1);
  let conn = await pool.checkOut();
  let totalMS = 0;
  for (let i = 0; i < HANDOFFS; i++) {
    const waiter = pool.checkOut(); // queued: the only connection is out
    const t0 = performance.now();
    pool.checkIn(conn); // hands it to the waiter
    conn = await waiter;
    totalMS += performance.now() - t0;
  }
  pool.checkIn(conn);
  await pool.close();
  return (totalMS / HANDOFFS) * 1_000;
}

async function measure(name: string, run: () => Promise<number>): Promise<void> {
  await run(); // warm-up (JIT)
  const samples: number[] = [];
  for (let i = 0; i < REPEATS; i++) samples.push(await run());
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const fmt = (v: number): string => v.toFixed(3);
  console.log(`${name.padEnd(44)} median ${fmt(median)} µs  (min ${fmt(sorted[0]!)}, max ${fmt(sorted.at(-1)!)}; ${REPEATS} runs)`);
}

console.log(`node ${process.version}, ${PAIRS} pairs / ${HANDOFFS} hand-offs per run`);
await measure('checkOut+checkIn, uncontended, no listeners', () => uncontended());
let events = 0;
await measure('checkOut+checkIn, uncontended, monitor on', () => uncontended(() => void events++));
await measure('hand-off latency checkIn -> waiter resumes', handOff);
