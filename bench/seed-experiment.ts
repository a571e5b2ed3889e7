// The seed experiment (issue 5): 10,000 concurrent sessions, each
// session.copy() -> a find by _id (a real server round trip) -> hold 50 ms ->
// close() (one operation per session), through dial(uri, { workers: N, poolLimit: 100 }) against the
// embedded FerretDB, with every socket counted on both sides: the server's
// side through a counting TCP proxy in front of it
// (test/fixtures/counting-proxy.ts: accepted minus FIN or RST arrived, its
// maximum read once per event-loop turn; nothing sampled), the client's at
// the connector (stats().sockets: created to 'close', one count across all
// workers in the coordinator's buffer). N = 0 (LocalRouter, sockets in the main
// thread) is the baseline; N = 1, 2, 4 run the workers, whose pools
// all draw from one coordinator. mgo's published figure is the yardstick:
// 10k goroutines at poolLimit 4096 opened 4390-4700 sockets (README, "The
// benchmark").
//
// Measured per run: the most sockets open at once on each side, completion time, the wait for a connection per session
// (ConnectionCheckedOut.durationMS of its one checkout: the session's
// socket reservation), the time from copy() to the find's reply per
// session, connections dialed (ConnectionCreated events) and closed by
// reason (a 'yielded' close is a permit handed to another worker, see
// Pool.checkIn), dials per 1,000 operations (each dial costs a handshake,
// with TLS and SCRAM several round trips and a key derivation; issue 11's
// goal: workers 2 and 4 at most 1.2x workers 1), the main thread's
// event-loop utilization, and stats() per worker.
//
// With workers, a session's wait for its socket is spent on the main thread
// when every socket is taken (its reservation parked there:
// src/worker/placement.ts), so ConnectionCheckedOut.durationMS, which the
// pool measures, leaves it out; copy() to reply includes it.
//
//   node --import tsx bench/seed-experiment.ts [--reps 3] [--sessions 10000] [--limit 100]
//        [--hold-ms 50] [--workers 0,1,2,4] [--no-events] [--secure]
//        [--out bench/results/seed-experiment.json]
//
// --no-events: no pool-event listener (no per-session waits, dials or
// closes), to see what forwarding the events from the workers costs.
// --secure: the test server with TLS and a user, every socket dialed over
// TLS and authenticated with SCRAM-SHA-256 (what each dial costs then is
// what the dials per 1,000 operations are about).
//
// test/integration/seed-experiment.test.ts runs one repetition per N through
// seedExperiment() below, with assertions; main() runs only when this file
// is the entry point.
import { integerOption, option } from './lib/args.js';
import type { Measurement } from './lib/results.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dial, type Session } from '../src/index.js';
import type { PoolEvent } from '../src/pool/index.js';
import { LocalRouter } from '../src/router/local-router.js';
import type { ServerStats } from '../src/pool/stats.js';
import { WorkerRouter } from '../src/worker/worker-router.js';
import { percentile, withTimeout } from '../test/fixtures/pool-load.js';
import { startCountingProxy } from '../test/fixtures/counting-proxy.js';
import { onPoolEvents } from '../test/fixtures/pool-events.js';
import { startTestServer, type TestServer } from '../test/fixtures/server.js';
import { testCertificates } from '../test/fixtures/tls-certs.js';

export const SEED_DB = `mgo_seed_${process.pid}`;
export const SEED_COLLECTION = 'seed';
const SEED_ID = 'seed-doc';

export interface SeedOptions {
  workers: number;
  sessions: number;
  poolLimit: number;
  holdMS: number;
  waitQueueTimeoutMS: number;
  /** The whole run (all sessions) must finish within this. */
  timeoutMS: number;
  /** Listen to the pool events (per-session waits, dials, closes by reason); their transport costs worker-mode time. */
  events: boolean;
}

export const SEED_DEFAULTS: SeedOptions = {
  workers: 0,
  sessions: 10_000,
  poolLimit: 100,
  holdMS: 50,
  waitQueueTimeoutMS: 30_000,
  timeoutMS: 60_000,
  events: true,
};

export interface WorkerFigures {
  workerId: number;
  stats: ServerStats | undefined;
}

