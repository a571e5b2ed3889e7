// stats() with workers sums the snapshots each worker pushed with its last
// replies. Once the sockets a pool closed are gone (their permits are
// released on the socket's 'close', a turn after ConnectionClosed), the sum
// must come back to what the pools hold: found by the fault tests
// (network-faults.test.ts: stats() kept reporting open 2 while the workers,
// asked over the control plane, held 0+0). That release emits no pool
// event: the worker pushes its stats again when a socket's 'close' is
// counted (WorkerRuntime.socketsFor), a turn before the flush.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Mode } from '../../src/session/modes.js';
import { openSession } from '../../src/session/session.js';
import { resolveOptions } from '../../src/uri/resolve.js';
import { WorkerRouter } from '../../src/worker/worker-router.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { waitFor, waitForAsync } from '../fixtures/wait.js';

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
});

test('workers 2: after idle sockets are closed, stats() reports what the pools hold', { timeout: 60_000 }, async () => {
  const router = await WorkerRouter.create(await resolveOptions(server.uri, { workers: 2, poolLimit: 4, maxIdleTimeMS: 200 }));
  try {
    const root = openSession(router, { mode: Mode.Strong, database: 'mgo_stats_after_close' });
    // Four Strong copies at once: four sockets, spread over the workers.
    const copies = Array.from({ length: 4 }, () => root.copy());
    await Promise.all(copies.map((c) => c.ping()));
    await Promise.all(copies.map((c) => c.close()));
    const open = () => router.stats().find((s) => s.address === server.address)?.open ?? 0;
    await waitFor('sockets opened', () => open() > 0, 10_000);
    // maxIdleTimeMS closes every one of them; the pools, asked now, say when.
    await waitForAsync('the pools hold no socket', async () => (await router.workerStatsNow()).every((w) => w.servers.every((s) => s.open === 0)), 20_000);
    await waitFor('stats() catches up', () => open() === 0, 10_000).catch(() => {});
    assert.equal(open(), 0, `stats() reports open ${open()} while every pool holds 0`);
    await root.close();
  } finally {
    await router.destroy();
  }
});
