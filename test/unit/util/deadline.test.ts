// deadline(): the one time limit on promises that cannot be cancelled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deadline } from '../../../src/util/deadline.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the value when it comes in time; no limit for 0', async () => {
  assert.equal(await deadline(Promise.resolve(1), 1_000, () => new Error('late')), 1);
  assert.equal(await deadline(sleep(20).then(() => 2), 0, () => new Error('late')), 2);
  await assert.rejects(deadline(Promise.reject(new Error('own')), 1_000, () => new Error('late')), /own/);
});

test("onTimeout's error once the time is up; a value that comes later goes to onLate", async () => {
  const late: number[] = [];
  await assert.rejects(
    deadline<number>(sleep(50).then(() => 3), 10, () => new Error('late'), (value) => late.push(value)),
    /late/,
  );
  await sleep(80);
  assert.deepEqual(late, [3]);
  // A rejection after the time is up is nobody's: it is dropped, not unhandled.
  await assert.rejects(deadline(sleep(30).then(() => Promise.reject(new Error('after'))), 5, () => new Error('late')), /late/);
  await sleep(50);
});
