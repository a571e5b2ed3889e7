// deadline(): the one time limit on promises that cannot be cancelled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deadline } from '../../../src/util/deadline.js';
import { withTimeout } from '../../fixtures/wait.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the value when it comes in time; no limit for 0', async () => {
  assert.equal(await deadline(Promise.resolve(1), 1_000, () => new Error('late')), 1);
  assert.equal(await deadline(sleep(20).then(() => 2), 0, () => new Error('late')), 2);
  await assert.rejects(deadline(Promise.reject(new Error('own')), 1_000, () => new Error('late')), /own/);
});

test("onTimeout's error once the time is up; a value that comes later goes to onLate", async () => {
  let onLate!: (value: number) => void;
  const late = new Promise<number>((resolve) => (onLate = resolve));
  await assert.rejects(deadline<number>(sleep(50).then(() => 3), 10, () => new Error('late'), onLate), /late/);
  assert.equal(await withTimeout(late, 10_000, 'the late value'), 3);
  // A rejection after the time is up is nobody's: it is dropped, not unhandled
  // (node:test fails the file on an unhandled rejection; it is looked for one
  // turn after the rejection, while this test still runs).
  const settled = sleep(30);
  await assert.rejects(deadline(settled.then(() => Promise.reject(new Error('after'))), 5, () => new Error('late')), /late/);
  await settled;
  await new Promise((resolve) => setImmediate(resolve));
});
