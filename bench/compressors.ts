// Which zstd and snappy implementations the driver uses (issue 11): each
// candidate compresses and decompresses OP_MSG bodies as an insert carries
// them, of three sizes: one document (~1 KB, a typical command), 101 (a first
// batch, ~110 KB) and 5,000 (~5.5 MB). The documents are the benchmarking
// spec's tweet with varied values (variedDocuments below). Throughput is in
// MB/s of uncompressed bytes, the median of REPEATS timed runs of TIME_MS
// each, after a warm-up.
//
// Install weight, measured apart (npm install of each alone, Node 20, linux
// x64): zstd-napi 11.7 MB in 40 packages, and 29 s to compile zstd with
// node-gyp (its prebuilt binaries come from GitHub, out of reach here);
// @bokuweb/zstd-wasm 1.2 MB; zstd-codec 2.1 MB; snappy 1.5 MB in 2 (a
// prebuilt binary from the npm registry); snappyjs 56 KB; hysnappy 52 KB.
// @mongodb-js/zstd does not install without GitHub (its fallback build
// script is not in the package).
//
// Candidates that are not installed are listed as such. The project installs
// only the chosen ones; to measure the others, install them where they do not
// touch the project, and point --from at that folder:
//
//   mkdir /tmp/cands && cd /tmp/cands && npm init -y && npm install zstd-napi zstd-codec @bokuweb/zstd-wasm snappy snappyjs hysnappy
//   node --import tsx bench/compressors.ts [--from /tmp/cands]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join, resolve } from 'node:path';
import * as zlib from 'node:zlib';
import type { Document } from 'bson';
import { encodeOpMsg } from '../src/wire/op-msg.js';
import { DEFAULT_WIRE_LIMITS } from '../src/wire/constants.js';
import { option } from './lib/args.js';
import { BENCH_DATA } from './lib/docs.js';
import { readTarGz } from './lib/tar.js';

const REPEATS = 5;
const TIME_MS = 150;

interface Candidate {
  name: string;
  algorithm: 'zstd' | 'snappy' | 'zlib';
  api: string;
  /** Returns the codec, or throws when the package is missing. */
  load(): Promise<{ compress(data: Buffer): Uint8Array | Promise<Uint8Array>; decompress(data: Uint8Array, size: number): Uint8Array | Promise<Uint8Array> }>;
}

