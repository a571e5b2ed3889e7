// What keeps the main thread free, end to end, for workers 0, 1 and 2:
//   - decoded replies are exactly what BSON.deserialize gives, under every
//     BSON option, against FerretDB (the expected value is BSON.deserialize
//     of the same documents' bytes, read with `raw`);
//   - fairness by event order: with 20,000 replies in flight, a
//     setTimeout(0) and a socket callback both run before the last reply
//     resolves (canned-reply server in a child process);
//   - overload: 200,000 finds issued at once at pool limit 4 all complete
//     against the canned server, and all fail with ERR_POOL_TIMEOUT or
//     ERR_NETWORK_TIMEOUT against a server that answers the handshake only;
//     meanwhile a timer keeps its turns: at most 1% of the burst settles
//     between two of them (a count, which a loaded machine does not raise,
//     where an event-loop delay bound is a speed claim). The p99 event-loop
//     delay, the time taken and the memory per queued operation are
//     reported, not asserted (the benchmarks measure them).
// Every load is bounded in count and in time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as BSON from 'bson';
import { Binary, Long, ObjectId, Timestamp, UUID, type Document } from 'bson';
import { MgoError } from '../../src/errors.js';
import { dial } from '../../src/session/dial.js';
import { Mode } from '../../src/session/modes.js';
import type { Session } from '../../src/session/session.js';
import { startCannedServer, type CannedServer } from '../../bench/lib/canned-server.js';
import { assertExact, optionCombinations } from '../fixtures/bson-exact.js';
import { runOverload, type OverloadResult } from '../fixtures/overload.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';

const WORKER_COUNTS = [0, 1, 2] as const;
const DB = `mgo_main_thread_it_${process.pid}`;

let ferret: TestServer;
let canned: CannedServer;

before(async () => {
  [ferret, canned] = await Promise.all([startTestServer(), startCannedServer()]);
});

after(async () => {
  const cleanup = await dial(ferret.uri).catch(() => undefined);
  await cleanup?.db(DB).dropDatabase().catch(() => {});
  await cleanup?.close();
  await Promise.allSettled([ferret?.stop(), canned?.stop()]);
});

/**
 * Documents with every BSON type FerretDB 1.24 stores (no Decimal128,
 * MinKey/MaxKey, Code, Symbol, NaN; no DBRef either: it refuses keys
 * starting with '$'). The unit tests cover those (typed-clone.test.ts).
 */
function typedDocs(n: number): Document[] {
  return Array.from({ length: n }, (_, i) => ({
    _id: new ObjectId(Uint8Array.from({ length: 12 }, (_, j) => (i * 13 + j) & 0xff)),
    i,
    big: Long.fromString('9007199254740993').add(i),
    small: Long.fromNumber(i),
    ratio: i / 3,
    whole: 2.0,
    when: new Date(1_700_000_000_000 + i),
    bin: new Binary(Uint8Array.from({ length: 40 }, (_, j) => (i + j) & 0xff), 0x80),
    uuid: new UUID(Uint8Array.from({ length: 16 }, (_, j) => (i * 3 + j) & 0xff)),
    ts: new Timestamp({ t: 1_700_000_000 + i, i: 7 }),
    re: new BSON.BSONRegExp('^ab+c', 'i'),
    nested: { list: [1, 'two', { three: Long.fromNumber(2 ** 60) }], empty: {}, nil: null },
    text: 'é😀'.repeat(i % 5) + 'x'.repeat(200),
  }));
}

describe('decoded replies are exactly BSON.deserialize, in every mode, under every BSON option', () => {
  for (const workers of WORKER_COUNTS) {
    test(`workers: ${workers}`, async () => {
      const session = await dial(ferret.uri, { workers, poolLimit: 4 });
      try {
        const c = session.db(DB).c(`typed_${workers}`);
        await c.dropCollection().catch(() => {});
        await c.insert(...typedDocs(30));
        // The documents' own bytes, as the server sent them.
        const raw = (await c.find({}).sort('i').bsonOptions({ raw: true }).all()) as unknown as Uint8Array[];
        assert.equal(raw.length, 30);
        assert.ok(raw.every((b) => b instanceof Uint8Array));
        for (const options of optionCombinations()) {
          let expected: Document[];
          try {
            expected = raw.map((bytes) => BSON.deserialize(bytes, options));
          } catch (error) {
            // js-bson refuses the combination; so does the option check, before anything is sent.
            assert.throws(() => c.find({}).sort('i').bsonOptions(options), { code: 'ERR_INVALID_OPTION' }, String(error));
            continue;
          }
          const { promoteLongs, promoteValues, promoteBuffers, useBigInt64, bsonRegExp } = options;
          const actual = await c.find({}).sort('i').bsonOptions({ promoteLongs, promoteValues, promoteBuffers, useBigInt64, bsonRegExp }).all();
          assertExact(actual, expected);
        }
        // Session-level options are honoured the same way.
        session.setBSONOptions({ promoteValues: false });
        assertExact(await c.find({}).sort('i').all(), raw.map((bytes) => BSON.deserialize(bytes, { promoteValues: false })));
      } finally {
        await session.close();
      }
    });
  }
});

