// dialWithTimeout() and parseURL() against the test server, workers 0 and
// 2: mgo's URL keys are honoured, DialInfo.timeoutMS reaches the session,
// and a key the driver does not use is reported through
// process.emitWarning once per dial.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MgoError, OPTION_WARNING_CODE, dial, dialWithInfo, dialWithTimeout, parseURL } from '../../src/index.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { waitFor } from '../fixtures/wait.js';

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
});

/** Runs `body`, collecting the MGO_CONNECTION_OPTION warnings it emits (delivered a tick after emitWarning). */
async function warningsOf(body: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (warning: Error & { code?: string }) => {
    if (warning.code === OPTION_WARNING_CODE) seen.push(warning.message);
  };
  process.on('warning', listener);
  try {
    await body();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

describe('dialing with URLs as mgo wrote them', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: an unknown URL key is a warning, once per dial, and the dial goes on`, { timeout: 30_000 }, async () => {
      const warnings = await warningsOf(async () => {
        const session = await dial(`${server.uri}?maxPoolSize=5&safe=true`, { workers });
        try {
          assert.equal((await session.run({ ping: 1 })).ok, 1);
        } finally {
          await session.close();
        }
      });
      assert.deepEqual(warnings, ["dial: unknown option 'safe' ignored"]);
    });

    test(`workers ${workers}: dialWithTimeout() honours connect=direct and poolLimit`, { timeout: 30_000 }, async () => {
      const url = `${server.uri}?connect=direct&poolLimit=3`;
      const session = await dialWithTimeout(url, 4_000, { workers });
      try {
        assert.equal((await session.run({ ping: 1 })).ok, 1);
        await waitFor('the pool stats', () => session.stats().some((row) => row.address === server.address && row.maxOpen === 3), 10_000);
      } finally {
        await session.close();
      }
    });

    test(`workers ${workers}: dialWithTimeout()'s timeout bounds server selection`, { timeout: 30_000 }, async () => {
      // Port 1 on loopback: nothing listens, so no server is ever selected.
      await assert.rejects(dialWithTimeout('mongodb://127.0.0.1:1/?connect=direct', 300, { workers }), (error: unknown) => {
        assert.ok(error instanceof MgoError, String(error));
        assert.match(error.message, /serverSelectionTimeoutMS \(300 ms\)/);
        return true;
      });
    });

    test(`workers ${workers}: dialWithInfo(parseURL(url)) dials as dial(url) would`, { timeout: 30_000 }, async () => {
      const info = parseURL(`${server.uri}?appName=mgo-app&maxPoolSize=4`);
      assert.equal(info.poolLimit, 4);
      const session = await dialWithInfo({ ...info, options: { ...info.options, workers } });
      try {
        assert.equal((await session.run({ ping: 1 })).ok, 1);
      } finally {
        await session.close();
      }
    });
  }

  test('dialWithTimeout() refuses a timeout below 1 ms, naming the method', async () => {
    await assert.rejects(dialWithTimeout(server.uri, 0), (error: unknown) => error instanceof MgoError && error.code === 'ERR_INVALID_ARGUMENT' && /dialWithTimeout/.test(error.message));
  });
});
