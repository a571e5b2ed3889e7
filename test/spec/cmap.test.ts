// CMAP spec tests: one test per file of
// connection-monitoring-and-pooling/tests/cmap-format ($MGO_SPECS_DIR or
// ../shared/specs). Unit files run against a fake ConnectFn. Integration
// files (runOn / failPoint) run real Connections, dialed through the
// driver's connector with the file's appName, against the scripted fake wire
// server, which emulates only the subset of mongod's failCommand fail point
// these files use (block, error or close the handshake of an appName).

import { test, type TestContext } from 'node:test';

import { createConnector } from '../../src/cluster/connector.js';
import type { Connection } from '../../src/connection/connection.js';
import type { PoolableConnection } from '../../src/pool/index.js';
import { FakeConnector, type FakeConnection } from '../fixtures/cmap-fake-connection.js';
import { loadCmapTests, runCmapTest, skipReason, type CmapEnvironment, type CmapTest } from '../fixtures/cmap-runner.js';
import { startFakeServer, type FailPoint, type FakeServer } from '../fixtures/fake-server.js';

const unitEnv: CmapEnvironment<FakeConnection> = {
  address: 'localhost:27017',
  connectFor: () => new FakeConnector().connect,
  exactEvents: true,
};

/** One fake server per integration file, so that no fail point or blocked handshake outlives its file. */
function fakeServerEnv(server: FakeServer): CmapEnvironment<Connection> {
  const target = { type: 'ipv4' as const, host: server.host, port: server.port, address: server.address };
  return {
    address: server.address,
    serverVersion: server.serverVersion,
    connectFor: (_test, appName) => createConnector(target, { connectTimeoutMS: 10_000, socketTimeoutMS: 0, appName }),
    exactEvents: true,
    enableFailPoint: async (failPoint) => {
      server.configureFailPoint(failPoint as unknown as FailPoint);
      return async () => server.configureFailPoint({ configureFailPoint: 'failCommand', mode: 'off' });
    },
    // SDAM "Application Errors": an error while establishing a connection
    // (here: a minPoolSize dial) marks the server Unknown and clears its pool.
    onBackgroundError: (pool, error) => pool.clear({ cause: error }),
  };
}

/** Runs the file unless `env` cannot serve it; false when skipped. */
async function run<C extends PoolableConnection>(spec: CmapTest, env: CmapEnvironment<C>, t: TestContext): Promise<boolean> {
  const reason = skipReason(spec, env);
  if (reason !== undefined) {
    t.skip(reason);
    return false;
  }
  await runCmapTest(spec, env);
  return true;
}

async function runFile(spec: CmapTest, t: TestContext): Promise<boolean> {
  if (spec.style !== 'integration') return run(spec, unitEnv, t);
  const server = await startFakeServer();
  try {
    return await run(spec, fakeServerEnv(server), t);
  } finally {
    await server.close();
  }
}

for (const file of loadCmapTests()) {
  test(file.name, { timeout: 30_000 }, async (t) => {
    await runFile(file.test, t);
  });
}
