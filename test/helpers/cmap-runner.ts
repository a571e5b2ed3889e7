// Runner for the CMAP spec tests (mongodb/specifications,
// source/connection-monitoring-and-pooling/tests/cmap-format/README.md).
//
// The test files are read at test time from the shared specs folder and
// never copied into the project. The runner is independent of what serves
// the connections: the unit files run against a fake ConnectFn, the
// integration files against real connections to a server that can install
// their fail point (an environment with `enableFailPoint`).
//
// Spec "threads" are async tasks: each runs its operations in order on its
// own promise chain, so a checkOut blocked in one thread does not block the
// main thread, exactly the interleaving the files describe.

import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Pool, type ConnectFn, type PoolableConnection, type PoolEvent, type PoolEventType, type PoolOptions } from '../../src/pool/index.js';
import { EventLog } from './cmap-event-log.js';

export interface CmapOperation {
  name: string;
  thread?: string;
  target?: string;
  ms?: number;
  event?: string;
  count?: number;
  timeout?: number;
  label?: string;
  connection?: string;
  interruptInUseConnections?: boolean;
}

export interface CmapTest {
  version: number;
  style: 'unit' | 'integration';
  description: string;
  poolOptions?: Record<string, unknown>;
  operations: CmapOperation[];
  error?: Record<string, unknown>;
  events?: Record<string, unknown>[];
  ignore?: string[];
  runOn?: { minServerVersion?: string; maxServerVersion?: string }[];
  failPoint?: Record<string, unknown>;
}

export interface CmapTestFile {
  /** File name without extension; the test's name. */
  name: string;
  path: string;
  test: CmapTest;
}

/** What serves the pool's connections during a test. */
export interface CmapEnvironment<C extends PoolableConnection = PoolableConnection> {
  address: string;
  /** A fresh ConnectFn for one test; `appName` comes from poolOptions (integration files match their fail point on it). */
  connectFor(test: CmapTest, appName: string | undefined): ConnectFn<C>;
  /** Server version, for runOn; absent when there is no real server. */
  serverVersion?: string;
  /**
   * Also require that no events follow the expected ones. The spec only asks
   * for the expected events as a prefix; the stricter check (the Node
   * driver's runner makes it too) catches duplicated or spurious events.
   */
  exactEvents?: boolean;
  /** Runs the file's configureFailPoint command; resolves with the function that turns it off. */
  enableFailPoint?(failPoint: Record<string, unknown>): Promise<() => Promise<void>>;
  /**
   * The SDAM layer's reaction to a failed background (minPoolSize) dial, which
   * CMAP hands to "the SDAM machinery" (e.g. clear the pool); none by default.
   */
  onBackgroundError?(pool: Pool<C>, error: unknown): void;
}

/** waitForEvent without a timeout blocks in the spec; bounded here so a failure cannot hang the suite. */
const DEFAULT_EVENT_WAIT_MS = 10_000;
const TEARDOWN_WAIT_MS = 5_000;

/** cmap-format folder: $MGO_SPECS_DIR (the specs folder) or ../shared/specs from the project root. */
export function cmapSpecDir(): string {
  const specs = process.env.MGO_SPECS_DIR ?? resolve(import.meta.dirname, '../../../shared/specs');
  return join(specs, 'connection-monitoring-and-pooling', 'tests', 'cmap-format');
}

export function loadCmapTests(dir = cmapSpecDir()): CmapTestFile[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const path = join(dir, file);
      return { name: basename(file, '.json'), path, test: JSON.parse(readFileSync(path, 'utf8')) as CmapTest };
    });
}

/** Why `test` cannot run in `env`, or undefined if it can. */
export function skipReason<C extends PoolableConnection>(test: CmapTest, env: CmapEnvironment<C>): string | undefined {
  const needs: string[] = [];
  if (test.runOn !== undefined && env.serverVersion === undefined) {
    const versions = test.runOn.map((r) => `>= ${r.minServerVersion ?? 'any'}${r.maxServerVersion ? ` <= ${r.maxServerVersion}` : ''}`);
    needs.push(`a MongoDB server ${versions.join(' or ')}`);
  } else if (test.runOn !== undefined && !test.runOn.some((r) => versionInRange(env.serverVersion!, r))) {
    return `server ${env.serverVersion} is outside runOn ${JSON.stringify(test.runOn)}`;
  }
  if (test.failPoint !== undefined && env.enableFailPoint === undefined) {
    const data = (test.failPoint.data ?? {}) as Record<string, unknown>;
    const what = data.blockConnection
      ? `blockConnection ${String(data.blockTimeMS)} ms`
      : data.errorCode !== undefined
        ? `errorCode ${String(data.errorCode)}`
        : 'an injected failure';
    const commands = Array.isArray(data.failCommands) ? data.failCommands.join('/') : 'commands';
    needs.push(`the ${String(test.failPoint.configureFailPoint)} fail point (${what} on ${commands})`);
  }
  return needs.length === 0 ? undefined : `needs ${needs.join(' and ')}; no mongod here (a scripted fake server can serve it)`;
}

