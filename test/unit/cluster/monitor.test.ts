import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, Long, ObjectId, type Document } from 'bson';
import { Monitor, type CheckResult } from '../../../src/cluster/monitor.js';
import { defaultHello, startFakeServer, type FakeServer, type ReceivedCommand } from '../../fixtures/fake-server.js';
import { waitFor, withTimeout } from '../../fixtures/wait.js';

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
    // heartbeatFrequencyMS is a minute (setup()): a second check within the
    // 10 s deadline is the requested one. The 500 ms count from the first
    // check's start, which comes after `started`: a lower bound that a slow
    // handshake on a loaded machine cannot break.
    const { server, monitor, nextResult } = await setup();
    const started = performance.now();
    monitor.start();
    await nextResult();
    monitor.requestCheck();
    await withTimeout(nextResult(), 10_000, 'the requested check');
    const waited = performance.now() - started;
    assert.ok(waited >= 499, `second check ${waited.toFixed(0)} ms after the first began`);
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

// --- the streaming protocol ---------------------------------------------------

const PROCESS_ID = new ObjectId('65f000000000000000000001');

/** A primary that streams (MongoDB 4.4+: topologyVersion in every hello). */
function streamingHello(counter: number, extra: Document = {}): Document {
  return { ...defaultHello, topologyVersion: { processId: PROCESS_ID, counter: Long.fromNumber(counter) }, ...extra };
}

interface StreamingSetup {
  server: FakeServer;
  monitor: Monitor;
  results: CheckResult[];
  /** Awaitable hellos received, in order. */
  awaiting: ReceivedCommand[];
  nextResult(): Promise<CheckResult>;
}

/** A fake server whose handshakes and polls answer `hello`, and whose awaitable hellos wait for the test (or `onAwait`). */
async function streamingSetup(
  options: { heartbeatFrequencyMS?: number; connectTimeoutMS?: number; serverMonitoringMode?: 'auto' | 'stream' | 'poll' } = {},
  handler: (cmd: ReceivedCommand) => void | Promise<void> = () => {},
): Promise<StreamingSetup> {
  const awaiting: ReceivedCommand[] = [];
  const server = await startFakeServer(
    (cmd) => {
      if (cmd.command.maxAwaitTimeMS !== undefined) awaiting.push(cmd);
      return handler(cmd);
    },
    { hello: streamingHello(1) },
  );
  servers.push(server);
  const results: CheckResult[] = [];
  const waiters: (() => void)[] = [];
  const monitor = new Monitor(
    { type: 'ipv4', host: server.host, port: server.port, address: server.address },
    {
      heartbeatFrequencyMS: options.heartbeatFrequencyMS ?? 10_000,
      connectTimeoutMS: options.connectTimeoutMS ?? 1000,
      appName: 'monitor-test',
      serverMonitoringMode: options.serverMonitoringMode ?? 'auto',
    },
    (r) => {
      results.push(r);
      waiters.splice(0).forEach((w) => w());
    },
  );
  monitors.push(monitor);
  const nextResult = () => new Promise<CheckResult>((resolve) => waiters.push(() => resolve(results.at(-1)!)));
  return { server, monitor, results, awaiting, nextResult };
}

function counterOf(result: CheckResult): number {
  assert.ok(result.ok, `a failed check: ${result.ok ? '' : result.error.message}`);
  return Number(result.hello.topologyVersion.counter);
}

const closedAtServer = (c: { socket: { destroyed: boolean; readyState: string } }) => c.socket.destroyed || c.socket.readyState !== 'open';

