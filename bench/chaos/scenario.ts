// One chaos scenario (issue 13, items 1 and 5): a bounded load through the
// driver while a fault (faults.ts) is applied and then removed, and the
// invariants of test/fixtures/fault-invariants.ts checked afterwards. The
// fault tests (test/integration/network-faults.test.ts,
// server-restart.test.ts) run short scenarios and assert no invariant broke;
// bench/chaos.ts runs longer ones and reports the figures.
//
// The path of every socket: driver -> counting proxy -> Toxiproxy ->
// FerretDB. The counting proxy sits in front of the toxics so that its count
// is the sockets the driver has open, exactly, whatever the toxic does
// downstream of it (slow_close keeps the server's side open after the
// driver closed its own; the driver is what the limit binds).
//
// The load: write loops insert documents with _ids of their own and record
// each acknowledged one; read loops find an acknowledged _id (one that is
// not found is an error, ERR_LOST_WRITE). Every operation runs on its own
// session.copy() in Strong mode (mgo's per-request pattern: a socket
// reserved for the copy's life) and against a deadline. Phases: until
// `steadyOps` operations succeeded, the fault for `faultMS`, then until the
// first success of an operation started after the fault was removed and
// `afterMS` more; every loop also stops at `maxOpsPerLoop` operations and
// the whole load at `maxLoadMS`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRouter } from '../../src/router/local-router.js';
import type { Router } from '../../src/router/router.js';
import { Mode } from '../../src/session/modes.js';
import { openSession, type Session } from '../../src/session/session.js';
import { resolveOptions } from '../../src/uri/resolve.js';
import { WorkerRouter } from '../../src/worker/worker-router.js';
import { startCountingProxy } from '../../test/fixtures/counting-proxy.js';
import { FaultInvariants, HANG } from '../../test/fixtures/fault-invariants.js';
import { startTestServer, type TestServer } from '../../test/fixtures/server.js';
import { startToxiproxy, type Toxiproxy } from '../../test/fixtures/toxiproxy.js';
import type { Fault, FaultTarget } from './faults.js';

export interface DriverTimeouts {
  socketTimeoutMS: number;
  connectTimeoutMS: number;
  serverSelectionTimeoutMS: number;
  heartbeatFrequencyMS: number;
  waitQueueTimeoutMS: number;
}

export interface ChaosOptions {
  workers: number;
  poolLimit: number;
  writeLoops: number;
  readLoops: number;
  /** Operations that succeed before the fault is applied. */
  steadyOps: number;
  /** How long the fault is held. */
  faultMS: number;
  /** How long the load goes on after the first success that follows the fault's removal. */
  afterMS: number;
  maxOpsPerLoop: number;
  /** The whole load stops after this, whatever the phase. */
  maxLoadMS: number;
  /** Connections are replaced after this long (maxLifetimeMS): permits keep moving while the fault is on. */
  maxLifetimeMS: number;
  timeouts: DriverTimeouts;
  /** Width of a timeline bucket. */
  bucketMS: number;
}

/**
 * Short enough that every fault resolves fast: a server that stopped
 * answering is Unknown after a heartbeat (500 ms apart, connectTimeoutMS
 * to answer), which interrupts the operations waiting on it, and found
 * again within one. socketTimeoutMS is longer: FerretDB's inserts alone
 * took up to 1.1 s (p99 550 ms) under this load on a loaded 2-core machine,
 * and a shorter one surfaced timeouts with no fault applied.
 */
export const CHAOS_TIMEOUTS: DriverTimeouts = {
  socketTimeoutMS: 3_000,
  connectTimeoutMS: 1_000,
  serverSelectionTimeoutMS: 2_000,
  heartbeatFrequencyMS: 500,
  waitQueueTimeoutMS: 2_000,
};

export const CHAOS_DEFAULTS: ChaosOptions = {
  workers: 0,
  poolLimit: 6,
  writeLoops: 8,
  readLoops: 4,
  steadyOps: 50,
  faultMS: 1_500,
  afterMS: 300,
  maxOpsPerLoop: 2_000,
  maxLoadMS: 20_000,
  maxLifetimeMS: 1_000,
  timeouts: CHAOS_TIMEOUTS,
  bucketMS: 100,
};

/**
 * The longest an operation may take before it counts as a hang: server
 * selection, the wait for a socket, a dial and the command's reply, twice
 * (one retry), and as much again for a loaded 2-core machine.
 */
export function operationDeadlineMS(t: DriverTimeouts): number {
  return 4 * (t.serverSelectionTimeoutMS + t.waitQueueTimeoutMS + t.connectTimeoutMS + t.socketTimeoutMS);
}

