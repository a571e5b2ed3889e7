// Builds a Go command of this repository once and caches the binary, for the
// test fixtures that are Go programs (test/server: FerretDB; test/toxiproxy:
// Toxiproxy) and the benchmark's open-loop load generator (bench/vegeta:
// vegeta, a `tool` of that module, built from its own package). The modules come from the Go module proxy through the Go
// toolchain; a binary is rebuilt when its go.mod, go.sum, *.go files or the Go
// version change (the stamp beside it is a hash of them).
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * A cached build of the Go module in `source` (a folder of this repository),
 * its binary at .cache/<name>/<name>; `describe` is what the progress lines
 * say is being built (the first build downloads modules); `pkg` is the
 * package built, the module's own main package unless a tool it requires.
 */
export function goBinary({ name, source, describe, pkg = '.' }) {
  const sourceDir = join(root, source);
  const cacheDir = join(root, '.cache', name);
  const binaryPath = join(cacheDir, name);
  const stampPath = join(cacheDir, 'stamp');
  const log = (message) => process.stderr.write(`[${name}] ${message}\n`);

  const sourceStamp = () => {
    const hash = createHash('sha256');
    const goFiles = readdirSync(sourceDir).filter((file) => file.endsWith('.go')).sort();
    for (const file of ['go.mod', 'go.sum', ...goFiles]) hash.update(file).update(readFileSync(join(sourceDir, file)));
    hash.update(execFileSync('go', ['version'], { encoding: 'utf8' }));
    return hash.digest('hex');
  };

  const isBuilt = () => existsSync(binaryPath) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === sourceStamp();

  /** Builds unless the cached binary matches the sources; resolves to its path. */
  const ensureBuilt = async () => {
    if (isBuilt()) return binaryPath;
    mkdirSync(cacheDir, { recursive: true });
    const started = Date.now();
    const tmp = `${binaryPath}.${process.pid}.tmp`;
    log(`building ${describe}`);
    await runWithProgress(log, sourceDir, 'go', ['mod', 'download', '-x'], 'downloading modules', /^# get /);
    await runWithProgress(log, sourceDir, 'go', ['build', '-v', '-o', tmp, pkg], 'compiling', /^[\w./-]+$/);
    renameSync(tmp, binaryPath);
    writeFileSync(stampPath, sourceStamp());
    log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s -> ${binaryPath}`);
    return binaryPath;
  };

  return { binaryPath, tmpPath: `${binaryPath}.${process.pid}.tmp`, isBuilt, ensureBuilt, log };
}

/**
 * The command line of a fixture's script: `--build-only` builds if the cache
 * is stale; anything else builds, then runs the binary with those arguments
 * until it exits (SIGINT and SIGTERM passed on).
 */
export function runCommand(binary, args) {
  const main = async () => {
    await binary.ensureBuilt();
    if (args.includes('--build-only')) return;
    const child = spawn(binary.binaryPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
    child.on('close', (code) => process.exit(code ?? 0));
  };
  main().catch((err) => {
    binary.log(err.message);
    rmSync(binary.tmpPath, { force: true });
    process.exit(1);
  });
}

/** True when the module at `importMetaUrl` is the script node was started with. */
export function isEntryPoint(importMetaUrl) {
  return Boolean(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(importMetaUrl);
}

// Runs a go command, counting the lines that mark progress (a module fetched,
// a package compiled) and printing a status line every 10 s so CI logs move.
function runWithProgress(log, cwd, cmd, args, label, countPattern) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let count = 0;
    let tail = '';
    const started = Date.now();
    const onData = (chunk) => {
      tail = (tail + chunk.toString()).slice(-4000);
      for (const line of chunk.toString().split('\n')) if (countPattern.test(line.trim())) count++;
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setInterval(() => {
      log(`${label}: ${count} done, ${Math.round((Date.now() - started) / 1000)} s`);
    }, 10_000);
    child.on('error', (err) => {
      clearInterval(timer);
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', (code) => {
      clearInterval(timer);
      if (code === 0) {
        log(`${label}: finished (${count}) in ${Math.round((Date.now() - started) / 1000)} s`);
        resolvePromise();
      } else {
        reject(new Error(`${cmd} ${args.join(' ')} failed with exit code ${code}:\n${tail}`));
      }
    });
  });
}
