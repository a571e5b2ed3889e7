// The HTTP scenario's load generator (autocannon in a child process) and
// /health probe against a small in-process HTTP server: responses and
// errors are counted as the server answered them (500s are errors), the
// latencies and the generator's own CPU come back as numbers, an open
// loop run (overallRate, vegeta) completes, and an unanswered probe fails at
// its timeout. Bounded: runs of 0.5 s; no timing is
// asserted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HealthProbe, startLoadGenerator, type LoadGenerator } from '../../bench/lib/http-load.js';
import { waitFor } from '../fixtures/wait.js';

describe('the HTTP load generator and /health probe', () => {
  let server: Server;
  let base = '';
  const served = { ok: 0, failed: 0, health: 0, hung: 0 };
  let lg: LoadGenerator;

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/health') {
        served.health++;
        res.end('ok\n');
      } else if (req.url === '/hang') {
        served.hung++;
        // Never answered: the probe's own timeout ends it.
      } else if (req.url === '/fail') {
        served.failed++;
        res.writeHead(500).end('no\n');
      } else {
        served.ok++;
        res.end('page\n');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    lg = await startLoadGenerator();
  });

  after(async () => {
    await lg?.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('closed loop: every response counted, no errors, latencies and CPU as numbers', { timeout: 60_000 }, async () => {
    const before = served.ok;
    const r = await lg.run({ url: `${base}/page`, connections: 4, durationS: 0.5 });
    assert.ok(r.responses > 0, 'some responses');
    // autocannon may not wait for the answers to the last requests it sent.
    assert.ok(r.responses <= served.ok - before, `${r.responses} counted, ${served.ok - before} served`);
    assert.equal(r.errors, 0);
    assert.ok(r.requestsPerSecond > 0);
    assert.ok(r.durationS > 0);
    for (const v of [r.latencyP50MS, r.latencyP99MS, r.latencyP999MS]) assert.ok(Number.isFinite(v) && v >= 0, String(v));
    assert.ok(r.latencyP50MS <= r.latencyP99MS && r.latencyP99MS <= r.latencyP999MS);
    assert.ok(Number.isFinite(r.cores) && r.cores > 0, `load generator cores ${r.cores}`);
  });

  test('responses other than 2xx are errors', { timeout: 60_000 }, async () => {
    const r = await lg.run({ url: `${base}/fail`, connections: 2, durationS: 0.5 });
    assert.ok(r.responses > 0);
    assert.equal(r.errors, r.responses);
    // A service that fails fast must not look fast: only 2xx responses are throughput.
    assert.equal(r.requestsPerSecond, 0);
  });

  test('open loop (overallRate) runs vegeta at that rate, its responses counted (test/bench/vegeta.test.ts tests it further)', { timeout: 120_000 }, async () => {
    const before = served.ok;
    const r = await lg.run({ url: `${base}/page`, connections: 4, durationS: 0.5, overallRate: 40 });
    assert.equal(r.errors, 0);
    // vegeta waits for every answer: each request served was counted.
    assert.ok(r.responses > 0 && r.responses === served.ok - before, `${r.responses} counted, ${served.ok - before} served`);
  });

  test('the probe times answered /health probes and counts failed ones', { timeout: 60_000 }, async () => {
    const healthy = new HealthProbe(`${base}/health`, 100);
    const seen = served.health;
    healthy.start();
    await waitFor('5 health probes served', () => served.health - seen >= 5, 30_000);
    const ok = await healthy.stop();
    assert.ok(ok.answered >= 5, `${ok.answered} answered`);
    assert.equal(ok.failed, 0);
    assert.ok(Number.isFinite(ok.p99MS) && ok.p99MS > 0 && ok.p99MS <= ok.maxMS);

    const failing = new HealthProbe(`${base}/fail`, 100);
    const failedBefore = served.failed;
    failing.start();
    await waitFor('3 failing probes served', () => served.failed - failedBefore >= 3, 30_000);
    const bad = await failing.stop();
    assert.equal(bad.answered, 0);
    assert.ok(bad.failed >= 3);
    assert.ok(Number.isNaN(bad.p99MS));
  });

  test('a probe left unanswered fails at its timeout, so stop() ends', { timeout: 60_000 }, async () => {
    const probe = new HealthProbe(`${base}/hang`, 100, 200);
    const hung0 = served.hung;
    probe.start();
    await waitFor('2 probes hanging', () => served.hung - hung0 >= 2, 30_000);
    const r = await probe.stop();
    assert.equal(r.answered, 0);
    assert.ok(r.failed >= 2, `${r.failed} failed`);
  });
});
