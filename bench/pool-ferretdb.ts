// The pool's connection limit against a real server: N concurrent operations
// (checkOut, a small find or a ping, checkIn) through one Pool<Connection> at
// poolLimit L, against the embedded FerretDB (or MONGODB_URI). mgo's
// published figure is the yardstick: 10,000 goroutines on poolLimit 4096
// opened 4390-4700 sockets, because it checked the count, unlocked, then
// dialed (README, "The benchmark"). Here a permit is taken before the
// dial, so the server must never see more than L sockets from the pool.
//
// Reported per repetition, then median and min/max over the repetitions:
// the most server-side sockets open at once (sampled every ~5 ms), the most
// client-side sockets, total time, ops/s, the wait for a connection
// (checkOut call to connection in hand) p50/p99/max, and stats(). Each
// repetition runs once with the socket sampler and once without, since the
// sampler's CPU slows the load down (see "the bench" below).
//
// The server side is still sampled by scanning /proc
// (bench/lib/server-socket-sampler.ts), not counted at a counting proxy as
// the tests do: this benchmark reports the sampler itself (its pace, its
// cost, what a scan sees), and measures the pool against the server with no
// proxy hop in the path. The client side is counted exactly at the connector
// (LocalSocketTally).
//
//   node --import tsx bench/pool-ferretdb.ts [--reps 5] [--ops 10000] [--limit 100]
//        [--op find|ping] [--sample-ms 5] [--out bench/results/pool-ferretdb.json]
//
// The load driver is shared with test/integration/pool.test.ts
// (test/fixtures/pool-load.ts); main() only runs when this file is the entry point.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalSocketTally } from '../src/connection/socket-tally.js';
import type { PoolStats } from '../src/pool/index.js';
import { integerOption, option } from './lib/args.js';
import type { Measurement } from './lib/results.js';
import {
  connectionPool,
  findOne,
  percentile,
  ping,
  runConcurrent,
  seedLoadCollection,
  trackMaxOpen,
  withTimeout,
  type PoolOperation,
} from '../test/fixtures/pool-load.js';
import { countServerSockets, ServerSocketSampler, waitForServerSockets } from './lib/server-socket-sampler.js';
import { startTestServer, type TestServer } from '../test/fixtures/server.js';

// --------------------------------------------------------------- the bench
//
// Each repetition runs the load twice on a fresh pool (so that every run
// dials its sockets under contention, where mgo overshot), in alternating
// order: once with the socket sampler running, for the server-side maximum,
// and once without it, for throughput and wait times undisturbed by the
// sampler's kernel time (see "Why /proc and not `ss`" in lib/server-socket-sampler.ts).


interface Run {
  /** Most server-side sockets open at once according to the sampler; NaN without sampling. */
  serverSocketsMax: number;
  /** Most distinct server-side sockets in one scan (not a snapshot); NaN without sampling. */
  serverSocketsScanMax: number;
  samples: number;
  /** Mean time from one sample's start to the next, ms. */
  samplePeriodMS: number;
  /** Sampler time (reading and counting) per sample, ms. */
  sampleCostMS: number;
  /** Server-side sockets right after the last operation completed. */
  serverSocketsAfter: number;
  /** Most client-side sockets open at once, counted at the connector (creation to 'close'). */
  clientSocketsMax: number;
  poolOpenMax: number;
  totalMS: number;
  opsPerSecond: number;
  waitP50MS: number;
  waitP99MS: number;
  waitMaxMS: number;
  stats: PoolStats;
}

interface BenchConfig {
  server: TestServer;
  /** Server-side sockets of other clients (external MONGODB_URI only), subtracted. */
  baseline: number;
  ops: number;
  limit: number;
  operation: PoolOperation;
  /** 0: no sampler. */
  sampleMS: number;
}



function log(message: string): void {
  process.stderr.write(`[pool-ferretdb] ${message}\n`);
}

function summary(values: number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return { median: sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2, min: sorted[0]!, max: sorted.at(-1)! };
}