describe('Monitor, streaming protocol', () => {
  test('one awaitable hello with exhaustAllowed, maxAwaitTimeMS = heartbeatFrequencyMS and the int64 topologyVersion; each streamed reply is reported as it comes', { timeout: 20_000 }, async () => {
    const { server, monitor, results, awaiting, nextResult } = await streamingSetup({ heartbeatFrequencyMS: 10_000 });
    monitor.start();
    assert.equal(counterOf(await nextResult()), 1, 'the handshake is the first check');
    await waitFor('the awaitable hello', () => awaiting.length === 1, 10_000);
    const request = awaiting[0]!;
    assert.equal(request.connection.id, 1, 'on the monitoring connection');
    assert.equal(request.flags, 1 << 16, 'exhaustAllowed');
    assert.equal(request.command.maxAwaitTimeMS, 10_000);
    const raw = BSON.deserialize(request.body, { promoteLongs: false });
    assert.ok(raw.topologyVersion.counter instanceof Long && raw.topologyVersion.counter.toNumber() === 1, 'counter sent back as an int64');
    assert.ok(raw.topologyVersion.processId.equals(PROCESS_ID));
    assert.equal(monitor.streaming, true);

    // A stepdown: the server answers at once, long before maxAwaitTimeMS (10 s),
    // and keeps the stream open (moreToCome): the reply is reported as it comes
    // (a monitor that waited for the stream's end would not report it at all).
    request.connection.stream(request, streamingHello(2, { isWritablePrimary: false, secondary: true }), true);
    const stepdown = await withTimeout(nextResult(), 8_000, 'the streamed stepdown reported');
    assert.equal(counterOf(stepdown), 2);
    assert.ok(stepdown.ok && stepdown.hello.secondary === true);
    request.connection.stream(request, streamingHello(3), true);
    assert.equal(counterOf(await nextResult()), 3);

    // A requested check changes nothing while streaming (the stream reports changes).
    monitor.requestCheck();
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(results.length, 3);

    // The server ends the stream: the next awaitable hello goes at once with the last topologyVersion.
    request.connection.stream(request, streamingHello(3), false);
    await waitFor('the next awaitable hello', () => awaiting.length === 2, 10_000);
    assert.equal(Number(awaiting[1]!.command.topologyVersion.counter), 3);
    assert.equal(awaiting[1]!.connection.id, 1, 'on the same connection');
    const polls = server.received.filter((c) => c.connection.id === 1 && c.name === 'hello' && c.command.client === undefined && c.command.maxAwaitTimeMS === undefined);
    assert.deepEqual(polls, [], 'no polling hello on the monitoring connection');
    monitor.close();
  });

  test('a server without topologyVersion is polled: no exhaust, no maxAwaitTimeMS, no RTT connection', { timeout: 20_000 }, async () => {
    const { server, monitor, nextResult } = await setup(undefined, 100);
    monitor.start();
    for (let i = 0; i < 3; i++) assert.ok((await nextResult()).ok);
    assert.equal(monitor.streaming, false);
    assert.equal(monitor.connections, 1);
    assert.equal(server.connections.length, 1);
    for (const hello of server.received) {
      assert.equal(hello.flags, 0);
      assert.equal(hello.command.maxAwaitTimeMS, undefined);
    }
    monitor.close();
    assert.equal(monitor.connections, 0);
  });

  test('serverMonitoringMode=poll polls a server that could stream; so does auto on a FaaS platform', { timeout: 20_000 }, async () => {
    for (const mode of ['poll', 'auto'] as const) {
      // The handshake spec's detection, read when the monitor is made.
      const saved = process.env.AWS_LAMBDA_RUNTIME_API;
      if (mode === 'auto') process.env.AWS_LAMBDA_RUNTIME_API = '127.0.0.1:9001';
      let setup: StreamingSetup;
      try {
        setup = await streamingSetup({ heartbeatFrequencyMS: 100, serverMonitoringMode: mode });
      } finally {
        if (saved === undefined) delete process.env.AWS_LAMBDA_RUNTIME_API;
        else process.env.AWS_LAMBDA_RUNTIME_API = saved;
      }
      const { server, monitor, awaiting, nextResult } = setup;
      monitor.start();
      for (let i = 0; i < 3; i++) assert.equal(counterOf(await nextResult()), 1);
      assert.equal(awaiting.length, 0, mode);
      assert.equal(monitor.connections, 1);
      assert.equal(server.connections.length, 1);
      monitor.close();
    }
  });

  test('the RTT monitor measures on a connection of its own; the stream’s waits are never RTT samples', { timeout: 30_000 }, async () => {
    // The RTT connection's hellos take 60 ms; the stream answers only every
    // 2 s. One stream wait counted as a sample would lift the average (alpha
    // 0.2) from ~60 ms to over 400 ms at once, while the RTT monitor's own
    // samples leave a loaded machine ~340 ms of scheduling noise under that
    // bound. The stream may stay silent for connectTimeoutMS +
    // heartbeatFrequencyMS (5.5 s) before it times out: a late tick cannot
    // fail it.
    const { server, monitor, awaiting, results, nextResult } = await streamingSetup({ heartbeatFrequencyMS: 500, connectTimeoutMS: 5_000 }, async (cmd) => {
      if (cmd.connection.id === 2 && cmd.name === 'hello' && cmd.command.client === undefined) {
        await new Promise((r) => setTimeout(r, 60)); // the server is slow; then it answers as usual
      }
    });
    monitor.start();
    await nextResult();
    await waitFor('the awaitable hello', () => awaiting.length === 1, 10_000);
    await waitFor('the RTT connection', () => server.connections.length === 2, 10_000);
    assert.equal(monitor.connections, 2, 'streaming: the monitoring connection and the RTT one');
    const stream = awaiting[0]!;
    let counter = 1;
    const ticker = setInterval(() => stream.connection.stream(stream, streamingHello(++counter), true), 2_000);
    try {
      // The handshake, then two streamed replies (two stream waits that must not count).
      await waitFor('two streamed replies', () => results.length >= 3, 20_000);
      await waitFor('the RTT monitor’s samples in the average', () => results.some((r) => r.ok && r.roundTripTimeMS > 20), 20_000);
    } finally {
      clearInterval(ticker);
    }
    for (const r of results) {
      assert.ok(r.ok && r.roundTripTimeMS < 400, `an average of ${r.ok ? r.roundTripTimeMS : NaN} ms: a stream wait was counted`);
    }
    const last = results.at(-1)!;
    assert.ok(last.ok && last.minRoundTripTimeMS > 0 && last.minRoundTripTimeMS <= last.roundTripTimeMS);
    const rttHellos = server.received.filter((c) => c.connection.id === 2);
    assert.ok(rttHellos.length >= 2 && rttHellos.every((c) => c.name === 'hello' && c.flags === 0 && c.command.maxAwaitTimeMS === undefined));
    monitor.close();
  });

  test('close() ends the stream, the RTT monitor and every timer', { timeout: 20_000 }, async () => {
    const { server, monitor, awaiting, results, nextResult } = await streamingSetup({ heartbeatFrequencyMS: 500 });
    monitor.start();
    await nextResult();
    await waitFor('streaming with an RTT connection', () => awaiting.length === 1 && server.connections.length === 2, 10_000);
    monitor.close();
    assert.equal(monitor.connections, 0);
    await waitFor('both sockets closed at the server', () => server.connections.every(closedAtServer), 10_000);
    const reported = results.length;
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal(results.length, reported, 'nothing reported after close()');
    assert.equal(server.connections.length, 2, 'nothing dialed after close()');
  });

  test('a dropped stream of a known server is retried at once on a new connection, without reporting a failure', { timeout: 20_000 }, async () => {
    const { server, monitor, awaiting, results, nextResult } = await streamingSetup({ heartbeatFrequencyMS: 10_000 });
    monitor.start();
    await nextResult();
    await waitFor('the awaitable hello', () => awaiting.length === 1, 10_000);
    awaiting[0]!.connection.socket.destroy();
    const again = await nextResult();
    assert.ok(again.ok, 'the retry’s handshake');
    assert.ok(results.every((r) => r.ok));
    await waitFor('streaming again', () => awaiting.length === 2, 10_000);
    assert.notEqual(awaiting[1]!.connection.id, awaiting[0]!.connection.id);
    monitor.close();
  });

  test('a stream silent for connectTimeoutMS + heartbeatFrequencyMS fails as a timeout (not retried), and checks resume', { timeout: 20_000 }, async () => {
    const { monitor, awaiting, nextResult } = await streamingSetup({ heartbeatFrequencyMS: 500, connectTimeoutMS: 300 });
    monitor.start();
    await nextResult();
    await waitFor('the awaitable hello', () => awaiting.length === 1, 10_000);
    const started = performance.now();
    const failed = await nextResult();
    const after = performance.now() - started;
    assert.ok(!failed.ok && failed.error.code === 'ERR_NETWORK_TIMEOUT', failed.ok ? 'succeeded' : failed.error.message);
    assert.match(failed.error.message, /\(800 ms\)/);
    assert.ok(after >= 600, `failed after ${after.toFixed(0)} ms`);
    assert.ok((await nextResult()).ok, 'the next check, on a new connection');
    monitor.close();
  });

  test('cancelCheck() closes the stream without reporting; the next check is on a new connection', { timeout: 20_000 }, async () => {
    const { monitor, awaiting, results, nextResult } = await streamingSetup({ heartbeatFrequencyMS: 10_000 });
    monitor.start();
    await nextResult();
    await waitFor('the awaitable hello', () => awaiting.length === 1, 10_000);
    monitor.cancelCheck();
    assert.equal(monitor.connections, 0, 'the monitoring and RTT connections closed');
    await waitFor('the stream closed at the server', () => closedAtServer(awaiting[0]!.connection), 10_000);
    monitor.requestCheck();
    const next = await nextResult();
    assert.ok(next.ok);
    assert.equal(results.length, 2, 'no failure reported for the cancelled stream');
    await waitFor('streaming again', () => awaiting.length === 2, 10_000);
    monitor.close();
  });
});
