// SDAM at run time against the replica-set bridge (test/fixtures/bridge) in
// front of FerretDB: the members stream (topologyVersion, awaitable hello),
// so the monitors do; a stepdown reaches the topology as it happens, not a
// heartbeat later; a 4.2+ stepdown leaves the pools alone (connections
// survive), counted at the members. For workers 0 (a Cluster with its own
// monitors) and 2 (the process's TopologyMonitor, which the workers follow).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from '../../src/cluster/cluster.js';
import { describeCheck, TopologyMonitor } from '../../src/cluster/topology-monitor.js';
import type { TopologyDescription } from '../../src/cluster/topology-description.js';
import { ServerError } from '../../src/errors.js';
import type { PoolEvent } from '../../src/pool/events.js';
import { PRIMARY } from '../../src/read-preference.js';
import { LocalRouter } from '../../src/router/local-router.js';
import type { Router } from '../../src/router/router.js';
import { resolveOptions } from '../../src/uri/resolve.js';
import { WorkerRouter } from '../../src/worker/worker-router.js';
import { startBridge, type Bridge } from '../fixtures/bridge/index.js';
import { monitoringSockets } from '../fixtures/server-sockets.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { waitFor } from '../fixtures/wait.js';
import { onPoolEvents } from '../fixtures/pool-events.js';

let server: TestServer;
const bridges: Bridge[] = [];
const dbName = `mgo_sdam_bridge_${process.pid}`;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await Promise.all(bridges.map((b) => b.close()));
  await server?.stop();
});

async function bridge(): Promise<Bridge> {
  const b = await startBridge({ backend: server });
  bridges.push(b);
  return b;
}

/** The primary a topology description names, if any. */
function primaryOf(td: TopologyDescription): string | undefined {
  return [...td.servers.values()].find((sd) => sd.type === 'RSPrimary')?.address;
}

/** The monitoring side of each mode: what a stepdown must reach without waiting for a heartbeat. */
interface Watched {
  topology(): TopologyDescription;
  /** Its monitoring sockets to `address`. */
  monitoringConnections(address: string): number;
  close(): Promise<void>;
}

async function watch(uri: string, workers: number): Promise<Watched> {
  const options = await resolveOptions(uri);
  if (workers === 0) {
    const cluster = new Cluster(options, { wanted: () => false, publish: () => {} });
    cluster.connect();
    return {
      topology: () => cluster.topology,
      monitoringConnections: (address) => cluster.monitoringConnections(cluster.server(address)!),
      close: () => cluster.close(),
    };
  }
  // What WorkerRouter runs on the main thread; each worker applies its checks (describeCheck) as they come.
  const monitor = new TopologyMonitor(options, { onCheck: (check) => void describeCheck(check) });
  monitor.start();
  return {
    topology: () => monitor.topology,
    monitoringConnections: (address) => monitor.monitoringConnections(address),
    close: async () => monitor.close(),
  };
}

describe('the streaming monitor against the bridge', () => {
  for (const workers of [0, 2]) {
    // heartbeatFrequencyMS is a minute and each stepdown must be seen within
    // 20 s: only a streamed reply can bring it (a polling monitor would see
    // it at the next heartbeat). How soon is a speed figure, printed.
    test(`workers ${workers}: a stepdown reaches the topology long before a heartbeat (60 s) would; two monitoring sockets per member`, { timeout: 120_000 }, async (t) => {
      const b = await bridge();
      const watched = await watch(`${b.uri}&heartbeatFrequencyMS=60000`, workers);
      try {
        await waitFor('the primary known', () => primaryOf(watched.topology()) === b.members[0]!.address, 20_000);
        await waitFor('every member streamed to, RTT measured on a second socket', () => b.members.every((m) => watched.monitoringConnections(m.address) === 2), 20_000);
        await waitFor('the members see them, and nothing else', () => b.members.every((m) => m.openConnections() === 2), 10_000);

        for (const to of [1, 2, 0]) {
          const started = performance.now();
          await b.stepDown({ to });
          // The new primary's reply may come first (the old one is then Unknown until its own reply says secondary).
          const settled = () => primaryOf(watched.topology()) === b.members[to]!.address && [...watched.topology().servers.values()].filter((sd) => sd.type === 'RSSecondary').length === 2;
          const seenMS = await waitFor(`member ${to} seen as primary, the others as secondaries (the monitor streams)`, settled, 20_000);
          t.diagnostic(`stepdown to member ${to} seen after ${seenMS.toFixed(1)} ms (${(performance.now() - started).toFixed(1)} ms from the call)`);
        }
      } finally {
        await watched.close();
      }
      await waitFor('the monitoring sockets closed', () => b.members.every((m) => m.openConnections() === 0), 10_000);
    });
  }
});

async function routerFor(uri: string, workers: number): Promise<Router> {
  const options = await resolveOptions(uri, { workers });
  return workers === 0 ? LocalRouter.create(options) : WorkerRouter.create(options);
}

describe('a stepdown of a 4.2+ primary through the routers', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: "not writable primary" on a socket of the old primary clears no pool: its sockets survive, counted at the member`, { timeout: 60_000 }, async () => {
      const b = await bridge();
      const router = await routerFor(`${b.uri}&heartbeatFrequencyMS=10000&serverSelectionTimeoutMS=5000`, workers);
      const events: PoolEvent[] = [];
      onPoolEvents(router.events, (event) => events.push(event));
      try {
        await waitFor('every member known', () => router.liveServers().length === 3, 10_000);
        const old = b.members[0]!;
        // Four sockets to the primary, each used (with two workers, two each); one stays reserved across the stepdown.
        const reservations = await Promise.all(Array.from({ length: 4 }, () => router.reserve(PRIMARY)));
        await Promise.all(reservations.map((reservation) => router.run({ db: 'admin', command: { ping: 1 }, readPreference: PRIMARY, reservation })));
        const [held, ...rest] = reservations;
        for (const reservation of rest) router.release(reservation);
        await waitFor('stats() of every worker in', () => router.stats().find((s) => s.address === old.address)?.open === 4, 10_000);
        await waitFor('the monitor streams: its socket and the RTT monitor’s', () => monitoringSockets(router.stats(), old.address) === 2, 10_000);
        const monitoring = monitoringSockets(router.stats(), old.address);
        assert.equal(old.openConnections(), 4 + monitoring, 'the member sees the pool and the monitoring sockets');

        await b.stepDown();
        await assert.rejects(
          router.run({ db: dbName, command: { insert: 'c', documents: [{ a: 1 }] }, readPreference: PRIMARY, write: true, reservation: held! }),
          (err: unknown) => err instanceof ServerError && err.serverCode === 10107,
        );
        router.release(held!);
        // The new primary takes writes; the old one's sockets are all still open, none was closed by a clear.
        await router.run({ db: dbName, command: { insert: 'c', documents: [{ a: 2 }] }, readPreference: PRIMARY, write: true });
        assert.equal(b.primary(), b.members[1]);
        assert.deepEqual(events.filter((e) => e.type === 'ConnectionPoolCleared'), [], 'no pool cleared');
        assert.equal(router.stats().find((s) => s.address === old.address)?.open, 4);
        assert.equal(old.openConnections(), 4 + monitoringSockets(router.stats(), old.address), 'every socket survived the stepdown');
        assert.deepEqual(
          events.filter((e) => e.type === 'ConnectionClosed' && e.address === old.address),
          [],
        );
      } finally {
        await router.close();
      }
    });
  }
});
