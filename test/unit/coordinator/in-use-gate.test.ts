// The shared in-use gate (src/coordinator/shared-in-use-gate.ts): two
// worker ids in one thread, each its own WorkerCoordinator over the same
// buffer, as two workers would have.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Coordinator } from '../../../src/coordinator/coordinator.js';
import { WorkerCoordinator } from '../../../src/coordinator/worker-coordinator.js';
import { waitFor } from '../../fixtures/wait.js';

const workerSides: WorkerCoordinator[] = [];
after(() => workerSides.forEach((s) => s.close()));

function setup() {
  const coordinator = Coordinator.create({ maxWorkers: 2 });
  const slot = coordinator.slotFor('db:27017', 10);
  const gates = [0, 1].map((w) => {
    const side = new WorkerCoordinator(coordinator.buffer, w);
    workerSides.push(side);
    return side.inUse(slot, 'db:27017');
  });
  return { coordinator, gates };
}

// A wake-up is a notify away: the 10 s deadline only turns a lost one into a failure.
const WAKE_MS = 10_000;

test("one worker's operations count against a session limit in another; leaving there wakes the waiter here", async () => {
  const { gates } = setup();
  const here = gates[0]!;
  const there = gates[1]!;
  there.enter();
  there.enter();
  assert.equal(here.admit(3, 0), undefined);
  assert.equal(here.inUse, 3);
  let admitted = false;
  void here.admit(3, 0)!.then(() => (admitted = true));
  there.leave();
  await waitFor('the waiter admitted after the other worker left', () => admitted, WAKE_MS);
  assert.equal(there.inUse, 3);
});

test("a dead worker's operations stop counting, and the waiters it held back go in", async () => {
  const { coordinator, gates } = setup();
  const here = gates[0]!;
  const there = gates[1]!;
  for (let i = 0; i < 4; i++) there.enter();
  let admitted = false;
  void here.admit(2, 0)!.then(() => (admitted = true));
  coordinator.reclaim(1);
  await waitFor('admitted once the dead worker was reclaimed', () => admitted, WAKE_MS);
  assert.equal(here.inUse, 1);
});
