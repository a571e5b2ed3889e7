// The open -> closing -> closed state and in-flight tracking shared by
// LocalRouter, WorkerRouter and WorkerRuntime.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lifecycle } from '../../../src/util/lifecycle.js';

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const closed = () => new Error('closed');

describe('Lifecycle', () => {
  test('close() refuses new operations at once, waits for those in flight (and what they start), then finishes', async () => {
    const lifecycle = new Lifecycle(closed);
    const first = deferred<number>();
    const second = deferred();
    const running = lifecycle.run(() => first.promise);
    const steps: string[] = [];
    const closing = lifecycle.close(async () => {
      steps.push('finish');
    });
    assert.equal(lifecycle.state, 'closing');
    await assert.rejects(lifecycle.run(async () => 1), /closed/);
    // Started by an operation in flight (a worker's hand-back): still waited for.
    void lifecycle.track(second.promise);
    first.resolve(7);
    assert.equal(await running, 7);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(steps, []);
    second.resolve();
    await closing;
    assert.deepEqual(steps, ['finish']);
    assert.equal(lifecycle.state, 'closed');
  });

  test('close() and destroy() are idempotent: every caller gets the same promise; destroy() after close() does nothing', async () => {
    const lifecycle = new Lifecycle(closed);
    let finished = 0;
    let aborted = 0;
    const a = lifecycle.close(async () => void finished++);
    const b = lifecycle.close(async () => void finished++);
    assert.equal(a, b);
    await a;
    await lifecycle.destroy(async () => void aborted++);
    assert.deepEqual([finished, aborted], [1, 0]);
  });

  test('destroy() aborts while a close() drains; close() then answers with the destroy', async () => {
    const lifecycle = new Lifecycle(closed);
    const hanging = deferred();
    void lifecycle.run(() => hanging.promise).catch(() => {});
    let finished = 0;
    let aborted = 0;
    const closing = lifecycle.close(async () => void finished++);
    const destroying = lifecycle.destroy(async () => {
      aborted++;
      hanging.reject(new Error('aborted'));
    });
    assert.equal(lifecycle.state, 'closed');
    assert.equal(lifecycle.destroy(async () => void aborted++), destroying);
    assert.equal(lifecycle.close(async () => void finished++), destroying);
    await destroying;
    await closing;
    assert.deepEqual([finished, aborted], [1, 1]);
  });

  test('an operation that fails is forgotten like one that succeeds', async () => {
    const lifecycle = new Lifecycle(closed);
    await assert.rejects(lifecycle.run(async () => Promise.reject(new Error('boom'))), /boom/);
    await lifecycle.drained();
  });
});
