// Every program in examples/ runs, as a user would run it, against the
// FerretDB test server: a child process (tsx) that must exit with code 0
// and print what the example shows. tls-scram.ts gets a server with TLS and
// a SCRAM user (its password must appear in no output); the HTTP service
// example (examples/http-service, tested at length in http-service.test.ts)
// is started with workers 2, asked for one page and stopped. Each example
// takes a few seconds (tsx, a dial, two workers); nothing is timed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startService } from '../../bench/lib/http-service.js';
import { runChildScript, type ChildRun } from '../fixtures/child-script.js';
import { testServerForFile } from '../fixtures/file-server.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { testCertificates, type TestCertificates } from '../fixtures/tls-certs.js';

const DB = `mgo_examples_${process.pid}`;
const server = testServerForFile(DB);
const TIMEOUT_MS = 90_000;

/** Runs examples/<name> with the server's URI in MONGODB_URI (the examples also take it as argv[2]). */
async function runExample(name: string, uri: string, env: Record<string, string> = {}): Promise<ChildRun> {
  const run = await runChildScript(`await import('./examples/${name}');`, { env: { MONGODB_URI: uri, EXAMPLE_DB: DB, ...env }, timeoutMS: TIMEOUT_MS });
  const shown = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  assert.equal(run.signal, null, `${name} did not exit within ${TIMEOUT_MS} ms\n${shown}`);
  assert.equal(run.code, 0, `${name} exit code\n${shown}`);
  assert.match(run.stdout, /^done$/m, shown);
  return run;
}

describe('examples/', () => {
  test('crud.ts: insert, duplicate key, one, all, update, ErrNotFound, upsert, iter, for await, remove', { timeout: TIMEOUT_MS }, async () => {
    const { stdout } = await runExample('crud.ts', server.uri);
    assert.match(stdout, /^duplicate _id 1 refused$/m);
    assert.match(stdout, /^one: Ale \+55 53 8116 9639$/m);
    assert.match(stdout, /^all: Cla, Ale$/m);
    assert.match(stdout, /^update of _id 99: not found$/m);
    assert.match(stdout, /^upserted id: 3$/m);
    assert.match(stdout, /^iter: 1 Ale\niter: 2 Cla\niter: 3 Bob$/m);
    assert.match(stdout, /^visited: Bob$/m);
    assert.match(stdout, /^removed: 2 left: 0$/m);
  });

  test('gridfs.ts: write, read, chunks, streams, list, remove', { timeout: TIMEOUT_MS }, async () => {
    const { stdout } = await runExample('gridfs.ts', server.uri);
    assert.match(stdout, /^stored hello\.txt id [0-9a-f]{24} 15 bytes$/m);
    assert.match(stdout, /^stored big\.bin, 614400 bytes$/m);
    assert.match(stdout, /^read: "Hello, GridFS!\\n" text\/plain$/m);
    assert.match(stdout, /^big\.bin read back by chunks, same bytes: true$/m);
    assert.match(stdout, /^big\.bin streamed: 614400 bytes$/m);
    assert.match(stdout, /^files: big\.bin, hello\.txt$/m);
    assert.match(stdout, /^removed 2 files$/m);
  });

  test('events.ts: session.events and diagnostics_channel, from a worker, nothing after the listeners go', { timeout: TIMEOUT_MS }, async () => {
    const { stdout } = await runExample('events.ts', server.uri);
    assert.match(stdout, /^\[events\] connection \d+ checked out from 127\.0\.0\.1:\d+$/m);
    for (const command of ['insert', 'find', 'update', 'noSuchCommand', 'drop']) {
      // Started on this thread's listener with the worker's id (workers: 2).
      assert.match(stdout, new RegExp(`^\\[events\\] ${command} started on 127\\.0\\.0\\.1:\\d+ \\(request \\d+, worker [01]\\)$`, 'm'));
    }
    for (const command of ['insert', 'find', 'update', 'drop']) {
      assert.match(stdout, new RegExp(`^\\[channel\\] ${command} succeeded in \\d+\\.\\d\\d ms$`, 'm'));
    }
    assert.match(stdout, /^update: ERR_WRITE$/m);
    assert.match(stdout, /^\[events\] noSuchCommand failed: /m);
    assert.match(stdout, /^noSuchCommand: ERR_QUERY$/m);
    const after = stdout.slice(stdout.indexOf('(no more events)'));
    assert.doesNotMatch(after, /\[(events|channel)\]/, 'an event after the listeners were removed');
  });

  describe('tls-scram.ts, against a server with TLS and a SCRAM user', () => {
    const USER = 'ada';
    const PASSWORD = 'example pä$$word';
    let certs: TestCertificates;
    let secure: TestServer;

    before(async () => {
      certs = await testCertificates();
      secure = await startTestServer({ tls: { certKeyFile: certs.serverCertKeyFile }, user: { name: USER, password: PASSWORD } });
    });
    after(async () => {
      await secure?.stop();
    });

    test('dial() and dialWithInfo() authenticate over TLS; a wrong password is ERR_AUTH 18 and never shown', { timeout: TIMEOUT_MS }, async () => {
      const { stdout, stderr } = await runExample('tls-scram.ts', `mongodb://${secure.address}/?authSource=admin`, {
        MONGODB_USERNAME: USER,
        MONGODB_PASSWORD: PASSWORD,
        MONGODB_TLS_CA_FILE: certs.caFile,
      });
      assert.match(stdout, /^dial\(\): authenticated as ada@admin$/m);
      assert.match(stdout, /^dial\(\): found written over TLS$/m);
      assert.match(stdout, /^dialWithInfo\(\): authenticated as ada@admin$/m);
      assert.match(stdout, /^wrong password: ERR_AUTH 18 password not shown$/m);
      assert.ok(!(stdout + stderr).includes(PASSWORD), 'the password appears in the output');
    });
  });

  test('http-service/: worker mode inside an HTTP service answers a page and stops on SIGTERM', { timeout: TIMEOUT_MS }, async () => {
    const service = await startService(['--workers', '2', '--uri', server.uri, '--db', DB, '--port', '0', '--pool-limit', '2', '--docs', '10', '--seed']);
    let code: number | null | undefined;
    try {
      const page = await fetch(`${service.url}/page?id=3`);
      const body = await page.text();
      assert.equal(page.status, 200, body);
      assert.match(body, /<dd>Page 3<\/dd>/);
    } finally {
      code = await service.stop();
    }
    assert.equal(code, 0, 'exit code after SIGTERM');
  });
});
