// The shared permits' contract, with two worker ids in one thread (each its
// own WorkerCoordinator over the same buffer, as two workers would have).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Coordinator } from '../../../src/coordinator/coordinator.js';
import { WorkerCoordinator } from '../../../src/coordinator/worker-coordinator.js';
import { waitFor } from '../../fixtures/wait.js';

const workerSides: WorkerCoordinator[] = [];
after(() => workerSides.forEach((s) => s.close()));

function setup(limit: number, workers = 2) {
  const coordinator = Coordinator.create({ maxWorkers: workers });
  const slot = coordinator.slotFor('db:27017', limit);
  const idle: number[] = Array(workers).fill(0);
  const workerSide = Array.from({ length: workers }, (_, w) => {
    const s = new WorkerCoordinator(coordinator.buffer, w);
    workerSides.push(s);
    return s;
  });
  const permits = workerSide.map((s, w) =>
    s.permits(slot, () => {
      if (idle[w]! === 0) return false;
      idle[w]!--;
      permits[w]!.release();
      return true;
    }),
  );
  return { coordinator, permits, idle, snapshot: () => coordinator.snapshot()[0]! };
}

// A grant is a notify away (well under a millisecond once warm): the waits'
// 10 s deadline only turns a lost grant into a failure.
const GRANT_WAIT_MS = 10_000;

describe('shared permits', () => {
  test('the limit holds across workers; release frees a permit', () => {
    const { permits, snapshot } = setup(3);
    assert.equal(permits[0]!.tryAcquire(), true);
    assert.equal(permits[1]!.tryAcquire(), true);
    assert.equal(permits[1]!.tryAcquire(), true);
    assert.equal(permits[0]!.tryAcquire(), false);
    assert.deepEqual(snapshot().leases, [1, 2]);
    assert.equal(snapshot().open, 3);
    permits[1]!.release();
    assert.equal(permits[0]!.tryAcquire(), true);
    assert.deepEqual(snapshot().leases, [2, 1]);
    assert.equal(permits[0]!.limit, 3);
    assert.equal(permits[0]!.held, 2);
  });

  test('queued requests are served first in, first out, across workers', async () => {
    const { permits, snapshot } = setup(1);
    const order: string[] = [];
    assert.equal(permits[0]!.tryAcquire(), true);
    permits[1]!.request(() => order.push('w1 first'));
    permits[0]!.request(() => order.push('w0 second'));
    permits[1]!.request(() => order.push('w1 third'));
    assert.equal(snapshot().waiting, 3);
    assert.equal(permits[1]!.tryAcquire(), false, 'a newcomer does not overtake the queue');
    // Each holder releases in turn: w0 (initial), then w1, w0, w1 as granted.
    for (const [i, holder] of [0, 1, 0].entries()) {
      permits[holder]!.release();
      await waitFor(`grant ${i + 1}`, () => order.length === i + 1, GRANT_WAIT_MS);
    }
    assert.deepEqual(order, ['w1 first', 'w0 second', 'w1 third']);
    assert.equal(snapshot().open, 1, 'handed over each time, never freed in between');
  });

  test('a cancelled request leaves the queue; one already granted cannot be cancelled and is delivered', async () => {
    const { permits, snapshot } = setup(1);
    permits[0]!.tryAcquire();
    let a = 0;
    let b = 0;
    const ra = permits[1]!.request(() => a++);
    const rb = permits[1]!.request(() => b++);
    assert.equal(ra.cancel(), true);
    assert.equal(snapshot().waiting, 1);
    permits[0]!.release(); // granted to rb, delivery pending in worker 1
    assert.equal(rb.cancel(), false, 'granted already');
    await waitFor('the grant to be delivered', () => b === 1, GRANT_WAIT_MS);
    assert.equal(a, 0);
    assert.equal(b, 1, 'the granted callback runs; its owner must release');
    assert.deepEqual(snapshot().leases, [0, 1]);
  });

  test('an idle socket in another worker is given back to a waiter', async () => {
    const { permits, idle, snapshot } = setup(2);
    permits[0]!.tryAcquire();
    permits[0]!.tryAcquire();
    idle[0] = 1; // worker 0 holds one of its two sockets idle
    let granted = 0;
    permits[1]!.request(() => granted++);
    await waitFor('the give-back', () => granted === 1, GRANT_WAIT_MS);
    assert.equal(idle[0], 0);
    assert.deepEqual(snapshot().leases, [1, 1]);
  });

  test('reclaim frees a dead worker\'s permits and queued requests, and serves the others', async () => {
    const { coordinator, permits, snapshot } = setup(2, 3);
    permits[0]!.tryAcquire();
    permits[0]!.tryAcquire();
    permits[0]!.request(() => {}); // worker 0 also waits
    let granted = 0;
    permits[1]!.request(() => granted++);
    permits[2]!.request(() => granted++);
    assert.equal(coordinator.reclaim(0), 2);
    await waitFor('both waiters served', () => granted === 2, GRANT_WAIT_MS);
    const s = snapshot();
    assert.deepEqual(s.leases, [0, 1, 1]);
    assert.equal(s.open, 2);
    assert.equal(s.waiting, 0);
  });

  test('a higher limit set later serves waiters at once', async () => {
    const { coordinator, permits } = setup(1);
    permits[0]!.tryAcquire();
    let granted = 0;
    permits[1]!.request(() => granted++);
    coordinator.slotFor('db:27017', 2);
    await waitFor('the new permit', () => granted === 1, GRANT_WAIT_MS);
  });
});

