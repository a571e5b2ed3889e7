// A worker thread that plays one CMAP spec "thread" (or the spec's main
// thread) for test/spec/cmap-workers.test.ts: it holds its own Pool for the
// test's one server, with permits and dial slots drawn from the coordinator
// buffer every thread of the test shares (as a worker's pools do), and
// runs the operations the main thread of the test sends it. The protocol and
// the reasons for it are in cmap-worker-runner.ts, which starts these.
//
// A worker is reused from one spec file to the next (starting a TypeScript
// worker costs ~0.4 s of CPU here): each file is one "run", set up and torn
// down by messages, and every message carries its run number.
import { parentPort } from 'node:worker_threads';
import { createConnector } from '../../src/cluster/connector.js';
import { WorkerCoordinator } from '../../src/coordinator/worker-coordinator.js';
import { Pool, type ConnectFn, type PoolableConnection, type PoolEvent, type PoolOptions } from '../../src/pool/index.js';
import { FakeConnection } from './cmap-fake-connection.js';
import {
  C_DIALING,
  C_MAX_DIALING,
  C_MAX_OPEN,
  C_OPEN,
  type ErrorRecord,
  type FromWorker,
  type RunSetup,
  type ToWorker,
  type WorkerOperation,
} from './cmap-worker-protocol.js';

const port = parentPort!;
const TEARDOWN_WAIT_MS = 5_000;

function post(message: FromWorker): void {
  port.postMessage(message);
}

function record(error: unknown): ErrorRecord {
  if (error instanceof Error) {
    const { code } = error as Error & { code?: unknown };
    return { name: error.name, message: error.message, ...(typeof code === 'string' && { code }) };
  }
  return { name: 'Error', message: String(error) };
}

/** Raises shared counter `maxSlot` to `value` if higher (counters shared by every worker of the run). */
function raise(counters: Int32Array, maxSlot: number, value: number): void {
  for (let max = Atomics.load(counters, maxSlot); value > max; max = Atomics.load(counters, maxSlot)) {
    if (Atomics.compareExchange(counters, maxSlot, max, value) === max) break;
  }
}

/**
 * Counts every connection of every worker of the run in shared counters:
 * open (from the dial's start until destroyed) and dialing (until the dial
 * settles), with their maxima. Counted at the connector, independently of
 * the pools' own bookkeeping and of the order their events are merged in.
 */
function counted<C extends PoolableConnection>(inner: ConnectFn<C>, counters: Int32Array, onClosed: (conn: C, done: () => void) => void): ConnectFn<C> {
  return async (init) => {
    raise(counters, C_MAX_OPEN, Atomics.add(counters, C_OPEN, 1) + 1);
    raise(counters, C_MAX_DIALING, Atomics.add(counters, C_DIALING, 1) + 1);
    let conn: C;
    try {
      conn = await inner(init);
    } catch (error) {
      Atomics.sub(counters, C_OPEN, 1);
      throw error;
    } finally {
      Atomics.sub(counters, C_DIALING, 1);
    }
    let done = false;
    onClosed(conn, () => {
      if (!done) {
        done = true;
        Atomics.sub(counters, C_OPEN, 1);
      }
    });
    return conn;
  };
}

/** A dial that completes after a microtask, as FakeConnector's default (no sockets). */
const fakeDial: ConnectFn<FakeConnection> = async (init) => {
  await Promise.resolve();
  if (init.signal.aborted) throw init.signal.reason;
  return new FakeConnection(init.id, init.generation, init.address, () => {});
};

class Run {
  readonly pool: Pool<PoolableConnection>;
  readonly workerSide: WorkerCoordinator;
  readonly connections = new Map<string, PoolableConnection>();
  #chain: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;

