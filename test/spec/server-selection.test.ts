// Server selection spec tests (server-selection/tests, README "Test Format
// and Use"):
// - server_selection/<TopologyType>/{read,write}/*.json: suitable_servers
//   (suitableServers) and in_latency_window (selectServers), with
//   deprioritized_servers where given;
// - rtt/*.json: the moving average of round trip times (rtt.ts);
// - in_window/*.json: operationCount-based choice within the latency window
//   (pickServer), repeated `iterations` times with a seeded random source so
//   the frequencies are reproducible;
// - logging/*.json: unified-format files, skipped (see below).
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { nextAverageRtt } from '../../src/cluster/rtt.js';
import { pickServer, selectServers } from '../../src/cluster/server-selection.js';
import {
  SpecTally,
  checkSelectionCase,
  jsonFilesBelow,
  readSpecFile,
  specsDir,
  topologyFromSpec,
  type SelectionCase,
  type SpecServer,
} from '../fixtures/sdam-spec.js';

const dir = join(specsDir, 'server-selection', 'tests');
const tally = new SpecTally('server-selection');
/** Test plan: "tests use the default localThresholdMS of 15 ms". */
const OPTIONS = { localThresholdMS: 15, heartbeatFrequencyMS: 10_000 };

const LOGGING_SKIP =
  'logging/ files use the unified test format (test/spec/unified.test.ts runs them) and check server selection log messages of a live client; this runner tests the pure selection functions, which log nothing';

interface RttFile {
  avg_rtt_ms: number | 'NULL';
  new_rtt_ms: number;
  new_avg_rtt: number;
}

interface InWindowFile {
  description: string;
  topology_description: { type: string; servers: SpecServer[] };
  mocked_topology_state: { address: string; operation_count: number }[];
  iterations: number;
  outcome: { tolerance: number; expected_frequencies: Record<string, number> };
}

function runRtt(file: RttFile): void {
  const previous = file.avg_rtt_ms === 'NULL' ? null : file.avg_rtt_ms;
  const average = nextAverageRtt(previous, file.new_rtt_ms);
  assert.ok(Math.abs(average - file.new_avg_rtt) < 1e-9, `average ${average}, expected ${file.new_avg_rtt}`);
}

/** mulberry32: a small seeded PRNG, so that the frequency checks are deterministic. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function runInWindow(file: InWindowFile): void {
  const td = topologyFromSpec(file.topology_description);
  const counts = new Map(file.mocked_topology_state.map((s) => [s.address, s.operation_count]));
  // README: select for a read with a "nearest" read preference.
  const window = selectServers(td, { readPreference: { mode: 'nearest' } }, OPTIONS);
  const random = seededRandom(0x5eed);
  const picked = new Map<string, number>();
  for (let i = 0; i < file.iterations; i++) {
    const sd = pickServer(window, (s) => counts.get(s.address) ?? 0, random);
    assert.ok(sd, 'a server is picked');
    picked.set(sd.address, (picked.get(sd.address) ?? 0) + 1);
  }
  for (const [address, expected] of Object.entries(file.outcome.expected_frequencies)) {
    const observed = (picked.get(address) ?? 0) / file.iterations;
    // README: frequencies of exactly 0 or 1 must be met exactly.
    if (expected === 0 || expected === 1) assert.equal(observed, expected, `${address} frequency`);
    else assert.ok(Math.abs(observed - expected) <= file.outcome.tolerance, `${address}: frequency ${observed}, expected ${expected} ± ${file.outcome.tolerance}`);
  }
}

for (const path of jsonFilesBelow(dir)) {
  const folder = path.split('/')[0]!;
  describe(path, () => {
    test(path.replace(/\.json$/, ''), (t) => {
      if (folder === 'logging') {
        tally.skip(LOGGING_SKIP);
        t.skip(LOGGING_SKIP);
        return;
      }
      const file = readSpecFile(join(dir, path));
      if (folder === 'rtt') runRtt(file as unknown as RttFile);
      else if (folder === 'in_window') runInWindow(file as unknown as InWindowFile);
      else if (folder === 'server_selection') checkSelectionCase(file as unknown as SelectionCase, OPTIONS);
      else throw new Error(`no runner for ${folder}/`);
      tally.passed++;
    });
  });
}

after(() => console.log(tally.summary()));
