// FairDrain: bursts handled in order, in slices that leave the event loop
// free between them, whatever the continuations of each item cost.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import { FairDrain } from '../../../src/util/fair-drain.js';

function burn(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('FairDrain', () => {
  test('handles every item once, in push order', async () => {
    const seen: number[] = [];
    const drain = new FairDrain<number>((n) => seen.push(n));
    for (let i = 0; i < 10_000; i++) drain.push(i);
    drain.pushAll([10_000, 10_001]);
    while (drain.size > 0) await new Promise((r) => setImmediate(r));
    assert.equal(seen.length, 10_002);
    assert.ok(seen.every((n, i) => n === i));
    assert.ok(drain.stats().slices >= 1);
  });

  test('20,000 resolutions whose continuations burn CPU: a setTimeout(0) and a socket callback run before the last one resolves', async () => {
    const server = createServer((socket) => socket.end('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const order: string[] = [];
      const N = 20_000;
      const resolvers: (() => void)[] = [];
      const all: Promise<void>[] = [];
      for (let i = 0; i < N; i++) {
        all.push(
          new Promise<void>((r) => resolvers.push(r)).then(async () => {
            await null; // a continuation a few awaits deep, as session code is
            burn(0.02);
            if (i === N - 1) order.push('last reply');
          }),
        );
      }
      const drain = new FairDrain<() => void>((resolve) => resolve());
      drain.pushAll(resolvers);
      // Both are armed after the burst is queued: they must not wait for all of it.
      setTimeout(() => order.push('timer'), 0);
      const socket = connect(port, '127.0.0.1');
      socket.on('data', () => order.push('socket'));
      socket.on('error', () => order.push('socket error'));
      await Promise.all(all);
      socket.destroy();
      assert.ok(order.includes('timer') && order.includes('socket'), `events: ${order.join(', ')}`);
      assert.equal(order.at(-1), 'last reply', `events: ${order.join(', ')}`);
      const stats = drain.stats();
      assert.ok(stats.slices > 10, `${stats.slices} slices for ${N} items`);
    } finally {
      server.close();
    }
  });

  test('an item that throws is reported and the rest still run', async () => {
    const errors: unknown[] = [];
    const seen: number[] = [];
    const drain = new FairDrain<number>(
      (n) => {
        if (n === 1) throw new Error('boom');
        seen.push(n);
      },
      { onError: (e) => errors.push(e) },
    );
    drain.pushAll([0, 1, 2]);
    while (drain.size > 0) await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, [0, 2]);
    assert.equal(errors.length, 1);
  });

  test('clear() returns what was queued and handles nothing more', async () => {
    const seen: number[] = [];
    const drain = new FairDrain<number>((n) => seen.push(n));
    drain.pushAll([1, 2, 3]);
    assert.deepEqual(drain.clear(), [1, 2, 3]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, []);
  });
});
