// State shared by the workers, with real worker threads against a
// scripted server: a pool clear in one worker pauses the server's pool in
// every worker until the process's monitor checks the server again; the
// monitor is one per server per process; check requests from workers reach it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PoolEvent } from '../../../src/pool/events.js';
import { WorkerRouter } from '../../../src/worker/worker-router.js';
import { Mode } from '../../../src/session/modes.js';
import { openSession } from '../../../src/session/session.js';
import { resolveOptions } from '../../../src/uri/resolve.js';
import { workerOptions } from '../../../src/worker/worker-runtime.js';
import { startFakeServer, type FakeServer } from '../../fixtures/fake-server.js';
import { waitFor } from '../../fixtures/wait.js';
import { onPoolEvents } from '../../fixtures/pool-events.js';

let server: FakeServer;
let router: WorkerRouter | undefined;

before(async () => {
  server = await startFakeServer((cmd) => {
    // A find on { boom: 1 } drops the connection: a network error in whichever worker ran it (not retried: retryReads false).
    if (cmd.name === 'find' && cmd.command.filter?.boom === 1) cmd.connection.socket.destroy();
    if (server.received.length > 1000) server.received.splice(0, 500);
  });
});

after(async () => {
  await router?.destroy();
  await server?.close();
});

describe('shared state across workers', () => {
  test('a pool clear in one worker pauses the pool in every worker; the next check makes them ready', { timeout: 60_000 }, async () => {
    router = await WorkerRouter.create(await resolveOptions(`mongodb://${server.address}/?directConnection=true&heartbeatFrequencyMS=60000`, { workers: 2 }));
    const events: PoolEvent[] = [];
    onPoolEvents(router.events, (event) => events.push(event));
    const root = openSession(router, { mode: Mode.Strong, database: 'db', retryReads: false });
    // One reservation per worker, so that both pools are ready and hold a socket.
    const sessions = [root.copy(), root.copy()];
    await Promise.all(sessions.map((s) => s.ping()));
    assert.deepEqual(
      router.workerStats().map((w) => w.servers[0]?.inUse),
      [1, 1],
    );
    const monitorSockets = server.connections.length - 2;
    assert.equal(monitorSockets, 1, 'one monitoring socket for the process, whatever the worker count');
    assert.equal(router.stats()[0]!.monitoringConnections, 1, 'as stats() reports it (the server does not stream)');
    assert.deepEqual(router.workerStats().map((w) => w.servers[0]?.monitoringConnections), [0, 0], 'none of the workers monitors');

    events.length = 0;
    await assert.rejects(sessions[0]!.db('db').c('c').find({ boom: 1 }).all(), { name: 'NetworkError' });
    await waitFor('both workers cleared', () => events.filter((e) => e.type === 'ConnectionPoolCleared').length === 2, 10_000);
    // The other worker's reserved socket is of the old generation: it is closed when given back.
    await sessions[1]!.close();
    await waitFor('the stale socket closed', () => events.some((e) => e.type === 'ConnectionClosed' && e.reason === 'stale'), 10_000);
    // The process's view too. SDAM "Network error when reading or writing":
    // no immediate check (the server has likely gone), the monitor's check
    // is cancelled; the next operation's selection asks for one.
    assert.deepEqual(router.liveServers(), []);
    const again = [root.copy(), root.copy()];
    await Promise.all(again.map((s) => s.ping()));
    await waitFor('both pools ready again', () => events.filter((e) => e.type === 'ConnectionPoolReady').length === 2, 10_000);
    assert.deepEqual(router.liveServers(), [server.address]);
    await Promise.all([...again, sessions[0]!, root].map((s) => s.close()));
    router = undefined;
  });
});

test('minPoolSize is shared out across the workers: together they keep exactly minPoolSize sockets', async () => {
  for (const [workers, min] of [[1, 5], [2, 5], [3, 5], [4, 2], [4, 0]] as const) {
    const options = await resolveOptions('mongodb://127.0.0.1:27017/', { workers, minPoolSize: min, maxPoolSize: 10 });
    const shares = Array.from({ length: workers }, (_, w) => workerOptions(options, w).minPoolSize);
    assert.equal(shares.reduce((a, b) => a + b, 0), min, `${workers} workers, minPoolSize ${min}: ${shares}`);
    assert.ok(Math.max(...shares) - Math.min(...shares) <= 1);
  }
});
