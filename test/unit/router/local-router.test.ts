// LocalRouter without a server to talk to (the rest of its behaviour is
// tested against the real test server: test/integration/local-router.test.ts).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerSelectionError } from '../../../src/errors.js';
import { PRIMARY } from '../../../src/read-preference.js';
import { LocalRouter } from '../../../src/router/local-router.js';
import { resolveOptions } from '../../../src/uri/resolve.js';
import { withTimeout } from '../../fixtures/wait.js';

const routers: LocalRouter[] = [];
after(async () => {
  await Promise.all(routers.map((r) => r.destroy()));
});

test('no server: selection fails after serverSelectionTimeoutMS with a clear error', async () => {
  const r = await LocalRouter.create(await resolveOptions('mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=200'));
  routers.push(r);
  const started = performance.now();
  await withTimeout(
    assert.rejects(r.run({ db: 'admin', command: { ping: 1 }, readPreference: PRIMARY }), (err: unknown) => {
      assert.ok(err instanceof ServerSelectionError);
      assert.equal(err.code, 'ERR_SERVER_SELECTION');
      assert.match(err.message, /serverSelectionTimeoutMS \(300 ms\).*127\.0\.0\.1:1 Unknown/);
      return true;
    }),
    10_000,
    'server selection failing',
  );
  assert.ok(performance.now() - started >= 300, 'not before serverSelectionTimeoutMS');
});
