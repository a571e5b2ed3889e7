// The project's main job (`npm run bench`): what worker threads buy, on
// this machine. mgo-threads at workers 0, 1, 2 and N runs side by side with
// the official `mongodb` driver at the same connection limit, against the
// embedded FerretDB (or MONGODB_URI) and against a canned-reply wire server
// in a child process (driver cost without a server's), in four scenarios:
//   1. the driver benchmarking spec's tasks that fit FerretDB (scenarios/spec-tasks.ts)
//   2. a CPU-heavy application: main thread 0/50/90 % busy (scenarios/cpu-heavy.ts)
//   3. the seed experiment: many sessions at poolLimit 100 (scenarios/seed.ts)
//   4. main-thread cost per operation by document size (scenarios/main-thread-cost.ts)
//   5. write throughput, app idle and busy (scenarios/writes.ts)
//   6. a pool warm-up over TLS with SCRAM: main-thread CPU for 100 authenticated sockets (scenarios/warmup.ts)
//   7. wire compression off and on, through a compressing proxy (scenarios/compression.ts)
//   8. what observing costs: no listener, command listeners, every event (scenarios/events.ts)
//   9. an HTTP service under load: autocannon's closed loop, vegeta's open loop (scenarios/http.ts)
// Progress goes to stderr; the table to stdout; the JSON to --out, and the
// HTML report and its SVG charts beside it (lib/report.ts).
//
//   npm run bench [-- --profile quick|full] [--out FILE] [--workers N] [--only spec,cpu,seed,cost,writes,warmup,compress,events,http] [--chart FILE]
//
// --chart FILE also writes the summary chart (find-one ops/s relative to the
// official driver by app load) to FILE: the README's chart comes from there.
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { startTestServer, type TestServer } from '../test/fixtures/server.js';
import { integerOption, option } from './lib/args.js';
import { startCannedServer, type CannedServer } from './lib/canned-server.js';
import { summaryChart } from './lib/charts.js';
import { openClient, variantsFor, type BenchClient, type Variant } from './lib/clients.js';
import { docSizes } from './lib/docs.js';
import { writeReport } from './lib/report.js';
import { Results, log } from './lib/results.js';
import { formatTables } from './lib/table.js';
import { describeTarget, evaluateTargets } from './lib/targets.js';
import { cpuHeavyScenario, handlerScenario, runCpuHeavy, type CpuHeavyConfig } from './scenarios/cpu-heavy.js';
import { PROBE_BSON, PROBE_CLONE, PROBE_SCENARIO, costScenario, runMainThreadCost, type MainThreadCostConfig } from './scenarios/main-thread-cost.js';
import { runSeed, seedScenario, type SeedConfig } from './scenarios/seed.js';
import { runSpecTasks, type SpecConfig } from './scenarios/spec-tasks.js';
import { runWarmup, type WarmupConfig } from './scenarios/warmup.js';
import { runWrites, writesScenario, type WritesConfig } from './scenarios/writes.js';
import { runCompression, type CompressionConfig } from './scenarios/compression.js';
import { EVENTS_SCENARIO, WANTED_PROBE_SCENARIO, eventsVariant, runEvents, type EventsConfig } from './scenarios/events.js';
import { httpScenario, runHttp, type HttpConfig } from './scenarios/http.js';

interface Profile {
  /** Connection limit of every variant outside the seed experiment. */
  poolLimit: number;
  spec: SpecConfig;
  cpu: CpuHeavyConfig;
  seed: SeedConfig;
  cost: MainThreadCostConfig;
  writes: WritesConfig;
  warmup: WarmupConfig;
  compress: CompressionConfig;
  events: EventsConfig;
  http: HttpConfig;
}

const BUSY = [0, 0.5, 0.9];
/** The HTTP scenario's service and load (issue 16): 64 connections, 200 µs of app CPU, 2 reads and 0.1 writes per request. */
const HTTP = { connections: 64, appMicros: 200, writeRatio: 0.1, reads: 2, openFraction: 0.8 };

