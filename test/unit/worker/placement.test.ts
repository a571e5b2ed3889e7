// The placement decision (src/worker/placement.ts) over a scripted view of
// the coordinator: spare sockets first, then a worker queued for a permit,
// then a free permit; reservations park at the limit and follow the next
// spare socket.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerCapacity } from '../../../src/coordinator/coordinator.js';
import { MgoError } from '../../../src/errors.js';
import { Placement, type ParkedRequest } from '../../../src/worker/placement.js';

const A = 'a:27017';
const B = 'b:27017';

/** One server's slot as placement reads it, set by the test. */
class FakeSlot implements ServerCapacity {
  leases: number[];
  head = -1;
  constructor(
    public limit: number,
    workers: number,
  ) {
    this.leases = new Array<number>(workers).fill(0);
  }
  lease(worker: number): number {
    return this.leases[worker]!;
  }
  unused(): number {
    return this.limit - this.leases.reduce((a, b) => a + b, 0);
  }
  queueHead(): number {
    return this.head;
  }
}

function setup(workers = 2, limit = 4, waitQueueTimeoutMS = 0, starvingMS = 0) {
  const slots = new Map<string, FakeSlot>([
    [A, new FakeSlot(limit, workers)],
    [B, new FakeSlot(limit, workers)],
  ]);
  const held = new Map<string, number[]>([
    [A, new Array<number>(workers).fill(0)],
    [B, new Array<number>(workers).fill(0)],
  ]);
  const loads = new Array<number>(workers).fill(0);
  const serving = new Array<boolean>(workers).fill(true);
  const placement = new Placement(
    {
      workerCount: workers,
      serving: (w) => serving[w]!,
      load: (w) => loads[w]!,
      capacity: (address) => slots.get(address),
      held: (address, w) => held.get(address)![w]!,
    },
    waitQueueTimeoutMS,
    starvingMS,
  );
  return { placement, a: slots.get(A)!, b: slots.get(B)!, held: held.get(A)!, loads, serving };
}

/**
 * A parked reservation that records where it was sent, and resolves when it
 * is; sending counts it pending there, as the router does (worker 0 stands
 * for "the least-loaded").
 */
function parked(placement: Placement, address = A, stillTargets = () => true) {
  let sentTo: (worker: number | undefined) => void = () => {};
  let failed: (error: Error) => void = () => {};
  const outcome = new Promise<{ worker: number | undefined } | { error: Error }>((resolve) => {
    sentTo = (worker) => resolve({ worker });
    failed = (error) => resolve({ error });
  });
  let sent: number | undefined | 'no' = 'no';
  const request: ParkedRequest = {
    address,
    send: (worker) => {
      placement.sent(address, worker ?? 0);
      sent = worker;
      sentTo(worker);
    },
    fail: (error) => failed(error),
    stillTargets,
  };
  return { request, outcome, sent: () => sent };
}

describe('placement: where an operation without a reservation goes', () => {
  test('a worker with a spare socket before the least-loaded one', () => {
    const { placement, a, held, loads } = setup();
    a.leases = [0, 2]; // worker 1 has two sockets, one held by a session
    held[1] = 1;
    loads[0] = 0;
    loads[1] = 5;
    assert.deepEqual(placement.choose([A]), { kind: 'spare', worker: 1, address: A });
  });

  test('a burst is not sent to one spare socket: each request sent counts until its answer', () => {
    const { placement, a } = setup(2, 4);
    a.leases = [1, 0];
    assert.equal(placement.choose([A]).kind, 'spare');
    placement.sent(A, 0);
    // Worker 0's socket is spoken for; 3 permits are left for dials.
    assert.deepEqual(placement.choose([A]), { kind: 'free', address: A });
    placement.answered(A, 0);
    assert.deepEqual(placement.choose([A]), { kind: 'spare', worker: 0, address: A });
  });

  test('requests waiting in a worker for a socket take free permits first', () => {
    const { placement, a } = setup(2, 4);
    a.leases = [1, 0];
    // Three requests at worker 0 with one socket: two of them need a dial.
    for (let i = 0; i < 3; i++) placement.sent(A, 0);
    assert.equal(placement.spare(A, 0), -2);
    assert.equal(placement.free(A), 1);
    placement.sent(A, 1);
    assert.equal(placement.free(A), 0);
    assert.deepEqual(placement.choose([A]), { kind: 'full' });
  });

  test('ties between spare sockets go to the less-loaded worker', () => {
    const { placement, a, loads } = setup(3, 9);
    a.leases = [1, 1, 1];
    loads[0] = 4;
    loads[1] = 2;
    loads[2] = 3;
    assert.deepEqual(placement.choose([A]), { kind: 'spare', worker: 1, address: A });
  });

  test('a worker that does not serve (down, starting) is never chosen', () => {
    const { placement, a, serving } = setup();
    a.leases = [2, 0];
    serving[0] = false;
    assert.deepEqual(placement.choose([A]), { kind: 'free', address: A });
    a.head = 0;
    assert.deepEqual(placement.choose([A]), { kind: 'free', address: A }, 'nor its queue joined');
  });

  test('at the limit, the worker queued for a permit, before a free permit', () => {
    const { placement, a } = setup(2, 2);
    a.leases = [1, 1];
    placement.sent(A, 0);
    placement.sent(A, 1);
    assert.deepEqual(placement.choose([A]), { kind: 'full' });
    a.head = 1;
    assert.deepEqual(placement.choose([A]), { kind: 'queued', worker: 1, address: A });
  });

  test('with several servers to choose among, spare sockets of any of them count', () => {
    const { placement, a, b } = setup(2, 4);
    a.leases = [1, 0];
    b.leases = [0, 2];
    assert.deepEqual(placement.choose([A, B]), { kind: 'spare', worker: 1, address: B });
    assert.deepEqual(placement.choose([]), { kind: 'full' }, 'no server known: nothing to prefer');
  });
});

