// CMAP spec tests: one test per file of
// connection-monitoring-and-pooling/tests/cmap-format ($MGO_SPECS_DIR or
// ../shared/specs). Unit files run against a fake ConnectFn; integration
// files (runOn / failPoint) are skipped until a fake server can serve them.

import { test } from 'node:test';

import { FakeConnector } from '../helpers/cmap-fake-connection.js';
import { loadCmapTests, runCmapTest, skipReason, type CmapEnvironment } from '../helpers/cmap-runner.js';
import type { FakeConnection } from '../helpers/cmap-fake-connection.js';

const env: CmapEnvironment<FakeConnection> = {
  address: 'localhost:27017',
  connectFor: () => new FakeConnector().connect,
  exactEvents: true,
};

for (const file of loadCmapTests()) {
  test(file.name, { timeout: 30_000 }, async (t) => {
    const reason = skipReason(file.test, env);
    if (reason !== undefined) {
      t.skip(reason);
      return;
    }
    await runCmapTest(file.test, env);
  });
}
