// Unified test format spec files: every file with a schemaVersion under the
// spec root ($MGO_SPECS_DIR, default ../shared/specs), run by
// test/fixtures/unified against FerretDB behind the bridge (single,
// replicaset or sharded, whichever a test's runOnRequirements allow, started
// once per process). One describe per folder and file, one test per test
// case; what cannot run is a named skip. valid-fail files must be rejected:
// their tests pass when the runner throws. Failures the driver is known to
// cause are TODO (known-failures.ts), still counted as failed.
//
// MGO_UNIFIED_WORKERS          worker counts the whole suite also runs with, beside 0 (e.g. "2")
// MGO_UNIFIED_SUBSET_WORKERS   worker counts the subset also runs with (default "2"; "" for none)
// MGO_UNIFIED_SUBSET           a regular expression: the subset's files (default: retryable-writes but
//                              its handshakeError file, sessions, and retryable-reads' find, aggregate
//                              and distinct files; the rest of retryable-reads and the handshake files
//                              add ~100 s with workers 2, which npm test's budget does not have:
//                              MGO_UNIFIED_SUBSET='^(retryable-writes|retryable-reads|sessions)/' runs them)
// MGO_UNIFIED_FILTER           a regular expression: only files whose path matches
// MGO_UNIFIED_TOPOLOGIES       the order topologies are preferred in (default single,replicaset,sharded)
// MGO_UNIFIED_LANES            how many tests run side by side (default 2), each lane with its own
//                              FerretDB and bridges: most of the run is tests waiting for a server
//                              to be checked again after a fail point (500 ms, minHeartbeatFrequencyMS)
// MGO_UNIFIED_SUMMARY          where to write the per-folder counts as JSON
import { basename } from 'node:path';
import { after, describe, test } from 'node:test';
import { knownDeviation } from '../fixtures/unified/ferretdb.js';
import { knownDriverFailure } from '../fixtures/unified/known-failures.js';
import { runTest } from '../fixtures/unified/runner.js';
import type { TopologyName } from '../fixtures/unified/requirements.js';
import { UnifiedSkip } from '../fixtures/unified/skip.js';
import { unifiedFiles, type SpecFile } from '../fixtures/unified/spec-files.js';
import { Tally, writeSummaries, type Outcome } from '../fixtures/unified/summary.js';
import { Topologies } from '../fixtures/unified/topologies.js';

/** A test that hangs fails after this long, rather than the whole run. */
const TEST_TIMEOUT_MS = 60_000;

const SUBSET = new RegExp(
  process.env.MGO_UNIFIED_SUBSET ?? '^sessions/|^retryable-writes/(?!.*handshakeError)|^retryable-reads/tests/unified/(find|aggregate|distinct)\\.json$',
);

function counts(value: string | undefined, fallback: string): number[] {
  return [...new Set((value ?? fallback).split(',').filter((s) => s.trim() !== '').map(Number))];
}

const full = [0, ...counts(process.env.MGO_UNIFIED_WORKERS, '').filter((w) => w !== 0)];
const subset = counts(process.env.MGO_UNIFIED_SUBSET_WORKERS, '2').filter((w) => !full.includes(w));
const filter = process.env.MGO_UNIFIED_FILTER ? new RegExp(process.env.MGO_UNIFIED_FILTER) : undefined;
const order = process.env.MGO_UNIFIED_TOPOLOGIES?.split(',') as TopologyName[] | undefined;
const LANES = Math.max(1, Number(process.env.MGO_UNIFIED_LANES ?? 2));
const lanes = Array.from({ length: LANES }, () => new Topologies());

const files = unifiedFiles().filter((f) => !filter || filter.test(f.path));
const tallies: Tally[] = [];

after(async () => {
  await Promise.all(lanes.map((lane) => lane.close()));
  for (const tally of tallies) if (!tally.empty) console.log(tally.format());
  writeSummaries(tallies);
});

function isValidFail(file: SpecFile): boolean {
  return file.folder.endsWith('unified-test-format/tests/valid-fail');
}

async function outcomeOf(file: SpecFile, index: number, workers: number, topologies: Topologies): Promise<Outcome> {
  const testCase = file.file.tests[index]!;
  let topology: string;
  try {
    topology = await runTest(file.file, testCase, { workers, topologies, order });
  } catch (err) {
    if (err instanceof UnifiedSkip) return { kind: 'skipped', reason: err.reason };
    if (isValidFail(file)) return { kind: 'passed' };
    return failed(file, testCase.description, err instanceof Error ? (err.stack ?? err.message) : String(err));
  }
  if (isValidFail(file)) return failed(file, testCase.description, 'a valid-fail test ran without an error');
  return { kind: 'passed', topology };
}

/** A failure, or a named skip when it is a known FerretDB deviation (ferretdb.ts). */
function failed(file: SpecFile, description: string, message: string): Outcome {
  const deviation = knownDeviation(file.path, description);
  return deviation ? { kind: 'skipped', reason: deviation } : { kind: 'failed', message };
}

function suite(workers: number, selected: readonly SpecFile[]): void {
  const tally = new Tally(workers);
  tallies.push(tally);
  describe(`unified spec tests, workers ${workers}`, { concurrency: LANES }, () => {
    lanes.forEach((topologies, lane) => {
      // Files dealt out in turn, so that each lane gets its share of every folder.
      const mine = selected.filter((_, i) => i % LANES === lane);
      // One test at a time within a lane (suites inherit their parent's concurrency).
      describe(`lane ${lane + 1} of ${LANES}`, { concurrency: 1 }, () => {
        for (const folder of [...new Set(mine.map((f) => f.folder))]) {
          describe(folder, () => {
            for (const file of mine.filter((f) => f.folder === folder)) {
              describe(basename(file.path), () => {
                const tests = Array.isArray(file.file.tests) ? file.file.tests : [];
                tests.forEach((testCase, index) => {
                  test(String(testCase.description), { timeout: TEST_TIMEOUT_MS }, async (t) => {
                    const outcome = await outcomeOf(file, index, workers, topologies);
                    tally.record(folder, file.path, String(testCase.description), outcome);
                    if (outcome.kind === 'skipped') t.skip(outcome.reason);
                    const known = knownDriverFailure(file.path, String(testCase.description));
                    if (known && outcome.kind === 'passed') throw new Error(`listed in known-failures.ts (${known}) but passed: take it off the list`);
                    if (known && outcome.kind === 'failed') t.todo(`driver: ${known}`);
                    if (outcome.kind === 'failed') throw new Error(outcome.message);
                  });
                });
              });
            }
          });
        }
      });
    });
  });
}

for (const workers of full) suite(workers, files);
for (const workers of subset) suite(workers, files.filter((f) => SUBSET.test(f.path)));
