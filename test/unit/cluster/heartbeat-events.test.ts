// The monitor's heartbeat events (SDAM logging and monitoring spec,
// "Heartbeats", and server monitoring spec): a started event before each
// check's dial or hello, answered by a succeeded or failed one; awaited
// for the streaming protocol's replies; the SDAM-mandated retry visible as
// a pair of its own; nothing built while nobody observes.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Long, ObjectId, type Document } from 'bson';
import { Monitor, type CheckResult } from '../../../src/cluster/monitor.js';
import type { SdamEvent, SdamEventOutlet } from '../../../src/cluster/sdam-events.js';
import { defaultHello, startFakeServer, type FakeServer, type ReceivedCommand } from '../../fixtures/fake-server.js';
import { waitFor } from '../../fixtures/wait.js';

const servers: FakeServer[] = [];
const monitors: Monitor[] = [];
after(async () => {
  for (const m of monitors) m.close();
  await Promise.all(servers.map((s) => s.close()));
});

/** A sink that records, and says whether it is observed. */
function recorder(): SdamEventOutlet & { events: SdamEvent[]; observed: boolean } {
  const sink = {
    events: [] as SdamEvent[],
    observed: true,
    wanted: () => sink.observed,
    publish: (event: SdamEvent) => void sink.events.push(event),
  };
  return sink;
}

async function setup(
  handler: Parameters<typeof startFakeServer>[0],
  hello: Document,
  options: { heartbeatFrequencyMS: number; serverMonitoringMode: 'poll' | 'stream' },
) {
  const server = await startFakeServer(handler, { hello });
  servers.push(server);
  const sink = recorder();
  const results: CheckResult[] = [];
  const monitor = new Monitor(
    { type: 'ipv4', host: server.host, port: server.port, address: server.address },
    { ...options, connectTimeoutMS: 1000, appName: 'heartbeat-events-test' },
    (r) => results.push(r),
    sink,
  );
  monitors.push(monitor);
  return { server, monitor, sink, results };
}

/** started/succeeded/failed, awaited or not: the sequence the spec's pairing rule is read on. */
const shape = (events: SdamEvent[]) =>
  events.map((e) => `${e.type.slice('ServerHeartbeat'.length)}${'awaited' in e && e.awaited ? '(awaited)' : ''}`);

describe('heartbeat events', () => {
  test('polling: started before the dial and each hello, then succeeded with the reply; a failed check and its retry are a pair each', { timeout: 20_000 }, async () => {
    let failNext = 0;
    const { server, monitor, sink, results } = await setup(
      (cmd) => {
        if (cmd.name === 'hello' && failNext > 0) {
          failNext--;
          cmd.connection.socket.destroy();
        }
      },
      // A monitor never authenticates; a reply field of that kind is not passed on all the same.
      { ...defaultHello, speculativeAuthenticate: { conversationId: 1, payload: 'secret' } },
      { heartbeatFrequencyMS: 60_000, serverMonitoringMode: 'poll' },
    );
    monitor.start();
    await waitFor('the first check', () => results.length === 1, 10_000);
    assert.deepEqual(shape(sink.events), ['Started', 'Succeeded']);
    const [started, succeeded] = sink.events;
    assert.equal(started!.type === 'ServerHeartbeatStarted' && started.connectionId, server.address);
    assert.ok(succeeded!.type === 'ServerHeartbeatSucceeded');
    assert.equal(succeeded.connectionId, server.address);
    assert.ok(succeeded.duration >= 0);
    assert.equal(succeeded.reply.isWritablePrimary, true);
    assert.equal(succeeded.reply.speculativeAuthenticate, undefined, 'no speculativeAuthenticate in a heartbeat reply');

    failNext = 2; // the hello and its immediate retry (a new dial) both fail
    monitor.requestCheck();
    await waitFor('the failed check', () => results.length === 2, 10_000);
    assert.deepEqual(shape(sink.events), ['Started', 'Succeeded', 'Started', 'Failed', 'Started', 'Failed']);
    const failed = sink.events[3]!;
    assert.ok(failed.type === 'ServerHeartbeatFailed' && failed.failure instanceof Error && failed.duration >= 0);
    monitor.close();
  });

  test('nothing is built while nobody observes; a started event is answered even if its observer left meanwhile', { timeout: 20_000 }, async () => {
    let release: (() => void) | undefined;
    const { monitor, sink, results } = await setup(
      (cmd) => {
        if (cmd.name === 'hello' && cmd.command.client === undefined) return new Promise<void>((resolve) => (release = resolve));
      },
      defaultHello,
      { heartbeatFrequencyMS: 60_000, serverMonitoringMode: 'poll' },
    );
    sink.observed = false;
    monitor.start();
    await waitFor('the first check', () => results.length === 1, 10_000);
    assert.deepEqual(sink.events, [], 'no event while unobserved');
    sink.observed = true;
    monitor.requestCheck();
    await waitFor('the hello in flight', () => release !== undefined, 10_000);
    sink.observed = false;
    release!();
    await waitFor('the second check', () => results.length === 2, 10_000);
    assert.deepEqual(shape(sink.events), ['Started', 'Succeeded']);
    monitor.close();
  });

  test('streaming: each streamed reply is an awaited succeeded event, the next awaited started event goes out before it is read', { timeout: 20_000 }, async () => {
    const processId = new ObjectId();
    const hello = (counter: number) => ({ ...defaultHello, topologyVersion: { processId, counter: Long.fromNumber(counter) } });
    const awaiting: ReceivedCommand[] = [];
    const { monitor, sink, results } = await setup(
      (cmd) => {
        if (cmd.command.maxAwaitTimeMS !== undefined) awaiting.push(cmd);
      },
      hello(1),
      { heartbeatFrequencyMS: 10_000, serverMonitoringMode: 'stream' },
    );
    monitor.start();
    await waitFor('the awaitable hello', () => awaiting.length === 1, 10_000);
    assert.deepEqual(shape(sink.events), ['Started', 'Succeeded', 'Started(awaited)']);
    const request = awaiting[0]!;
    request.connection.stream(request, hello(2), true);
    await waitFor('the streamed reply', () => results.length === 2, 10_000);
    // The stream ends (no moreToCome): the next awaitable hello's started event is the one already out.
    request.connection.stream(request, hello(3), false);
    await waitFor('the next awaitable hello', () => awaiting.length === 2, 10_000);
    assert.deepEqual(shape(sink.events), ['Started', 'Succeeded', 'Started(awaited)', 'Succeeded(awaited)', 'Started(awaited)', 'Succeeded(awaited)', 'Started(awaited)']);
    // A dropped stream: the open awaited heartbeat fails; the retry is a pair of its own.
    awaiting[1]!.connection.socket.destroy();
    await waitFor('the retry', () => results.length === 4, 10_000);
    assert.deepEqual(shape(sink.events).slice(7, 10), ['Failed(awaited)', 'Started', 'Succeeded']);
    monitor.close();
  });
});