async function oneRun(config: BenchConfig, ops = config.ops): Promise<Run> {
  const { server, baseline, limit, operation, sampleMS } = config;
  const sampler = sampleMS > 0 ? await ServerSocketSampler.start(server, sampleMS) : undefined;
  const tally = new LocalSocketTally();
  const pool = connectionPool(server, { maxPoolSize: limit, waitQueueTimeoutMS: 120_000 }, tally);
  const opened = trackMaxOpen(pool);
  try {
    sampler?.reset();
    const load = await runConcurrent(pool, ops, operation, 300_000);
    const serverSocketsAfter = countServerSockets(server) - baseline;
    const samples = sampler?.samples ?? 0;
    if (load.failed > 0) throw new Error(`${load.failed} of ${ops} operations failed; first: ${String(load.firstError)}`);
    return {
      serverSocketsMax: sampler === undefined ? Number.NaN : sampler.max - baseline,
      serverSocketsScanMax: sampler === undefined ? Number.NaN : sampler.scanMax - baseline,
      samples,
      samplePeriodMS: samples > 0 ? load.elapsedMS / samples : Number.NaN,
      sampleCostMS: sampler === undefined ? Number.NaN : sampler.busyMS / samples,
      serverSocketsAfter,
      clientSocketsMax: tally.counts().maxOpen,
      poolOpenMax: opened.max,
      totalMS: load.elapsedMS,
      opsPerSecond: ops / (load.elapsedMS / 1000),
      waitP50MS: percentile(load.waitMS, 50),
      waitP99MS: percentile(load.waitMS, 99),
      waitMaxMS: percentile(load.waitMS, 100),
      stats: pool.stats(),
    };
  } finally {
    await sampler?.stop();
    await withTimeout(pool.destroy(), 10_000, 'pool.destroy()');
    await waitForServerSockets(server, (n) => n <= baseline, 10_000);
  }
}

