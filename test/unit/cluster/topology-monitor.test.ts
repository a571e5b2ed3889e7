// The process's one monitor per server (TopologyMonitor), against scripted
// servers: it follows the replica set's host list, starting and stopping
// monitors, and reports every check in a form that crosses to a worker.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ObjectId, type Document } from 'bson';
import { describeCheck, TopologyMonitor, type CheckBroadcast } from '../../../src/cluster/topology-monitor.js';
import { resolveOptions } from '../../../src/uri/resolve.js';
import type { SdamEvent } from '../../../src/cluster/sdam-events.js';
import { defaultHello, startFakeServer, type FakeServer } from '../../fixtures/fake-server.js';
import { waitFor } from '../../fixtures/wait.js';

const servers: FakeServer[] = [];
const monitors: TopologyMonitor[] = [];
after(async () => {
  for (const monitor of monitors) monitor.close();
  await Promise.all(servers.map((s) => s.close()));
});

describe('TopologyMonitor', () => {
  test('follows the hosts a primary lists: monitors added and dropped, checks broadcast as BSON', { timeout: 30_000 }, async () => {
    const primaryHello: Document = { ...defaultHello, setName: 'rs', electionId: new ObjectId('7fffffff0000000000000002'), setVersion: 1 };
    const secondaryHello: Document = { ...defaultHello, setName: 'rs', isWritablePrimary: false, secondary: true };
    const primary = await startFakeServer(() => {}, { hello: primaryHello });
    const secondary = await startFakeServer(() => {}, { hello: secondaryHello });
    servers.push(primary, secondary);
    primaryHello.hosts = [primary.address, secondary.address];
    primaryHello.me = primary.address;
    secondaryHello.hosts = primaryHello.hosts;
    secondaryHello.primary = primary.address;
    secondaryHello.me = secondary.address;

    const checks: CheckBroadcast[] = [];
    const added: string[][] = [];
    const options = await resolveOptions(`mongodb://${primary.address}/?replicaSet=rs&heartbeatFrequencyMS=500`);
    const monitor = new TopologyMonitor(options, { onCheck: (c) => checks.push(structuredClone(c)), onServersAdded: (a) => added.push(a) });
    monitors.push(monitor);
    monitor.start();
    assert.deepEqual(added, [[primary.address]], 'the seed, before its first check');

    await waitFor('the secondary discovered and checked', () => checks.some((c) => c.address === secondary.address && c.hello), 10_000);
    assert.deepEqual(added[1], [secondary.address]);
    assert.equal(monitor.topology.type, 'ReplicaSetWithPrimary');
    assert.deepEqual(monitor.liveServers().sort(), [primary.address, secondary.address].sort());
    const fromPrimary = describeCheck(checks.find((c) => c.address === primary.address)!);
    assert.equal(fromPrimary.type, 'RSPrimary');
    assert.ok(fromPrimary.electionId?.equals(primaryHello.electionId), 'the ObjectId survived structured clone as BSON');
    assert.equal(primary.connections.length, 1, 'one monitoring connection per server');
    assert.deepEqual(
      monitor.lastChecks().map((c) => c.address).sort(),
      [primary.address, secondary.address].sort(),
    );

    // The primary drops the secondary from its config: its monitor stops.
    primaryHello.hosts = [primary.address];
    monitor.requestCheck(primary.address);
    await waitFor('the secondary dropped', () => !monitor.topology.servers.has(secondary.address), 10_000);
    await waitFor('its monitoring socket closed', () => secondary.connections.every((c) => c.socket.destroyed || c.socket.readyState !== 'open'), 10_000);
    assert.deepEqual(
      monitor.lastChecks().map((c) => c.address),
      [primary.address],
    );

    // markUnknown (a worker cleared its pool): the process view follows, and a check is requested.
    monitor.markUnknown(primary.address, 'pool cleared in worker 1');
    assert.deepEqual(monitor.liveServers(), []);
    await waitFor('checked again', () => monitor.liveServers().length === 1, 10_000);
    monitor.close();
  });

  test('publishes the SDAM events of the process: servers opened as discovered and closed as dropped, heartbeats, closing last', { timeout: 30_000 }, async () => {
    const primaryHello: Document = { ...defaultHello, setName: 'rs', setVersion: 1 };
    const secondaryHello: Document = { ...defaultHello, setName: 'rs', isWritablePrimary: false, secondary: true };
    const primary = await startFakeServer(() => {}, { hello: primaryHello });
    const secondary = await startFakeServer(() => {}, { hello: secondaryHello });
    servers.push(primary, secondary);
    primaryHello.hosts = secondaryHello.hosts = [primary.address, secondary.address];
    primaryHello.me = primary.address;
    secondaryHello.me = secondary.address;
    secondaryHello.primary = primary.address;

    const events: SdamEvent[] = [];
    const options = await resolveOptions(`mongodb://${primary.address}/?replicaSet=rs&heartbeatFrequencyMS=500`);
    const monitor = new TopologyMonitor(options, { onCheck: () => {} }, { wanted: () => true, publish: (e) => events.push(e) });
    monitors.push(monitor);
    monitor.start();
    const summary = () => events.map((e) => `${e.type}${'address' in e ? ` ${e.address}` : 'connectionId' in e ? ` ${e.connectionId}` : ''}`);
    assert.deepEqual(summary(), ['TopologyOpening', 'TopologyDescriptionChanged', `ServerOpening ${primary.address}`]);

    await waitFor('the secondary checked', () => monitor.topology.servers.get(secondary.address)?.type === 'RSSecondary', 10_000);
    const seen = summary();
    // The primary's first check lists the secondary: its description change, the new server, the topology change.
    const changed = seen.indexOf(`ServerDescriptionChanged ${primary.address}`);
    assert.deepEqual(seen.slice(changed, changed + 3), [`ServerDescriptionChanged ${primary.address}`, `ServerOpening ${secondary.address}`, 'TopologyDescriptionChanged']);
    assert.ok(seen.indexOf(`ServerHeartbeatStarted ${secondary.address}`) > seen.indexOf(`ServerOpening ${secondary.address}`), 'opened before its monitor checks');

    primaryHello.hosts = [primary.address];
    monitor.requestCheck(primary.address);
    await waitFor('the secondary dropped', () => !monitor.topology.servers.has(secondary.address), 10_000);
    assert.equal(summary().filter((e) => e === `ServerClosed ${secondary.address}`).length, 1);

    monitor.close();
    assert.deepEqual(summary().slice(-3), [`ServerClosed ${primary.address}`, 'TopologyDescriptionChanged', 'TopologyClosed']);
    const closing = events.at(-2)!;
    assert.ok(closing.type === 'TopologyDescriptionChanged' && closing.newDescription.type === 'Unknown' && closing.newDescription.servers.size === 0);
    const count = events.length;
    await new Promise((resolve) => setTimeout(resolve, 700)); // a heartbeat period: nothing after topologyClosed
    assert.equal(events.length, count);
  });

  test('a failed check is broadcast with its error (refused, not timed out: in-use sockets are not interrupted)', { timeout: 30_000 }, async () => {
    const checks: CheckBroadcast[] = [];
    const options = await resolveOptions('mongodb://127.0.0.1:1/?connectTimeoutMS=200&heartbeatFrequencyMS=500');
    const monitor = new TopologyMonitor(options, { onCheck: (c) => checks.push(c) });
    monitors.push(monitor);
    monitor.start();
    await waitFor('a check', () => checks.length > 0, 10_000);
    assert.equal(checks[0]!.hello, undefined);
    assert.match(checks[0]!.error ?? '', /127\.0\.0\.1:1/);
    assert.equal(checks[0]!.interruptInUse, false, 'connection refused is not a timeout');
    assert.equal(describeCheck(checks[0]!).type, 'Unknown');
    monitor.close();
  });
});
