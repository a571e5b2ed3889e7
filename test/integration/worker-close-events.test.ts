// The events a worker publishes while it closes (its pools' ConnectionClosed
// and ConnectionPoolClosed, CMAP "Close"): with workers, session.close() has
// each worker close its pools; the worker flushes their events on its
// operations port, then answers 'close' on its control port. Two ports keep
// no order between them, so the main thread may read the answer first: the
// operations port was then closed with the last events still queued (a
// worker's "Connection pool closed" missing in 2 of 8 closes). Workers 0
// publishes them on this thread; workers 2 must get each worker's too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dial, type Published } from '../../src/index.js';
import { testServerForFile } from '../fixtures/file-server.js';
import { waitFor } from '../fixtures/wait.js';

const DB = `mgo_worker_close_events_${process.pid}`;
const server = testServerForFile(DB);
/** Closes per test: the lost message was a race, seen in about one close in four. */
const CLOSES = 10;

for (const workers of [0, 2]) {
  test(`workers ${workers}: every pool's ConnectionPoolClosed and ConnectionClosed arrive, ${CLOSES} closes`, { timeout: 120_000 }, async () => {
    for (let i = 0; i < CLOSES; i++) {
      const session = await dial(server.uri, { workers });
      const created: Published[] = [];
      const closed: Published[] = [];
      const connections: Published[] = [];
      const opened: Published[] = [];
      session.events.on('connectionPoolCreated', (e) => created.push(e));
      session.events.on('connectionPoolClosed', (e) => closed.push(e));
      session.events.on('connectionCreated', (e) => opened.push(e));
      session.events.on('connectionClosed', (e) => connections.push(e));
      try {
        await session.ping();
      } finally {
        await session.close();
      }
      // Pools made before the listener (dial's own ping) are not counted: one ConnectionPoolClosed per pool a worker had.
      const pools = workers === 0 ? 1 : workers;
      await waitFor(`close ${i}: ${pools} ConnectionPoolClosed (got ${closed.length})`, () => closed.length >= pools, 10_000);
      assert.equal(closed.length, pools, `close ${i}`);
      if (workers > 0) assert.deepEqual(new Set(closed.map((e) => e.workerId)), new Set(Array.from({ length: workers }, (_, w) => w)), `close ${i}: one per worker`);
      await waitFor(`close ${i}: a ConnectionClosed for each connection opened`, () => connections.length >= opened.length, 10_000);
    }
  });
}
