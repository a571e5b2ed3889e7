// LocalPermits (the in-thread PermitSource) and the FIFO WaitQueue.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { LocalPermits } from '../../../src/pool/index.js';
import { WaitQueue } from '../../../src/pool/wait-queue.js';

describe('LocalPermits', () => {
  it('grants up to the limit, then queues FIFO with direct hand-off', () => {
    const permits = new LocalPermits(2);
    assert.ok(permits.tryAcquire());
    assert.ok(permits.tryAcquire());
    assert.equal(permits.tryAcquire(), false);
    const order: string[] = [];
    permits.request(() => order.push('first'));
    permits.request(() => order.push('second'));
    assert.equal(permits.waiting, 2);
    permits.release();
    assert.deepEqual(order, ['first']);
    // Handed over, not freed: a newcomer cannot take it.
    assert.equal(permits.held, 2);
    assert.equal(permits.tryAcquire(), false);
    permits.release();
    assert.deepEqual(order, ['first', 'second']);
    permits.release();
    permits.release();
    assert.equal(permits.held, 0);
    assert.throws(() => permits.release(), /released more often than acquired/);
  });

  it('grants a request at once when a permit is free', () => {
    const permits = new LocalPermits(1);
    let granted = false;
    const ticket = permits.request(() => (granted = true));
    assert.ok(granted);
    assert.equal(permits.held, 1);
    assert.equal(ticket.cancel(), false, 'too late to cancel');
  });

  it('cancels a queued request', () => {
    const permits = new LocalPermits(1);
    assert.ok(permits.tryAcquire());
    const granted: string[] = [];
    const cancelled = permits.request(() => granted.push('cancelled'));
    permits.request(() => granted.push('next'));
    assert.equal(cancelled.cancel(), true);
    assert.equal(cancelled.cancel(), false);
    assert.equal(permits.waiting, 1);
    permits.release();
    assert.deepEqual(granted, ['next']);
    assert.equal(permits.held, 1);
  });

  it('a lowered limit: no grant while held >= it, retire() counts what is above it once, releases are dropped until held is under it', () => {
    const permits = new LocalPermits(4);
    for (let i = 0; i < 4; i++) assert.ok(permits.tryAcquire());
    const order: string[] = [];
    permits.request(() => order.push('first'));
    permits.setLimit(2);
    assert.equal(permits.limit, 2);
    assert.equal(permits.tryAcquire(), false);
    // Two above the limit: exactly two are to be retired, however often asked.
    assert.deepEqual([permits.retire(), permits.retire(), permits.retire()], [true, true, false]);
    // A release that is not a retired one, while above the limit: dropped, not handed over.
    permits.release();
    assert.deepEqual([permits.held, order], [3, []]);
    permits.release(false, true);
    assert.deepEqual([permits.held, order], [2, []]);
    // The second retired one takes held under the limit: its room goes to the queue.
    permits.release(false, true);
    assert.deepEqual([permits.held, order], [2, ['first']]);
    assert.equal(permits.retire(), false);
  });

  it('a raised limit grants its room to the queue at once, oldest first', () => {
    const permits = new LocalPermits(1);
    assert.ok(permits.tryAcquire());
    const order: string[] = [];
    for (const name of ['a', 'b', 'c']) permits.request(() => order.push(name));
    permits.setLimit(3);
    assert.deepEqual(order, ['a', 'b']);
    assert.deepEqual([permits.held, permits.waiting], [3, 1]);
  });

  it('treats limit 0 as unlimited', () => {
    const permits = new LocalPermits(0);
    for (let i = 0; i < 1000; i++) assert.ok(permits.tryAcquire());
    assert.equal(permits.held, 1000);
  });
});

describe('WaitQueue', () => {
  it('is FIFO with O(1) removal from anywhere', () => {
    const queue = new WaitQueue<number>();
    const nodes = [1, 2, 3, 4, 5].map((n) => queue.push(n));
    assert.equal(queue.remove(nodes[2]!), true);
    assert.equal(queue.remove(nodes[2]!), false, 'second removal is a no-op');
    assert.equal(queue.remove(nodes[4]!), true);
    assert.deepEqual([...queue], [1, 2, 4]);
    assert.equal(queue.peek(), 1);
    assert.equal(queue.shift(), 1);
    queue.push(6);
    assert.deepEqual(queue.drain(), [2, 4, 6]);
    assert.equal(queue.size, 0);
    assert.equal(queue.shift(), undefined);
    assert.equal(queue.remove(nodes[0]!), false);
  });
});
