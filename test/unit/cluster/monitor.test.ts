import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Monitor, type CheckResult } from '../../../src/cluster/monitor.js';
import { startFakeServer, type FakeServer } from '../../fixtures/fake-server.js';

const servers: FakeServer[] = [];
const monitors: Monitor[] = [];
after(async () => {
  for (const m of monitors) m.close();
  await Promise.all(servers.map((s) => s.close()));
});

async function setup(handler?: Parameters<typeof startFakeServer>[0], heartbeatFrequencyMS = 60_000) {
  const server = await startFakeServer(handler);
  servers.push(server);
  const results: CheckResult[] = [];
  const waiters: (() => void)[] = [];
  const monitor = new Monitor(
    { type: 'ipv4', host: server.host, port: server.port, address: server.address },
    { heartbeatFrequencyMS, connectTimeoutMS: 1000, appName: 'monitor-test' },
    (r) => {
      results.push(r);
      waiters.splice(0).forEach((w) => w());
    },
  );
  monitors.push(monitor);
  const nextResult = () => new Promise<CheckResult>((resolve) => waiters.push(() => resolve(results.at(-1)!)));
  return { server, monitor, results, nextResult };
}

describe('Monitor', () => {
  test('the handshake is the first check; later checks send a bare hello on the same socket', async () => {
    const { server, monitor, nextResult } = await setup(undefined, 100);
    monitor.start();
    const first = await nextResult();
    assert.ok(first.ok && first.hello.isWritablePrimary && first.roundTripTimeMS >= 0);
    const second = await nextResult();
    assert.ok(second.ok);
    assert.equal(server.connections.length, 1, 'one monitoring socket');
    const hellos = server.received.filter((c) => c.name === 'hello');
    assert.ok(hellos[0]!.command.client, 'handshake carries client metadata');
    assert.equal(hellos[1]!.command.client, undefined, 'heartbeats do not');
    monitor.close();
  });

  test('requestCheck() checks at once but never sooner than 500 ms after the last check', async () => {
    const { server, monitor, nextResult } = await setup();
    monitor.start();
    await nextResult();
    const started = performance.now();
    monitor.requestCheck();
    await nextResult();
    const waited = performance.now() - started;
    assert.ok(waited >= 450, `second check after ${waited.toFixed(0)} ms`);
    assert.ok(waited < 2000);
    assert.equal(server.received.filter((c) => c.name === 'hello').length, 2);
    monitor.close();
  });

  test('a failed check of a known server is retried once at once, then reported', async () => {
    let failNext = 0;
    const { server, monitor, nextResult } = await setup((cmd) => {
      if (cmd.name === 'hello' && failNext > 0) {
        failNext--;
        cmd.connection.socket.destroy();
      }
    });
    monitor.start();
    await nextResult();
    failNext = 1; // the retry succeeds on a new socket
    monitor.requestCheck();
    const retried = await nextResult();
    assert.ok(retried.ok, 'one dropped socket does not make the server unknown');
    assert.equal(server.connections.length, 2);
    failNext = 2; // the retry fails too
    monitor.requestCheck();
    const failed = await nextResult();
    assert.ok(!failed.ok);
    assert.match(failed.error.message, /closed by the server/);
    monitor.close();
  });

  test('an unreachable server is reported as an error, and close() stops the checks', async () => {
    const { server, monitor, results, nextResult } = await setup();
    await server.close();
    monitor.start();
    const result = await nextResult();
    assert.ok(!result.ok);
    assert.equal(result.error.address, server.address);
    monitor.close();
    monitor.requestCheck();
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(results.length, 1);
  });
});
