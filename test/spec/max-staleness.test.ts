// Max staleness spec tests (max-staleness/tests, README "Test Format and
// Use"): a topology with lastUpdateTime and lastWrite per server, a read
// preference with maxStalenessSeconds, and either `error: true` (selection
// must reject the read preference) or the suitable and in-window servers.
// heartbeatFrequencyMS comes from the file, else the default 10000 ms.
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SpecTally, checkSelectionCase, jsonFilesBelow, readSpecFile, specsDir, type SelectionCase } from '../fixtures/sdam-spec.js';

const dir = join(specsDir, 'max-staleness', 'tests');
const tally = new SpecTally('max-staleness');

for (const path of jsonFilesBelow(dir)) {
  describe(path, () => {
    test(path.replace(/\.json$/, ''), () => {
      const file = readSpecFile<SelectionCase & { heartbeatFrequencyMS?: number }>(join(dir, path));
      checkSelectionCase(file, { localThresholdMS: 15, heartbeatFrequencyMS: file.heartbeatFrequencyMS ?? 10_000 });
      tally.passed++;
    });
  });
}

after(() => console.log(tally.summary()));
