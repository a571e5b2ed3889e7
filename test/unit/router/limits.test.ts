// Router.limits() over a server that reports smaller limits than the
// defaults in its hello reply (the defaults before any reply:
// test/unit/cluster/server-description.test.ts), for both routers (LocalRouter from its
// cluster's descriptions, WorkerRouter from the process's monitor), and
// what a session then does with them: writes split and sized by the
// server's limits, not by the spec defaults.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRouter } from '../../../src/router/local-router.js';
import type { Router } from '../../../src/router/router.js';
import { openSession } from '../../../src/session/session.js';
import { resolveOptions } from '../../../src/uri/resolve.js';
import { WorkerRouter } from '../../../src/worker/worker-router.js';
import { defaultHello, startFakeServer, type FakeServer } from '../../fixtures/fake-server.js';

const SMALL = { maxWriteBatchSize: 3, maxBsonObjectSize: 4_096, maxMessageSizeBytes: 1_000_000 };

let server: FakeServer;
before(async () => {
  server = await startFakeServer(
    (cmd) => {
      if (cmd.name === 'insert') cmd.connection.reply(cmd, { ok: 1, n: cmd.sequences.documents?.length ?? 0 });
    },
    { hello: { ...defaultHello, ...SMALL } },
  );
});
after(async () => {
  await server?.close();
});

const routers: Record<string, (uri: string) => Promise<Router>> = {
  'workers: 0 (LocalRouter)': async (uri) => LocalRouter.create(await resolveOptions(uri)),
  'workers: 1 (WorkerRouter)': async (uri) => WorkerRouter.create(await resolveOptions(uri, { workers: 1 })),
};

for (const [name, create] of Object.entries(routers)) {
  describe(name, () => {
    test("limits() are the server's once it answered; inserts are split and refused by them", { timeout: 30_000 }, async () => {
      const router = await create(`mongodb://${server.address}/?directConnection=true&serverSelectionTimeoutMS=5000`);
      try {
        const session = openSession(router, { database: 'db' });
        await session.ping();
        assert.deepEqual(router.limits(), SMALL);
        const received = server.received.length;
        await session.db('db').c('c').insert(...Array.from({ length: 7 }, (_, i) => ({ _id: i })));
        const inserts = server.received.slice(received).filter((c) => c.name === 'insert');
        assert.deepEqual(
          inserts.map((c) => c.sequences.documents!.map((d) => d._id)),
          [[0, 1, 2], [3, 4, 5], [6]],
        );
        await assert.rejects(session.db('db').c('c').insert({ pad: 'x'.repeat(5_000) }), { code: 'ERR_DOCUMENT_TOO_LARGE' });
        assert.equal(server.received.slice(received).filter((c) => c.name === 'insert').length, 3, 'the large document was not sent');
        await session.close();
      } finally {
        await router.destroy();
      }
    });
  });
}