/** A local server whose every connection is sent one chunk after `delayMS`: its 'data' callback is the socket callback. */
async function chattyServer(): Promise<{ port: number; close(): void }> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.write('hello');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

describe('fairness: timers and sockets run while 20,000 replies are settled', () => {
  for (const workers of WORKER_COUNTS) {
    test(`workers: ${workers}`, { timeout: 120_000 }, async () => {
      const session = await dial(canned.uri, { workers, poolLimit: 8 });
      const chatty = await chattyServer();
      try {
        session.setMode(Mode.Eventual, true);
        const c = session.db('bench').c('tweet');
        await c.find({}).one(); // warm: sockets and workers up
        const N = 20_000;
        const order: string[] = [];
        let settled = 0;
        const reads: Promise<unknown>[] = [];
        for (let i = 0; i < N; i++) {
          reads.push(
            c
              .find({})
              .one()
              .then(() => {
                if (++settled === N) order.push('last reply');
              }),
          );
        }
        // Armed after all 20,000 are in flight.
        setTimeout(() => order.push('timer'), 0);
        const socket = connect(chatty.port, '127.0.0.1');
        socket.once('data', () => order.push('socket'));
        socket.on('error', (error) => order.push(`socket error ${error.message}`));
        await Promise.all(reads);
        socket.destroy();
        assert.equal(settled, N);
        assert.deepEqual(order.slice().sort(), ['last reply', 'socket', 'timer'], order.join(', '));
        assert.equal(order.at(-1), 'last reply', `events in order: ${order.join(', ')}`);
      } finally {
        chatty.close();
        await session.close();
      }
    });
  }
});

describe('overload: 200,000 finds issued at once at pool limit 4', () => {
  const N = 200_000;
  // Measured with fair delivery: 28 (workers 0) to 232 (workers 2) per turn
  // on a machine at load average 12; a burst settled in one callback is the
  // whole of a worker's batch, or every waiter a timeout expires at once
  // (100,000-124,000 in the black-hole run with workers 0 before the pool
  // rejected failed checkouts in slices: 227-509 since).
  const MAX_SETTLED_PER_TIMER_TURN = N / 100;
  const describeRun = (what: string, result: OverloadResult) =>
    `${what}: ${result.ok} ok, failed ${JSON.stringify(result.codes)} in ${result.seconds.toFixed(1)} s; at most ${result.maxSettledPerTimerTurn} settled ` +
    `between two of ${result.timerTurns} timer turns; event-loop delay p99 ${result.p99MS.toFixed(1)} ms, max ${result.maxMS.toFixed(1)} ms; ` +
    `${Math.round(result.bytesPerQueued)} bytes of heap per queued operation`;

  for (const workers of WORKER_COUNTS) {
    test(`canned server, workers: ${workers}: all complete, the event loop keeps turning`, { timeout: 240_000 }, async (t) => {
      // Completing within the default waitQueueTimeoutMS (30 s: 29-31 s on
      // an idle 2-core machine for workers 1 and 2) is a speed claim, which a
      // loaded machine breaks (57 s seen): the bound here only ends a hang.
      const result = await runOverload(canned.uri, { workers, poolLimit: 4, waitQueueTimeoutMS: 180_000 }, N, 200_000);
      t.diagnostic(describeRun(`workers ${workers}`, result));
      assert.equal(result.ok, N, `failures: ${JSON.stringify(result.codes)}`);
      // Before fair delivery a burst kept a timer waiting for seconds.
      assert.ok(result.maxSettledPerTimerTurn <= MAX_SETTLED_PER_TIMER_TURN, `${result.maxSettledPerTimerTurn} operations settled without a timer's turn`);
    });
  }

  describe('a server that never answers: every find fails with ERR_POOL_TIMEOUT or ERR_NETWORK_TIMEOUT', () => {
    let hole: CannedServer;
    before(async () => {
      hole = await startCannedServer(30_000, { blackHole: true });
    });
    after(() => hole?.stop());

    for (const workers of WORKER_COUNTS) {
      test(`workers: ${workers}`, { timeout: 150_000 }, async (t) => {
        const result = await runOverload(hole.uri, { workers, poolLimit: 4, waitQueueTimeoutMS: 3_000, socketTimeoutMS: 2_000 }, N, 120_000);
        t.diagnostic(describeRun(`black hole, workers ${workers}`, result));
        assert.equal(result.ok, 0);
        const failed = result.codes.reduce((sum, [, count]) => sum + count, 0);
        assert.equal(failed, N);
        for (const [code] of result.codes) assert.ok(code === 'ERR_POOL_TIMEOUT' || code === 'ERR_NETWORK_TIMEOUT', `unexpected ${code}`);
        assert.ok(result.maxSettledPerTimerTurn <= MAX_SETTLED_PER_TIMER_TURN, `${result.maxSettledPerTimerTurn} operations settled without a timer's turn`);
      });
    }
  });
});
