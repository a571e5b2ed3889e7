// The failover experiment (issue 12): what an application sees while its
// replica set changes primaries. 16 write loops and 16 read loops, each
// operation on its own session.copy() (mgo's per-request pattern, Strong
// mode: a socket reserved on the primary), through dial(uri, { workers,
// poolLimit }) against the replica-set bridge (test/fixtures/bridge: three
// members in front of one FerretDB). While they run: the primary steps down
// (a new one is elected at once), then the new primary is partitioned (a
// black hole: its sockets get no bytes back; the other members elect
// another), then healed.
//
// Measured: operations acknowledged and errors surfaced to the application
// (by code), per event the time until the first write issued after it is
// acknowledged and the longest operation around it, acknowledged writes
// missing afterwards (read back straight from FerretDB), writes the bridge
// answered from its retry table (retried writes that had run: they would
// have been duplicates without txnNumber), and each member's most client
// sockets at once against poolLimit plus the monitoring connections per
// server that stats() reports.
//
//   node --import tsx bench/failover.ts [--workers 0,2] [--limit 20] [--reps 3]
//        [--out bench/results/failover.json] [--chart bench/charts/failover.svg]
//
// test/integration/failover.test.ts runs a short run per worker count
// through failoverExperiment() with assertions; main() runs only when this
// file is the entry point.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dial, Mode, type Session } from '../src/index.js';
import { startBridge, type Bridge } from '../test/fixtures/bridge/index.js';
import { startTestServer, type TestServer } from '../test/fixtures/server.js';
import { integerOption, option } from './lib/args.js';
import { failoverChart } from './lib/failover-chart.js';
import { percentile, summarize } from './lib/stats.js';

export interface FailoverOptions {
  workers: number;
  poolLimit: number;
  writeLoops: number;
  readLoops: number;
  /** Before the stepdown, between the stepdown and the partition, the partition's length, and after the heal. */
  phasesMS: { steady: number; afterStepDown: number; partitioned: number; afterHeal: number };
  /** Every loop stops after this many operations, whatever the time. */
  maxOpsPerLoop: number;
  /** heartbeatFrequencyMS and connectTimeoutMS of the dial: how fast a black-holed primary is noticed. */
  heartbeatFrequencyMS: number;
  connectTimeoutMS: number;
  /** Width of a timeline bucket. */
  bucketMS: number;
}

export const FAILOVER_DEFAULTS: FailoverOptions = {
  workers: 2,
  poolLimit: 20,
  writeLoops: 16,
  readLoops: 16,
  phasesMS: { steady: 2_000, afterStepDown: 3_000, partitioned: 5_000, afterHeal: 2_000 },
  maxOpsPerLoop: 100_000,
  heartbeatFrequencyMS: 500,
  connectTimeoutMS: 2_000,
  bucketMS: 100,
};

export type FailoverEventName = 'stepDown' | 'partition' | 'heal';

export interface FailoverEvent {
  name: FailoverEventName;
  /** ms since the loops started. */
  at: number;
  /** The member the event acted on. */
  member: string;
  /** From the event to the first acknowledgement of a write issued after it. */
  writesResumedMS: number | null;
  readsResumedMS: number | null;
  /** The longest write and read that were in flight at the event or started within 1 s after it. */
  longestWriteMS: number;
  longestReadMS: number;
}

export interface FailoverResult {
  workers: number;
  poolLimit: number;
  durationMS: number;
  writes: { acknowledged: number; errors: Record<string, number> };
  reads: { ok: number; errors: Record<string, number> };
  /** A sample error message per code, for the report. */
  errorSamples: Record<string, string>;
  events: FailoverEvent[];
  /** Acknowledged writes not found afterwards. */
  lost: number;
  /** Retried writes the bridge answered from its record of (lsid, txnNumber) instead of running them twice. */
  retryTableHits: number;
  /** Per member: the most client sockets open at once (pool and monitoring). */
  maxSockets: { member: string; max: number }[];
  /** poolLimit + the monitoring connections per server stats() reports: what no member may exceed. */
  socketAllowance: number;
  /** Per bucket: writes and reads acknowledged, errors surfaced. */
  timeline: { t: number; writes: number; reads: number; errors: number }[];
  writeLatencyMS: { p50: number; p99: number; max: number };
}

