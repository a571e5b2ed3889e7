// Scenario 9: the user's own benchmark, a CPU-heavy HTTP service under load
// (issue 16). The example service (examples/http-service: node:http, each
// /page request reads `reads` documents by _id, writes one on `writeRatio`
// of the requests, then renders and hashes for `appMicros` µs of CPU) runs
// in a child process per variant, on the official driver or on mgo-threads
// with workers 0, 1 and 2, at the same connection limit. The load
// generators run in processes of their own:
//   - closed loop (autocannon): `connections` connections (16 against
//     FerretDB), each sending its next request when the last is answered:
//     maximum throughput;
//   - open loop (vegeta): all variants at `openFraction` of the official
//     driver's closed-loop req/s of the same repetition, a constant arrival
//     rate that does not wait for answers (up to 512 outstanding), each
//     latency from the request's intended send time: latency under equal
//     load, a variant's queueing included.
// During every run the benchmark process probes /health 50 times a second.
// Against the canned-reply server (the driver's cost only) and against
// FerretDB. Per variant and run: req/s, latency p50/p99/p99.9, /health
// p99, the service's main-thread event-loop delay p99 and busy share and
// process CPU (reported by the service over IPC), errors, and the load
// generator's own CPU (it competes for the same cores). Variants run
// interleaved, in rotated order per repetition; each service gets one
// unrecorded closed-loop warm-up run first.
import { MongoClient } from 'mongodb';
import { OFFICIAL, type Variant } from '../lib/clients.js';
import { HealthProbe, openLoopRate, startLoadGenerator, type LoadGenerator, type LoadResult } from '../lib/http-load.js';
import { buildVegeta } from '../lib/vegeta.js';
import { startService, type ServiceProcess } from '../lib/http-service.js';
import { log, rotated, type Results } from '../lib/results.js';
import type { ServiceReport } from '../../examples/http-service/service-monitor.js';

export interface HttpConfig {
  reps: number;
  /** Length of each closed- and open-loop run, seconds. */
  durationS: number;
  /** Unrecorded closed-loop run per service before the repetitions, seconds. */
  warmupS: number;
  connections: number;
  appMicros: number;
  writeRatio: number;
  reads: number;
  /** The open-loop rate as a fraction of the official driver's closed-loop req/s. */
  openFraction: number;
}

export interface HttpTarget {
  /** 'canned server' or 'FerretDB' */
  name: string;
  uri: string;
  /** Seed the documents read (a real server); the canned server answers every find. */
  seed: boolean;
  /**
   * Connections of the load generator, if not the config's: FerretDB
   * answers a find in milliseconds, so 64 requests queued at poolLimit 8
   * would wait longer than a short run lasts.
   */
  connections?: number;
}

/** mgo-threads at workers 0, 1 and 2, and the official driver. */
export const HTTP_VARIANTS: Variant[] = [0, 1, 2].map((workers) => ({ name: `mgo w${workers}`, workers }) as Variant).concat({ name: OFFICIAL, workers: null });

export type Loop = 'closed' | 'open';

export const httpScenario = (target: string, loop: Loop, config: Pick<HttpConfig, 'connections' | 'openFraction'>): string =>
  loop === 'closed'
    ? `http: ${target}, closed loop, ${config.connections} connections`
    : `http: ${target}, open loop at ${config.openFraction}× official's req/s`;

interface Run {
  load: LoadResult;
  health: { p99MS: number; failed: number };
  service: ServiceReport;
  offered: number;
}

/** What each run records, per loop (exported for its unit test). */
export const METRICS: { metric: string; unit: string; pick(r: Run): number; loops?: Loop[] }[] = [
  { metric: 'throughput', unit: 'req/s', pick: (r) => r.load.requestsPerSecond },
  { metric: 'offered_rate', unit: 'req/s offered', pick: (r) => r.offered, loops: ['open'] },
  // What reached the service: the offered rate, unless 512 requests were outstanding and vegeta's sends fell behind.
  { metric: 'arrival_rate', unit: 'req/s offered', pick: (r) => r.service.received / r.load.durationS, loops: ['open'] },
  { metric: 'latency_p50', unit: 'ms', pick: (r) => r.load.latencyP50MS },
  { metric: 'latency_p99', unit: 'ms', pick: (r) => r.load.latencyP99MS },
  { metric: 'latency_p99_9', unit: 'ms', pick: (r) => r.load.latencyP999MS },
  { metric: 'health_p99', unit: 'ms', pick: (r) => r.health.p99MS },
  { metric: 'event_loop_delay_p99', unit: 'ms', pick: (r) => r.service.eventLoopDelayP99MS },
  { metric: 'main_thread_busy', unit: 'fraction', pick: (r) => r.service.mainThreadBusy },
  { metric: 'service_cpu', unit: 'cores', pick: (r) => r.service.processCores },
  { metric: 'lg_cpu', unit: 'cores', pick: (r) => r.load.cores },
  // A /page 500 reaches the load generator as a non-2xx response: the service's own count of them
  // (r.service.errors) is the same failures, so only the client side's counts are added up.
  { metric: 'errors', unit: 'count', pick: (r) => r.load.errors + r.health.failed },
];

function serviceArgs(variant: Variant, target: HttpTarget, poolLimit: number, config: HttpConfig): string[] {
  const driver = variant.workers === null ? ['--driver', 'official'] : ['--driver', 'mgo', '--workers', String(variant.workers)];
  return [
    ...driver,
    ...['--uri', target.uri, '--db', dbOf(variant), '--port', '0', '--pool-limit', String(poolLimit)],
    ...['--app-us', String(config.appMicros), '--write-ratio', String(config.writeRatio), '--reads', String(config.reads)],
    ...(target.seed ? ['--seed'] : []),
  ];
}

