// Scenario 1: the driver benchmarking spec's tasks that fit FerretDB, against
// the real server (embedded FerretDB or MONGODB_URI), scored as the spec
// does: nominal size in MB (10^6 B) over the time of one iteration, here
// scaled to the number of operations the profile runs (NOTICE.md gives
// the nominal sizes). Each variant works in a database of its own; the
// variants take turns within each repetition, in rotated order, after one
// unrecorded warm-up repetition.
//
// Departures from the spec, on purpose:
// - find one by _id keys tweets by ObjectId, not integer: FerretDB's SQLite
//   backend pushes only ObjectId and string _id filters down to its index
//   (an integer _id is a full scan: 4.1 vs 1.4 ms a lookup measured here).
// - counts are the profile's (FerretDB is slow: ~1 ms a hello, ~12 ms a find
//   by _id, ~1.5 ms per tweet read by a find, measured here), and the LDJSON
//   tasks use the first lines of the profile's first files of
//   parallel.tgz, unpacked in memory (tar.ts) before timing, so no disk
//   read is timed; scores use the nominal size of the lines used.
// - the large-doc tasks (insertOne and bulk insert of the 2.7 MB large_doc,
//   94,000 fields) run against the canned-reply server: FerretDB takes ~40 s
//   to store one here. They measure the driver's side only.
// - LDJSON export reads each file's documents from a collection of their
//   own (filled before timing) rather than filtering one collection by a
//   file field, which FerretDB would answer by a full scan per file.
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ObjectId, type Document } from 'bson';
import type { BenchClient } from '../lib/clients.js';
import { BENCH_DATA, NOMINAL, benchDocs } from '../lib/docs.js';
import { log, rotated, type Results } from '../lib/results.js';
import { readTarGz } from '../lib/tar.js';

export interface SpecConfig {
  reps: number;
  /** Operations of run command, find one by _id and small doc insertOne (the spec: 10,000). */
  ops: number;
  /** Tweets read by find many (the spec: 10,000). */
  findManyDocs: number;
  /** Small documents per bulk insert (the spec: 10,000). */
  bulkDocs: number;
  /** Large documents per large-doc task (the spec: 10). */
  largeOps: number;
  /** LDJSON files of the import and export tasks (the spec: 100), and lines used of each (the files have 5,000). */
  ldjsonFiles: number;
  ldjsonLines: number;
}

/** The clients of each server: the large-doc tasks run against the canned server (see above). */
export interface SpecClients {
  real: BenchClient[];
  canned: BenchClient[];
}

interface Task {
  name: string;
  /** Run against the canned-reply server instead of the real one. */
  canned?: boolean;
  /** Nominal bytes of one iteration. */
  bytes: number;
  /** Once per variant, untimed. */
  setup?(c: BenchClient, db: string): Promise<void>;
  /** Before each iteration, untimed. */
  before?(c: BenchClient, db: string): Promise<void>;
  run(c: BenchClient, db: string): Promise<void>;
}

async function drop(c: BenchClient, db: string, collection: string): Promise<void> {
  await c.command(db, { drop: collection }).catch(() => {}); // absent: fine
}

function withIds(doc: Document, n: number): Document[] {
  return Array.from({ length: n }, () => ({ _id: new ObjectId(), ...doc }));
}

/** Inserts in batches of 1,000, as a loader would. */
async function load(c: BenchClient, db: string, collection: string, docs: Document[]): Promise<void> {
  for (let i = 0; i < docs.length; i += 1000) await c.insertMany(db, collection, docs.slice(i, i + 1000));
}