test('a pool clear in a worker bumps the server\'s process-wide generation', () => {
  const coordinator = Coordinator.create({ maxWorkers: 2 });
  const slot = coordinator.slotFor('db:27017', 1);
  const workerSide = new WorkerCoordinator(coordinator.buffer, 1);
  workerSides.push(workerSide);
  assert.equal(workerSide.bumpGeneration(slot), 1);
  assert.equal(workerSide.bumpGeneration(slot), 2);
  assert.equal(coordinator.snapshot()[0]!.generation, 2);
});

test('capacity(): what the main thread\'s placement reads, without the lock: leases, permits unused, the queue\'s head', () => {
  const { coordinator, permits } = setup(3);
  assert.equal(coordinator.capacity('elsewhere:27017'), undefined, 'no slot, nothing to read');
  const capacity = coordinator.capacity('db:27017')!;
  assert.equal(capacity, coordinator.capacity('db:27017'), 'one view per slot, not one per look');
  assert.equal(capacity.unused(), 3);
  assert.equal(capacity.queueHead(), -1);
  permits[1]!.tryAcquire();
  permits[1]!.tryAcquire();
  permits[0]!.tryAcquire();
  assert.deepEqual([capacity.lease(0), capacity.lease(1), capacity.unused()], [1, 2, 0]);
  const queued = permits[0]!.request(() => {});
  assert.equal(capacity.queueHead(), 0);
  queued.cancel();
  assert.equal(capacity.queueHead(), -1);
  permits[1]!.release();
  assert.deepEqual([capacity.lease(1), capacity.unused()], [1, 1]);
});

test('a lowered limit: retire() across workers counts what is above it once; releases above it are dropped, then the room goes to the queue', async () => {
  const { coordinator, permits, snapshot } = setup(4);
  for (const w of [0, 0, 1, 1]) assert.equal(permits[w]!.tryAcquire(), true);
  const order: string[] = [];
  permits[1]!.request(() => order.push('w1 waiter'));
  coordinator.setLimit('db:27017', 2);
  assert.equal(snapshot().limit, 2);
  assert.equal(permits[0]!.tryAcquire(), false);
  // Two above the limit, whichever worker asks.
  assert.deepEqual([permits[0]!.retire!(), permits[1]!.retire!(), permits[0]!.retire!(), permits[1]!.retire!()], [true, true, false, false]);
  // Worker 0's other socket closes (not a retired one): dropped, since OPEN is above the limit.
  permits[0]!.release();
  assert.deepEqual([snapshot().open, snapshot().waiting], [3, 1]);
  permits[0]!.release(false, true);
  assert.deepEqual([snapshot().open, snapshot().waiting], [2, 1]);
  permits[1]!.release(false, true);
  await waitFor('the waiter granted', () => order.length === 1, GRANT_WAIT_MS);
  assert.deepEqual([snapshot().open, snapshot().waiting, snapshot().leases], [2, 0, [0, 2]]);
});

test('a raised limit grants its room to the queued requests at once, oldest first across workers', async () => {
  const { coordinator, permits, snapshot } = setup(1);
  assert.equal(permits[0]!.tryAcquire(), true);
  const order: string[] = [];
  permits[1]!.request(() => order.push('w1'));
  permits[0]!.request(() => order.push('w0'));
  permits[1]!.request(() => order.push('w1 again'));
  coordinator.setLimit('db:27017', 3);
  await waitFor('two granted', () => order.length === 2, GRANT_WAIT_MS);
  assert.deepEqual(order.sort(), ['w0', 'w1']);
  assert.deepEqual([snapshot().open, snapshot().waiting], [3, 1]);
});
