// SDAM events of a dial against the FerretDB test server, workers 0 and 2
// (issue 15 item 2): topologyOpening, serverOpening, heartbeats, the
// server's Unknown -> Standalone change and the topology's, then on close
// serverClosed, the change to Unknown and topologyClosed, last. With
// workers they come from the process's one monitor per server: each once,
// on the main thread (no workerId), never once per worker. Published on
// session.events and on the mgo-threads:topology:* diagnostics channels;
// neither a heartbeat reply nor a description carries credentials.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { EJSON } from 'bson';
import { dial, type Published, type SdamEvent } from '../../src/index.js';
import { channelName, EVENT_TYPES } from '../../src/monitoring/events.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { waitFor } from '../fixtures/wait.js';

const USER = 'sdam-events-user';
const PASSWORD = 'sdam-events-pässword';

let server: TestServer;
before(async () => {
  server = await startTestServer({ user: { name: USER, password: PASSWORD } });
});
after(() => server?.stop());

function url(options = ''): string {
  return `mongodb://${encodeURIComponent(USER)}:${encodeURIComponent(PASSWORD)}@${server.address}/?${options}`;
}

/**
 * Every message on the topology channels, subscribed before the dial (a
 * listener on session.events comes too late for the dial's first events).
 */
function subscribeTopologyChannels(): { messages: Published<SdamEvent>[]; unsubscribe(): void } {
  const messages: Published<SdamEvent>[] = [];
  const onMessage = (message: unknown) => messages.push(message as Published<SdamEvent>);
  const names = EVENT_TYPES.topology.map((type) => channelName(type));
  for (const name of names) diagnosticsChannel.subscribe(name, onMessage);
  return { messages, unsubscribe: () => names.forEach((name) => diagnosticsChannel.unsubscribe(name, onMessage)) };
}

const count = (events: readonly SdamEvent[], type: SdamEvent['type']) => events.filter((e) => e.type === type).length;

describe('SDAM events', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: a dial's events from opening to close, each once per process, on the mgo-threads:topology channels`, { timeout: 60_000 }, async () => {
      const { messages, unsubscribe } = subscribeTopologyChannels();
      try {
        const session = await dial(url('heartbeatFrequencyMS=500'), { workers });
        // Two polled heartbeats: the handshake, then a hello heartbeatFrequencyMS later.
        await waitFor('two heartbeats', () => count(messages, 'ServerHeartbeatSucceeded') >= 2, 20_000);
        await session.close();
        await waitFor('topologyClosed', () => count(messages, 'TopologyClosed') === 1, 20_000);

        const types = messages.map((m) => m.type);
        assert.equal(types[0], 'TopologyOpening', `the first event: ${types.join(', ')}`);
        assert.equal(types.at(-1), 'TopologyClosed', 'the last event');
        const topologyId = (messages[0] as { topologyId: number }).topologyId;
        for (const m of messages) {
          if ('topologyId' in m) assert.equal(m.topologyId, topologyId, `${m.type}: one topology`);
          assert.equal(m.workerId, undefined, `${m.type}: from the main thread's monitor, not a worker`);
        }

        // Opening: the first description change is from an Unknown topology without servers.
        const [firstChange] = messages.filter((m) => m.type === 'TopologyDescriptionChanged');
        assert.ok(firstChange?.type === 'TopologyDescriptionChanged');
        assert.equal(firstChange.previousDescription.type, 'Unknown');
        assert.equal(firstChange.previousDescription.servers.size, 0);
        assert.deepEqual([...firstChange.newDescription.servers.keys()], [server.address]);

        // Once per process, whatever the number of workers.
        assert.equal(count(messages, 'TopologyOpening'), 1);
        assert.equal(count(messages, 'ServerOpening'), 1);
        assert.equal(count(messages, 'ServerClosed'), 1);
        const changes = messages.filter((m) => m.type === 'ServerDescriptionChanged');
        assert.equal(changes.length, 1, 'one change: equal descriptions (later heartbeats) publish none');
        assert.equal(changes[0]!.address, server.address);
        assert.equal(changes[0]!.previousDescription.type, 'Unknown');
        assert.equal(changes[0]!.newDescription.type, 'Standalone');
        const topologyChanges = messages.filter((m) => m.type === 'TopologyDescriptionChanged');
        assert.deepEqual(
          topologyChanges.map((m) => `${m.previousDescription.type}->${m.newDescription.type}`),
          ['Unknown->Unknown', 'Unknown->Single', 'Single->Unknown'],
        );
        // The spec's order: serverOpening after the first topology change; the server's change before the topology's.
        assert.ok(types.indexOf('ServerOpening') > types.indexOf('TopologyDescriptionChanged'));
        assert.equal(types[types.indexOf('ServerDescriptionChanged') + 1], 'TopologyDescriptionChanged');
        assert.deepEqual(types.slice(-3), ['ServerClosed', 'TopologyDescriptionChanged', 'TopologyClosed']);

        // Heartbeats: each started one answered, polled (not awaited: FerretDB reports no topologyVersion).
        const heartbeats = messages.filter((m) => m.type.startsWith('ServerHeartbeat'));
        for (const [i, m] of heartbeats.entries()) {
          assert.ok('connectionId' in m && m.connectionId === server.address);
          assert.equal(m.type, i % 2 === 0 ? 'ServerHeartbeatStarted' : 'ServerHeartbeatSucceeded', `heartbeat ${i}`);
          assert.equal((m as { awaited: boolean }).awaited, false);
        }
        const succeeded = heartbeats.find((m) => m.type === 'ServerHeartbeatSucceeded');
        assert.ok(succeeded?.type === 'ServerHeartbeatSucceeded' && succeeded.reply.ok === 1 && succeeded.duration >= 0);

        // Credentials appear nowhere: not in a reply (a monitor never authenticates), not in a description.
        const text = EJSON.stringify(messages.map(({ failure: _, ...rest }: Published<SdamEvent> & { failure?: unknown }) => rest));
        assert.ok(!text.includes(PASSWORD) && !text.includes(USER), 'no credentials in the events');
        assert.ok(!text.includes('speculativeAuthenticate'));
      } finally {
        unsubscribe();
      }
    });

    test(`workers ${workers}: session.events gets the heartbeats of a dial while listened to, with the channel's fields`, { timeout: 60_000 }, async () => {
      const session = await dial(url('heartbeatFrequencyMS=500'), { workers });
      try {
        const seen: Published<SdamEvent>[] = [];
        const onHeartbeat = (event: Published<SdamEvent>) => seen.push(event);
        session.events.on('serverHeartbeatSucceeded', onHeartbeat);
        await waitFor('a heartbeat on session.events', () => seen.length >= 1, 20_000);
        const [event] = seen;
        assert.ok(event?.type === 'ServerHeartbeatSucceeded');
        assert.equal(event.connectionId, server.address);
        assert.equal(event.workerId, undefined);
        session.events.off('serverHeartbeatSucceeded', onHeartbeat);
      } finally {
        await session.close();
      }
    });
  }
});
