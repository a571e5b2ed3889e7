// Parsing hello replies, description equality and the RTT helpers.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { Long, ObjectId } from 'bson';
import { EMPTY_RTT_STATS, addRttSample, minRoundTripTime, nextAverageRtt } from '../../../src/cluster/rtt.js';
import {
  commonLimits,
  compareTopologyVersion,
  normalizeAddress,
  serverDescriptionFromHello,
  serverDescriptionsEqual,
  unknownServerDescription,
} from '../../../src/cluster/server-description.js';

import { DEFAULT_WIRE_LIMITS } from '../../../src/wire/constants.js';

const WIRE = { minWireVersion: 0, maxWireVersion: 21 };

describe('serverDescriptionFromHello', () => {
  test('server types from the reply (hidden before secondary, isWritablePrimary before ismaster)', () => {
    const typeOf = (hello: Record<string, unknown>) => serverDescriptionFromHello('a:1', { ok: 1, ...WIRE, ...hello }, 1, 0).type;
    assert.equal(typeOf({ isWritablePrimary: true }), 'Standalone');
    assert.equal(typeOf({ ismaster: true, msg: 'isdbgrid' }), 'Mongos');
    assert.equal(typeOf({ isreplicaset: true }), 'RSGhost');
    assert.equal(typeOf({ setName: 'rs', ismaster: true }), 'RSPrimary');
    assert.equal(typeOf({ setName: 'rs', isWritablePrimary: false, ismaster: true }), 'RSOther');
    assert.equal(typeOf({ setName: 'rs', secondary: true }), 'RSSecondary');
    assert.equal(typeOf({ setName: 'rs', secondary: true, hidden: true }), 'RSOther');
    assert.equal(typeOf({ setName: 'rs', arbiterOnly: true }), 'RSArbiter');
    assert.equal(typeOf({ setName: 'rs' }), 'RSOther');
  });

  test('a reply without ok: 1 is Unknown, with no RTT', () => {
    const sd = serverDescriptionFromHello('a:1', { ok: 0, errmsg: 'nope', isWritablePrimary: true }, 5, 7);
    assert.equal(sd.type, 'Unknown');
    assert.equal(sd.roundTripTime, undefined);
    assert.equal(sd.error, 'nope');
    assert.equal(sd.lastUpdateTime, 7);
  });

  test('reads members lower-cased, lastWrite, topologyVersion and the session timeout', () => {
    const processId = new ObjectId();
    const sd = serverDescriptionFromHello(
      'A:27017',
      {
        ok: 1,
        ...WIRE,
        setName: 'rs',
        secondary: true,
        me: 'A:27017',
        hosts: ['A:27017', 'b:27017'],
        arbiters: ['C:27017'],
        primary: 'B:27017',
        tags: { dc: 'ny' },
        setVersion: 3,
        lastWrite: { lastWriteDate: new Date(5000), opTime: { ts: 1 } },
        topologyVersion: { processId, counter: Long.fromNumber(4) },
        logicalSessionTimeoutMinutes: 30,
      },
      2.5,
      100,
      { minRoundTripTime: 1 },
    );
    assert.equal(sd.address, 'a:27017');
    assert.equal(sd.me, 'a:27017');
    assert.deepEqual(sd.hosts, ['a:27017', 'b:27017']);
    assert.deepEqual(sd.arbiters, ['c:27017']);
    assert.equal(sd.primary, 'b:27017');
    assert.deepEqual(sd.tags, { dc: 'ny' });
    assert.equal(sd.lastWriteDate, 5000);
    assert.deepEqual(sd.opTime, { ts: 1 });
    assert.equal(sd.topologyVersion?.counter, 4n);
    assert.equal(sd.logicalSessionTimeoutMinutes, 30);
    assert.equal(sd.roundTripTime, 2.5);
    assert.equal(sd.minRoundTripTime, 1);
    assert.ok(Object.isFrozen(sd));
  });

  test('normalizeAddress lower-cases host names and adds the default port, but leaves socket paths alone', () => {
    assert.equal(normalizeAddress('Example.COM'), 'example.com:27017');
    assert.equal(normalizeAddress('[::1]'), '[::1]:27017');
    assert.equal(normalizeAddress('[FE80::1]:27018'), '[fe80::1]:27018');
    assert.equal(normalizeAddress('/tmp/MongoDB-27017.sock'), '/tmp/MongoDB-27017.sock');
  });
});

