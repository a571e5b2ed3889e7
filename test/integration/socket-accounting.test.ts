// Issue 13, "exact accounting", with real sockets against the test server.
// Every socket is counted at the connector (the socket tally) and at a
// counting proxy in front of the server, and the order is checked by
// events: whenever a pool announces a dial (ConnectionCreated), fewer
// sockets than the limit are open at the connector, i.e. the socket whose
// permit the dial got has already run its 'close' event.
// - One pool whose connections keep breaking (destroyed before check-in, as
//   by a network error): each replacement dial waits for the broken
//   socket's 'close'. Released at destroy(), the permit reached the waiter
//   in a microtask, a turn before that event, and the order check fails.
// - Two pools sharing one limit through the coordinator (two worker ids in
//   one thread, as in test/unit/coordinator/shared-pools.test.ts), hammered
//   so that permits keep moving between them (a check-in closes its
//   socket, 'yielded', when the other side waits). In one thread the grant
//   crosses through Atomics.waitAsync, which resolves after the close
//   event anyway; between real threads it need not, which is what the
//   'closing' state rules out.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnector } from '../../src/cluster/connector.js';
import type { Connection } from '../../src/connection/connection.js';
import { LocalSocketTally, type SocketTally } from '../../src/connection/socket-tally.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { WorkerCoordinator } from '../../src/coordinator/worker-coordinator.js';
import { Pool, type PoolEvent } from '../../src/pool/index.js';
import { startCountingProxy, type CountingProxy } from '../fixtures/counting-proxy.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { waitFor } from '../fixtures/wait.js';

const LIMIT = 3;
const OPERATIONS = 1_500;

let server: TestServer;
let proxy: CountingProxy;

before(async () => {
  server = await startTestServer();
  proxy = await startCountingProxy(server);
});

after(async () => {
  await proxy?.close();
  await server?.stop();
});

/** Counts pool events and checks, at each ConnectionCreated, that a permit is free at the sockets too. */
function accounting(tally: SocketTally, worker: number) {
  const state = { created: 0, yielded: 0, violations: [] as string[] };
  const monitor = (event: PoolEvent): void => {
    if (event.type === 'ConnectionCreated') {
      state.created++;
      // The dial's socket is not created yet: every open one belongs to another permit.
      const open = tally.counts().open;
      if (open >= LIMIT) state.violations.push(`worker ${worker} dial ${event.connectionId} announced with ${open} sockets open`);
    } else if (event.type === 'ConnectionClosed' && event.reason === 'yielded') state.yielded++;
  };
  return { state, monitor };
}

function connectorFor(tally: SocketTally) {
  return createConnector({ type: 'ipv4', host: proxy.host, port: proxy.port, address: proxy.address }, { connectTimeoutMS: 10_000, socketTimeoutMS: 30_000, appName: undefined }, undefined, tally);
}

/** `loops` concurrent loops of checkout, ping, check-in, OPERATIONS in all, the pool chosen by `pick`. */
async function load(pick: (i: number) => Pool<Connection>, loops: number, breakEach: boolean): Promise<number> {
  let next = 0;
  const deadline = performance.now() + 90_000;
  const loop = async (): Promise<void> => {
    while (next < OPERATIONS && performance.now() < deadline) {
      const pool = pick(next++);
      const conn = await pool.checkOut();
      try {
        await conn.command('admin', { ping: 1 });
        if (breakEach) conn.destroy();
      } finally {
        pool.checkIn(conn);
      }
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  return next;
}

test(`one pool whose sockets keep breaking: each replacement is dialed only after the broken socket closed (limit ${LIMIT})`, { timeout: 120_000 }, async (t) => {
  proxy.resetMaxOpen();
  const tally = new LocalSocketTally();
  const { state, monitor } = accounting(tally, 0);
  const pool = new Pool<Connection>({ address: proxy.address, connect: connectorFor(tally), monitor, maxPoolSize: LIMIT, waitQueueTimeoutMS: 60_000 });
  pool.ready();
  let done: number;
  try {
    done = await load(() => pool, 4 * LIMIT, true);
  } finally {
    await pool.close();
  }
  const counts = tally.counts();
  t.diagnostic(`${done} operations: ${state.created} dials; most open at once ${counts.maxOpen} at the connector, ${proxy.maxOpen()} at the server`);
  assert.equal(done, OPERATIONS, 'the load finished in time');
  assert.ok(state.created >= OPERATIONS, `${state.created} dials for ${OPERATIONS} broken connections`);
  assert.deepEqual(state.violations.slice(0, 5), [], `${state.violations.length} dials announced before the socket they replace had closed`);
  assert.ok(counts.maxOpen <= LIMIT, `${counts.maxOpen} sockets open at once at the connector`);
  assert.ok(proxy.maxOpen() <= LIMIT, `${proxy.maxOpen()} sockets open at once at the server (no monitor here)`);
  assert.equal(counts.open, 0, 'close() resolved with sockets still open');
  await waitFor('no socket left at the server', () => proxy.open() === 0, 10_000);
});

test(`two workers' pools: permits move between them only after their sockets closed: at limit ${LIMIT}, never more open at the connector or at the server`, { timeout: 120_000 }, async (t) => {
  const coordinator = Coordinator.create({ maxWorkers: 2 });
  const slot = coordinator.slotFor(proxy.address, LIMIT);
  const sides = [0, 1].map((w) => new WorkerCoordinator(coordinator.buffer, w));
  proxy.resetMaxOpen();
  const checks = sides.map((side, w) => accounting(side.sockets(slot), w));
  const pools = sides.map((side, w) => {
    let pool!: Pool<Connection>;
    const monitor = checks[w]!.monitor;
    pool = new Pool<Connection>({
      address: proxy.address,
      connect: connectorFor(side.sockets(slot)),
      monitor,
      maxPoolSize: LIMIT,
      waitQueueTimeoutMS: 60_000,
      permits: side.permits(slot, () => pool.closeIdle(1) > 0),
    });
    pool.ready();
    return pool;
  });

  let done: number;
  try {
    // Each operation takes a connection from either pool in turn, pings, and
    // gives it back: both sides queue all the time, so check-ins yield.
    done = await load((i) => pools[i % 2]!, 4 * LIMIT, false);
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
    sides.forEach((side) => side.close());
  }
  const counts = coordinator.socketCounts(proxy.address)!;
  const created = checks[0]!.state.created + checks[1]!.state.created;
  const yielded = checks[0]!.state.yielded + checks[1]!.state.yielded;
  const violations = [...checks[0]!.state.violations, ...checks[1]!.state.violations];
  t.diagnostic(
    `${done} operations: ${created} dials, ${yielded} yielded hand-offs; most open at once ${counts.maxOpen} at the connector, ${proxy.maxOpen()} at the server`,
  );
  assert.equal(done, OPERATIONS, 'the load finished in time');
  assert.ok(yielded >= 50, `only ${yielded} permits moved between the pools: the hand-off was not exercised`);
  assert.deepEqual(violations.slice(0, 5), [], `${violations.length} dials announced before the socket they replace had closed`);
  assert.ok(counts.maxOpen <= LIMIT, `${counts.maxOpen} sockets open at once at the connector`);
  assert.ok(proxy.maxOpen() <= LIMIT, `${proxy.maxOpen()} sockets open at once at the server (no monitor here)`);
  assert.equal(counts.opened, created, 'one socket per dial');
  // close() resolved once every socket had closed: none left at the connector, and the server sees the last FINs.
  assert.equal(counts.open, 0);
  await waitFor('no socket left at the server', () => proxy.open() === 0, 10_000);
});