export interface SeedResult {
  options: SeedOptions;
  completed: number;
  /** The first few failures (none expected), and how many of them were PoolTimeoutErrors. */
  failures: unknown[];
  failed: number;
  poolTimeouts: number;
  totalMS: number;
  /**
   * The server's side: the most client sockets open at once at the counting
   * proxy during the load (the pool's and the monitor's), and how many it
   * accepted in the whole run (the dial's included).
   */
  serverSocketsMax: number;
  serverSocketsAccepted: number;
  /** The client's side: stats().sockets of the run (pool sockets only, created to 'close', across all workers). */
  clientSocketsMax: number;
  clientSocketsOpened: number;
  /** Open on each side once session.close() resolved: 0 and 0. */
  clientSocketsLeft: number;
  serverSocketsLeft: number;
  /** Per session, ms: the wait for its connection (ConnectionCheckedOut.durationMS). */
  waitP50MS: number;
  waitP99MS: number;
  waitMaxMS: number;
  /** Checkouts seen in the events (one per session). */
  checkouts: number;
  /** Per session, ms: copy() to the find's reply (wait + round trip, and the main thread's queueing). */
  replyP50MS: number;
  replyP99MS: number;
  replyMaxMS: number;
  /** Connections dialed, and closed by reason, from the pool events. */
  created: number;
  /** Dials per 1,000 operations (sessions); NaN without the event listener. */
  dialsPer1000: number;
  closed: Record<string, number>;
  /** Main-thread event-loop utilization during the load (0..1). */
  mainELU: number;
  /**
   * stats() summed over workers, for the server, at the end of the load;
   * its monitoringConnections (one monitor per server per process: 1
   * polling, 2 streaming) is what the server may see beyond the pool limit.
   */
  stats: ServerStats;
  /** Per worker (N > 0); the one in-thread pool for N = 0 (workerId -1). */
  perWorker: WorkerFigures[];
}

type AnyRouter = LocalRouter | WorkerRouter;

/**
 * dial() exactly as a user calls it, keeping hold of the router it makes
 * (Session keeps its router private): for the per-worker detail and the
 * pool events. Only one dial at a time may go through this.
 */
async function dialKeepingRouter(uri: string, options: Parameters<typeof dial>[1]): Promise<{ session: Session; router: AnyRouter }> {
  const createWorker = WorkerRouter.create;
  const createLocal = LocalRouter.create;
  let router: AnyRouter | undefined;
  WorkerRouter.create = async (...args) => (router = await createWorker.apply(WorkerRouter, args));
  LocalRouter.create = async (...args) => (router = await createLocal.apply(LocalRouter, args));
  try {
    const session = await dial(uri, options);
    if (router === undefined) throw new Error('dial() made no router');
    return { session, router };
  } finally {
    WorkerRouter.create = createWorker;
    LocalRouter.create = createLocal;
  }
}

/** The one document every session finds (string _id: FerretDB pushes the filter down). `uri`: with credentials and TLS options, for a secure server. */
export async function seedCollection(server: TestServer, uri = server.uri): Promise<void> {
  const session = await dial(uri, { workers: 0 });
  try {
    await session.db(SEED_DB).c(SEED_COLLECTION).upsertId(SEED_ID, { $set: { n: 1 } });
  } finally {
    await session.close();
  }
}