function describeRun(r: Run): string {
  const sampled = Number.isNaN(r.serverSocketsMax)
    ? 'not sampled'
    : `max server sockets ${r.serverSocketsMax} (${r.samples} samples, one per ${r.samplePeriodMS.toFixed(1)} ms, ${r.sampleCostMS.toFixed(1)} ms each)`;
  return (
    `${sampled}; client sockets max ${r.clientSocketsMax}, pool open max ${r.poolOpenMax}, ${r.serverSocketsAfter} server sockets after; ` +
    `${r.totalMS.toFixed(0)} ms, ${r.opsPerSecond.toFixed(0)} ops/s, wait p50 ${r.waitP50MS.toFixed(1)} ms p99 ${r.waitP99MS.toFixed(1)} ms`
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const reps = integerOption(args, '--reps', 5);
  const ops = integerOption(args, '--ops', 10_000);
  const limit = integerOption(args, '--limit', 100);
  const opName = option(args, '--op', 'find');
  if (opName !== 'find' && opName !== 'ping') throw new Error('--op must be find or ping');
  const sampleMS = integerOption(args, '--sample-ms', 5);
  const outPath = resolve(option(args, '--out', 'bench/results/pool-ferretdb.json'));

  log(
    `${reps} reps of ${ops} concurrent ops (checkOut, ${opName}, checkIn) at poolLimit ${limit}, each rep with sockets sampled ` +
      `every ${sampleMS} ms and without; node ${process.version}, ${cpus().length} cpus`,
  );
  const server = await startTestServer();
  log(`server ${server.address}`);
  const sampled: Run[] = [];
  const unsampled: Run[] = [];
  try {
    await seedLoadCollection(server);
    // Other clients of an external MONGODB_URI server are subtracted; the
    // embedded server has none once the seeding connection has gone.
    let baseline = 0;
    if (process.env.MONGODB_URI) baseline = countServerSockets(server);
    else await waitForServerSockets(server, (n) => n === 0, 10_000);
    if (baseline > 0) log(`${baseline} server-side sockets from other clients before the run: subtracted`);
    const config: BenchConfig = { server, baseline, ops, limit, operation: opName === 'find' ? findOne : ping, sampleMS: 0 };
    log('warm-up (1,000 ops, not recorded)');
    await oneRun(config, Math.min(ops, 1_000));
    for (let rep = 1; rep <= reps; rep++) {
      // Alternate the order so that neither variant always runs on a warmer server.
      for (const withSampler of rep % 2 === 1 ? [true, false] : [false, true]) {
        const run = await oneRun({ ...config, sampleMS: withSampler ? sampleMS : 0 });
        (withSampler ? sampled : unsampled).push(run);
        log(`rep ${rep}/${reps} ${withSampler ? 'sampled  ' : 'unsampled'}: ${describeRun(run)}`);
      }
    }
  } finally {
    await server.stop();
  }

  const scenario = `${ops} concurrent ops, poolLimit ${limit}, FerretDB ${opName}`;
  const measurements: Measurement[] = [];
  const table: string[] = [];
  const report = (runs: Run[], variant: string, label: string, metric: string, unit: string, pick: (r: Run) => number, digits = 0): void => {
    const m = { scenario, variant, workers: 0, metric, unit, ...summary(runs.map(pick)), reps };
    measurements.push(m);
    const range = `(${m.min.toFixed(digits)} - ${m.max.toFixed(digits)})`;
    table.push(`  ${variant.padEnd(12)} ${label.padEnd(28)} ${m.median.toFixed(digits).padStart(10)}  ${range.padEnd(22)} ${unit}`);
  };
  report(sampled, 'sampled', 'max server-side sockets', 'max_server_sockets', 'sockets', (r) => r.serverSocketsMax);
  report(sampled, 'sampled', 'max in a single scan', 'max_server_sockets_single_scan', 'sockets', (r) => r.serverSocketsScanMax);
  report(sampled, 'sampled', 'socket samples per run', 'socket_samples', 'samples', (r) => r.samples);
  report(sampled, 'sampled', 'time between samples', 'socket_sample_period', 'ms', (r) => r.samplePeriodMS, 1);
  report(sampled, 'sampled', 'sampler time per sample', 'socket_sample_cost', 'ms', (r) => r.sampleCostMS, 1);
  for (const [variant, runs] of [['sampled', sampled], ['unsampled', unsampled]] as const) {
    report(runs, variant, 'server sockets after load', 'server_sockets_after_load', 'sockets', (r) => r.serverSocketsAfter);
    report(runs, variant, 'max client-side sockets', 'max_client_sockets', 'sockets', (r) => r.clientSocketsMax);
    report(runs, variant, 'max pool open (events)', 'max_pool_open', 'connections', (r) => r.poolOpenMax);
    report(runs, variant, 'total time', 'total_time', 'ms', (r) => r.totalMS);
    report(runs, variant, 'throughput', 'throughput', 'ops/s', (r) => r.opsPerSecond);
    report(runs, variant, 'wait for connection p50', 'wait_p50', 'ms', (r) => r.waitP50MS, 1);
    report(runs, variant, 'wait for connection p99', 'wait_p99', 'ms', (r) => r.waitP99MS, 1);
    report(runs, variant, 'wait for connection max', 'wait_max', 'ms', (r) => r.waitMaxMS, 1);
    for (const key of Object.keys(runs[0]!.stats) as (keyof PoolStats)[]) {
      report(runs, variant, `stats().${key}`, `stats.${key}`, key.endsWith('MS') ? 'ms' : 'count', (r) => r.stats[key]);
    }
  }

  console.log(`\n${scenario}: ${reps} reps, median (min - max)`);
  for (const line of table) console.log(line);
  console.log('  reference, mgo (published): 10k goroutines on poolLimit 4096 opened 4390-4700 sockets (limit exceeded by 7-15 %)');
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(
    outPath,
    JSON.stringify(
      { machine: { cpus: cpus().length, node: process.version, platform: process.platform }, ops, poolLimit: limit, op: opName, sampleMS, results: measurements },
      null,
      2,
    ),
  );
  log(`wrote ${outPath}`);
  const worst = Math.max(
    ...sampled.map((r) => r.serverSocketsMax),
    ...[...sampled, ...unsampled].map((r) => Math.max(r.clientSocketsMax, r.poolOpenMax, r.serverSocketsAfter)),
  );
  if (worst > limit) {
    console.error(`LIMIT EXCEEDED: ${worst} sockets at poolLimit ${limit}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

