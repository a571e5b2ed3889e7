// Issue 13, "exact accounting": a connection's permit is free again only
// after its socket is gone at the OS level (PoolableConnection.afterClose),
// never at destroy(), so that the socket replacing it cannot reach the
// server while the server still counts the old one. The fake connections'
// "socket close" is held by a gate here: while it is shut, a waiting
// checkout must not get the permit, and no dial may start.
import { strict as assert } from 'node:assert';
import { after, describe, it } from 'node:test';
import { Coordinator } from '../../../src/coordinator/coordinator.js';
import { WorkerCoordinator } from '../../../src/coordinator/worker-coordinator.js';
import { Pool } from '../../../src/pool/index.js';
import { gate, FakeConnector, type FakeConnection } from '../../fixtures/cmap-fake-connection.js';
import { EventLog } from '../../fixtures/cmap-event-log.js';
import { PoolFixture } from '../../fixtures/cmap-pool-fixture.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('a permit is released after its socket is gone, not at destroy()', () => {
  it('in one thread: the waiter is served, and the next dial starts, only once the closed socket is gone', async () => {
    const closeGate = gate();
    const f = new PoolFixture({ maxPoolSize: 1, holdClose: () => closeGate.promise });
    f.pool.ready();
    const first = await f.pool.checkOut();
    const waiter = f.pool.checkOut();
    first.fail(); // the socket died under its user: closed at check-in
    f.pool.checkIn(first);
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(f.of('ConnectionClosed').length, 1);
    assert.equal(f.of('ConnectionCreated').length, 1, 'no dial while the closed socket may still be open');
    assert.equal(f.connector.open, 1, 'the closed socket is not gone yet');
    assert.equal(f.pool.stats().open, 1, 'its permit is still held');

    closeGate.open();
    const second = await waiter;
    assert.equal(f.of('ConnectionCreated').length, 2);
    // The order, by events: closed, then gone, then the next dial.
    const closedAt = f.events.findIndex((e) => e.type === 'ConnectionClosed');
    const createdAt = f.events.findLastIndex((e) => e.type === 'ConnectionCreated');
    assert.ok(closedAt < createdAt);
    assert.ok(f.connector.maxOpen <= 1, `${f.connector.maxOpen} sockets at once at maxPoolSize 1`);
    f.pool.checkIn(second);
    await f.pool.close();
  });

  it('close() resolves only once every socket is gone', async () => {
    const closeGate = gate();
    const f = new PoolFixture({ maxPoolSize: 2, holdClose: () => closeGate.promise });
    f.pool.ready();
    const conns = await f.checkOutMany(2);
    for (const conn of conns) f.pool.checkIn(conn);
    let closed = false;
    const closing = f.pool.close().then(() => (closed = true));
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(closed, false, 'close() resolved with sockets still open');
    closeGate.open();
    await closing;
    assert.equal(f.connector.open, 0);
  });

  describe('across workers (the shared coordinator)', () => {
    const sides: WorkerCoordinator[] = [];
    const pools: Pool<FakeConnection>[] = [];
    after(async () => {
      await Promise.all(pools.map((p) => p.destroy()));
      sides.forEach((s) => s.close());
    });

    it("another worker's waiter gets the permit of a yielded socket only once that socket is gone", async () => {
      const coordinator = Coordinator.create({ maxWorkers: 2 });
      const slot = coordinator.slotFor('db:27017', 1);
      const closeGate = gate();
      let socketsOpen = 0;
      let maxSocketsOpen = 0;
      const connectors = [0, 1].map(() => new FakeConnector({ holdClose: () => closeGate.promise }));
      const logs = [new EventLog(), new EventLog()];
      const [a, b] = [0, 1].map((w) => {
        const side = new WorkerCoordinator(coordinator.buffer, w);
        sides.push(side);
        const connector = connectors[w]!;
        let pool!: Pool<FakeConnection>;
        pool = new Pool<FakeConnection>({
          address: 'db:27017',
          connect: async (init) => {
            maxSocketsOpen = Math.max(maxSocketsOpen, ++socketsOpen);
            const conn = await connector.connect(init);
            conn.afterClose(() => socketsOpen--);
            return conn;
          },
          monitor: logs[w]!.record,
          maxPoolSize: 1,
          waitQueueTimeoutMS: 10_000,
          permits: side.permits(slot, () => pool.closeIdle(1) > 0),
        });
        pool.ready();
        pools.push(pool);
        return pool;
      }) as [Pool<FakeConnection>, Pool<FakeConnection>];

      const held = await a.checkOut();
      const waiting = b.checkOut(); // queued in the coordinator behind worker 0's permit
      a.checkIn(held); // another worker waits: the socket is closed ('yielded'), not kept
      await logs[0]!.waitFor('ConnectionClosed', 1, 10_000);
      for (let i = 0; i < 5; i++) await turn();
      assert.equal(logs[1]!.of('ConnectionCreated').length, 0, "worker 1 dialed while worker 0's socket was still open");
      assert.equal(coordinator.snapshot()[0]!.leases[0], 1, 'worker 0 still holds the permit');

      closeGate.open();
      const conn = await waiting;
      assert.equal(logs[1]!.of('ConnectionCreated').length, 1);
      assert.equal(maxSocketsOpen, 1, `${maxSocketsOpen} sockets at once across the workers at limit 1`);
      b.checkIn(conn);
    });
  });
});
