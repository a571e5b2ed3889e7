// A pool wired to a FakeConnector, with every event recorded, for unit tests.

import { Pool, type PoolEvent, type PoolEventMap, type PoolEventType, type PoolOptions } from '../../src/pool/index.js';
import { EventLog } from './cmap-event-log.js';
import { FakeConnector, type FakeConnection, type FakeConnectorOptions } from './cmap-fake-connection.js';

export const TEST_ADDRESS = 'db.example:27017';

export type TestPoolOptions = Partial<PoolOptions<FakeConnection>> & FakeConnectorOptions;

export class PoolFixture {
  readonly connector: FakeConnector;
  readonly pool: Pool<FakeConnection>;
  readonly log = new EventLog();

  constructor(options: TestPoolOptions = {}) {
    const { delayMS, failWith, holdUntil, ...poolOptions } = options;
    this.connector = new FakeConnector({ delayMS, failWith, holdUntil });
    this.pool = new Pool<FakeConnection>({ address: TEST_ADDRESS, connect: this.connector.connect, monitor: this.log.record, ...poolOptions });
  }

  get events(): PoolEvent[] {
    return this.log.events;
  }

  of<K extends PoolEventType>(type: K): PoolEventMap[K][] {
    return this.log.of(type);
  }

  waitFor<K extends PoolEventType>(type: K, count = 1, timeoutMS = 2_000): Promise<PoolEventMap[K][]> {
    return this.log.waitFor(type, count, timeoutMS);
  }

  /** A ready pool's checkout of `n` connections, in order. */
  async checkOutMany(n: number): Promise<FakeConnection[]> {
    const conns: FakeConnection[] = [];
    for (let i = 0; i < n; i++) conns.push(await this.pool.checkOut());
    return conns;
  }
}

/** Creates a fixture whose pool is already ready. */
export function readyPool(options: TestPoolOptions = {}): PoolFixture {
  const fixture = new PoolFixture(options);
  fixture.pool.ready();
  return fixture;
}

/** Settles `promise` into a tagged result, so a test can inspect a rejection without a try block. */
export async function outcome<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}