function tasks(config: SpecConfig, files: string[][], exportDir: string): Task[] {
  const { ops, largeOps } = config;
  const fileBytes = (NOMINAL.ldjsonFile * config.ldjsonLines) / 5000;
  const { tweet, small_doc: small, large_doc: large } = benchDocs();
  const ids = Array.from({ length: ops }, (_, i) => ObjectId.createFromTime(i + 1));
  // Documents of an insert task, made before each iteration (outside the timing).
  const prepared = new Map<string, Document[]>();
  const insertTask = (name: string, doc: Document, n: number, nominal: number, bulk: boolean): Task => ({
    name,
    canned: nominal === NOMINAL.largeDoc,
    bytes: n * nominal,
    before: async (c, db) => {
      await drop(c, db, 'insert');
      prepared.set(db, withIds(doc, n));
    },
    run: async (c, db) => {
      const docs = prepared.get(db)!;
      if (bulk) await c.insertMany(db, 'insert', docs);
      else for (const d of docs) await c.insertOne(db, 'insert', d);
    },
  });
  return [
    {
      name: 'run command',
      bytes: ops * NOMINAL.runCommand,
      run: async (c) => {
        for (let i = 0; i < ops; i++) await c.command('admin', { hello: true });
      },
    },
    {
      name: 'find one by _id',
      bytes: ops * NOMINAL.tweet,
      setup: (c, db) => load(c, db, 'tweets', ids.map((_id) => ({ ...tweet, _id }))),
      run: async (c, db) => {
        for (const _id of ids) if (!(await c.findOne(db, 'tweets', { _id }))) throw new Error(`tweet ${_id} not found`);
      },
    },
    insertTask('small doc insertOne', small, ops, NOMINAL.smallDoc, false),
    insertTask('large doc insertOne', large, largeOps, NOMINAL.largeDoc, false),
    {
      name: 'find many, empty cursor',
      bytes: config.findManyDocs * NOMINAL.tweet,
      setup: (c, db) => load(c, db, 'corpus', withIds(tweet, config.findManyDocs)),
      run: async (c, db) => {
        const n = await c.forEach(db, 'corpus', () => {});
        if (n !== config.findManyDocs) throw new Error(`find many read ${n} documents, expected ${config.findManyDocs}`);
      },
    },
    insertTask('small doc bulk insert', small, config.bulkDocs, NOMINAL.smallDoc, true),
    insertTask('large doc bulk insert', large, largeOps, NOMINAL.largeDoc, true),
    {
      name: 'LDJSON multi-file import',
      bytes: files.length * fileBytes,
      before: (c, db) => drop(c, db, 'ldjson'),
      // All files at once, each parsed and inserted with one insertMany (the driver splits it).
      run: async (c, db) => {
        await Promise.all(files.map((lines) => c.insertMany(db, 'ldjson', lines.map((line) => JSON.parse(line) as Document))));
      },
    },
    {
      name: 'LDJSON multi-file export',
      bytes: files.length * fileBytes,
      setup: async (c, db) => {
        for (const [i, lines] of files.entries()) await load(c, db, `ldjson_${i}`, lines.map((line) => JSON.parse(line) as Document));
      },
      run: async (c, db) => {
        await Promise.all(
          files.map(async (_, i) => {
            const lines: string[] = [];
            await c.forEach(db, `ldjson_${i}`, (doc) => lines.push(JSON.stringify(doc)));
            await writeFile(join(exportDir, `${db}_${i}.txt`), lines.join('\n') + '\n');
          }),
        );
      },
    },
  ];
}

/** The first `lines` lines of the first `count` LDJSON files of parallel.tgz. */
async function ldjsonFiles(count: number, lines: number): Promise<string[][]> {
  const entries = await readTarGz(fileURLToPath(new URL('parallel.tgz', BENCH_DATA)), (n) => /ldjson_multi\/ldjson\d+\.txt$/.test(n), count);
  return entries.map((e) => e.data.toString('utf8').split('\n').filter(Boolean).slice(0, lines));
}

export async function runSpecTasks(servers: SpecClients, config: SpecConfig, results: Results): Promise<void> {
  const files = await ldjsonFiles(config.ldjsonFiles, config.ldjsonLines);
  const exportDir = mkdtempSync(join(tmpdir(), 'mgo-bench-export-'));
  const dbOf = (c: BenchClient) => `mgo_bench_${c.variant.name.replace(/\W+/g, '_')}`;
  const list = tasks(config, files, exportDir);
  try {
    for (const c of servers.real) await c.dropDatabase(dbOf(c));
    for (const [t, task] of list.entries()) {
      const clients = task.canned ? servers.canned : servers.real;
      const scores = new Map<BenchClient, number[]>(clients.map((c) => [c, []]));
      for (const c of clients) await task.setup?.(c, dbOf(c));
      for (let rep = 0; rep <= config.reps; rep++) {
        const line: string[] = [];
        for (const c of rotated(clients, rep)) {
          await task.before?.(c, dbOf(c));
          const t0 = performance.now();
          await task.run(c, dbOf(c));
          const mbps = task.bytes / 1e6 / ((performance.now() - t0) / 1000);
          if (rep > 0) scores.get(c)!.push(mbps);
          line.push(`${c.variant.name} ${mbps.toFixed(2)}`);
        }
        log(`spec ${t + 1}/${list.length} ${task.name}: ${rep === 0 ? 'warm-up' : `rep ${rep}/${config.reps}`}: ${line.join(', ')} MB/s`);
      }
      const scenario = `spec: ${task.name}${task.canned ? ' (canned server)' : ''}`;
      for (const c of clients) results.add(scenario, c.variant, 'throughput', 'MB/s', scores.get(c)!);
    }
  } finally {
    for (const c of servers.real) await c.dropDatabase(dbOf(c)).catch(() => {});
    rmSync(exportDir, { recursive: true, force: true });
  }
}
