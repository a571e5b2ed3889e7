// The reliability report (issue 13, item 6): every fault of
// bench/chaos/faults.ts (Toxiproxy's toxics, FerretDB killed with SIGKILL
// and restarted) for each worker count, with more load and longer faults
// than the tests (test/integration/network-faults.test.ts and
// server-restart.test.ts run the same scenarios, bench/chaos/scenario.ts,
// short). Prints a table and writes the JSON and an HTML report with charts.
//
//   npm run chaos -- [--workers 0,2] [--faults latency,black hole,...] [--reps 1]
//        [--limit 10] [--fault-ms 3000] [--loops 12] [--out bench/results/chaos.json]
//        [--html bench/charts/chaos.html]
//
// Run by hand, not by CI: ~2 minutes on 2 cores.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { integerOption, option } from './lib/args.js';
import { ALL_FAULTS } from './chaos/faults.js';
import { chaosHtml, chaosTable } from './chaos/report.js';
import { CHAOS_DEFAULTS, describeChaosRun, runChaosScenario, startChaosEnvironment, type ChaosOptions, type ChaosResult } from './chaos/scenario.js';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const workersList = option(args, '--workers', '0,2').split(',').map(Number);
  const names = option(args, '--faults', ALL_FAULTS.map((f) => f.name).join(',')).split(',');
  const faults = names.map((name) => {
    const fault = ALL_FAULTS.find((f) => f.name === name.trim());
    if (fault === undefined) throw new Error(`unknown fault '${name}'; the faults: ${ALL_FAULTS.map((f) => f.name).join(', ')}`);
    return fault;
  });
  const reps = integerOption(args, '--reps', 1);
  const loops = integerOption(args, '--loops', 12);
  const options = {
    poolLimit: integerOption(args, '--limit', 10),
    writeLoops: loops,
    readLoops: loops,
    steadyOps: 200,
    faultMS: integerOption(args, '--fault-ms', 3_000),
    afterMS: 1_500,
    maxOpsPerLoop: 20_000,
    maxLoadMS: 60_000,
  } satisfies Partial<ChaosOptions>;
  const outPath = resolve(option(args, '--out', 'bench/results/chaos.json'));
  const htmlPath = resolve(option(args, '--html', 'bench/charts/chaos.html'));

  const started = performance.now();
  const log = (line: string) => process.stderr.write(`[chaos] ${line}\n`);
  log(`starting FerretDB and Toxiproxy (built on first use)`);
  const env = await startChaosEnvironment();
  const runs: ChaosResult[] = [];
  const total = reps * faults.length * workersList.length;
  try {
    for (let rep = 0; rep < reps; rep++) {
      for (const fault of faults) {
        // Interleaved: the worker counts alternate first from one repetition to the next.
        const order = workersList.map((_, i) => workersList[(i + rep) % workersList.length]!);
        for (const workers of order) {
          log(`${runs.length + 1}/${total}: ${fault.name}, workers ${workers}${reps > 1 ? `, rep ${rep + 1}` : ''} (${((performance.now() - started) / 1000).toFixed(0)} s so far)`);
          const result = await runChaosScenario(env, fault, { ...options, workers }, log);
          log(describeChaosRun(result));
          runs.push(result);
        }
      }
    }
  } finally {
    await env.close();
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const info = {
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), node: process.version, platform: `${process.platform} ${process.arch}` },
    options: { ...CHAOS_DEFAULTS, ...options, workers: workersList, reps },
    wallSeconds,
    runs,
  };
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, `${JSON.stringify(info, null, 2)}\n`);
  mkdirSync(dirname(htmlPath), { recursive: true });
  writeFileSync(htmlPath, chaosHtml(info));
  process.stdout.write(chaosTable(runs));
  log(`${runs.length} runs in ${wallSeconds.toFixed(0)} s; wrote ${outPath} and ${htmlPath}`);
  const broken = runs.filter((r) => r.violations.length > 0);
  if (broken.length > 0) {
    log(`invariants broken in ${broken.length} run(s): see the report`);
    process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