interface Op {
  kind: 'write' | 'read';
  start: number;
  end: number;
  error?: string;
}

const DB = `mgo_failover_${process.pid}`;
const COLLECTION = 'acked';

function monitoringConnectionsOf(session: Session): number {
  const figures = session.stats().map((s) => (s as { monitoringConnections?: number }).monitoringConnections ?? 1);
  return Math.max(1, ...figures);
}

/** One run: a fresh bridge in front of `server`, the loops, the three events, the checks. */
export async function failoverExperiment(server: TestServer, overrides: Partial<FailoverOptions> = {}, log: (line: string) => void = () => {}): Promise<FailoverResult> {
  const o: FailoverOptions = { ...FAILOVER_DEFAULTS, ...overrides, phasesMS: { ...FAILOVER_DEFAULTS.phasesMS, ...overrides.phasesMS } };
  const bridge = await startBridge({ backend: { host: server.host, port: server.port }, topology: 'replicaset', members: 3 });
  const url = `${bridge.uri}${bridge.uri.includes('?') ? '&' : '?'}heartbeatFrequencyMS=${o.heartbeatFrequencyMS}&connectTimeoutMS=${o.connectTimeoutMS}&serverSelectionTimeoutMS=30000`;
  let session: Session | undefined;
  try {
    session = await dial(url, { workers: o.workers, poolLimit: o.poolLimit });
    session.setMode(Mode.Strong, true);
    await session.db(DB).c(COLLECTION).dropCollection().catch(() => {});
    for (const m of bridge.members) m.resetMaxOpen();

    const ops: Op[] = [];
    const acked: string[] = [];
    const samples: Record<string, string> = {};
    const events: { name: FailoverEventName; at: number; member: string }[] = [];
    const started = performance.now();
    // Set once the last phase has run its full length after the heal (or the schedule failed).
    let stopped = false;
    const root = session;
    /** One loop: each operation on its own session copy, timed and recorded, until the run's end or its count. */
    const loop = async (kind: Op['kind'], body: (s: Session, i: number) => Promise<void>) => {
      for (let i = 0; i < o.maxOpsPerLoop && !stopped; i++) {
        const s = root.copy();
        const op: Op = { kind, start: performance.now() - started, end: 0 };
        try {
          await body(s, i);
        } catch (err) {
          op.error = (err as { code?: string }).code ?? 'unknown';
          samples[op.error] ??= (err as Error).message;
        } finally {
          op.end = performance.now() - started;
          ops.push(op);
          await s.close();
        }
      }
    };
    const writeLoop = (n: number) =>
      loop('write', async (s, i) => {
        await s.db(DB).c(COLLECTION).insert({ _id: `${n}-${i}`, loop: n, i });
        acked.push(`${n}-${i}`);
      });
    const readLoop = (n: number) =>
      loop('read', async (s, i) => {
        // Any acknowledged write will do; before the first, an empty result.
        const id = acked[(n * 7919 + i) % Math.max(1, acked.length)];
        const found = await s.db(DB).c(COLLECTION).find({ _id: id ?? 'none' }).all();
        if (id !== undefined && found.length !== 1) throw Object.assign(new Error(`acknowledged write ${id} not found by a read`), { code: 'ERR_LOST_WRITE' });
      });
    const loops = [...Array.from({ length: o.writeLoops }, (_, i) => writeLoop(i)), ...Array.from({ length: o.readLoops }, (_, i) => readLoop(i))];
    const schedule = (async () => {
      // Each phase is timed from the event that began it, as it happened: a
      // late timer or a slow event on a loaded machine lengthens the run
      // instead of shortening the phase after it (the heal once came too
      // late for any write to start after it before a fixed end).
      let phaseStart = started;
      const phase = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, phaseStart + ms - performance.now())));
      const happened = (name: FailoverEventName, member: string) => {
        phaseStart = performance.now();
        events.push({ name, at: phaseStart - started, member });
      };
      try {
        await phase(o.phasesMS.steady);
        const first = bridge.primary()!;
        await bridge.stepDown();
        happened('stepDown', first.address);
        log(`  stepped down ${first.address}; new primary ${bridge.primary()?.address}`);
        await phase(o.phasesMS.afterStepDown);
        const second = bridge.primary()!;
        const index = bridge.members.indexOf(second);
        bridge.partition(index);
        happened('partition', second.address);
        log(`  partitioned ${second.address}; new primary ${bridge.primary()?.address}`);
        await phase(o.phasesMS.partitioned);
        bridge.heal(index);
        happened('heal', second.address);
        log(`  healed ${second.address}`);
        await phase(o.phasesMS.afterHeal);
      } finally {
        stopped = true;
      }
    })();
    await Promise.all([...loops, schedule]);
    const durationMS = performance.now() - started;
    const socketAllowance = o.poolLimit + monitoringConnectionsOf(session);
    const maxSockets = bridge.members.map((m) => ({ member: m.address, max: m.maxOpenConnections() }));

    // Every acknowledged write, read back from FerretDB itself (not through the bridge).
    const direct = await dial(server.uri);
    let lost = 0;
    try {
      const stored = new Set((await direct.db(DB).c(COLLECTION).find({}).select({ _id: 1 }).all()).map((d) => String(d._id)));
      for (const id of acked) if (!stored.has(id)) lost++;
      await direct.db(DB).dropDatabase().catch(() => {});
    } finally {
      await direct.close();
    }
    return {
      workers: o.workers,
      poolLimit: o.poolLimit,
      durationMS,
      writes: { acknowledged: acked.length, errors: countErrors(ops, 'write') },
      reads: { ok: ops.filter((op) => op.kind === 'read' && !op.error).length, errors: countErrors(ops, 'read') },
      errorSamples: samples,
      events: events.map((e) => describeEvent(e, ops)),
      lost,
      retryTableHits: bridge.retryTableHits(),
      maxSockets,
      socketAllowance,
      timeline: timelineOf(ops, o.bucketMS, durationMS),
      writeLatencyMS: latencies(ops.filter((op) => op.kind === 'write' && !op.error)),
    };
  } finally {
    await session?.close();
    await bridge.close();
  }
}