function candidates(from: string): Candidate[] {
  const require = createRequire(join(from, 'package.json'));
  const load = async (name: string) => {
    const mod = await import(pathToFileURL(require.resolve(name)).href);
    return mod.default ?? mod;
  };
  const zstdLevel = 3; // zstd's own default, and the official driver's
  return [
    {
      name: 'node:zlib deflate',
      algorithm: 'zlib',
      api: 'sync (and async on the libuv pool)',
      load: async () => ({ compress: (d) => zlib.deflateSync(d, { level: 6 }), decompress: (d) => zlib.inflateSync(d) }),
    },
    {
      name: 'node:zlib zstd (Node >= 22.15)',
      algorithm: 'zstd',
      api: 'sync (and async)',
      load: async () => {
        const z = zlib as unknown as Record<string, (d: Uint8Array) => Buffer>;
        if (typeof z.zstdCompressSync !== 'function') throw new Error(`not in Node ${process.version}`);
        return { compress: (d) => z.zstdCompressSync!(d), decompress: (d) => z.zstdDecompressSync!(d) };
      },
    },
    {
      name: 'zstd-napi (binding, exact-size output)',
      algorithm: 'zstd',
      api: 'sync',
      load: async () => {
        const b = await load('zstd-napi/binding');
        return {
          compress: (d) => {
            const out = Buffer.allocUnsafe(b.compressBound(d.byteLength));
            return out.subarray(0, b.compress(out, d, zstdLevel));
          },
          decompress: (d, size) => {
            const out = Buffer.allocUnsafe(size);
            b.decompress(out, d);
            return out;
          },
        };
      },
    },
    {
      name: 'zstd-napi (binding, reused contexts, exact-size output)',
      algorithm: 'zstd',
      api: 'sync',
      load: async () => {
        const b = await load('zstd-napi/binding');
        const cctx = new b.CCtx();
        const dctx = new b.DCtx();
        return {
          compress: (d) => {
            const out = Buffer.allocUnsafe(b.compressBound(d.byteLength));
            return out.subarray(0, cctx.compress(out, d, zstdLevel));
          },
          decompress: (d, size) => {
            const out = Buffer.allocUnsafe(size);
            dctx.decompress(out, d);
            return out;
          },
        };
      },
    },
    {
      name: 'zstd-napi (simple API)',
      algorithm: 'zstd',
      api: 'sync',
      load: async () => {
        const z = await load('zstd-napi');
        return { compress: (d) => z.compress(d, { compressionLevel: zstdLevel }), decompress: (d) => z.decompress(d) };
      },
    },
    {
      name: '@bokuweb/zstd-wasm',
      algorithm: 'zstd',
      api: 'async init, then sync',
      load: async () => {
        const z = await load('@bokuweb/zstd-wasm');
        await z.init();
        return { compress: (d) => z.compress(d, zstdLevel), decompress: (d) => z.decompress(d) };
      },
    },
    {
      name: 'snappy (napi-rs), sync',
      algorithm: 'snappy',
      api: 'sync and async',
      load: async () => {
        const s = await load('snappy');
        return { compress: (d) => s.compressSync(d), decompress: (d) => s.uncompressSync(d, { asBuffer: true }) };
      },
    },
    {
      name: 'snappy (napi-rs), sync, copyOutputData',
      algorithm: 'snappy',
      api: 'sync',
      load: async () => {
        const s = await load('snappy');
        return { compress: (d) => s.compressSync(d, { copyOutputData: true }), decompress: (d) => s.uncompressSync(d, { asBuffer: true, copyOutputData: true }) };
      },
    },
    {
      name: 'snappy (napi-rs), async',
      algorithm: 'snappy',
      api: 'async (libuv pool)',
      load: async () => {
        const s = await load('snappy');
        return { compress: (d) => s.compress(d), decompress: (d) => s.uncompress(d, { asBuffer: true }) };
      },
    },
    {
      name: 'snappyjs (pure JS)',
      algorithm: 'snappy',
      api: 'sync',
      load: async () => {
        const s = await load('snappyjs');
        return { compress: (d) => s.compress(d), decompress: (d) => s.uncompress(d) };
      },
    },
    {
      name: 'hysnappy (wasm)',
      algorithm: 'snappy',
      api: 'sync',
      load: async () => {
        const s = await load('hysnappy');
        const compress = s.snappyCompressor();
        const uncompress = s.snappyUncompressor();
        // It returns a view of its wasm memory: copy, as a caller keeping the bytes must.
        return { compress: (d) => compress(d).slice(), decompress: (d, size) => uncompress(d, size).slice() };
      },
    },
    {
      // Last: on a large message its emscripten heap aborts the process (abort(OOM)).
      name: 'zstd-codec (emscripten)',
      algorithm: 'zstd',
      api: 'async init, then sync',
      load: async () => {
        const { ZstdCodec } = await load('zstd-codec');
        const simple = await new Promise<{ compress(d: Uint8Array, l: number): Uint8Array; decompress(d: Uint8Array): Uint8Array }>((ok) =>
          ZstdCodec.run((z: { Simple: new () => never }) => ok(new z.Simple())),
        );
        return { compress: (d) => simple.compress(d, zstdLevel), decompress: (d) => simple.decompress(d) };
      },
    },
  ];
}

/** A deterministic PRNG (mulberry32): the same documents on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` documents shaped like `template` with varied values: the LDJSON
 * files repeat one tweet 5,000 times, which every compressor shrinks a
 * thousandfold, nothing like a real batch. Field names stay (as in a real
 * collection); a string keeps its value one time in three (languages, time
 * zones, sources repeat) and is otherwise rebuilt from the data sets' words
 * to about its length; numbers and booleans are drawn anew.
 */
