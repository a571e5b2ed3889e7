// The HTTP scenario's open-loop load: vegeta (built by scripts/vegeta.mjs)
// sends GET requests at a constant arrival rate whether or not the earlier
// ones are answered, as users arriving independently do. Each request's
// latency is measured from its intended send time (the attack's start +
// seq / rate), not from when vegeta got round to sending it: if the service
// falls so far behind that all `maxWorkers` requests are outstanding, the
// later sends wait, and that wait is part of their latency (no coordinated
// omission). Requests the attack meant to send but had not by its end are
// counted (unsent), not as errors. vegeta runs in its own process under `sh`, whose `times` reports
// the CPU vegeta used: it competes with the service for the same cores.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: plain ESM script without type declarations
import { ensureBuilt } from '../../scripts/vegeta.mjs';
import type { LoadResult } from './http-load-child.js';
import { percentile } from './stats.js';

export interface OpenLoopRequest {
  url: string;
  /** Requests per second, whole. */
  rate: number;
  durationS: number;
  /**
   * At most this many requests outstanding (vegeta's -max-workers, each a
   * kept-alive connection): far above what an honest run at 0.8x capacity
   * keeps in flight, so the rate holds while a slow variant queues.
   */
  maxWorkers?: number;
  /** A request unanswered this long fails (vegeta's -timeout). */
  timeoutS?: number;
}

/** One row of `vegeta encode -to=csv`. */
export interface VegetaRecord {
  /** When vegeta sent it, ns since the epoch. */
  timestampNS: bigint;
  /** HTTP status; 0 when no response came (the error says why). */
  code: number;
  latencyNS: number;
  error: string;
  /** The request's place in the attack: 0, 1, 2 ... in intended send order. */
  seq: number;
}

/**
 * Parses vegeta's CSV results (columns: timestamp ns, code, latency ns,
 * bytes out, bytes in, error, body base64, attack, seq, method, url,
 * headers base64; RFC 4180 quoting as Go's encoding/csv writes it).
 */
export function parseVegetaCsv(text: string): VegetaRecord[] {
  const records: VegetaRecord[] = [];
  for (const fields of csvRows(text)) {
    if (fields.length < 9) throw new Error(`vegeta CSV: a row of ${fields.length} fields, expected 12: ${fields.join(',').slice(0, 200)}`);
    const [timestamp, code, latency, , , error, , , seq] = fields as [string, string, string, string, string, string, string, string, string];
    const numbers = [Number(code), Number(latency), Number(seq)];
    if (!/^\d+$/.test(timestamp) || numbers.some((n) => !Number.isSafeInteger(n) || n < 0)) {
      throw new Error(`vegeta CSV: not a result row: ${fields.join(',').slice(0, 200)}`);
    }
    records.push({ timestampNS: BigInt(timestamp), code: numbers[0]!, latencyNS: numbers[1]!, error, seq: numbers[2]! });
  }
  return records;
}

function* csvRows(text: string): Generator<string[]> {
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n') {
      fields.push(field);
      yield fields;
      fields = [];
      field = '';
    } else if (c !== '\r') field += c;
    i++;
  }
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    yield fields;
  }
}

export interface OpenLoopSummary {
  /** Requests vegeta sent, and those it meant to send (rate x duration) but had not when the attack ended. */
  sent: number;
  unsent: number;
  /** 2xx responses; everything else sent (other statuses, transport errors, timeouts) is failed. */
  ok: number;
  failed: number;
  /** Responses of any status (transport errors and timeouts have none). */
  responses: number;
  /** Of the 2xx responses, ms from each request's intended send time to its response's end. */
  latenciesMS: Float64Array;
  /**
   * p99 of how late vegeta sent a request after its intended time, ms: near
   * 0 unless maxWorkers were all waiting or vegeta itself waited for a core
   * (a loaded machine: 34 ms seen at 171 req/s with 2 cores shared by
   * other work). Either way the latencies include it.
   */
  sendLagP99MS: number;
}

/**
 * What an attack of `rate` req/s for `durationS` s measured. The intended
 * send time of request `seq` is start + seq / rate (vegeta's constant
 * pacer); the start is vegeta's own, which no row records, so it is taken as
 * the latest time consistent with every row: min(timestamp - seq / rate),
 * since no request leaves before its intended time.
 */
export function summarizeOpenLoop(records: readonly VegetaRecord[], rate: number, durationS: number): OpenLoopSummary {
  const intended = Math.floor(rate * durationS);
  if (records.length === 0) {
    return { sent: 0, unsent: intended, ok: 0, failed: 0, responses: 0, latenciesMS: new Float64Array(0), sendLagP99MS: Number.NaN };
  }
  const nsPerRequest = 1e9 / rate;
  // Relative to the earliest send, ns fit a double exactly (an epoch in ns does not).
  let first = records[0]!.timestampNS;
  for (const r of records) if (r.timestampNS < first) first = r.timestampNS;
  const sentAt = records.map((r) => Number(r.timestampNS - first));
  let start = Number.POSITIVE_INFINITY;
  records.forEach((r, i) => (start = Math.min(start, sentAt[i]! - r.seq * nsPerRequest)));
  const latencies: number[] = [];
  const lags: number[] = [];
  let failed = 0;
  let responses = 0;
  records.forEach((r, i) => {
    const intendedAt = start + r.seq * nsPerRequest;
    lags.push((sentAt[i]! - intendedAt) / 1e6);
    if (r.code !== 0) responses++;
    if (r.error === '' && r.code >= 200 && r.code < 300) latencies.push((sentAt[i]! + r.latencyNS - intendedAt) / 1e6);
    else failed++;
  });
  return {
    sent: records.length,
    unsent: Math.max(0, intended - records.length),
    ok: latencies.length,
    failed,
    responses,
    latenciesMS: Float64Array.from(latencies),
    sendLagP99MS: percentile(lags, 99),
  };
}

