// Issue 14, item 10: mgo's GetStats / ResetStats / SetStats, process-wide,
// workers 0 and 2: operations and documents counted as they pass on this
// thread; socket gauges from the routers' stats() (summed over the workers).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dial, getStats, MgoError, Mode, resetStats, setStats, type Stats } from '../../src/index.js';
import { startBridge } from '../fixtures/bridge/index.js';
import { testServerForFile } from '../fixtures/file-server.js';
import { waitFor } from '../fixtures/wait.js';

const DB = `mgo_stats_${process.pid}`;
const server = testServerForFile(DB);

function counters(stats: Stats): Pick<Stats, 'sentOps' | 'receivedOps' | 'receivedDocs'> {
  return { sentOps: stats.sentOps, receivedOps: stats.receivedOps, receivedDocs: stats.receivedDocs };
}

describe('getStats / resetStats / setStats', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: operations, documents, sockets and their references`, { timeout: 60_000 }, async () => {
      const before = getStats();
      const session = await dial(server.uri, { workers });
      try {
        assert.equal(getStats().clusters, before.clusters + 1, 'one more dial open');
        session.setMode(Mode.Strong, true);
        const c = session.db(DB).c(`w${workers}`);

        resetStats();
        assert.deepEqual(counters(getStats()), { sentOps: 0, receivedOps: 0, receivedDocs: 0 });
        await c.insert(...Array.from({ length: 10 }, (_, i) => ({ _id: i })));
        assert.deepEqual(counters(getStats()), { sentOps: 1, receivedOps: 1, receivedDocs: 1 }, 'an insert: one command, one reply document');

        resetStats();
        const all = await c.find().sort('_id').batch(3).all();
        assert.equal(all.length, 10);
        // find (3) and getMores (3, 3, 1): each batch's documents.
        assert.deepEqual(counters(getStats()), { sentOps: 4, receivedOps: 4, receivedDocs: 10 });

        resetStats();
        await assert.rejects(session.run({ noSuchCommand: 1 }), (err: MgoError) => err.code === 'ERR_QUERY');
        assert.deepEqual(counters(getStats()), { sentOps: 1, receivedOps: 1, receivedDocs: 1 }, 'a refusal is a reply too');

        // Strong mode: the session holds a reserved socket, in use, to a writable server (a standalone).
        const held = getStats();
        assert.equal(held.socketRefs, before.socketRefs + 1, 'the session references its reserved socket');
        await waitFor('the reserved socket counted in use', () => getStats().socketsInUse >= before.socketsInUse + 1, 10_000);
        const now = getStats();
        assert.ok(now.socketsAlive >= now.socketsInUse, `${now.socketsAlive} alive >= ${now.socketsInUse} in use`);
        assert.equal(now.masterConns, now.socketsAlive, 'every socket is to the standalone');
        assert.equal(now.slaveConns, before.slaveConns);

        const clone = session.clone();
        assert.equal(getStats().socketRefs, before.socketRefs + 2, 'a clone shares the socket: one more reference');
        await clone.close();
        assert.equal(getStats().socketRefs, before.socketRefs + 1);

        // resetStats keeps the gauges (mgo keeps clusters, socketsAlive, socketsInUse, socketRefs).
        resetStats();
        const reset = getStats();
        assert.equal(reset.clusters, before.clusters + 1);
        assert.equal(reset.socketRefs, before.socketRefs + 1);
        assert.equal(reset.sentOps, 0);

        session.refresh();
        assert.equal(getStats().socketRefs, before.socketRefs, 'refresh() gives the socket back');
        await waitFor('the socket back in the pool', () => getStats().socketsInUse === before.socketsInUse, 10_000);

        // setStats(false) stops the counting; setStats(true) starts again from zero.
        setStats(false);
        await c.find().one();
        assert.deepEqual(counters(getStats()), { sentOps: 0, receivedOps: 0, receivedDocs: 0 });
        setStats(true);
        await c.find({ _id: 1 }).one();
        assert.deepEqual(counters(getStats()), { sentOps: 1, receivedOps: 1, receivedDocs: 1 });
      } finally {
        setStats(true);
        await session.close();
      }
      assert.equal(getStats().clusters, before.clusters, 'the closed dial left the figures');
      assert.equal(getStats().socketRefs, before.socketRefs);
    });
  }

  for (const workers of [0, 2]) {
    test(`workers ${workers}: a replica set's sockets split into masterConns and slaveConns by the servers' roles`, { timeout: 60_000 }, async () => {
      const bridge = await startBridge({ backend: { host: server.host, port: server.port }, topology: 'replicaset', members: 3 });
      const before = getStats();
      const session = await dial(bridge.uri, { workers });
      try {
        const primary = session.copy();
        const secondary = session.copy();
        secondary.setMode(Mode.Secondary, true);
        try {
          // Each holds a reserved socket: one to the primary, one to a secondary.
          await primary.db(DB).c('rs').find().one().catch(() => {});
          await secondary.db(DB).c('rs').find().one().catch(() => {});
          await waitFor(
            'a socket to the primary and one to a secondary counted',
            () => {
              const now = getStats();
              return now.masterConns >= before.masterConns + 1 && now.slaveConns >= before.slaveConns + 1;
            },
            10_000,
          );
          const now = getStats();
          assert.equal(now.masterConns + now.slaveConns, now.socketsAlive, 'every socket is to one or the other');
        } finally {
          await Promise.all([primary.close(), secondary.close()]);
        }
      } finally {
        await session.close();
        await bridge.close();
      }
    });
  }
});
