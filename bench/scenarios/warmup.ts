// Scenario 6: a pool warm-up over TLS with SCRAM. Each variant dials the
// FerretDB test server started with TLS and a SCRAM-SHA-256 user and fills
// its pool to `connections` sockets (minPoolSize = maxPoolSize =
// connections, the same for the official driver), and the main thread's
// CPU time is taken from before dial() until the last socket is
// authenticated. Every socket costs a TLS handshake, a SCRAM conversation
// and, once per process and thread, a PBKDF2 derivation (cached per
// password, salt and iteration count by both drivers). The same run at one
// socket is the baseline: the difference is what the other sockets cost
// the main thread, which is what the workers are there to take.
import { MongoClient } from 'mongodb';
import { dial } from '../../src/index.js';
import { startTestServer, type TestServer } from '../../test/fixtures/server.js';
import { testCertificates, type TestCertificates } from '../../test/fixtures/tls-certs.js';
import { type Variant } from '../lib/clients.js';
import { mainThreadCpuMS } from '../lib/load.js';
import { log, rotated, type Results } from '../lib/results.js';

export interface WarmupConfig {
  reps: number;
  connections: number;
}

export const warmupScenario = (config: WarmupConfig): string => `warm-up: ${config.connections} TLS+SCRAM connections`;

const USER = 'bench';
const PASSWORD = 'bench-password';
const READY_TIMEOUT_MS = 120_000;

interface WarmupRun {
  cpuMS: number;
  wallMS: number;
}

function uri(server: TestServer, certs: TestCertificates, connections: number): string {
  const options = new URLSearchParams({
    tls: 'true',
    tlsCAFile: certs.caFile,
    authSource: 'admin',
    authMechanism: 'SCRAM-SHA-256',
    minPoolSize: String(connections),
    maxPoolSize: String(connections),
    directConnection: 'true',
  });
  return `mongodb://${USER}:${PASSWORD}@${server.address}/?${options}`;
}

/** Resolves once `ready()` holds, polling every 5 ms (the poll's own cost is in the figure, and tiny). */
async function until(ready: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`warm-up: ${what} not reached within ${READY_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function mgoRun(server: TestServer, certs: TestCertificates, workers: number, connections: number): Promise<WarmupRun> {
  const cpu0 = mainThreadCpuMS();
  const t0 = performance.now();
  const session = await dial(uri(server, certs, connections), { workers });
  try {
    await until(() => session.stats().reduce((sum, s) => sum + s.open, 0) >= connections, `${connections} open connections`);
    return { cpuMS: mainThreadCpuMS() - cpu0, wallMS: performance.now() - t0 };
  } finally {
    await session.close();
  }
}

async function officialRun(server: TestServer, certs: TestCertificates, connections: number): Promise<WarmupRun> {
  const cpu0 = mainThreadCpuMS();
  const t0 = performance.now();
  const client = new MongoClient(uri(server, certs, connections));
  let ready = 0;
  client.on('connectionReady', () => ready++);
  try {
    await client.connect();
    await until(() => ready >= connections, `${connections} ready connections`);
    return { cpuMS: mainThreadCpuMS() - cpu0, wallMS: performance.now() - t0 };
  } finally {
    await client.close();
  }
}

export async function runWarmup(variants: Variant[], config: WarmupConfig, results: Results): Promise<void> {
  const certs = await testCertificates();
  const server = await startTestServer({ tls: { certKeyFile: certs.serverCertKeyFile }, user: { name: USER, password: PASSWORD } });
  const scenario = warmupScenario(config);
  try {
    const samples = new Map<string, { full: number[]; one: number[]; wall: number[] }>();
    for (const v of variants) samples.set(v.name, { full: [], one: [], wall: [] });
    for (let rep = 0; rep < config.reps; rep++) {
      for (const v of rotated(variants, rep)) {
        const s = samples.get(v.name)!;
        const run = (n: number) => (v.workers === null ? officialRun(server, certs, n) : mgoRun(server, certs, v.workers, n));
        const one = await run(1);
        const full = await run(config.connections);
        s.one.push(one.cpuMS);
        s.full.push(full.cpuMS);
        s.wall.push(full.wallMS);
        log(`${scenario}: ${v.name} rep ${rep + 1}/${config.reps}: main-thread CPU ${full.cpuMS.toFixed(1)} ms (1 connection: ${one.cpuMS.toFixed(1)} ms), ${full.wallMS.toFixed(0)} ms wall`);
      }
    }
    for (const v of variants) {
      const s = samples.get(v.name)!;
      results.add(scenario, v, 'main_thread_cpu', 'ms', s.full);
      results.add(scenario, v, 'main_thread_cpu_one_connection', 'ms', s.one);
      results.add(scenario, v, 'main_thread_cpu_per_extra_connection', 'ms', s.full.map((full, i) => (full - s.one[i]!) / (config.connections - 1)));
      results.add(scenario, v, 'wall', 'ms', s.wall);
    }
  } finally {
    await server.stop();
  }
}