const PROFILES: Record<string, Profile> = {
  quick: {
    poolLimit: 8,
    spec: { reps: 2, ops: 40, findManyDocs: 100, bulkDocs: 1000, largeOps: 1, ldjsonFiles: 1, ldjsonLines: 250 },
    cpu: { reps: 2, durationMS: 300, warmupMS: 150, concurrency: 64, busyFractions: BUSY, handlerMicros: 200 },
    seed: { reps: 2, sessions: 1_000, poolLimit: 100, holdMS: 50 },
    cost: { reps: 2, durationMS: 200, warmupMS: 100, concurrency: 16, largeConcurrency: 1, probeMS: 25 },
    writes: { reps: 2, durationMS: 300, warmupMS: 150, concurrency: 8, busyFractions: [0, 0.5] },
    warmup: { reps: 1, connections: 100 },
    compress: { reps: 2, durationMS: 300, warmupMS: 150, concurrency: 8, settings: ['off', 'snappy', 'zlib', 'zstd'] },
    events: { reps: 2, durationMS: 300, warmupMS: 150, concurrency: 16, workers: [0, 2] },
    http: { ...HTTP, reps: 1, durationS: 1, warmupS: 0.5 },
  },
  full: {
    poolLimit: 8,
    spec: { reps: 5, ops: 300, findManyDocs: 1000, bulkDocs: 10_000, largeOps: 5, ldjsonFiles: 2, ldjsonLines: 1000 },
    cpu: { reps: 5, durationMS: 2000, warmupMS: 500, concurrency: 64, busyFractions: BUSY, handlerMicros: 200 },
    seed: { reps: 3, sessions: 10_000, poolLimit: 100, holdMS: 50 },
    cost: { reps: 5, durationMS: 1000, warmupMS: 500, concurrency: 16, largeConcurrency: 2, probeMS: 200 },
    writes: { reps: 5, durationMS: 2000, warmupMS: 500, concurrency: 8, busyFractions: [0, 0.5] },
    warmup: { reps: 5, connections: 100 },
    compress: { reps: 5, durationMS: 2000, warmupMS: 500, concurrency: 8, settings: ['off', 'snappy', 'zlib', 'zstd'] },
    events: { reps: 7, durationMS: 1500, warmupMS: 500, concurrency: 16, workers: [0, 2] },
    http: { ...HTTP, reps: 5, durationS: 4, warmupS: 2 },
  },
};

const SCENARIOS = ['spec', 'cpu', 'seed', 'cost', 'writes', 'warmup', 'compress', 'events', 'http'] as const;

