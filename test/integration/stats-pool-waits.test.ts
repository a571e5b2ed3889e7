// getStats()'s pool-wait fields against the test server, workers 0 and 2
// (the mgo API table's Stats.TimesWaitedForPool, TotalPoolWaitTime and
// PoolTimeouts rows): with poolLimit 1 and the only socket reserved by a
// Strong session, an Eventual copy's operation waits in the pool; one wait
// times out (poolTimeouts), one is served once the socket is given back
// (its time in totalPoolWaitTimeMS); resetStats() starts them from zero.
// A dial's waits stay counted after it closed, as every counter does.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dial, getStats, MgoError, Mode, resetStats, type Stats } from '../../src/index.js';
import { testServerForFile } from '../fixtures/file-server.js';
import { waitFor } from '../fixtures/wait.js';

const server = testServerForFile(`mgo_stats_pool_waits_${process.pid}`);

type Waits = Pick<Stats, 'timesWaitedForPool' | 'poolTimeouts'>;

function waits(stats: Stats): Waits {
  return { timesWaitedForPool: stats.timesWaitedForPool, poolTimeouts: stats.poolTimeouts };
}

/** Waits until getStats() shows `want` (a worker pushes its pool's counters after the event). */
async function statsReach(what: string, want: Waits): Promise<Stats> {
  await waitFor(what, () => JSON.stringify(waits(getStats())) === JSON.stringify(want), 20_000).catch((err: Error) => {
    throw new Error(`${err.message}: getStats() shows ${JSON.stringify(waits(getStats()))}, want ${JSON.stringify(want)}`);
  });
  return getStats();
}

describe("getStats(): the pools' waits", () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: a wait that timed out, a wait served, and resetStats()`, { timeout: 60_000 }, async () => {
      // 1 s: long enough for a loaded machine to hand the socket over in the second wait.
      const session = await dial(server.uri, { workers, poolLimit: 1, waitQueueTimeoutMS: 1_000 });
      const other = session.copy();
      try {
        await session.ping(); // Strong: the session now holds the only socket
        other.setMode(Mode.Eventual, true); // each operation checks a socket out of the pool
        resetStats();
        assert.deepEqual(waits(getStats()), { timesWaitedForPool: 0, poolTimeouts: 0 });
        assert.equal(getStats().totalPoolWaitTimeMS, 0);

        await assert.rejects(other.ping(), (err: unknown) => err instanceof MgoError && err.code === 'ERR_POOL_TIMEOUT');
        const timedOut = await statsReach('the timed-out wait counted', { timesWaitedForPool: 1, poolTimeouts: 1 });
        assert.ok(timedOut.totalPoolWaitTimeMS > 0, `the timed-out wait took time: ${timedOut.totalPoolWaitTimeMS} ms`);

        const served = other.ping();
        await statsReach('the second wait begun', { timesWaitedForPool: 2, poolTimeouts: 1 });
        session.refresh(); // gives the socket back: the waiting ping gets it
        await served;
        await waitFor('the served wait ended and its time added', () => getStats().totalPoolWaitTimeMS > timedOut.totalPoolWaitTimeMS, 20_000);
        assert.deepEqual(waits(getStats()), { timesWaitedForPool: 2, poolTimeouts: 1 });

        resetStats();
        assert.deepEqual(waits(getStats()), { timesWaitedForPool: 0, poolTimeouts: 0 });
        assert.equal(getStats().totalPoolWaitTimeMS, 0);
      } finally {
        await other.close();
        await session.close();
      }
    });

    test(`workers ${workers}: a closed dial's waits stay counted (counters, not gauges)`, { timeout: 60_000 }, async () => {
      const session = await dial(server.uri, { workers, poolLimit: 1, waitQueueTimeoutMS: 200 });
      const other = session.copy();
      let counted: Stats;
      try {
        await session.ping();
        other.setMode(Mode.Eventual, true);
        resetStats();
        await assert.rejects(other.ping(), (err: unknown) => err instanceof MgoError && err.code === 'ERR_POOL_TIMEOUT');
        counted = await statsReach('the timed-out wait counted', { timesWaitedForPool: 1, poolTimeouts: 1 });
        assert.deepEqual([counted.sentOps, counted.receivedOps], [0, 0], 'a ping that never got a socket sent nothing');
      } finally {
        await other.close();
        await session.close();
      }
      const after = getStats();
      assert.deepEqual(waits(after), { timesWaitedForPool: 1, poolTimeouts: 1 }, 'the wait happened, whether or not its dial is open');
      assert.equal(after.totalPoolWaitTimeMS, counted.totalPoolWaitTimeMS);
      resetStats();
      assert.deepEqual(waits(getStats()), { timesWaitedForPool: 0, poolTimeouts: 0 });
      assert.equal(getStats().totalPoolWaitTimeMS, 0);
    });
  }
});