function countErrors(ops: Op[], kind: Op['kind']): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const op of ops) if (op.kind === kind && op.error) counts[op.error] = (counts[op.error] ?? 0) + 1;
  return counts;
}

function describeEvent(event: { name: FailoverEventName; at: number; member: string }, ops: Op[]): FailoverEvent {
  const resumed = (kind: Op['kind']) => {
    const after = ops.filter((op) => op.kind === kind && !op.error && op.start >= event.at).map((op) => op.end);
    return after.length === 0 ? null : Math.min(...after) - event.at;
  };
  const longest = (kind: Op['kind']) =>
    Math.max(0, ...ops.filter((op) => op.kind === kind && op.end >= event.at && op.start <= event.at + 1_000).map((op) => op.end - op.start));
  return { ...event, writesResumedMS: resumed('write'), readsResumedMS: resumed('read'), longestWriteMS: longest('write'), longestReadMS: longest('read') };
}

function timelineOf(ops: Op[], bucketMS: number, durationMS: number): FailoverResult['timeline'] {
  const buckets = Array.from({ length: Math.ceil(durationMS / bucketMS) + 1 }, (_, i) => ({ t: i * bucketMS, writes: 0, reads: 0, errors: 0 }));
  for (const op of ops) {
    const bucket = buckets[Math.floor(op.end / bucketMS)]!;
    if (op.error) bucket.errors++;
    else if (op.kind === 'write') bucket.writes++;
    else bucket.reads++;
  }
  return buckets;
}

