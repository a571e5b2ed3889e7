// The process's one monitor per server (TopologyMonitor), against scripted
// servers: it follows the replica set's host list, starting and stopping
// monitors, and reports every check in a form that crosses to a worker.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ObjectId, type Document } from 'bson';
import { describeCheck, TopologyMonitor, type CheckBroadcast } from '../../../src/cluster/topology-monitor.js';
import { resolveOptions } from '../../../src/uri/resolve.js';
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
