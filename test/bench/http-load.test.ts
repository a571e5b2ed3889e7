// The HTTP scenario's arithmetic: the open-loop rate taken from the
// official driver's closed-loop throughput, and the percentiles and
// summaries its latencies and repetitions go through (bench/lib/stats.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openLoopRate } from '../../bench/lib/http-load.js';
import { percentile, summarize } from '../../bench/lib/stats.js';
import { METRICS } from '../../bench/scenarios/http.js';

describe('openLoopRate', () => {
  test('0.8 of the official closed-loop req/s by default, in whole requests', () => {
    assert.equal(openLoopRate(1000), 800);
    assert.equal(openLoopRate(561), 449);
    assert.equal(openLoopRate(1000, 0.5), 500);
  });

  test('at least one request per second', () => {
    assert.equal(openLoopRate(0.4), 1);
  });

  test('NaN when the official driver measured nothing: no open-loop run', () => {
    assert.ok(Number.isNaN(openLoopRate(0)));
    assert.ok(Number.isNaN(openLoopRate(Number.NaN)));
    assert.ok(Number.isNaN(openLoopRate(-5)));
  });
});

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 .. 1, unsorted

  test('p50, p99 and p100 of 1..100', () => {
    assert.equal(percentile(hundred, 50), 50);
    assert.equal(percentile(hundred, 99), 99);
    assert.equal(percentile(hundred, 100), 100);
  });

  test('p99 of fewer than 100 values is the largest; p0 the smallest', () => {
    assert.equal(percentile([3, 1, 2], 99), 3);
    assert.equal(percentile([3, 1, 2], 0), 1);
  });

  test('p99.9 of 1,000 values: the 999th', () => {
    assert.equal(percentile(Array.from({ length: 1000 }, (_, i) => i + 1), 99.9), 999);
  });

  test('NaN without values', () => {
    assert.ok(Number.isNaN(percentile([], 99)));
  });
});

describe('summarize', () => {
  test('median of an odd and an even count, min and max, NaN left out', () => {
    assert.deepEqual(summarize([5, 1, 3]), { median: 3, min: 1, max: 5 });
    assert.deepEqual(summarize([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4 });
    assert.deepEqual(summarize([2, Number.NaN, 4]), { median: 3, min: 2, max: 4 });
  });
});

describe('the errors metric', () => {
  test("each failed /page counts once: the service's 500s are the non-2xx responses the load generator saw", () => {
    const errors = METRICS.find((m) => m.metric === 'errors')!;
    // Three /page requests answered 500 (seen by both sides), one /health probe failed.
    const run = { load: { errors: 3 }, health: { failed: 1, p99MS: 1 }, service: { errors: 3 }, offered: Number.NaN };
    assert.equal(errors.pick(run as never), 4);
  });
});