export async function dropSeedDatabase(server: TestServer, uri = server.uri): Promise<void> {
  const session = await dial(uri, { workers: 0 });
  try {
    await session.db(SEED_DB).dropDatabase();
  } finally {
    await session.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One run; `uri` is what it dials (the server's, or one with credentials
 * and TLS options: kept out of the result, which is written to a file). The
 * run dials it through a counting proxy of its own, in front of the server.
 */
export async function seedExperiment(server: TestServer, overrides: Partial<SeedOptions> = {}, uri = server.uri): Promise<SeedResult> {
  const options: SeedOptions = { ...SEED_DEFAULTS, ...overrides };
  const { workers, sessions, poolLimit, holdMS, waitQueueTimeoutMS, timeoutMS } = options;
  const proxy = await startCountingProxy(server);
  const proxied = uri.replace(server.address, proxy.address);
  const { session, router } = await dialKeepingRouter(proxied, { workers, poolLimit, waitQueueTimeoutMS });
  const waits: number[] = [];
  const closed: Record<string, number> = {};
  let created = 0;
  let checkedIn = 0;
  const onEvent = (event: PoolEvent): void => {
    if (event.type === 'ConnectionCheckedOut') waits.push(event.durationMS);
    else if (event.type === 'ConnectionCheckedIn') checkedIn++;
    else if (event.type === 'ConnectionCreated') created++;
    else if (event.type === 'ConnectionClosed') closed[event.reason] = (closed[event.reason] ?? 0) + 1;
  };
  const stopEvents = options.events ? onPoolEvents(session.events, onEvent) : () => {};
  const replies = new Float64Array(sessions).fill(Number.NaN);
  const failures: unknown[] = [];
  let failed = 0;
  let poolTimeouts = 0;
  let completed = 0;
  let totalMS: number;
  let mainELU: number;
  let serverSocketsMax: number;
  try {
    // Events of the dial's first ping (before the load) are not the load's.
    await sleep(20);
    waits.length = 0;
    created = 0;
    checkedIn = 0;
    for (const key of Object.keys(closed)) delete closed[key];
    proxy.resetMaxOpen();
    const elu = performance.eventLoopUtilization();
    const started = performance.now();
    const one = async (i: number): Promise<void> => {
      const t0 = performance.now();
      const copy = session.copy();
      try {
        const doc = await copy.db(SEED_DB).c(SEED_COLLECTION).findId(SEED_ID).one();
        replies[i] = performance.now() - t0;
        if (doc._id !== SEED_ID) throw new Error(`found ${JSON.stringify(doc)}`);
        await sleep(holdMS);
        completed++;
      } catch (error) {
        failed++;
        if ((error as { code?: string }).code === 'ERR_POOL_TIMEOUT') poolTimeouts++;
        if (failures.length < 3) failures.push(error);
      } finally {
        await copy.close();
      }
    };
    await withTimeout(
      Promise.all(Array.from({ length: sessions }, (_, i) => one(i))),
      timeoutMS,
      `${sessions} sessions with ${workers} workers`,
    );
    totalMS = performance.now() - started;
    mainELU = performance.eventLoopUtilization(elu).utilization;
    serverSocketsMax = proxy.maxOpen();
    // Worker events follow their replies by at most a batch: wait for the last check-ins.
    const deadline = performance.now() + 2_000;
    while (options.events && checkedIn < sessions && performance.now() < deadline) await sleep(5);
  } finally {
    stopEvents();
  }
  const stats = session.stats().find((s) => s.address === proxy.address) ?? session.stats()[0]!;
  const perWorker: WorkerFigures[] =
    router instanceof WorkerRouter
      ? (await router.workerStatsNow()).map((w) => ({ workerId: w.workerId, stats: w.servers.find((s) => s.address === proxy.address) }))
      : [{ workerId: -1, stats }];
  await session.close();
  // close() drains: every pool socket is closed, and counted as such, when it resolves.
  const clientSocketsLeft = router.stats().find((s) => s.address === proxy.address)?.sockets.open ?? 0;
  // The server's side learns of the last FINs a moment later.
  const until = performance.now() + 10_000;
  while (proxy.open() > 0 && performance.now() < until) await sleep(5);
  const serverSocketsLeft = proxy.open();
  const serverSocketsAccepted = proxy.accepted();
  await proxy.close();
  return {
    options,
    completed,
    failures,
    failed,
    poolTimeouts,
    totalMS,
    serverSocketsMax,
    serverSocketsAccepted,
    clientSocketsMax: stats.sockets.maxOpen,
    clientSocketsOpened: stats.sockets.opened,
    clientSocketsLeft,
    serverSocketsLeft,
    waitP50MS: percentile(waits, 50),
    waitP99MS: percentile(waits, 99),
    waitMaxMS: percentile(waits, 100),
    checkouts: waits.length,
    replyP50MS: percentile(replies, 50),
    replyP99MS: percentile(replies, 99),
    replyMaxMS: percentile(replies, 100),
    created,
    dialsPer1000: options.events ? (created / sessions) * 1000 : Number.NaN,
    closed,
    mainELU,
    stats,
    perWorker,
  };
}

/** One line per run. */
export function describeSeedRun(r: SeedResult): string {
  const closes = Object.entries(r.closed)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ');
  return (
    `workers ${r.options.workers}: ${r.completed}/${r.options.sessions} sessions in ${r.totalMS.toFixed(0)} ms; ` +
    `most sockets open at once: server side ${r.serverSocketsMax} (pool + monitoring), client side ${r.clientSocketsMax} (pool); ` +
    `${r.clientSocketsOpened} pool sockets opened, ${r.serverSocketsAccepted} accepted in all; ` +
    `wait p50 ${r.waitP50MS.toFixed(1)} p99 ${r.waitP99MS.toFixed(1)} max ${r.waitMaxMS.toFixed(1)} ms over ${r.checkouts} checkouts; ` +
    `copy->reply p50 ${r.replyP50MS.toFixed(1)} p99 ${r.replyP99MS.toFixed(1)} ms; ` +
    `${r.created} dialed (${r.dialsPer1000.toFixed(1)} per 1,000 operations), closed: ${closes || 'none'}; main ELU ${(r.mainELU * 100).toFixed(0)} %; ` +
    `failed ${r.failed} (pool timeouts ${r.poolTimeouts})`
  );
}

/** stats() per worker, one line. */
export function describeWorkers(r: SeedResult): string {
  return r.perWorker
    .map(({ workerId, stats: s }) =>
      s === undefined
        ? `w${workerId}: -`
        : `${workerId < 0 ? 'in-thread' : `w${workerId}`}: open ${s.open} inUse ${s.inUse} idle ${s.idle} waitCount ${s.waitCount} ` +
          `waitDurationMS ${s.waitDurationMS.toFixed(0)} timeouts ${s.timeouts} idleClosed ${s.idleClosed} errorClosed ${s.errorClosed}`,
    )
    .join(' | ');
}

// --------------------------------------------------------------- the bench

/** The bench's own user on the --secure server (a throwaway test server; the URL is never logged). */
const SECURE_USER = { name: 'seed', password: 'seed-bench-password' };

/** The test server, plain, or with TLS and a user (--secure), and the URI to dial it with. */
async function benchServer(secure: boolean): Promise<{ server: TestServer; uri: string }> {
  if (!secure) {
    const server = await startTestServer();
    return { server, uri: server.uri };
  }
  const certs = await testCertificates();
  const server = await startTestServer({ tls: { certKeyFile: certs.serverCertKeyFile }, user: SECURE_USER });
  const options = new URLSearchParams({ tls: 'true', tlsCAFile: certs.caFile, authSource: 'admin', authMechanism: 'SCRAM-SHA-256' });
  return { server, uri: `mongodb://${SECURE_USER.name}:${encodeURIComponent(SECURE_USER.password)}@${server.address}/?${options}` };
}

function summary(values: number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return { median: sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2, min: sorted[0]!, max: sorted.at(-1)! };
}

function log(message: string): void {
  process.stderr.write(`[seed-experiment] ${message}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const reps = integerOption(args, '--reps', 3);
  const sessions = integerOption(args, '--sessions', SEED_DEFAULTS.sessions);
  const poolLimit = integerOption(args, '--limit', SEED_DEFAULTS.poolLimit);
  const holdMS = integerOption(args, '--hold-ms', SEED_DEFAULTS.holdMS, 0);
  const workerCounts = option(args, '--workers', '0,1,2,4').split(',').map(Number);
  if (!workerCounts.every((n) => Number.isInteger(n) && n >= 0)) throw new Error('--workers must list integers >= 0');
  const outPath = resolve(option(args, '--out', 'bench/results/seed-experiment.json'));
  const events = !args.includes('--no-events');
  const secure = args.includes('--secure');

  log(
    `${reps} reps x workers ${workerCounts.join('/')}: ${sessions} concurrent sessions (copy, findId, hold ${holdMS} ms, close) at poolLimit ${poolLimit}, ` +
      `sockets counted at a proxy and at the connector${secure ? ', TLS + SCRAM-SHA-256' : ''}; node ${process.version}, ${cpus().length} cpus`,
  );
  const { server, uri } = await benchServer(secure);
  log(`server ${server.address}`);
  const runs = new Map<number, SeedResult[]>(workerCounts.map((n) => [n, []]));
  try {
    await seedCollection(server, uri);
    log('warm-up (1,000 sessions, workers 0, not recorded)');
    await seedExperiment(server, { workers: 0, sessions: Math.min(sessions, 1_000), poolLimit, holdMS, events }, uri);
    for (let rep = 1; rep <= reps; rep++) {
      // Rotate the order so that no N always runs first on a cold server.
      const order = workerCounts.map((_, i) => workerCounts[(i + rep - 1) % workerCounts.length]!);
      for (const workers of order) {
        const r = await seedExperiment(server, { workers, sessions, poolLimit, holdMS, timeoutMS: 300_000, events }, uri);
        runs.get(workers)!.push(r);
        log(`rep ${rep}/${reps} ${describeSeedRun(r)}`);
        log(`  per worker: ${describeWorkers(r)}`);
        if (r.failed > 0) throw new Error(`${r.failed} sessions failed; first: ${String(r.failures[0])}`);
      }
    }
    await dropSeedDatabase(server, uri);
  } finally {
    await server.stop();
  }

  const scenario = `${sessions} concurrent sessions (copy, findId, hold ${holdMS} ms, close), poolLimit ${poolLimit}, FerretDB${secure ? ' over TLS with SCRAM-SHA-256' : ''}`;
  const measurements: Measurement[] = [];
  const table: string[] = [];
  const metrics: [label: string, metric: string, unit: string, pick: (r: SeedResult) => number, digits: number][] = [
    ['max server-side sockets', 'max_server_sockets', 'sockets', (r) => r.serverSocketsMax, 0],
    ['max client-side pool sockets', 'max_client_sockets', 'sockets', (r) => r.clientSocketsMax, 0],
    ['completion time', 'total_time', 'ms', (r) => r.totalMS, 0],
    ['sessions completed', 'completed', 'sessions', (r) => r.completed, 0],
    ['wait for connection p50', 'wait_p50', 'ms', (r) => r.waitP50MS, 1],
    ['wait for connection p99', 'wait_p99', 'ms', (r) => r.waitP99MS, 1],
    ['wait for connection max', 'wait_max', 'ms', (r) => r.waitMaxMS, 1],
    ['copy() to reply p50', 'reply_p50', 'ms', (r) => r.replyP50MS, 1],
    ['copy() to reply p99', 'reply_p99', 'ms', (r) => r.replyP99MS, 1],
    ['connections dialed', 'connections_created', 'connections', (r) => r.created, 0],
    ['dials per 1,000 operations', 'dials_per_1000_ops', 'dials', (r) => r.dialsPer1000, 1],
    ['closed yielded (hand-offs)', 'connections_closed_yielded', 'connections', (r) => r.closed.yielded ?? 0, 0],
    ['main-thread ELU', 'main_elu', 'fraction', (r) => r.mainELU, 2],
    ['pool timeouts', 'pool_timeouts', 'count', (r) => r.poolTimeouts, 0],
    ['stats().waitCount', 'stats.waitCount', 'count', (r) => r.stats.waitCount, 0],
    ['stats().waitDurationMS', 'stats.waitDurationMS', 'ms', (r) => r.stats.waitDurationMS, 0],
    ['stats().timeouts', 'stats.timeouts', 'count', (r) => r.stats.timeouts, 0],
  ];
  for (const workers of workerCounts) {
    const results = runs.get(workers)!;
    const variant = (workers === 0 ? 'LocalRouter (workers 0)' : `WorkerRouter (workers ${workers})`) + (events ? '' : ', no event listener');
    for (const [label, metric, unit, pick, digits] of metrics) {
      const m: Measurement = { scenario, variant, workers, metric, unit, ...summary(results.map(pick)), reps: results.length };
      measurements.push(m);
      const range = `(${m.min.toFixed(digits)} - ${m.max.toFixed(digits)})`;
      table.push(`  ${String(workers).padStart(7)}  ${label.padEnd(28)} ${m.median.toFixed(digits).padStart(10)}  ${range.padEnd(22)} ${unit}`);
    }
  }
  console.log(`\n${scenario}: ${reps} reps, median (min - max); workers 0 = LocalRouter baseline`);
  console.log(`  workers  ${'metric'.padEnd(28)} ${'median'.padStart(10)}`);
  for (const line of table) console.log(line);
  const monitoring = Math.max(...[...runs.values()].flat().map((r) => r.stats.monitoringConnections));
  console.log(`  limit: ${poolLimit} pool sockets + the monitoring sockets stats() reports (at most ${monitoring} per server per process)`);
  const dials = (workers: number) => summary(runs.get(workers)!.map((r) => r.dialsPer1000)).median;
  if (events && runs.has(1)) {
    const base = dials(1);
    const ratios = workerCounts.filter((n) => n > 1).map((n) => `workers ${n} ${(dials(n) / base).toFixed(2)}x`);
    if (ratios.length > 0) console.log(`  dials per 1,000 operations against workers 1 (${base.toFixed(1)}), medians: ${ratios.join(', ')}; goal <= 1.2x`);
  }
  console.log('  reference, mgo (published): 10k goroutines on poolLimit 4096 opened 4390-4700 sockets (limit exceeded by 7-15 %)');
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(
    outPath,
    JSON.stringify(
      {
        machine: { cpus: cpus().length, node: process.version, platform: process.platform },
        sessions,
        poolLimit,
        holdMS,
        events,
        secure,
        reference: { mgo: '10k goroutines on poolLimit 4096 opened 4390-4700 sockets (published)' },
        results: measurements,
      },
      null,
      2,
    ),
  );
  log(`wrote ${outPath}`);
  for (const r of [...runs.values()].flat()) {
    if (r.serverSocketsMax <= poolLimit + r.stats.monitoringConnections && r.clientSocketsMax <= poolLimit) continue;
    console.error(`LIMIT EXCEEDED: ${r.serverSocketsMax} sockets at the server, ${r.clientSocketsMax} pool sockets at the client, at poolLimit ${poolLimit} + ${r.stats.monitoringConnections} monitoring (workers ${r.options.workers})`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