function parseArgs(args: string[]) {
  const profileName = option(args, '--profile', 'quick');
  const profile = PROFILES[profileName];
  if (!profile) throw new Error(`--profile must be quick or full, got ${profileName}`);
  const n = integerOption(args, '--workers', availableParallelism());
  const only = option(args, '--only', SCENARIOS.join(',')).split(',');
  for (const s of only) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--only takes ${SCENARIOS.join(',')}, got ${s}`);
  const chart = option(args, '--chart', '');
  return {
    profileName,
    profile,
    n,
    only: new Set(only),
    outPath: resolve(option(args, '--out', 'bench/results/latest.json')),
    chartPath: chart ? resolve(chart) : undefined,
  };
}

async function openAll(variants: Variant[], uri: string, poolLimit: number): Promise<BenchClient[]> {
  const clients: BenchClient[] = [];
  for (const v of variants) clients.push(await openClient(v, uri, { poolLimit }));
  return clients;
}

async function closeAll(clients: BenchClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
}

function notes(profileName: string, n: number, load: number): string[] {
  const sizes = docSizes();
  return [
    `Variants: mgo-threads at workers 0 (sockets in the main thread), 1, 2 and N = ${n} (os.availableParallelism(); left out where it equals 1 or 2), ` +
      `and the official mongodb driver with maxPoolSize equal to poolLimit. mgo-threads sessions run in Eventual mode (no reserved socket), as the official driver routes each operation.`,
    'Where the reply is decoded: with workers 0 on the main thread. With workers > 0 a reply of 512 bytes or more is decoded in the worker with the caller\'s BSON options and crosses as a typed clone ' +
      '(structured clone plus the BSON types restored: the same result as BSON.deserialize), smaller ones as their BSON bytes, decoded on the main thread. ' +
      'Replies are settled on the main thread in slices of about 2 ms, continuations included ("largest_slice"). Writes: each document is serialized once, on the main thread, and its bytes go to the socket unchanged. ' +
      'The "decode placement probe" rows measure the main-thread half of each placement per document: BSON.deserialize of the reply and receiving its typed clone.',
    `Canned-reply server: a child process answering hello, find (one document: small_doc ${sizes.small_doc} B, tweet ${sizes.tweet} B, 16kb ${sizes['16kb']} B, large_doc ${sizes.large_doc} B of BSON) and insert with fixed replies; ` +
      'scenarios 2 and 4 and the large-doc spec tasks use it, so that the driver, not a server, is measured.',
    'Pool warm-up (scenario 6): each variant dials the FerretDB test server started with TLS and a SCRAM-SHA-256 user with minPoolSize = maxPoolSize = 100, ' +
      'and the main thread\'s CPU time is taken from before dial() until the 100th socket is authenticated; the same with one socket is the baseline ' +
      '("per extra connection" is the difference over the other 99). Both drivers cache the PBKDF2 keys, so each socket costs a TLS handshake and a SCRAM conversation.',
    'Compression (scenario 7): every variant reaches the canned-reply server through the compressing proxy (a child process that decompresses requests, ' +
      'advertises snappy, zlib and zstd in hello and compresses each reply as its request came), compression off as well as on, so the proxy hop is in every row. ' +
      'The official driver has no zstd row: its zstd package (@mongodb-js/zstd) downloads a binary from GitHub on install. The 16kb document is tweets repeated, which compresses well.',
    'Spec tasks run against FerretDB (SQLite), which dominates their times: ratios near 1 there say little about the driver. Counts are scaled down from the spec (FerretDB is slow); scores use the spec\'s nominal sizes for the operations run.',
    'HTTP service (scenario 9): examples/http-service (node:http; each /page request reads 2 documents by _id, writes one on a tenth of the requests, renders and hashes for 200 µs of CPU) ' +
      'runs in a child process per variant; autocannon in another child process loads it with 64 connections (16 against FerretDB, which answers in milliseconds), closed loop (max throughput), then vegeta runs the open loop at 0.8× the official driver\'s ' +
      'closed-loop req/s of the same repetition: a constant arrival rate that does not wait for answers (up to 512 outstanding), each latency from the request\'s intended send time, so a variant\'s queueing is in its latency; arrival_rate below offered_rate means vegeta could not send them all (512 outstanding). ' +
      'req/s and latencies count 2xx responses only. The benchmark process probes /health 50 times a second during each run. ' +
      'The service reports its main-thread event-loop delay p99, busy share and CPU over IPC; "lg_cpu" is the load generator\'s own CPU, on the same cores.',
    `Cores: ${cpus().length}. The main thread, the workers, the canned server process (and FerretDB) share them, so with more workers than ` +
      'spare cores a worker variant trades main-thread time for contention: compare the main-thread time per operation (what the application gets back) with ops/s.',
    'Main-thread time per operation: "main_thread_per_op" is event-loop active time (performance.eventLoopUtilization()) minus the app work, over the operations; ' +
      '"main_thread_cpu_per_op" is the main thread\'s CPU time (/proc/self/schedstat) the same way, which leaves out time spent waiting for a core. ' +
      'A window stops starting operations after its duration and ends when the last one completes, so each counted operation is paid for in full.',
    'App load (scenario 2): the app work catches up with its share of wall time after every completed operation (as a request handler continues after its reply) and from a timer while none completes, in slices of at most 5 ms.',
    `Machine load average when the run started: ${load.toFixed(2)} on ${cpus().length} CPUs (other processes share this machine; figures move with them).`,
    profileName === 'quick' ? 'Quick profile: short windows and few repetitions, a smoke test; use --profile full for figures to quote.' : 'Full profile.',
  ];
}

async function main(): Promise<void> {
  const started = performance.now();
  const startedAt = new Date();
  const { profileName, profile, n, only, outPath, chartPath } = parseArgs(process.argv.slice(2));
  const variants = variantsFor(n);
  const load = loadavg()[0]!;
  log(`profile ${profileName}; variants ${variants.map((v) => v.name).join(', ')}; scenarios ${[...only].join(', ')}; load average ${load.toFixed(2)}`);
  const results = new Results();
  let canned: CannedServer | undefined;
  let server: TestServer | undefined;
  let cannedClients: BenchClient[] = [];
  try {
    canned = await startCannedServer();
    log(`canned-reply server ${canned.uri} (child process ${canned.pid})`);
    cannedClients = await openAll(variants, canned.uri, profile.poolLimit);
    if (only.has('spec') || only.has('seed') || only.has('http')) {
      server = await startTestServer();
      log(`server ${server.uri}${process.env.MONGODB_URI ? ' (MONGODB_URI)' : ' (embedded FerretDB)'}`);
    }
    if (only.has('spec')) {
      const real = await openAll(variants, server!.uri, profile.poolLimit);
      try {
        await runSpecTasks({ real, canned: cannedClients }, profile.spec, results);
      } finally {
        await closeAll(real);
      }
    }
    if (only.has('seed')) await runSeed(server!, variants, profile.seed, results);
    if (only.has('http')) {
      const targets = [
        { name: 'canned server', uri: canned.uri, seed: false },
        { name: process.env.MONGODB_URI ? 'MONGODB_URI' : 'FerretDB', uri: server!.uri, seed: true, connections: 16 },
      ];
      await runHttp(targets, profile.poolLimit, profile.http, results);
    }
    await server?.stop();
    server = undefined;
    if (only.has('cpu')) await runCpuHeavy(cannedClients, profile.cpu, results);
    if (only.has('cost')) await runMainThreadCost(cannedClients, profile.cost, results);
    if (only.has('writes')) await runWrites(cannedClients, profile.writes, results);
    if (only.has('warmup')) await runWarmup(variants, profile.warmup, results);
    if (only.has('compress')) await runCompression(variants, canned, profile.poolLimit, profile.compress, results);
    if (only.has('events')) await runEvents(canned.uri, profile.poolLimit, profile.events, results);
  } finally {
    await closeAll(cannedClients);
    await server?.stop();
    await canned?.stop();
  }

  const targets = evaluateTargets(results, {
    cpuScenario: cpuHeavyScenario,
    busyFractions: only.has('cpu') ? profile.cpu.busyFractions : [],
    handlerScenario: only.has('cpu') ? handlerScenario(profile.cpu.handlerMicros) : undefined,
    readCostScenarios: [costScenario('read', '16kb'), costScenario('read', 'typed16kb')],
    writeCostScenarios: [costScenario('write', '16kb'), costScenario('write', 'typed16kb'), costScenario('write', 'large_doc')],
    decodeProbe16k: { scenario: `${PROBE_SCENARIO}: 16kb`, bsonVariant: PROBE_BSON.name, cloneVariant: PROBE_CLONE.name },
    writesScenario: only.has('writes') ? writesScenario : undefined,
    writesBusy: profile.writes.busyFractions,
    seedScenario: only.has('seed') ? seedScenario(profile.seed) : undefined,
    poolLimit: profile.seed.poolLimit,
    events: only.has('events') ? { scenario: EVENTS_SCENARIO, probe: WANTED_PROBE_SCENARIO, variant: eventsVariant, workers: profile.events.workers } : undefined,
    http: only.has('http') ? { closed: httpScenario('canned server', 'closed', profile.http), open: httpScenario('canned server', 'open', profile.http) } : undefined,
  });
  console.log(formatTables(results.all));
  console.log('\ntargets (reported, not asserted):');
  for (const t of targets) console.log(`  ${describeTarget(t)}`);
  const wallSeconds = (performance.now() - started) / 1000;
  const html = writeReport(
    outPath,
    { machine: { cpus: cpus().length, node: process.version, platform: process.platform }, profile: profileName, results: results.all },
    { startedAt, wallSeconds, targets, notes: notes(profileName, n, load) },
  );
  if (chartPath && only.has('cpu')) {
    writeFileSync(chartPath, summaryChart(results.all) + '\n');
    log(`wrote ${chartPath}`);
  }
  log(`wrote ${outPath} and ${html} (${wallSeconds.toFixed(0)} s in all)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
