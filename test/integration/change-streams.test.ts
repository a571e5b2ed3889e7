// Change streams against the FerretDB test server, which has none (1.24):
// watch() on a collection, a database and the deployment must reject
// promptly with the server's refusal as a ServerError, not hang and not
// fail with something of the driver's own. What the driver sends and how
// it resumes is tested over a scripted server:
// test/unit/session/change-stream.test.ts. Workers 0 and 2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dial, ServerError } from '../../src/index.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { withTimeout } from '../fixtures/wait.js';

const DB = `mgo_changes_${process.pid}`;
let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.stop();
});

describe('change streams on FerretDB 1.24 (which has none)', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: watch() rejects with the server's refusal, and the session works on`, { timeout: 60_000 }, async () => {
      const session = await dial(server.uri, { workers });
      try {
        const c = session.db(DB).c('c');
        await c.insert({ _id: 1 });
        // On a collection: NotImplemented (238) naming the stage. On a database or the
        // deployment (aggregate: 1): FerretDB 1.24 refuses the command's form itself (FailedToParse, 9).
        const refusals: [Promise<unknown>, number, RegExp][] = [
          [c.watch(), 238, /\$changeStream.*not implemented/],
          [session.db(DB).watch(), 9, /'aggregate' field/],
          [session.watch([], { fullDocument: 'updateLookup' }), 9, /'aggregate' field/],
        ];
        for (const [watching, code, message] of refusals) {
          const err: unknown = await withTimeout(
            watching.then(
              () => undefined,
              (e: unknown) => e,
            ),
            20_000,
            'watch() on FerretDB',
          );
          assert.ok(err instanceof ServerError, `a ServerError, not ${String(err)}`);
          assert.equal(err.serverCode, code, err.message);
          assert.match(err.message, message);
        }
        assert.equal(await c.count(), 1);
      } finally {
        await session.db(DB).dropDatabase().catch(() => {});
        await session.close();
      }
    });
  }
});
