// The socket tally (src/connection/socket-tally.ts): a pool socket counts
// from its creation to its 'close' event, and a failed dial settles only
// after that event, so that the pool releases its permit no earlier.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { Connection } from '../../../src/connection/connection.js';
import { LocalSocketTally } from '../../../src/connection/socket-tally.js';
import { Coordinator } from '../../../src/coordinator/coordinator.js';
import { WorkerCoordinator } from '../../../src/coordinator/worker-coordinator.js';
import { startFakeServer } from '../../fixtures/fake-server.js';

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('a refused dial rejects only after its socket closed: the tally is back to 0 when the rejection arrives', async () => {
  const tally = new LocalSocketTally();
  const port = await closedPort();
  await assert.rejects(
    Connection.connect({ host: '127.0.0.1', port, id: 1, generation: 0, connectTimeoutMS: 10_000, socketTimeoutMS: 0, tally }).then(() => undefined),
    (error: Error & { code?: string }) => error.code === 'ERR_NETWORK',
  );
  assert.deepEqual(tally.counts(), { open: 0, maxOpen: 1, opened: 1 });
});

test("a destroyed connection leaves the tally at its 'close' event, and afterClose() runs then (at once once closed)", async () => {
  const server = await startFakeServer();
  try {
    const tally = new LocalSocketTally();
    const conns = await Promise.all(
      [1, 2].map((id) => Connection.connect({ host: '127.0.0.1', port: server.port, id, generation: 0, connectTimeoutMS: 10_000, socketTimeoutMS: 0, tally })),
    );
    assert.deepEqual(tally.counts(), { open: 2, maxOpen: 2, opened: 2 });
    const order: string[] = [];
    conns[0]!.destroy();
    conns[0]!.afterClose(() => order.push(`gone, tally ${tally.counts().open}`));
    order.push('destroyed');
    await new Promise<void>((resolve) => conns[0]!.afterClose(resolve));
    let atOnce = false;
    conns[0]!.afterClose(() => (atOnce = true));
    assert.ok(atOnce);
    assert.deepEqual(order, ['destroyed', 'gone, tally 1']);
    conns[1]!.destroy();
    await new Promise<void>((resolve) => conns[1]!.afterClose(resolve));
    assert.deepEqual(tally.counts(), { open: 0, maxOpen: 2, opened: 2 });
  } finally {
    await server.close();
  }
});

test('shared across workers: one count and its maximum for all of them; a dead worker’s sockets leave it on reclaim', () => {
  const coordinator = Coordinator.create({ maxWorkers: 2 });
  const address = 'db:27017';
  const slot = coordinator.slotFor(address, 10);
  const [w0, w1] = [0, 1].map((w) => new WorkerCoordinator(coordinator.buffer, w).sockets(slot)) as [ReturnType<WorkerCoordinator['sockets']>, ReturnType<WorkerCoordinator['sockets']>];
  w0.opened();
  w1.opened();
  w1.opened();
  w0.closed();
  w0.opened();
  assert.deepEqual(coordinator.socketCounts(address), { open: 3, maxOpen: 3, opened: 4 });
  assert.deepEqual(w0.counts(), coordinator.socketCounts(address));
  coordinator.reclaim(1); // worker 1 died with its two sockets
  assert.deepEqual(coordinator.socketCounts(address), { open: 1, maxOpen: 3, opened: 4 });
  w0.closed();
  assert.equal(coordinator.socketCounts(address)!.open, 0);
});
