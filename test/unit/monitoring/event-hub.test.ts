import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { EventHub } from '../../../src/monitoring/event-hub.js';
import { WANT_COMMAND, WANT_POOL, WANT_TOPOLOGY, channelName, publicName, type Published } from '../../../src/monitoring/events.js';
import type { PoolEvent } from '../../../src/pool/events.js';

const checkedOut: PoolEvent = { type: 'ConnectionCheckedOut', address: '127.0.0.1:1', connectionId: 3, durationMS: 1 };

test('channel and public names are the ones issue 15 fixes', () => {
  assert.equal(channelName('CommandStarted'), 'mgo-threads:command:started');
  assert.equal(channelName('CommandFailed'), 'mgo-threads:command:failed');
  assert.equal(channelName('ConnectionCheckedOut'), 'mgo-threads:pool:connectionCheckedOut');
  assert.equal(channelName('ServerHeartbeatSucceeded'), 'mgo-threads:topology:serverHeartbeatSucceeded');
  assert.equal(publicName('TopologyDescriptionChanged'), 'topologyDescriptionChanged');
});

test('wanted() follows listeners per kind, added and removed', () => {
  const hub = new EventHub();
  assert.equal(hub.wanted(), 0);
  const listener = (): void => {};
  hub.on('connectionCheckedOut', listener);
  assert.equal(hub.wanted(), WANT_POOL);
  hub.once('commandStarted', listener);
  assert.equal(hub.wanted(), WANT_POOL | WANT_COMMAND);
  hub.off('connectionCheckedOut', listener);
  hub.removeAllListeners('commandStarted');
  assert.equal(hub.wanted(), 0);
});

test('wanted() sees diagnostics_channel subscribers and monitorCommands', () => {
  const hub = new EventHub({ monitorCommands: true });
  assert.equal(hub.wanted(), WANT_COMMAND);
  const subscriber = (): void => {};
  diagnosticsChannel.subscribe('mgo-threads:topology:serverOpening', subscriber);
  try {
    assert.equal(hub.wanted(), WANT_COMMAND | WANT_TOPOLOGY);
  } finally {
    diagnosticsChannel.unsubscribe('mgo-threads:topology:serverOpening', subscriber);
  }
  assert.equal(hub.wanted(), WANT_COMMAND);
});

test('publish() reaches listeners and channel subscribers with the workerId', () => {
  const hub = new EventHub();
  const seen: Published[] = [];
  const fromChannel: unknown[] = [];
  hub.on('connectionCheckedOut', (event) => seen.push(event));
  const subscriber = (message: unknown): void => void fromChannel.push(message);
  diagnosticsChannel.subscribe('mgo-threads:pool:connectionCheckedOut', subscriber);
  try {
    hub.publish(checkedOut, 1);
    hub.publish(checkedOut);
  } finally {
    diagnosticsChannel.unsubscribe('mgo-threads:pool:connectionCheckedOut', subscriber);
  }
  assert.deepEqual(seen, [{ ...checkedOut, workerId: 1 }, checkedOut]);
  assert.deepEqual(fromChannel, seen);
});

test('a throwing listener does not unwind into the producer: it is rethrown on the next tick', (t) => {
  const hub = new EventHub();
  hub.on('connectionCheckedOut', () => {
    throw new Error('listener bug');
  });
  const deferred: Array<() => void> = [];
  t.mock.method(process, 'nextTick', (callback: () => void) => void deferred.push(callback));
  assert.doesNotThrow(() => hub.publish(checkedOut));
  t.mock.restoreAll();
  assert.equal(deferred.length, 1);
  assert.throws(() => deferred[0]!(), /listener bug/);
});

test("wants(type): a kind's listeners, the type's own channel (any command channel for a command event), monitorCommands", () => {
  const hub = new EventHub();
  assert.equal(hub.wants('ConnectionCheckedOut'), false);
  assert.equal(hub.wants('CommandStarted'), false);
  const listener = (): void => {};
  hub.on('connectionCheckedIn', listener);
  assert.equal(hub.wants('ConnectionCheckedOut'), true, 'a pool listener: every pool event is built');
  hub.off('connectionCheckedIn', listener);
  assert.equal(hub.wants('ConnectionCheckedOut'), false);
  const subscriber = (): void => {};
  diagnosticsChannel.subscribe('mgo-threads:pool:connectionCheckedIn', subscriber);
  diagnosticsChannel.subscribe('mgo-threads:command:failed', subscriber);
  try {
    assert.equal(hub.wants('ConnectionCheckedIn'), true);
    assert.equal(hub.wants('ConnectionCheckedOut'), false, "another type's channel");
    assert.equal(hub.wants('CommandStarted'), true, 'a failed event needs its started one');
  } finally {
    diagnosticsChannel.unsubscribe('mgo-threads:pool:connectionCheckedIn', subscriber);
    diagnosticsChannel.unsubscribe('mgo-threads:command:failed', subscriber);
  }
  assert.equal(hub.wants('CommandStarted'), false);
  hub.monitorCommands = true;
  assert.equal(hub.wants('CommandSucceeded'), true);
  assert.equal(hub.wants('ServerOpening'), false);
});

test('removeAllListeners() with no name leaves the hub counting: a listener added afterwards is wanted and gets events', () => {
  const hub = new EventHub();
  hub.on('commandStarted', () => {});
  hub.on('connectionCheckedOut', () => {});
  hub.removeAllListeners();
  assert.equal(hub.wanted(), 0);
  const got: Published[] = [];
  hub.on('connectionCheckedOut', (event) => got.push(event));
  assert.equal(hub.wanted(), WANT_POOL, 'the listener added after removeAllListeners() is counted');
  assert.equal(hub.wants('ConnectionCheckedOut'), true);
  hub.publish(checkedOut);
  assert.equal(got.length, 1);
  hub.removeAllListeners('connectionCheckedOut');
  assert.equal(hub.wanted(), 0, 'and removing it is counted too');
  // Removing only the hooks' own event names must not stop the counting either.
  hub.removeAllListeners('newListener');
  hub.removeAllListeners('removeListener');
  const listener = (): void => {};
  hub.on('serverOpening', listener);
  assert.equal(hub.wanted(), WANT_TOPOLOGY);
  hub.off('serverOpening', listener);
  assert.equal(hub.wanted(), 0);
});

test('a listener on an empty or unknown event name is accepted and wants nothing', () => {
  const hub = new EventHub();
  const emitter = hub as EventEmitter;
  emitter.on('', () => {});
  emitter.on('noSuchEvent', () => {});
  emitter.on(Symbol('s'), () => {});
  assert.equal(hub.wanted(), 0);
});