function versionInRange(version: string, range: { minServerVersion?: string; maxServerVersion?: string }): boolean {
  const parse = (v: string): number[] => v.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const compare = (a: string, b: string): number => {
    const [x, y] = [parse(a), parse(b)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      const d = (x[i] ?? 0) - (y[i] ?? 0);
      if (d !== 0) return d;
    }
    return 0;
  };
  return (
    (range.minServerVersion === undefined || compare(version, range.minServerVersion) >= 0) &&
    (range.maxServerVersion === undefined || compare(version, range.maxServerVersion) <= 0)
  );
}

// ------------------------------------------------------------------ matching

/**
 * The spec's MATCH: `expected` is a subset of `actual`; 42 and "42" match any
 * value that exists. Spec field `duration` is our `durationMS`.
 */
export function assertMatches(actual: unknown, expected: unknown, path = 'value'): void {
  if (expected === 42 || expected === '42') {
    assert.ok(actual !== undefined && actual !== null, `${path}: expected a value, got ${String(actual)}`);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array, got ${JSON.stringify(actual)}`);
    expected.forEach((value, i) => assertMatches(actual[i], value, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    assert.ok(
      actual !== null && typeof actual === 'object' && !Array.isArray(actual),
      `${path}: expected an object, got ${JSON.stringify(actual)}`,
    );
    for (const [key, value] of Object.entries(expected)) {
      const actualKey = key === 'duration' ? 'durationMS' : key;
      assertMatches((actual as Record<string, unknown>)[actualKey], value, `${path}.${actualKey}`);
    }
    return;
  }
  assert.equal(actual, expected, `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** Spec error type names to ours (the spec's WaitQueueTimeoutError is our PoolTimeoutError). */
const ERROR_NAMES: Record<string, string> = { WaitQueueTimeoutError: 'PoolTimeoutError' };

function assertErrorMatches(actual: unknown, expected: Record<string, unknown>): void {
  assert.ok(actual instanceof Error, `expected the main thread to fail with ${String(expected.type)}, but it did not fail`);
  const { type, message, ...rest } = expected;
  const name = ERROR_NAMES[String(type)] ?? String(type);
  assert.equal(actual.name, name, `expected ${name}, got ${actual.name}: ${actual.message}`);
  if (typeof message === 'string') {
    // Our messages start with the spec's text and go on with the address and
    // the pool's state (limit, open, idle, waiters, time waited).
    assert.ok(actual.message.startsWith(message), `message ${JSON.stringify(actual.message)} should start with ${JSON.stringify(message)}`);
  }
  assertMatches(actual, rest, 'error');
}

// ------------------------------------------------------------------ running

/** A spec "thread": operations run one after another; the first error stops it and is kept for waitForThread. */
class TestThread {
  #chain: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined = undefined;

  schedule(operation: () => Promise<void> | void): void {
    this.#chain = this.#chain.then(async () => {
      if (this.#failure !== undefined) return;
      try {
        await operation();
      } catch (error) {
        this.#failure = { error };
      }
    });
  }

  async join(): Promise<void> {
    await this.#chain;
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  /** Settles whatever happens, for teardown. */
  settled(): Promise<void> {
    return this.#chain;
  }
}

const POOL_OPTION_NAMES = new Set(['maxPoolSize', 'minPoolSize', 'maxIdleTimeMS', 'maxConnecting', 'waitQueueTimeoutMS']);

function poolOptionsFor<C extends PoolableConnection>(
  test: CmapTest,
  env: CmapEnvironment<C>,
  monitor: (event: PoolEvent) => void,
): PoolOptions<C> {
  const { backgroundThreadIntervalMS, appName, ...rest } = test.poolOptions ?? {};
  const options: PoolOptions<C> = {
    address: env.address,
    connect: env.connectFor(test, appName as string | undefined),
    monitor,
  };
  // Runner spec: negative = never run the background task, positive = interval.
  if (backgroundThreadIntervalMS !== undefined) options.maintenanceIntervalMS = backgroundThreadIntervalMS as number;
  for (const [name, value] of Object.entries(rest)) {
    // Fail on an option we do not know, so a new spec option is noticed, not ignored.
    if (!POOL_OPTION_NAMES.has(name)) throw new Error(`unknown CMAP pool option ${name}`);
    (options as unknown as Record<string, unknown>)[name] = value;
  }
  return options;
}

function withTimeout(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs one CMAP test file; throws an AssertionError when the pool does not behave as the file says. */
export async function runCmapTest<C extends PoolableConnection>(test: CmapTest, env: CmapEnvironment<C>): Promise<void> {
  const log = new EventLog();
  const disableFailPoint = test.failPoint !== undefined ? await env.enableFailPoint!(test.failPoint) : undefined;
  const pool: Pool<C> = new Pool<C>({
    ...poolOptionsFor(test, env, log.record),
    // Called only from a dial that settles after the constructor returned.
    ...(env.onBackgroundError && { onBackgroundError: (error: unknown) => env.onBackgroundError!(pool, error) }),
  });
  const threads = new Map<string, TestThread>();
  const connections = new Map<string, C>();
  const thread = (name: string): TestThread => {
    let t = threads.get(name);
    if (t === undefined) threads.set(name, (t = new TestThread()));
    return t;
  };

  const execute = async (op: CmapOperation): Promise<void> => {
    switch (op.name) {
      case 'start':
        thread(op.target!);
        return;
      case 'wait':
        await sleep(op.ms!);
        return;
      case 'waitForThread': {
        const target = threads.get(op.target!);
        if (target === undefined) throw new Error(`waitForThread: no thread ${op.target}`);
        await target.join();
        return;
      }
      case 'waitForEvent':
        // Spec: counts from the start of the test and ignores the `ignore` list.
        await log.waitFor(op.event as PoolEventType, op.count!, op.timeout ?? DEFAULT_EVENT_WAIT_MS);
        return;
      case 'checkOut': {
        const conn = await pool.checkOut();
        if (op.label !== undefined) connections.set(op.label, conn);
        return;
      }
      case 'checkIn': {
        const conn = connections.get(op.connection!);
        if (conn === undefined) throw new Error(`checkIn: no connection labelled ${op.connection}`);
        connections.delete(op.connection!);
        pool.checkIn(conn);
        return;
      }
      case 'clear':
        pool.clear({ interruptInUseConnections: op.interruptInUseConnections });
        return;
      case 'close':
        // CMAP close() returns at once; our promise (all connections closed) is not awaited.
        void pool.close();
        return;
      case 'ready':
        pool.ready();
        return;
      default:
        throw new Error(`unknown CMAP operation ${op.name}`);
    }
  };

  let mainFailure: { error: unknown } | undefined;
  let actualEvents: PoolEvent[];
  try {
    for (const op of test.operations) {
      if (op.thread !== undefined) {
        thread(op.thread).schedule(() => execute(op));
        continue;
      }
      try {
        await execute(op);
      } catch (error) {
        mainFailure = { error };
        break;
      }
    }
    // Events after the operations (teardown) are not part of the test.
    const ignore = new Set(test.ignore ?? []);
    actualEvents = log.events.filter((e) => !ignore.has(e.type));
  } finally {
    await withTimeout(pool.destroy(), TEARDOWN_WAIT_MS);
    await withTimeout(Promise.all([...threads.values()].map((t) => t.settled())), TEARDOWN_WAIT_MS);
    await disableFailPoint?.();
  }

  if (test.error !== undefined) {
    assertErrorMatches(mainFailure?.error, test.error);
  } else if (mainFailure !== undefined) {
    throw mainFailure.error;
  }

  const expectedEvents = test.events ?? [];
  const listing = (): string => actualEvents.map((e) => JSON.stringify(e)).join('\n  ');
  if (env.exactEvents === true) {
    assert.equal(actualEvents.length, expectedEvents.length, `expected ${expectedEvents.length} events, got:\n  ${listing()}`);
  }
  expectedEvents.forEach((expected, i) => {
    const actual = actualEvents[i];
    assert.ok(actual !== undefined, `event ${i} (${String(expected.type)}) missing; got:\n  ${listing()}`);
    try {
      assertMatches(actual, expected, `events[${i}]`);
    } catch (error) {
      assert.fail(`${(error as Error).message}\nactual events:\n  ${listing()}`);
    }
  });
}
