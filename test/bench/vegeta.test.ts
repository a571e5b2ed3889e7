// The HTTP scenario's open loop (bench/lib/vegeta.ts): vegeta's CSV rows
// parsed, latencies taken from each request's intended send time, the
// failures counted as errors and the sends it never made as unsent, its CPU read from
// `times`; then short attacks (0.5 s at 50-100 req/s) on an in-process HTTP
// server and on a closed port. No timing is asserted beyond lower bounds the server imposes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildVegeta, childCpuSeconds, parseVegetaCsv, runOpenLoop, runToEnd, summarizeOpenLoop, type VegetaRecord } from '../../bench/lib/vegeta.js';

const MS = 1_000_000;
const EPOCH_NS = 1_764_633_600_000_000_000n; // an epoch in ns: beyond a double's exact integers

describe('vegeta results', () => {
  test('CSV rows: fields by position, quoted errors with commas and quotes, CRLF or LF, no trailing newline', () => {
    const csv =
      `1764633600000000000,200,5000000,0,12,,cGFnZQ==,,0,GET,http://127.0.0.1:1/page,\n` +
      `1764633600010000000,0,10000000000,0,0,"Get ""http://127.0.0.1:1/page"": context deadline exceeded, (timeout)",,,1,GET,http://127.0.0.1:1/page,\r\n` +
      `1764633600020000000,500,7000000,0,3,,,,2,GET,http://127.0.0.1:1/page,`;
    const rows = parseVegetaCsv(csv);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[0], { timestampNS: 1764633600000000000n, code: 200, latencyNS: 5 * MS, error: '', seq: 0 });
    assert.equal(rows[1]!.code, 0);
    assert.equal(rows[1]!.error, 'Get "http://127.0.0.1:1/page": context deadline exceeded, (timeout)');
    assert.equal(rows[1]!.seq, 1);
    assert.equal(rows[2]!.code, 500);
    assert.deepEqual(parseVegetaCsv(''), []);
  });

  test('a row that is not a result fails, naming it', () => {
    assert.throws(() => parseVegetaCsv('Requests [total] 10\n'), /vegeta CSV: a row of 1 fields/);
    assert.throws(() => parseVegetaCsv('x,200,5,0,0,,,,0,GET,u,\n'), /not a result row: x,200/);
  });

  const at = (seq: number, sentMS: number, latencyMS: number, code = 200, error = ''): VegetaRecord => ({
    timestampNS: EPOCH_NS + BigInt(Math.round(sentMS * MS)),
    code,
    latencyNS: latencyMS * MS,
    error,
    seq,
  });

  test('latency runs from the intended send time: a request sent late carries its wait', () => {
    // 100 req/s: request n is due at start + 10n ms. Rows come in completion order.
    const rows = [
      at(2, 40, 5), // due at 20 ms, sent at 40 (all workers were busy): 25 ms
      at(0, 0, 5),
      at(3, 45, 1, 500),
      at(1, 10, 5),
      at(4, 50, 10_000, 0, 'timeout'),
    ];
    const s = summarizeOpenLoop(rows, 100, 0.1);
    assert.deepEqual([...s.latenciesMS].sort((a, b) => a - b), [5, 5, 25]);
    assert.equal(s.ok, 3);
    assert.equal(s.failed, 2, 'the 500 and the timeout');
    assert.equal(s.responses, 4, 'the timeout had no response');
    assert.equal(s.sent, 5);
    assert.equal(s.unsent, 5, '10 were due in 0.1 s at 100 req/s');
    assert.equal(s.sendLagP99MS, 20);
  });

  test('the start is the latest consistent with every row, so a uniform delay of the first send is not latency', () => {
    // vegeta's start is not in its output: rows all 3 ms after their due times read as on time.
    const s = summarizeOpenLoop([at(0, 3, 2), at(1, 13, 2), at(2, 23, 2)], 100, 0.03);
    assert.deepEqual([...s.latenciesMS], [2, 2, 2]);
    assert.equal(s.unsent, 0);
  });

  test('an attack with no rows: everything due is unsent', () => {
    const s = summarizeOpenLoop([], 40, 0.5);
    assert.equal(s.unsent, 20);
    assert.equal(s.latenciesMS.length, 0);
  });

  test('CPU from `times`: the second line, user plus system (dash and bash formats)', () => {
    assert.equal(childCpuSeconds('0m0.001000s 0m0.002000s\n0m1.500000s 1m0.250000s\n'), 61.75);
    assert.equal(childCpuSeconds('0m0.000s 0m0.000s\n0m0.120s 0m0.030s\n'), 0.15);
    assert.throws(() => childCpuSeconds('0m0.000s 0m0.000s\n'), /cannot read the load generator's CPU/);
  });
});

