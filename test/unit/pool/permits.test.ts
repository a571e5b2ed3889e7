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
