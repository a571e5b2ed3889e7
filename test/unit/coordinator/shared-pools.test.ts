// Pools on one shared coordinator, as workers hold them (two worker
// ids in one thread): fairness across workers, and maxConnecting as one
// bound on the handshakes of all workers together.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Coordinator, dialSlotKey } from '../../../src/coordinator/coordinator.js';
import { WorkerCoordinator } from '../../../src/coordinator/worker-coordinator.js';
import { Pool, type ConnectionClosedEvent, type PoolableConnection } from '../../../src/pool/index.js';
import { fakePoolable } from '../../fixtures/fake-poolable.js';
import { waitFor } from '../../fixtures/wait.js';

const workerSides: WorkerCoordinator[] = [];
const pools: Pool[] = [];
after(async () => {
  await Promise.all(pools.map((p) => p.destroy()));
  workerSides.forEach((s) => s.close());
});

// A socket's 'close' comes a turn after destroy(), as a real one's does:
// the permit (and a give-back's token accounting) follows it.
function fakeConnect(info: { id: number; generation: number; address: string }): Promise<PoolableConnection> {
  return Promise.resolve(fakePoolable(info));
}

test('a saturated worker yields a checked-in socket to another worker queued before it', { timeout: 10_000 }, async () => {
  const coordinator = Coordinator.create({ maxWorkers: 2 });
  const slot = coordinator.slotFor('db:27017', 2);
  const [a, b] = [0, 1].map((w) => {
    const workerSide = new WorkerCoordinator(coordinator.buffer, w);
    workerSides.push(workerSide);
    let pool!: Pool;
    pool = new Pool({ address: 'db:27017', connect: fakeConnect, maxPoolSize: 2, waitQueueTimeoutMS: 5000, permits: workerSide.permits(slot, () => pool.closeIdle(1) > 0) });
    pool.ready();
    pools.push(pool);
    return pool;
  }) as [Pool, Pool];
  const yielded: ConnectionClosedEvent[] = [];
  a.on('ConnectionClosed', (e) => yielded.push(e));

  const held = [await a.checkOut(), await a.checkOut()]; // worker 0 holds the whole limit
  const forB = b.checkOut(); // worker 1 queues first...
  await waitFor('worker 1 queued at the coordinator', () => coordinator.snapshot()[0]!.waiting === 1, 10_000);
  const forA = a.checkOut(); // ...then worker 0 queues one of its own
  a.checkIn(held[0]!);
  const connB = await forB;
  assert.equal(yielded.length, 1, 'worker 0 closed the socket it got back');
  assert.equal(yielded[0]!.reason, 'yielded');
  assert.deepEqual(coordinator.snapshot()[0]!.leases, [1, 1]);
  b.checkIn(connB); // worker 0 is now the oldest waiter: the permit comes back
  const connA = await forA;
  a.checkIn(connA);
  a.checkIn(held[1]!);
  assert.ok(coordinator.snapshot()[0]!.open <= 2);
});

test('maxConnecting bounds the dials of all workers together', { timeout: 10_000 }, async () => {
  const coordinator = Coordinator.create({ maxWorkers: 2 });
  const slot = coordinator.slotFor('db:27017', 10);
  const dialSlot = coordinator.slotFor(dialSlotKey('db:27017'), 2);
  let dialing = 0;
  let maxDialing = 0;
  const slowConnect = async (init: { id: number; generation: number; address: string }) => {
    dialing++;
    maxDialing = Math.max(maxDialing, dialing);
    await new Promise((r) => setTimeout(r, 20));
    dialing--;
    return fakeConnect(init);
  };
  const workerPools = [0, 1].map((w) => {
    const workerSide = new WorkerCoordinator(coordinator.buffer, w);
    workerSides.push(workerSide);
    const pool = new Pool({
      address: 'db:27017',
      connect: slowConnect,
      maxPoolSize: 10,
      maxConnecting: 2,
      waitQueueTimeoutMS: 5000,
      permits: workerSide.permits(slot, () => false),
      dialSlots: workerSide.permits(dialSlot, () => false),
    });
    pool.ready();
    pools.push(pool);
    return pool;
  });
  // 5 checkouts in each worker: 10 dials, at most 2 at a time across both.
  const conns = await Promise.all(workerPools.flatMap((pool) => Array.from({ length: 5 }, () => pool.checkOut().then((c) => ({ pool, c })))));
  assert.equal(conns.length, 10);
  assert.equal(maxDialing, 2, 'two handshakes at most, whichever worker runs them');
  for (const { pool, c } of conns) pool.checkIn(c);
  const [dials] = coordinator.snapshot().filter((s) => s.address.endsWith(' dial'));
  assert.equal(dials!.open, 0, 'every dial slot returned');
});