/** Each variant its own database: the services seed at the same time. */
const dbOf = (variant: Variant): string => `http_bench_${variant.name.replace(/\W+/g, '_')}`;

async function measure(service: ServiceProcess, lg: LoadGenerator, config: HttpConfig, overallRate?: number): Promise<Run> {
  // The requests the last run left in the service finish first.
  await service.drained();
  service.measure();
  const probe = new HealthProbe(`${service.url}/health`);
  probe.start();
  const load = await lg.run({
    url: `${service.url}/page`,
    connections: config.connections,
    durationS: config.durationS,
    ...(overallRate !== undefined ? { overallRate } : {}),
  });
  const health = await probe.stop();
  return { load, health, service: await service.report(), offered: overallRate ?? Number.NaN };
}

async function runTarget(target: HttpTarget, lg: LoadGenerator, poolLimit: number, baseConfig: HttpConfig, results: Results): Promise<void> {
  const config = { ...baseConfig, connections: target.connections ?? baseConfig.connections };
  const started = await Promise.allSettled(HTTP_VARIANTS.map((v) => startService(serviceArgs(v, target, poolLimit, config))));
  const services = new Map<Variant, ServiceProcess>();
  started.forEach((s, i) => s.status === 'fulfilled' && services.set(HTTP_VARIANTS[i]!, s.value));
  try {
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    for (const [v, service] of services) {
      const warm = await lg.run({ url: `${service.url}/page`, connections: config.connections, durationS: config.warmupS });
      await service.drained();
      log(`http ${target.name}: ${v.name} warm-up ${warm.requestsPerSecond.toFixed(0)} req/s`);
    }
    const runs = new Map<string, Run[]>();
    const keep = (loop: Loop, v: Variant, r: Run) => runs.set(`${loop}\0${v.name}`, [...(runs.get(`${loop}\0${v.name}`) ?? []), r]);
    for (let rep = 1; rep <= config.reps; rep++) {
      const closed = new Map<Variant, Run>();
      for (const v of rotated(HTTP_VARIANTS, rep)) closed.set(v, await measure(services.get(v)!, lg, config));
      const official = [...closed].find(([v]) => v.name === OFFICIAL)![1];
      const rate = openLoopRate(official.load.requestsPerSecond, config.openFraction);
      const open = new Map<Variant, Run>();
      if (Number.isFinite(rate)) for (const v of rotated(HTTP_VARIANTS, rep)) open.set(v, await measure(services.get(v)!, lg, config, rate));
      for (const v of HTTP_VARIANTS) {
        keep('closed', v, closed.get(v)!);
        if (open.has(v)) keep('open', v, open.get(v)!);
      }
      const line = (m: Map<Variant, Run>) =>
        HTTP_VARIANTS.filter((v) => m.has(v))
          .map((v) => {
            const r = m.get(v)!;
            // The open loop's send lag, which its latencies include: near 0 unless 512 requests were
            // outstanding or vegeta waited for a core (then the machine is too busy to compare variants).
            const lag = r.load.sendLagP99MS === undefined ? '' : ` send lag p99 ${r.load.sendLagP99MS.toFixed(1)} ms${r.load.unsent ? `, ${r.load.unsent} unsent` : ''}`;
            return `${v.name} ${r.load.requestsPerSecond.toFixed(0)} req/s p99 ${r.load.latencyP99MS.toFixed(1)} health ${r.health.p99MS.toFixed(1)} ms${lag}`;
          })
          .join(', ');
      log(`http ${target.name} rep ${rep}/${config.reps} closed: ${line(closed)}`);
      log(`http ${target.name} rep ${rep}/${config.reps} open ${Number.isFinite(rate) ? `at ${rate} req/s: ${line(open)}` : 'not run: the official driver answered nothing closed-loop'}`);
    }
    for (const loop of ['closed', 'open'] as const) {
      for (const v of HTTP_VARIANTS) {
        const list = runs.get(`${loop}\0${v.name}`);
        if (!list) continue;
        for (const m of METRICS) if (!m.loops || m.loops.includes(loop)) results.add(httpScenario(target.name, loop, config), v, m.metric, m.unit, list.map(m.pick));
      }
    }
  } finally {
    for (const [v, service] of services) {
      const code = await service.stop();
      if (code !== 0) log(`http ${target.name}: the ${v.name} service exited with code ${code}`);
    }
    if (target.seed) await dropDatabases(target.uri);
  }
}

async function dropDatabases(uri: string): Promise<void> {
  const client = new MongoClient(uri);
  try {
    for (const v of HTTP_VARIANTS) await client.db(dbOf(v)).dropDatabase();
  } catch (err) {
    log(`http: could not drop the benchmark databases: ${(err as Error).message}`);
  } finally {
    await client.close();
  }
}

export async function runHttp(targets: HttpTarget[], poolLimit: number, config: HttpConfig, results: Results): Promise<void> {
  // Built before any service starts (a fresh machine's first run downloads and compiles it).
  log(`http: open-loop load generator ${await buildVegeta()} (vegeta)`);
  const lg = await startLoadGenerator();
  log(`http: closed-loop load generator in child process ${lg.pid} (autocannon)`);
  try {
    for (const target of targets) await runTarget(target, lg, poolLimit, config, results);
  } finally {
    await lg.stop();
  }
}