  constructor(readonly setup: RunSetup) {
    const seq = new Int32Array(setup.sequence);
    const counters = new Int32Array(setup.counters);
    this.workerSide = new WorkerCoordinator(setup.buffer, setup.workerId);
    const { backgroundThreadIntervalMS, appName, ...sizing } = setup.poolOptions;
    let connect: ConnectFn<PoolableConnection>;
    if (setup.server === undefined) {
      // FakeConnection.destroy() calls its onDestroy; wrap it to count the close.
      connect = counted(fakeDial, counters, (conn, done) => {
        const destroy = conn.destroy.bind(conn);
        conn.destroy = (reason) => {
          destroy(reason);
          done();
        };
      });
    } else {
      const dial = createConnector(
        { type: 'ipv4', host: setup.server.host, port: setup.server.port, address: setup.server.address },
        { connectTimeoutMS: 10_000, socketTimeoutMS: 0, appName: appName as string | undefined },
      );
      // Counted closed when the pool destroys it (the socket's 'close' event
      // comes a turn later, after the permit went to another worker), or
      // when it dies by itself.
      connect = counted(dial, counters, (conn, done) => {
        const destroy = conn.destroy.bind(conn);
        conn.destroy = (reason) => {
          destroy(reason);
          done();
        };
        if (conn.isClosed) done();
        else conn.once('close', done);
      });
    }
    const options: PoolOptions<PoolableConnection> = {
      ...(sizing as Partial<PoolOptions<PoolableConnection>>),
      address: setup.address,
      connect,
      // The coordinator's slots: one limit (maxPoolSize) and one maxConnecting
      // for all the threads of the test, as WorkerRuntime gives its pools.
      permits: this.workerSide.permits(setup.slot, () => this.pool.closeIdle(1) > 0),
      dialSlots: this.workerSide.permits(setup.dialSlot, () => false),
      monitor: (event: PoolEvent) => {
        // The total order of the merged log: taken when the event is emitted.
        post({ type: 'event', run: setup.run, seq: Atomics.add(seq, 0, 1), thread: setup.thread, event });
      },
    };
    if (backgroundThreadIntervalMS !== undefined) options.maintenanceIntervalMS = backgroundThreadIntervalMS as number;
    // SDAM's reaction to a failed background dial (cmap.test.ts does the same in-thread).
    if (setup.server !== undefined) options.onBackgroundError = (error) => this.pool.clear({ cause: error });
    this.pool = new Pool(options);
  }

  /** Appends to this thread's chain: operations run in order; the first failure stops the thread. */
  schedule(op: WorkerOperation): void {
    this.#chain = this.#chain.then(async () => {
      if (this.#failure !== undefined) return;
      try {
        await this.execute(op);
      } catch (error) {
        this.#failure = { error };
      }
    });
  }

  async join(): Promise<void> {
    await this.#chain;
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  async execute(op: WorkerOperation): Promise<void> {
    switch (op.name) {
      case 'checkOut': {
        const conn = await this.pool.checkOut();
        if (op.label !== undefined) this.connections.set(op.label, conn);
        return;
      }
      case 'checkIn': {
        const conn = this.connections.get(op.connection!);
        if (conn === undefined) throw new Error(`checkIn: no connection labelled ${op.connection} in ${this.setup.thread}`);
        this.connections.delete(op.connection!);
        this.pool.checkIn(conn);
        return;
      }
      case 'ready':
        this.pool.ready();
        return;
      case 'clear':
        this.pool.clear({ interruptInUseConnections: op.interruptInUseConnections });
        return;
      case 'close':
        void this.pool.close();
        return;
      case 'wait':
        await new Promise((resolve) => setTimeout(resolve, op.ms));
        return;
      default:
        throw new Error(`operation ${op.name} cannot run in a worker`);
    }
  }

  async teardown(): Promise<void> {
    const bounded = (promise: Promise<unknown>): Promise<unknown> =>
      Promise.race([promise, new Promise((resolve) => setTimeout(resolve, TEARDOWN_WAIT_MS).unref())]);
    await bounded(this.pool.destroy());
    await bounded(this.#chain);
    this.workerSide.close();
  }
}

let current: Run | undefined;

async function handle(message: ToWorker): Promise<void> {
  if (message.type === 'setup') {
    try {
      current = new Run(message.setup);
      post({ type: 'done', run: message.setup.run, id: message.id });
    } catch (error) {
      post({ type: 'done', run: message.setup.run, id: message.id, error: record(error) });
    }
    return;
  }
  const run = current;
  if (run === undefined || run.setup.run !== message.run) {
    post({ type: 'done', run: message.run, id: message.id, error: { name: 'Error', message: `no run ${message.run} in this worker` } });
    return;
  }
  try {
    switch (message.type) {
      case 'schedule':
        run.schedule(message.op);
        return; // no reply: a thread's failure is reported by join
      case 'execute':
        await run.execute(message.op);
        break;
      case 'join':
        await run.join();
        break;
      case 'flush':
        break; // the reply follows every event posted before it
      case 'teardown':
        await run.teardown();
        current = undefined;
        break;
    }
    post({ type: 'done', run: message.run, id: message.id });
  } catch (error) {
    post({ type: 'done', run: message.run, id: message.id, error: record(error) });
  }
}

port.on('message', (message: ToWorker) => void handle(message));
post({ type: 'started' });
