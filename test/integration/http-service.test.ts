// The HTTP service example (examples/http-service) against the embedded
// FerretDB, on the official driver and on mgo-threads with workers 0 and 2:
// it starts in a child process (seeding its documents), prints the port it
// listens on, answers /health and /page (the documents read by _id,
// rendered, an ETag; with --write-ratio 1 every page writes one document),
// counts what it served in its IPC report, logs its commands from the
// drivers' command events (--slow-ms 0: every command; a worker's with the
// worker's id), and exits with code 0 on SIGTERM. Each service start takes a few seconds (tsx, then dial); no
// timing is asserted.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { startService } from '../../bench/lib/http-service.js';
import { PAGES, VIEWS } from '../../examples/http-service/handler.js';
import { testServerForFile } from '../fixtures/file-server.js';

const DB = `mgo_http_service_${process.pid}`;
const server = testServerForFile(DB);

const VARIANTS = [
  { name: 'official', args: ['--driver', 'official'], thread: /main thread/ },
  { name: 'mgo workers 0', args: ['--driver', 'mgo', '--workers', '0'], thread: /main thread/ },
  { name: 'mgo workers 2', args: ['--driver', 'mgo', '--workers', '2'], thread: /worker \d+/ },
];

async function countViews(uri: string): Promise<number> {
  const client = new MongoClient(uri);
  try {
    return await client.db(DB).collection(VIEWS).countDocuments();
  } finally {
    await client.close();
  }
}

describe('the HTTP service example', () => {
  for (const variant of VARIANTS) {
    test(`${variant.name}: starts, serves /health and /page, stops on SIGTERM`, { timeout: 120_000 }, async () => {
      const views0 = await countViews(server.uri);
      const service = await startService([
        ...variant.args,
        ...['--uri', server.uri, '--db', DB, '--port', '0', '--pool-limit', '4', '--app-us', '100', '--write-ratio', '1', '--reads', '2', '--docs', '10', '--seed', '--slow-ms', '0'],
      ]);
      let stopped = false;
      try {
        assert.match(service.stdout(), new RegExp(`listening on http://127\\.0\\.0\\.1:${service.port} `), 'it prints the port it listens on');
        service.measure();

        const health = await fetch(`${service.url}/health`);
        assert.equal(health.status, 200);
        assert.equal(await health.text(), 'ok\n');

        const page = await fetch(`${service.url}/page?id=9`);
        const body = await page.text();
        assert.equal(page.status, 200, body);
        // Two documents by _id: 9 and, modulo --docs 10, 0.
        assert.match(body, /<dd>Page 9<\/dd>/);
        assert.match(body, /<dd>Page 0<\/dd>/);
        assert.doesNotMatch(body, /not found/);
        assert.match(page.headers.get('etag') ?? '', /^"[0-9a-f]{32}"$/);

        const pages = await Promise.all(Array.from({ length: 8 }, (_, i) => fetch(`${service.url}/page?id=${i}`).then(async (r) => [r.status, await r.text()] as const)));
        for (const [status, text] of pages) assert.equal(status, 200, text);
        assert.equal((await fetch(`${service.url}/nowhere`)).status, 404);

        const report = await service.report();
        assert.equal(report.received, 9);
        assert.equal(report.pages, 9);
        assert.equal(report.health, 1);
        assert.equal(report.errors, 0);
        assert.ok(Number.isFinite(report.eventLoopDelayP99MS) && report.eventLoopDelayP99MS > 0, `event-loop delay p99 ${report.eventLoopDelayP99MS}`);
        assert.ok(report.mainThreadBusy > 0 && report.mainThreadBusy <= 1, `main thread busy ${report.mainThreadBusy}`);
        // --write-ratio 1: one document written per page served.
        assert.equal((await countViews(server.uri)) - views0, 9);

        // --slow-ms 0: every command logged from the command events, finds and inserts alike.
        const finds = service.stdout().match(new RegExp(`^slow command: find on ${DB} took \\d+\\.\\d ms \\((.+)\\)$`, 'gm')) ?? [];
        assert.ok(finds.length >= 18, `${finds.length} find commands logged:\n${service.stdout()}`);
        for (const line of finds) assert.match(line, variant.thread);
        assert.match(service.stdout(), new RegExp(`^slow command: insert on ${DB} `, 'm'));

        stopped = true;
        assert.equal(await service.stop(), 0, 'exit code after SIGTERM');
        assert.match(service.stdout(), /stopping \(SIGTERM\)/);
      } finally {
        if (!stopped) await service.stop();
      }
    });
  }

  test('the seeded documents are there once, whichever variant seeded them', { timeout: 30_000 }, async () => {
    const client = new MongoClient(server.uri);
    try {
      assert.equal(await client.db(DB).collection(PAGES).countDocuments(), 10);
    } finally {
      await client.close();
    }
  });
});
