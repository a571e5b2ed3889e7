#!/usr/bin/env node
// Builds (once, cached) and runs the embedded FerretDB test server of test/server.
//
//   node scripts/testserver.mjs --build-only     build if the cache is stale
//   node scripts/testserver.mjs [--port N]       run one until killed; prints its URI
//       [--tls-cert FILE --tls-key FILE [--tls-ca FILE]] [--user NAME --password PW]
//   node scripts/testserver.mjs gencerts --dir D write the TLS test certificates
//
// Arguments go to the binary as given (test/server/main.go lists its flags).
// The binary is cached in .cache/testserver keyed by a hash of the Go sources
// and the Go version, so a changed go.mod or toolchain rebuilds it.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(root, 'test', 'server');
const cacheDir = join(root, '.cache', 'testserver');
export const binaryPath = join(cacheDir, 'testserver');
const stampPath = join(cacheDir, 'stamp');

function log(message) {
  process.stderr.write(`[testserver] ${message}\n`);
}

function sourceStamp() {
  const hash = createHash('sha256');
  const goFiles = readdirSync(sourceDir).filter((file) => file.endsWith('.go')).sort();
  for (const file of ['go.mod', 'go.sum', ...goFiles]) hash.update(file).update(readFileSync(join(sourceDir, file)));
  hash.update(execFileSync('go', ['version'], { encoding: 'utf8' }));
  return hash.digest('hex');
}

export function isBuilt() {
  return existsSync(binaryPath) && existsSync(stampPath) && readFileSync(stampPath, 'utf8') === sourceStamp();
}

/** Builds the test server unless the cached binary matches the sources. */
export async function ensureBuilt() {
  if (isBuilt()) return binaryPath;
  mkdirSync(cacheDir, { recursive: true });
  const started = Date.now();
  const tmp = `${binaryPath}.${process.pid}.tmp`;
  log('building FerretDB v1.24 test server (first use: downloads modules, ~2-3 min on 2 cores)');
  await runWithProgress('go', ['mod', 'download', '-x'], 'downloading modules', /^# get /);
  await runWithProgress('go', ['build', '-v', '-o', tmp, '.'], 'compiling', /^[\w./-]+$/);
  renameSync(tmp, binaryPath);
  writeFileSync(stampPath, sourceStamp());
  log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s -> ${binaryPath}`);
  return binaryPath;
}

// Runs a go command, counting the lines that mark progress (a module fetched,
// a package compiled) and printing a status line every 10 s so CI logs move.
function runWithProgress(cmd, args, label, countPattern) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: sourceDir, stdio: ['ignore', 'pipe', 'pipe'] });
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

async function main() {
  const args = process.argv.slice(2);
  await ensureBuilt();
  if (args.includes('--build-only')) return;
  const child = spawn(binaryPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('close', (code) => process.exit(code ?? 0));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    log(err.message);
    rmSync(`${binaryPath}.${process.pid}.tmp`, { force: true });
    process.exit(1);
  });
}