export interface ChaosResult {
  fault: string;
  description: string;
  workers: number;
  poolLimit: number;
  /** Operations that settled (succeeded or failed). */
  operations: number;
  succeeded: number;
  /** Errors surfaced to the application, by code (HANG: missed the deadline). */
  errors: Record<string, number>;
  /** A sample message per error code. */
  errorSamples: Record<string, string>;
  acknowledged: number;
  lost: number;
  /** The most sockets the server saw at once (counting proxy), and what it may see. */
  maxServerSockets: number;
  socketAllowance: number;
  /** The most pool sockets the client had at once, and where the figure comes from. */
  maxClientSockets: number;
  clientSocketsSource: string;
  /** The longest any operation took, from its copy() to its settling (the longest an application waited). */
  longestOpMS: number;
  /** From the fault's removal to the first success of an operation started after it; null if none came. */
  recoveryMS: number | null;
  /** ms since the load started. */
  faultAt: number;
  removedAt: number;
  durationMS: number;
  timeline: { t: number; ok: number; errors: number }[];
  violations: string[];
}

/** FerretDB (on a data directory, so that it can restart) and Toxiproxy, shared by the scenarios of a test file or report. */
export interface ChaosEnvironment {
  server: TestServer;
  toxiproxy: Toxiproxy;
  close(): Promise<void>;
}