/** The CPU seconds of the shell's children from `times` (POSIX: the second line, user then system). */
export function childCpuSeconds(timesOutput: string): number {
  const line = timesOutput.trim().split('\n')[1];
  const m = line && /^(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s$/.exec(line.trim());
  if (!m) throw new Error(`cannot read the load generator's CPU from \`times\`: ${JSON.stringify(timesOutput)}`);
  return Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
}

/** A run's figures in the closed loop's shape (http-load-child.ts), plus the open loop's own. */
export interface OpenLoopResult extends LoadResult {
  sent: number;
  unsent: number;
  sendLagP99MS: number;
}

/** Builds vegeta unless the cached build is current (scripts/vegeta.mjs); resolves to its path. */
export const buildVegeta = (): Promise<string> => ensureBuilt();

/** Runs one vegeta attack on GET `url`; builds vegeta first if needed. */
export async function runOpenLoop(request: OpenLoopRequest): Promise<OpenLoopResult> {
  // vegeta reads a duration of 0 (or less) as "until stopped" and a rate of 0 as "as fast as it can".
  if (!(request.durationS > 0) || !Number.isSafeInteger(request.rate) || request.rate < 1) {
    throw new Error(`an open-loop run needs a whole rate >= 1 req/s and a duration > 0 s, not ${request.rate} req/s for ${request.durationS} s`);
  }
  const vegeta = await buildVegeta();
  const dir = await mkdtemp(join(tmpdir(), 'mgo-threads-vegeta-'));
  try {
    const resultsPath = join(dir, 'results.bin');
    const attack = [
      'attack',
      `-rate=${request.rate}/1s`,
      `-duration=${request.durationS}s`,
      `-max-workers=${request.maxWorkers ?? 512}`,
      `-timeout=${request.timeoutS ?? 10}s`,
      '-keepalive=true',
      '-http2=false',
      '-max-body=0',
      `-output=${resultsPath}`,
    ];
    const t0 = performance.now();
    // sh runs vegeta, then writes its children's CPU times (`times`) to fd 3.
    const { stdout: times } = await runToEnd('sh', ['-c', '"$0" "$@"; status=$?; times >&3; exit $status', vegeta, ...attack], {
      stdin: `GET ${request.url}\n`,
      outFd: 3,
      timeoutMS: (request.durationS + (request.timeoutS ?? 10) + 30) * 1000,
    });
    const wallS = (performance.now() - t0) / 1000;
    const { stdout: csv } = await runToEnd(vegeta, ['encode', '-to=csv', resultsPath], { outFd: 1, timeoutMS: 60_000 });
    const s = summarizeOpenLoop(parseVegetaCsv(csv), request.rate, request.durationS);
    return {
      requestsPerSecond: s.ok / request.durationS,
      durationS: request.durationS,
      responses: s.responses,
      latencyP50MS: percentile(s.latenciesMS, 50),
      latencyP99MS: percentile(s.latenciesMS, 99),
      latencyP999MS: percentile(s.latenciesMS, 99.9),
      // Not the unsent: vegeta drops the last due sends when its pacing loop runs late at the end (a
      // loaded machine), which is the generator's lag, not the service's failure; the progress line
      // shows them, and arrival_rate the shortfall.
      errors: s.failed,
      cores: childCpuSeconds(times) / wallS,
      sent: s.sent,
      unsent: s.unsent,
      sendLagP99MS: s.sendLagP99MS,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs a command to its end (or `timeoutMS`); resolves to what it wrote on `outFd`; rejects on a non-zero exit, naming its stderr. */
export function runToEnd(command: string, args: string[], options: { stdin?: string; outFd: 1 | 3; timeoutMS: number }): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, killed whole at the deadline: killing only `sh` would leave vegeta running,
    // holding the pipes open, so 'close' would never come. (A run ends by itself after its duration
    // plus the request timeout, so one left behind by a killed benchmark ends too.)
    const child = spawn(command, args, {
      detached: true,
      stdio: ['pipe', options.outFd === 1 ? 'pipe' : 'ignore', 'pipe', ...(options.outFd === 3 ? ['pipe' as const] : [])],
    });
    const out: Buffer[] = [];
    let stderr = '';
    (child.stdio[options.outFd] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, options.timeoutMS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout: Buffer.concat(out).toString() });
      else {
        const why = killed ? `killed: not done within ${options.timeoutMS} ms` : (signal ?? `exit code ${code}`);
        reject(new Error(`vegeta ${args.includes('attack') ? 'attack' : 'encode'} failed (${why}): ${stderr.trim()}`));
      }
    });
    child.stdin!.end(options.stdin ?? '');
  });
}
