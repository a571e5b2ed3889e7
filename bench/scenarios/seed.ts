// Scenario 3: the seed experiment. Many concurrent sessions at poolLimit 100
// against the real server, with the server-side sockets counted throughout
// by a counting proxy in front of it (test/fixtures/counting-proxy.ts). The mgo-threads variants run the seed
// experiment of bench/seed-experiment.ts (each session: copy(), a find by
// _id, which reserves a socket, hold it, close()). The official driver has
// no sessions that hold sockets: its variant runs the same number of
// concurrent findOne + hold at maxPoolSize 100, and its count includes its
// own monitoring sockets. mgo's published figure is the reference row:
// 10,000 goroutines at poolLimit 4096 opened 4390-4700 sockets.
import { MongoClient } from 'mongodb';
import { startCountingProxy } from '../../test/fixtures/counting-proxy.js';
import type { TestServer } from '../../test/fixtures/server.js';
import { SEED_COLLECTION, SEED_DB, dropSeedDatabase, seedCollection, seedExperiment } from '../seed-experiment.js';
import { type Variant } from '../lib/clients.js';
import { log, rotated, type Results } from '../lib/results.js';

export interface SeedConfig {
  reps: number;
  sessions: number;
  poolLimit: number;
  holdMS: number;
}

export const seedScenario = (config: SeedConfig): string => `seed: ${config.sessions} sessions, poolLimit ${config.poolLimit}`;
export const MGO_GO_REFERENCE: Variant = { name: 'mgo (Go), published', workers: null };

interface SeedRun {
  serverSocketsMax: number;
  /** mgo-threads: its monitor's sockets, as stats() reports them (1 polling, 2 streaming); the official driver's are left in its count (0 here). */
  monitoringSockets: number;
  totalMS: number;
  failed: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The official driver's counterpart: `sessions` concurrent findOne, each followed by a hold, through a counting proxy. */
async function officialRun(server: TestServer, config: SeedConfig): Promise<SeedRun> {
  const proxy = await startCountingProxy(server);
  const client = new MongoClient(proxy.uri(), { directConnection: true, maxPoolSize: config.poolLimit, waitQueueTimeoutMS: 120_000 });
  await client.connect();
  const collection = client.db(SEED_DB).collection(SEED_COLLECTION);
  let failed = 0;
  try {
    proxy.resetMaxOpen();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: config.sessions }, async () => {
        try {
          if (!(await collection.findOne({}))) throw new Error('seed document not found');
          await sleep(config.holdMS);
        } catch {
          failed++;
        }
      }),
    );
    return { serverSocketsMax: proxy.maxOpen(), monitoringSockets: 0, totalMS: performance.now() - t0, failed };
  } finally {
    await client.close();
    await proxy.close();
  }
}

async function mgoRun(server: TestServer, workers: number, config: SeedConfig): Promise<SeedRun> {
  const r = await seedExperiment(server, {
    workers,
    sessions: config.sessions,
    poolLimit: config.poolLimit,
    holdMS: config.holdMS,
    timeoutMS: 300_000,
    events: false,
  });
  return { serverSocketsMax: r.serverSocketsMax, monitoringSockets: r.stats.monitoringConnections, totalMS: r.totalMS, failed: r.failed };
}

export async function runSeed(server: TestServer, variants: Variant[], config: SeedConfig, results: Results): Promise<void> {
  const scenario = seedScenario(config);
  const runs = new Map<Variant, SeedRun[]>(variants.map((v) => [v, []]));
  await seedCollection(server);
  try {
    for (let rep = 1; rep <= config.reps; rep++) {
      const line: string[] = [];
      for (const v of rotated(variants, rep)) {
        const r = v.workers === null ? await officialRun(server, config) : await mgoRun(server, v.workers, config);
        if (r.failed > 0) log(`${scenario}: ${v.name}: ${r.failed} sessions failed`);
        runs.get(v)!.push(r);
        line.push(`${v.name} ${r.serverSocketsMax} sockets ${r.totalMS.toFixed(0)} ms`);
      }
      log(`${scenario} rep ${rep}/${config.reps}: ${line.join(', ')}`);
    }
  } finally {
    await dropSeedDatabase(server);
  }
  for (const v of variants) {
    const rs = runs.get(v)!;
    // mgo-threads: pool sockets = server sockets - its monitoring sockets (stats()); the official driver's monitoring sockets are left in.
    results.add(scenario, v, 'max_server_sockets', 'sockets', rs.map((r) => r.serverSocketsMax));
    if (v.workers !== null) results.add(scenario, v, 'max_pool_sockets', 'sockets', rs.map((r) => r.serverSocketsMax - r.monitoringSockets));
    results.add(scenario, v, 'max_sockets_per_limit', '×', rs.map((r) => (r.serverSocketsMax - r.monitoringSockets) / config.poolLimit));
    results.add(scenario, v, 'completion_time', 'ms', rs.map((r) => r.totalMS));
    results.add(scenario, v, 'failed_sessions', 'count', rs.map((r) => r.failed));
  }
  // The reference row: published, not measured here (limit 4096).
  results.all.push(
    { scenario, variant: MGO_GO_REFERENCE.name, workers: null, metric: 'max_server_sockets', unit: 'sockets', median: 4545, min: 4390, max: 4700, reps: 0 },
    { scenario, variant: MGO_GO_REFERENCE.name, workers: null, metric: 'max_sockets_per_limit', unit: '×', median: 4545 / 4096, min: 4390 / 4096, max: 4700 / 4096, reps: 0 },
  );
}
