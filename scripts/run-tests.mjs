#!/usr/bin/env node
// Runs every *.test.ts under test/ (or the files/folders given) with node:test
// and the tsx loader. Node 20's --test has no glob support, hence this script.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const targets = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('--'));

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path).sort()) {
      if (entry === 'node_modules' || entry === 'server') continue;
      collect(join(path, entry), out);
    }
  } else if (path.endsWith('.test.ts')) {
    out.push(relative(root, path));
  }
  return out;
}

const files = (targets.length ? targets : ['test']).flatMap((t) => collect(resolve(root, t), []));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...passThrough, ...files], {
  cwd: root,
  stdio: 'inherit',
});
child.on('close', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