function variedDocuments(template: Document, words: readonly string[], count: number): Document[] {
  const next = random(42);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const vary = (value: unknown): unknown => {
    if (typeof value === 'string') {
      if (value.length === 0 || next() < 1 / 3) return value;
      let text = '';
      while (text.length < value.length) text += (text ? ' ' : '') + pick(words);
      return text.slice(0, Math.max(value.length, 1));
    }
    if (typeof value === 'number') return Number.isInteger(value) ? Math.floor(next() * (Math.abs(value) * 2 + 100)) : next() * (Math.abs(value) * 2 + 1);
    if (typeof value === 'boolean') return next() < 0.5;
    if (Array.isArray(value)) return value.map(vary);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, vary(v)]));
    return value;
  };
  return Array.from({ length: count }, (_, i) => ({ _id: i, ...(vary(template) as Document) }));
}

/** OP_MSG bodies (the frame after its 16-byte header): what OP_COMPRESSED compresses. */
async function messages(): Promise<{ name: string; body: Buffer }[]> {
  const [file] = await readTarGz(fileURLToPath(new URL('parallel.tgz', BENCH_DATA)), (n) => /ldjson_multi\/ldjson\d+\.txt$/.test(n), 1);
  const firstLine = file!.data.toString('utf8', 0, file!.data.indexOf(10));
  const tweet = JSON.parse(firstLine) as Document;
  const words = [...new Set(firstLine.concat(readFileSync(new URL('large_doc.json', BENCH_DATA), 'utf8').slice(0, 200_000)).split(/[^A-Za-z0-9@#.:/]+/).filter(Boolean))];
  const docs = variedDocuments(tweet, words, 5000);
  const insert = (count: number) =>
    encodeOpMsg({ requestId: 1, body: { insert: 'tweets', $db: 'bench' }, sequences: [{ identifier: 'documents', documents: docs.slice(0, count) }] }, DEFAULT_WIRE_LIMITS).subarray(16);
  return [
    { name: '1 doc', body: insert(1) },
    { name: '101 docs', body: insert(101) },
    { name: '5000 docs', body: insert(5000) },
  ];
}

async function throughput(bytes: number, op: () => unknown): Promise<number> {
  for (let i = 0; i < 3; i++) await op();
  const runs: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    let n = 0;
    const t0 = performance.now();
    let elapsed = 0;
    while (elapsed < TIME_MS) {
      await op();
      n++;
      elapsed = performance.now() - t0;
    }
    runs.push((bytes * n) / 1e6 / (elapsed / 1000));
  }
  return runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
}

async function main(): Promise<void> {
  const from = resolve(option(process.argv.slice(2), '--from', fileURLToPath(new URL('..', import.meta.url))));
  const bodies = await messages();
  console.log(`node ${process.version}; candidates from ${from}; MB/s of uncompressed bytes (median of ${REPEATS} x ${TIME_MS} ms)`);
  console.log(`messages: ${bodies.map((m) => `${m.name} ${m.body.byteLength} B`).join(', ')}\n`);
  console.log(['candidate', 'api', ...bodies.flatMap((m) => [`${m.name} ratio`, 'compress', 'decompress'])].join('\t'));
  for (const candidate of candidates(from)) {
    let codec: Awaited<ReturnType<Candidate['load']>>;
    try {
      codec = await candidate.load();
    } catch (err) {
      console.log(`${candidate.name}\tnot available: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    const cells: string[] = [];
    for (const { body } of bodies) {
      let compressed: Uint8Array;
      try {
        compressed = await codec.compress(body);
      } catch (err) {
        cells.push("failed", String((err as Error)?.message ?? err).split("\n")[0]!.slice(0, 40), "");
        continue;
      }
      const back = Buffer.from(await codec.decompress(compressed, body.byteLength));
      if (!back.equals(body)) throw new Error(`${candidate.name}: round trip changed the bytes`);
      const c = await throughput(body.byteLength, () => codec.compress(body));
      const d = await throughput(body.byteLength, () => codec.decompress(compressed, body.byteLength));
      cells.push((body.byteLength / compressed.byteLength).toFixed(2), c.toFixed(0), d.toFixed(0));
    }
    console.log([candidate.name, candidate.api, ...cells].join('\t'));
  }
}

await main();
