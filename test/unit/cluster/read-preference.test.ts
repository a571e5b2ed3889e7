// What readPreferenceForCommand puts on the wire (server selection spec,
// "Passing read preference to mongos and load balancers", "Topology type:
// Single", replica set reads), and read preference validation in selection.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import type { Document } from 'bson';
import { serverDescriptionFromHello, type ServerDescription } from '../../../src/cluster/server-description.js';
import { readPreferenceForCommand, selectServers } from '../../../src/cluster/server-selection.js';
import { initialTopology, updateTopology, type TopologyDescription, type TopologyOptions } from '../../../src/cluster/topology-description.js';
import { InvalidOptionError } from '../../../src/errors.js';
import type { ReadPreference } from '../../../src/read-preference.js';

const WIRE = { minWireVersion: 0, maxWireVersion: 21 };
const STANDALONE: Document = { ok: 1, isWritablePrimary: true, ...WIRE };
const MONGOS: Document = { ok: 1, isWritablePrimary: true, msg: 'isdbgrid', ...WIRE };
const PRIMARY: Document = { ok: 1, isWritablePrimary: true, setName: 'rs', hosts: ['a:27017', 'b:27017'], ...WIRE };
const SECONDARY: Document = { ok: 1, isWritablePrimary: false, secondary: true, setName: 'rs', hosts: ['a:27017', 'b:27017'], ...WIRE };

/** A topology with `a:27017` answering `hello`, and that server's description. */
function topology(hello: Document, options: TopologyOptions = {}, seeds = ['a:27017']): [TopologyDescription, ServerDescription] {
  const td = updateTopology(initialTopology(seeds, options), serverDescriptionFromHello('a:27017', hello, 1, 1));
  return [td, td.servers.get('a:27017')!];
}

const nearestTagged: ReadPreference = { mode: 'nearest', tags: [{ dc: 'ny' }, {}], maxStalenessSeconds: 120 };

describe('readPreferenceForCommand', () => {
  test('a standalone never gets a read preference', () => {
    const [td, sd] = topology(STANDALONE);
    assert.equal(td.type, 'Single');
    for (const rp of [undefined, { mode: 'primary' } as const, { mode: 'secondary' } as const, nearestTagged]) {
      assert.deepEqual(readPreferenceForCommand(td, sd, rp), { secondaryOk: false });
    }
  });

  test('Single with a replica set member: primaryPreferred unless the application asked for more', () => {
    const [td, sd] = topology(SECONDARY, { directConnection: true });
    assert.equal(td.type, 'Single');
    assert.deepEqual(readPreferenceForCommand(td, sd, undefined), { $readPreference: { mode: 'primaryPreferred' }, secondaryOk: true });
    assert.deepEqual(readPreferenceForCommand(td, sd, { mode: 'primary' }), { $readPreference: { mode: 'primaryPreferred' }, secondaryOk: true });
    assert.deepEqual(readPreferenceForCommand(td, sd, { mode: 'secondary', tags: [{ dc: 'ny' }] }), {
      $readPreference: { mode: 'secondary', tags: [{ dc: 'ny' }] },
      secondaryOk: true,
    });
  });

  test('a mongos, directly or in a sharded cluster, gets $readPreference for every mode but primary', () => {
    for (const [td, sd] of [topology(MONGOS, { directConnection: true }), topology(MONGOS, {}, ['a:27017', 'b:27017'])]) {
      assert.equal(sd.type, 'Mongos');
      assert.deepEqual(readPreferenceForCommand(td, sd, { mode: 'primary' }), { secondaryOk: false });
      assert.deepEqual(readPreferenceForCommand(td, sd, undefined), { secondaryOk: false });
      assert.deepEqual(readPreferenceForCommand(td, sd, { mode: 'secondaryPreferred' }), {
        $readPreference: { mode: 'secondaryPreferred' },
        secondaryOk: true,
      });
      assert.deepEqual(readPreferenceForCommand(td, sd, nearestTagged), {
        $readPreference: { mode: 'nearest', tags: [{ dc: 'ny' }, {}], maxStalenessSeconds: 120 },
        secondaryOk: true,
      });
    }
  });

  test('a load balancer is treated as a mongos', () => {
    const td = initialTopology(['lb:27017'], { loadBalanced: true });
    const sd = td.servers.get('lb:27017')!;
    assert.equal(sd.type, 'LoadBalancer');
    assert.deepEqual(readPreferenceForCommand(td, sd, { mode: 'primary' }), { secondaryOk: false });
    assert.deepEqual(readPreferenceForCommand(td, sd, { mode: 'secondary' }), { $readPreference: { mode: 'secondary' }, secondaryOk: true });
  });

  test('replica set members: nothing for primary, the document otherwise; default tags and maxStalenessSeconds -1 are left out', () => {
    const [td, sd] = topology(PRIMARY, { replicaSet: 'rs' });
    assert.equal(td.type, 'ReplicaSetWithPrimary');
    assert.deepEqual(readPreferenceForCommand(td, sd, { mode: 'primary' }), { secondaryOk: false });
    assert.deepEqual(readPreferenceForCommand(td, sd, { mode: 'primaryPreferred', tags: [{}], maxStalenessSeconds: -1 }), {
      $readPreference: { mode: 'primaryPreferred' },
      secondaryOk: true,
    });
  });
});

describe('selectServers: read preference validation', () => {
  const options = { localThresholdMS: 15, heartbeatFrequencyMS: 10_000 };
  const [rs] = topology(PRIMARY, { replicaSet: 'rs' });
  const [sharded] = topology(MONGOS, {}, ['a:27017', 'b:27017']);

  test('mode primary refuses tags and a positive maxStalenessSeconds, in any topology', () => {
    for (const td of [rs, sharded]) {
      assert.throws(() => selectServers(td, { readPreference: { mode: 'primary', tags: [{ dc: 'ny' }] } }, options), InvalidOptionError);
      assert.throws(() => selectServers(td, { readPreference: { mode: 'primary', maxStalenessSeconds: 120 } }, options), InvalidOptionError);
    }
  });

  test('in a replica set maxStalenessSeconds must reach 90 s and heartbeatFrequencyMS + 10 s', () => {
    assert.throws(() => selectServers(rs, { readPreference: { mode: 'nearest', maxStalenessSeconds: 89 } }, options), /at least 90/);
    assert.throws(
      () => selectServers(rs, { readPreference: { mode: 'nearest', maxStalenessSeconds: 100 } }, { ...options, heartbeatFrequencyMS: 95_000 }),
      /at least 105/,
    );
    assert.deepEqual(
      selectServers(rs, { readPreference: { mode: 'nearest', maxStalenessSeconds: 90 } }, options).map((s) => s.address),
      ['a:27017'],
    );
    // Not a replica set: passed through to the mongos, whatever its value.
    assert.equal(selectServers(sharded, { readPreference: { mode: 'nearest', maxStalenessSeconds: 1 } }, options).length, 1);
  });

  test('writes ignore the read preference; deprioritized servers are used only when nothing else is suitable', () => {
    assert.deepEqual(
      selectServers(rs, { readPreference: { mode: 'secondary' }, forWrite: true }, options).map((s) => s.address),
      ['a:27017'],
    );
    assert.deepEqual(
      selectServers(rs, { forWrite: true, deprioritized: ['a:27017'] }, options).map((s) => s.address),
      ['a:27017'],
    );
  });
});