describe('serverDescriptionsEqual (SDAM "Server Description Equality")', () => {
  const hello = { ok: 1, ...WIRE, setName: 'rs', secondary: true, hosts: ['a:1', 'b:1'] };

  test('ignores RTT and update time, and host order', () => {
    const a = serverDescriptionFromHello('a:1', hello, 1, 1);
    const b = serverDescriptionFromHello('a:1', { ...hello, hosts: ['b:1', 'a:1'] }, 50, 99);
    assert.ok(serverDescriptionsEqual(a, b));
  });

  test('sees type, tags, errors, electionId and topologyVersion changes', () => {
    const a = serverDescriptionFromHello('a:1', hello, 1, 1);
    assert.ok(!serverDescriptionsEqual(a, serverDescriptionFromHello('a:1', { ...hello, secondary: false, arbiterOnly: true }, 1, 1)));
    assert.ok(!serverDescriptionsEqual(a, serverDescriptionFromHello('a:1', { ...hello, tags: { dc: 'ny' } }, 1, 1)));
    assert.ok(!serverDescriptionsEqual(a, serverDescriptionFromHello('a:1', { ...hello, electionId: new ObjectId() }, 1, 1)));
    assert.ok(!serverDescriptionsEqual(unknownServerDescription('a:1', 'x'), unknownServerDescription('a:1', 'y')));
    assert.ok(serverDescriptionsEqual(unknownServerDescription('a:1', 'x', 1), unknownServerDescription('a:1', { message: 'x' }, 2)));
  });

  test('compareTopologyVersion: a null or another process is assumed newer', () => {
    const p = new ObjectId();
    const v = (counter: bigint, processId = p) => ({ processId, counter });
    assert.equal(compareTopologyVersion(v(1n), v(2n)), -1);
    assert.equal(compareTopologyVersion(v(2n), v(2n)), 0);
    assert.equal(compareTopologyVersion(v(3n), v(2n)), 1);
    assert.equal(compareTopologyVersion(v(3n), v(1n, new ObjectId())), -1);
    assert.equal(compareTopologyVersion(null, v(1n)), -1);
    assert.equal(compareTopologyVersion(v(1n), null), -1);
  });
});

describe('wire limits', () => {
  test("a description keeps its hello's limits (defaults for those left out); commonLimits takes the smallest of each", () => {
    const a = serverDescriptionFromHello('a:1', { ok: 1, ...WIRE, isWritablePrimary: true, maxWriteBatchSize: 1000, maxBsonObjectSize: 2_000_000 }, 1, 0);
    const b = serverDescriptionFromHello('b:1', { ok: 1, ...WIRE, secondary: true, setName: 'rs', maxMessageSizeBytes: 1_000_000 }, 1, 0);
    assert.deepEqual(a.limits, { ...DEFAULT_WIRE_LIMITS, maxWriteBatchSize: 1000, maxBsonObjectSize: 2_000_000 });
    assert.deepEqual(commonLimits([a, b]), { maxBsonObjectSize: 2_000_000, maxMessageSizeBytes: 1_000_000, maxWriteBatchSize: 1000 });
  });

  test('servers not heard from (Unknown) do not count; with none, the defaults', () => {
    const unknown = unknownServerDescription('c:1', 'down');
    assert.equal(unknown.limits, undefined);
    assert.equal(commonLimits([unknown]), DEFAULT_WIRE_LIMITS);
    assert.equal(commonLimits([]), DEFAULT_WIRE_LIMITS);
    const a = serverDescriptionFromHello('a:1', { ok: 1, ...WIRE, isWritablePrimary: true, maxWriteBatchSize: 7 }, 1, 0);
    assert.equal(commonLimits([unknown, a]).maxWriteBatchSize, 7);
  });
});

describe('RTT', () => {
  test('first sample is the average, then alpha 0.2; negative samples are refused', () => {
    assert.equal(nextAverageRtt(null, 10), 10);
    assert.ok(Math.abs(nextAverageRtt(10, 20) - 12) < 1e-12);
    assert.throws(() => nextAverageRtt(1, -1), RangeError);
  });

  test('minimum RTT: 0 until two samples, then the least of the last ten', () => {
    let stats = addRttSample(EMPTY_RTT_STATS, 5);
    assert.equal(minRoundTripTime(stats), 0);
    stats = addRttSample(stats, 7);
    assert.equal(minRoundTripTime(stats), 5);
    for (let i = 0; i < 10; i++) stats = addRttSample(stats, 9);
    assert.equal(stats.recent.length, 10);
    assert.equal(minRoundTripTime(stats), 9);
    assert.equal(EMPTY_RTT_STATS.average, null);
  });
});
