// The packed package in a fresh CommonJS app and a fresh ES module app: the
// tarball of `npm run build` + `npm pack`, installed offline (see
// test/fixtures/package-app.ts), and a script in each that loads it the
// app's way (require() through the exports' `require` condition, which
// Node >= 20.19 serves with require(esm); import) and inserts and finds a
// document on the test server with workers 0 and 2, whose worker threads run
// dist/workers/worker.js from the installed package. The apps live in the
// OS's temporary folder, where no node_modules of the project can be reached.
// What fails it (each tried once): exports without a require condition
// (ERR_PACKAGE_PATH_NOT_EXPORTED), a top-level await anywhere in the
// package's module graph (ERR_REQUIRE_ASYNC_MODULE, CommonJS app), and
// dist/workers left out of `files` (ERR_MODULE_NOT_FOUND at workers 2).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectSuccess, installApp, packPackage, run } from '../fixtures/package-app.js';
import { testServerForFile } from '../fixtures/file-server.js';

const DB = `mgo_package_${process.pid}`;
const server = testServerForFile(DB);
/** Generous: each step takes seconds on a quiet machine; the build about 20 s of CPU. */
const STEP_TIMEOUT_MS = 180_000;

// The app's script: the same body under require() and import; it prints one
// JSON line with where the package was loaded from and what each round trip
// found.
const ROUND_TRIPS = `
async function roundTrips(dial, collectionPrefix) {
  const found = {};
  for (const workers of [0, 2]) {
    const session = await dial(process.env.MGO_TEST_URI, { workers, poolLimit: 4 });
    try {
      const c = session.db(process.env.MGO_TEST_DB).c(collectionPrefix + '_w' + workers);
      await c.insert({ _id: 1, name: 'Ada', workers });
      found[workers] = await c.find({ _id: 1 }).one();
    } finally {
      await session.close();
    }
  }
  return found;
}
`;

const CJS_APP = `'use strict';
const mgo = require('mgo-threads');
const { version } = require('mgo-threads/package.json');
${ROUND_TRIPS}
roundTrips(mgo.dial, 'cjs').then(
  (found) => console.log(JSON.stringify({ entry: require.resolve('mgo-threads'), version, found })),
  (error) => { console.error(error); process.exitCode = 1; },
);
`;

const ESM_APP = `import { dial } from 'mgo-threads';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
const { version } = createRequire(import.meta.url)('mgo-threads/package.json');
${ROUND_TRIPS}
const found = await roundTrips(dial, 'esm');
console.log(JSON.stringify({ entry: fileURLToPath(import.meta.resolve('mgo-threads')), version, found }));
`;

const apps = [
  { type: 'commonjs', script: 'app.js', source: CJS_APP },
  { type: 'module', script: 'app.js', source: ESM_APP },
] as const;

describe('the packed package in a fresh app', { timeout: 4 * STEP_TIMEOUT_MS }, () => {
  let temp = '';
  let tarball = '';

  before(async () => {
    temp = await mkdtemp(join(tmpdir(), 'mgo-threads-package-'));
    tarball = await packPackage(join(temp, 'package'), STEP_TIMEOUT_MS);
  });

  after(async () => {
    if (temp) await rm(temp, { recursive: true, force: true });
  });

  for (const app of apps) {
    test(`${app.type}: installs offline, loads, and round-trips with workers 0 and 2`, { timeout: 2 * STEP_TIMEOUT_MS }, async (t) => {
      t.diagnostic(`node ${process.version}`);
      const dir = join(temp, app.type);
      const how = await installApp(dir, app.type, tarball, STEP_TIMEOUT_MS);
      if (how !== 'offline') t.diagnostic(`npm's cache lacked a package: installed with --prefer-offline`);
      await writeFile(join(dir, app.script), app.source);
      const result = expectSuccess(
        `node ${app.script} (${app.type})`,
        await run(process.execPath, [app.script], { cwd: dir, timeoutMS: STEP_TIMEOUT_MS, env: { ...process.env, MGO_TEST_URI: server.uri, MGO_TEST_DB: DB } }),
      );
      const report = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { entry: string; version: string; found: Record<string, unknown> };
      assert.equal(report.entry, join(dir, 'node_modules', 'mgo-threads', 'dist', 'src', 'index.js'));
      assert.match(report.version, /^\d+\.\d+\.\d+/);
      assert.deepEqual(report.found, { 0: { _id: 1, name: 'Ada', workers: 0 }, 2: { _id: 1, name: 'Ada', workers: 2 } });
      // A warning here (an experimental require(esm), say) would reach every user's stderr.
      assert.doesNotMatch(result.stderr, /Warning/, result.stderr);
    });
  }
});