/** How long /slow takes to answer: a lower bound of every latency measured on it. */
const SLOW_MS = 40;

describe('vegeta attacks an in-process HTTP server', () => {
  let server: Server;
  let base = '';
  const served = { page: 0 };

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('slow\n'), SLOW_MS);
      else if (req.url === '/fail') res.writeHead(500).end('no\n');
      else {
        served.page++;
        res.end('page\n');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('at a fixed rate: every request sent and answered, latencies, req/s and its own CPU as numbers', { timeout: 120_000 }, async () => {
    const before = served.page;
    const r = await runOpenLoop({ url: `${base}/page`, rate: 50, durationS: 0.5 });
    // 25 or 26 are due; vegeta drops the last when its pacing runs late on a loaded machine.
    assert.ok(r.sent >= 10, `${r.sent} sent`);
    assert.equal(r.errors, 0);
    assert.equal(served.page - before, r.sent, 'the server saw each request once');
    assert.equal(r.responses, r.sent);
    assert.equal(r.requestsPerSecond, r.sent / 0.5);
    for (const v of [r.latencyP50MS, r.latencyP99MS, r.latencyP999MS]) assert.ok(Number.isFinite(v) && v >= 0, String(v));
    assert.ok(r.latencyP50MS <= r.latencyP99MS && r.latencyP99MS <= r.latencyP999MS);
    // `times` counts whole clock ticks (10 ms): a 0.5 s attack may use fewer. A missing reading throws instead.
    assert.ok(Number.isFinite(r.cores) && r.cores >= 0, `load generator cores ${r.cores}`);
  });

  test('responses other than 2xx are errors, not throughput', { timeout: 120_000 }, async () => {
    const r = await runOpenLoop({ url: `${base}/fail`, rate: 50, durationS: 0.5 });
    assert.ok(r.sent > 0);
    assert.equal(r.errors, r.sent);
    assert.equal(r.requestsPerSecond, 0);
    assert.ok(Number.isNaN(r.latencyP50MS));
  });

  test('a refused connection is an error per request, with no response', { timeout: 120_000 }, async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await runOpenLoop({ url: `http://127.0.0.1:${port}/page`, rate: 50, durationS: 0.5 });
    assert.ok(r.sent > 0, `${r.sent} sent`);
    assert.equal(r.errors, r.sent);
    assert.equal(r.responses, 0);
    assert.equal(r.requestsPerSecond, 0);
  });

  test('a rate or duration vegeta would read as unbounded is refused before it starts', async () => {
    await assert.rejects(runOpenLoop({ url: `${base}/page`, rate: 50, durationS: 0 }), /a duration > 0 s, not 50 req\/s for 0 s/);
    await assert.rejects(runOpenLoop({ url: `${base}/page`, rate: 0, durationS: 1 }), /a whole rate >= 1 req\/s/);
  });

  test('an attack past its deadline is killed with its shell, so the run ends', { timeout: 120_000 }, async () => {
    // -duration=0s: until stopped. The promise settles only once every holder of its pipes, vegeta
    // included, is gone: killing the shell alone left vegeta running and this waiting forever.
    const attack = ['-c', '"$0" "$@"; times >&3', await buildVegeta(), 'attack', '-rate=10/1s', '-duration=0s', '-output=/dev/null'];
    await assert.rejects(runToEnd('sh', attack, { stdin: `GET ${base}/page\n`, outFd: 3, timeoutMS: 300 }), /vegeta attack failed \(killed: not done within 300 ms\)/);
  });

  test('a service slower than the rate: the queueing is latency and the sends never made are counted', { timeout: 120_000 }, async () => {
    // One request at a time, each answered after >= 40 ms, 100 due per
    // second: request k leaves at >= 40k ms but was due at 10k ms, so it
    // waits >= 30k + 40 ms; in 0.5 s at most 13 leave of the 50 due.
    const r = await runOpenLoop({ url: `${base}/slow`, rate: 100, durationS: 0.5, maxWorkers: 1 });
    assert.ok(r.sent >= 6 && r.sent <= 13, `${r.sent} sent`);
    assert.ok(r.unsent >= 37, `${r.unsent} unsent`);
    assert.equal(r.errors, 0, 'every request sent was answered');
    assert.ok(r.latencyP99MS >= 30 * 5 + SLOW_MS, `p99 ${r.latencyP99MS} ms`);
    assert.ok(r.latencyP50MS >= SLOW_MS, `p50 ${r.latencyP50MS} ms`);
    assert.ok(r.sendLagP99MS >= 30 * 5, `send lag p99 ${r.sendLagP99MS} ms`);
  });
});