export async function startChaosEnvironment(): Promise<ChaosEnvironment> {
  const dir = mkdtempSync(join(tmpdir(), 'mgo-chaos-'));
  const server = await startTestServer({ dir });
  let toxiproxy: Toxiproxy;
  try {
    toxiproxy = await startToxiproxy();
  } catch (err) {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    server,
    toxiproxy,
    async close() {
      await toxiproxy.stop();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Op {
  start: number;
  end: number;
  error?: string;
}

const DB = 'mgo_chaos';
let runs = 0;

/** Runs the load with `fault` applied and removed, then checks the invariants. */
export async function runChaosScenario(env: ChaosEnvironment, fault: Fault, overrides: Partial<ChaosOptions> = {}, log: (line: string) => void = () => {}): Promise<ChaosResult> {
  const o: ChaosOptions = { ...CHAOS_DEFAULTS, ...overrides, timeouts: { ...CHAOS_DEFAULTS.timeouts, ...overrides.timeouts } };
  const run = `${process.pid}-${++runs}`;
  const collection = `c${run.replace('-', '_')}`;
  const proxy = await env.toxiproxy.createProxy(`chaos-${run}`, env.server);
  const counting = await startCountingProxy(proxy);
  const resolved = await resolveOptions(counting.uri(), { workers: o.workers, poolLimit: o.poolLimit, maxLifetimeMS: o.maxLifetimeMS, ...o.timeouts });
  let router: Router | undefined;
  try {
    router = o.workers > 0 ? await WorkerRouter.create(resolved) : await LocalRouter.create(resolved);
    const root = openSession(router, { mode: Mode.Strong, database: DB });
    const invariants = new FaultInvariants(router, counting, counting.address, {
      poolLimit: o.poolLimit,
      opDeadlineMS: operationDeadlineMS(o.timeouts),
      settleTimeoutMS: 10_000,
    });
    const result = await load(o, { proxy, server: env.server }, fault, root, collection, invariants, log);

    // Every copy is closed; root itself never ran anything, so holds nothing.
    invariants.checkSocketLimit();
    await invariants.checkBaseline();
    const fresh = root.copy();
    await invariants.checkNewOperations(fresh, DB, collection);
    const lost = await invariants.checkAcknowledged(fresh, DB, collection, result.acked);
    await fresh.db(DB).c(collection).dropCollection().catch(() => {});
    await fresh.close();
    await root.close();
    invariants.checkSocketLimit();
    const client = invariants.maxClientSockets;
    return {
      fault: fault.name,
      description: fault.description,
      workers: o.workers,
      poolLimit: o.poolLimit,
      operations: result.ops.length,
      succeeded: result.ops.filter((op) => op.error === undefined).length,
      errors: countErrors(result.ops),
      errorSamples: result.samples,
      acknowledged: result.acked.length,
      lost,
      maxServerSockets: invariants.maxServerSockets,
      socketAllowance: invariants.socketAllowance,
      maxClientSockets: client.value,
      clientSocketsSource: client.source,
      longestOpMS: Math.max(0, ...result.ops.map((op) => op.end - op.start)),
      recoveryMS: result.recoveryMS,
      faultAt: result.faultAt,
      removedAt: result.removedAt,
      durationMS: result.durationMS,
      timeline: timelineOf(result.ops, o.bucketMS, result.durationMS),
      violations: invariants.violations,
    };
  } finally {
    await router?.destroy();
    await counting.close();
    await proxy.delete();
  }
}

interface LoadResult {
  ops: Op[];
  acked: string[];
  samples: Record<string, string>;
  faultAt: number;
  removedAt: number;
  recoveryMS: number | null;
  durationMS: number;
}

async function load(o: ChaosOptions, faultTarget: FaultTarget, fault: Fault, root: Session, collection: string, invariants: FaultInvariants, log: (line: string) => void): Promise<LoadResult> {
  const ops: Op[] = [];
  const acked: string[] = [];
  const samples: Record<string, string> = {};
  const started = performance.now();
  const now = () => performance.now() - started;
  let stopped = false;
  let removedAt = Number.POSITIVE_INFINITY;
  let recoveredAt: number | undefined;
  // Resolved by the operations themselves: the phases wait on these, not on time.
  let steady!: () => void;
  const steadyReached = new Promise<void>((resolve) => (steady = resolve));
  let recovered!: () => void;
  const recoveredReached = new Promise<void>((resolve) => (recovered = resolve));
  let succeeded = 0;

  const loop = async (name: string, body: (s: Session, i: number) => Promise<void>) => {
    for (let i = 0; i < o.maxOpsPerLoop && !stopped && now() < o.maxLoadMS; i++) {
      const op: Op = { start: now(), end: 0 };
      const settled = await invariants.settle(`${name} op ${i}`, async () => {
        const s = root.copy();
        try {
          await body(s, i);
        } finally {
          await s.close();
        }
      });
      op.end = now();
      ops.push(op);
      if (settled.ok) {
        if (++succeeded === o.steadyOps) steady();
        if (op.start >= removedAt && recoveredAt === undefined) {
          recoveredAt = op.end;
          recovered();
        }
      } else {
        op.error = settled.code;
        samples[settled.code] ??= (settled.error as Error).message;
        // A hung operation is left running; its loop stops here.
        if (settled.code === HANG) return;
      }
    }
  };
  const writeLoop = (n: number) =>
    loop(`write loop ${n}`, async (s, i) => {
      const id = `${n}-${i}`;
      await s.db(DB).c(collection).insert({ _id: id, n, i });
      acked.push(id);
    });
  const readLoop = (n: number) =>
    loop(`read loop ${n}`, async (s, i) => {
      const id = acked[(n * 7919 + i) % Math.max(1, acked.length)];
      if (id === undefined) {
        // Before the first acknowledgement: a read all the same, of nothing.
        await s.db(DB).c(collection).find({ _id: 'none' }).all();
        return;
      }
      const found = await s.db(DB).c(collection).findId(id).all();
      if (found.length !== 1) throw Object.assign(new Error(`acknowledged write ${id} not found by a read`), { code: 'ERR_LOST_WRITE' });
    });

  const sampler = setInterval(() => invariants.sample(), 20);
  const loops = Promise.all([...Array.from({ length: o.writeLoops }, (_, n) => writeLoop(n)), ...Array.from({ length: o.readLoops }, (_, n) => readLoop(n))]);
  let faultAt = Number.NaN;
  try {
    await Promise.race([steadyReached, loops]);
    faultAt = now();
    log(`  ${fault.name}: applied after ${succeeded} successes (${faultAt.toFixed(0)} ms)`);
    await fault.apply(faultTarget);
    await new Promise((resolve) => setTimeout(resolve, o.faultMS));
    await fault.remove(faultTarget);
    removedAt = now();
    log(`  ${fault.name}: removed at ${removedAt.toFixed(0)} ms`);
    await Promise.race([recoveredReached, loops]);
    if (recoveredAt !== undefined) log(`  ${fault.name}: first success ${(recoveredAt - removedAt).toFixed(0)} ms after the removal`);
    await Promise.race([new Promise((resolve) => setTimeout(resolve, o.afterMS)), loops]);
  } finally {
    stopped = true;
    await loops;
    clearInterval(sampler);
  }
  return { ops, acked, samples, faultAt, removedAt, recoveryMS: recoveredAt === undefined ? null : recoveredAt - removedAt, durationMS: now() };
}

function countErrors(ops: Op[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const op of ops) if (op.error !== undefined) counts[op.error] = (counts[op.error] ?? 0) + 1;
  return counts;
}

function timelineOf(ops: Op[], bucketMS: number, durationMS: number): ChaosResult['timeline'] {
  const buckets = Array.from({ length: Math.ceil(durationMS / bucketMS) + 1 }, (_, i) => ({ t: i * bucketMS, ok: 0, errors: 0 }));
  for (const op of ops) {
    const bucket = buckets[Math.min(buckets.length - 1, Math.floor(op.end / bucketMS))]!;
    if (op.error === undefined) bucket.ok++;
    else bucket.errors++;
  }
  return buckets;
}

/** One line per run, for progress and test diagnostics. */
export function describeChaosRun(r: ChaosResult): string {
  const errors = Object.entries(r.errors).map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  return (
    `${r.fault}, workers ${r.workers}: ${r.operations} operations, ${r.succeeded} succeeded, errors: ${errors}; ` +
    `${r.acknowledged} writes acknowledged, ${r.lost} lost; most sockets: server ${r.maxServerSockets} (allowed ${r.socketAllowance}), ` +
    `client ${r.maxClientSockets} (${r.clientSocketsSource}, limit ${r.poolLimit}); longest operation ${r.longestOpMS.toFixed(0)} ms; recovered ${r.recoveryMS === null ? 'never' : `${r.recoveryMS.toFixed(0)} ms`} after the removal` +
    (r.violations.length > 0 ? `; VIOLATIONS: ${r.violations.join(' | ')}` : '')
  );
}