function latencies(ops: Op[]): FailoverResult['writeLatencyMS'] {
  const values = ops.map((op) => op.end - op.start);
  return { p50: percentile(values, 50), p99: percentile(values, 99), max: Math.max(0, ...values) };
}

export function describeFailoverRun(r: FailoverResult): string {
  const errors = (e: Record<string, number>) => Object.entries(e).map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  const events = r.events
    .map((e) => `${e.name} at ${(e.at / 1000).toFixed(1)} s: writes resumed after ${e.writesResumedMS?.toFixed(0) ?? '-'} ms (longest ${e.longestWriteMS.toFixed(0)} ms), reads after ${e.readsResumedMS?.toFixed(0) ?? '-'} ms`)
    .join('; ');
  return (
    `workers ${r.workers}, poolLimit ${r.poolLimit}: ${r.writes.acknowledged} writes acknowledged (errors: ${errors(r.writes.errors)}), ` +
    `${r.reads.ok} reads (errors: ${errors(r.reads.errors)}); lost ${r.lost}; retry-table hits ${r.retryTableHits}; ` +
    `most sockets per member ${r.maxSockets.map((m) => m.max).join('/')} (allowed ${r.socketAllowance}); ${events}`
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const workersList = option(args, '--workers', '0,2').split(',').map(Number);
  const reps = integerOption(args, '--reps', 3);
  const poolLimit = integerOption(args, '--limit', FAILOVER_DEFAULTS.poolLimit);
  const outPath = resolve(option(args, '--out', 'bench/results/failover.json'));
  const chartPath = resolve(option(args, '--chart', 'bench/charts/failover.svg'));
  const server = await startTestServer();
  const runs: FailoverResult[] = [];
  try {
    for (let rep = 0; rep < reps; rep++) {
      // Interleaved: every worker count once per repetition, the order rotated.
      const order = workersList.map((_, i) => workersList[(i + rep) % workersList.length]!);
      for (const workers of order) {
        process.stderr.write(`[failover] rep ${rep + 1}/${reps}, workers ${workers}\n`);
        const r = await failoverExperiment(server, { workers, poolLimit }, (line) => process.stderr.write(`${line}\n`));
        process.stderr.write(`[failover] ${describeFailoverRun(r)}\n`);
        runs.push(r);
      }
    }
  } finally {
    await server.stop();
  }
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify({ date: new Date().toISOString(), runs }, null, 2)}\n`);
  writeFileSync(chartPath, failoverChart(runs));
  process.stdout.write(failoverTable(runs));
  process.stderr.write(`[failover] wrote ${outPath} and ${chartPath}\n`);
}

/** The README's table: per worker count, medians over the runs, with min-max. */
export function failoverTable(runs: FailoverResult[]): string {
  const lines = [
    '| workers | runs | errors surfaced (writes / reads) | writes resumed after stepdown, ms | after partition, ms | longest write, ms | lost | retry-table hits | most sockets per member (allowed) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const span = (values: number[], digits = 0) => {
    const s = summarize(values);
    return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
  };
  const sum = (e: Record<string, number>) => Object.values(e).reduce((a, b) => a + b, 0);
  for (const workers of [...new Set(runs.map((r) => r.workers))]) {
    const rs = runs.filter((r) => r.workers === workers);
    const resumed = (name: FailoverEventName) => rs.map((r) => r.events.find((e) => e.name === name)?.writesResumedMS ?? NaN);
    lines.push(
      `| ${workers} | ${rs.length} | ${rs.map((r) => `${sum(r.writes.errors)} / ${sum(r.reads.errors)}`).join(', ')} | ${span(resumed('stepDown'))} | ${span(resumed('partition'))} | ` +
        `${span(rs.map((r) => Math.max(...r.events.map((e) => e.longestWriteMS))))} | ${rs.map((r) => r.lost).join(', ')} | ${span(rs.map((r) => r.retryTableHits))} | ` +
        `${Math.max(...rs.flatMap((r) => r.maxSockets.map((m) => m.max)))} (${rs[0]!.socketAllowance}) |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