describe('placement: reservations parked at the limit', () => {
  test('a parked reservation follows the next socket a session releases, to that worker; newcomers park behind', async () => {
    const { placement, a, held } = setup(2, 2);
    a.leases = [1, 1];
    held[0] = 1;
    held[1] = 1;
    assert.equal(placement.choose([A]).kind, 'full');
    const first = parked(placement);
    const second = parked(placement);
    placement.park(first.request);
    placement.park(second.request);
    assert.equal(placement.parkedRequests, 2);
    assert.equal(first.sent(), 'no');
    assert.ok(placement.hasParked(A));
    // A session releases its socket in worker 1.
    held[1] = 0;
    placement.released(A, 1);
    assert.deepEqual(await first.outcome, { worker: 1 });
    assert.equal(second.sent(), 'no', 'the second waits for the next socket');
    placement.look();
    assert.equal(second.sent(), 'no');
    held[0] = 0;
    placement.look();
    assert.deepEqual(await second.outcome, { worker: 0 });
    assert.equal(placement.parkedRequests, 0);
    assert.equal(placement.waitsOf(A)?.waitCount, 2);
  });

  test('a permit freed (a socket closed) sends a parked reservation to the least-loaded worker', async () => {
    const { placement, a, held } = setup(2, 2);
    a.leases = [1, 1];
    held[0] = held[1] = 1;
    const one = parked(placement);
    placement.park(one.request);
    a.leases = [1, 0]; // worker 1's socket closed
    held[1] = 0;
    placement.look();
    assert.deepEqual(await one.outcome, { worker: undefined });
  });

  test('a worker queued for a permit does not take parked reservations while sockets keep coming free for them', () => {
    const { placement, a, held } = setup(2, 2, 0, 60_000);
    a.leases = [1, 1];
    held[0] = held[1] = 1;
    const first = parked(placement);
    const second = parked(placement);
    placement.park(first.request);
    placement.park(second.request);
    a.head = 1; // a race: worker 1 found the limit taken
    placement.look();
    assert.equal(first.sent(), 'no', 'not before they starve');
    held[0] = 0;
    placement.released(A, 0);
    assert.equal(first.sent(), 0, 'the released socket goes to the oldest, in its worker');
    assert.equal(second.sent(), 'no');
    placement.failAll(() => new MgoError('ERR_POOL_CLOSED', 'closed'));
  });

  test('once parked reservations starve while a worker queues for a permit, every one joins it, in order', async () => {
    const { placement, a, held } = setup(2, 1);
    a.leases = [1, 0];
    held[0] = 1;
    const first = parked(placement);
    const second = parked(placement);
    placement.park(first.request);
    placement.park(second.request);
    a.head = 0;
    placement.look();
    assert.deepEqual(await first.outcome, { worker: 0 });
    assert.deepEqual(await second.outcome, { worker: 0 });
  });

  test('a parked reservation fails with PoolTimeoutError after waitQueueTimeoutMS, counted as a timeout', async () => {
    const { placement, a, held } = setup(1, 1, 30);
    a.leases = [1];
    held[0] = 1;
    const one = parked(placement);
    const started = performance.now();
    placement.park(one.request);
    const outcome = await one.outcome;
    assert.ok('error' in outcome);
    assert.ok(outcome.error instanceof MgoError);
    assert.equal(outcome.error.code, 'ERR_POOL_TIMEOUT');
    assert.match(outcome.error.message, /a:27017 after \d+ ms/);
    assert.ok(performance.now() - started >= 29, 'not before its time');
    assert.deepEqual(placement.waitsOf(A), { waitCount: 1, waitDurationMS: placement.waitsOf(A)!.waitDurationMS, timeouts: 1 });
    assert.equal(placement.parkedRequests, 0);
  });

  test('after a topology change, a reservation parked for a server it would no longer go to is sent on', async () => {
    const { placement, a, held } = setup(2, 1);
    a.leases = [1, 0];
    held[0] = 1;
    let primary = A;
    const one = parked(placement, A, () => primary === A);
    placement.park(one.request);
    placement.retarget();
    assert.equal(one.sent(), 'no');
    primary = B;
    placement.retarget();
    assert.deepEqual(await one.outcome, { worker: undefined });
  });

  test('failAll fails every parked reservation', async () => {
    const { placement, a, held } = setup(1, 1);
    a.leases = [1];
    held[0] = 1;
    const one = parked(placement);
    placement.park(one.request);
    placement.failAll(() => new MgoError('ERR_POOL_CLOSED', 'closed'));
    const outcome = await one.outcome;
    assert.ok('error' in outcome && (outcome.error as MgoError).code === 'ERR_POOL_CLOSED');
    assert.equal(placement.parkedRequests, 0);
  });
});
