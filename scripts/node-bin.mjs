#!/usr/bin/env node
// Installs another Node.js release to run the tests on, and prints the folder
// of its `node` binary, to put first on PATH:
//
//   PATH="$(node scripts/node-bin.mjs 24):$PATH" npm test
//
// npm, the test runner, tsx, worker threads and every child process the tests
// spawn (process.execPath) then run on that Node. The binary comes from the
// npm registry's `node` package (its preinstall adds the matching
// node-<os>-<arch> package, which holds the binary), installed into
// .cache/node/<major>, not as a devDependency: node_modules/.bin/node would
// take the place of the machine's node in every npm script. Installed once,
// then reused while its version matches.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

// Pinned, so that every CI run tests the same release; raise them on purpose.
const RELEASES = { 20: '20.20.2', 22: '22.23.3', 24: '24.21.0' };

const root = resolve(import.meta.dirname, '..');
const major = process.argv[2];
const version = RELEASES[major];
if (version === undefined) {
  console.error(`usage: node scripts/node-bin.mjs <major>, one of ${Object.keys(RELEASES).join(', ')}`);
  process.exit(2);
}

const prefix = join(root, '.cache', 'node', major);
const bin = join(prefix, 'node_modules', 'node', 'bin');

function installedVersion() {
  if (!existsSync(join(bin, 'node'))) return undefined;
  const ran = spawnSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' });
  return ran.status === 0 ? ran.stdout.trim() : undefined;
}

if (installedVersion() !== `v${version}`) {
  console.error(`[node-bin] installing node@${version} into ${prefix}`);
  // stdout stays the printed folder alone: npm's output goes to stderr.
  const installed = spawnSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node@${version}`], {
    stdio: ['ignore', process.stderr, process.stderr],
  });
  if (installed.status !== 0) process.exit(installed.status ?? 1);
  const now = installedVersion();
  if (now !== `v${version}`) {
    console.error(`[node-bin] node@${version} installed, but ${join(bin, 'node')} --version says ${now ?? 'nothing'}`);
    process.exit(1);
  }
}
console.log(bin);
