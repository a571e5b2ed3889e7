// The API reference builds (npm run docs), and so every public export has a
// doc comment: typedoc.json makes an undocumented export, a broken {@link}
// or a public signature naming an unexported type an error. Validation only
// (--emit none): the HTML adds time and nothing to check. ~10-30 s, most of
// it TypeScript's type check of the sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
// typedoc's package exports no bin path; npm's .bin link would add a shell.
const typedoc = resolve(root, 'node_modules/typedoc/bin/typedoc');

test('npm run docs: TypeDoc validates every public export as documented', { timeout: 180_000 }, async () => {
  const { code, output } = await new Promise<{ code: number | null; output: string }>((done) => {
    execFile(process.execPath, [typedoc, '--emit', 'none'], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
    });
  });
  // TypeDoc prints each problem as a line naming the export; show them all.
  assert.equal(code, 0, `typedoc failed:\n${output}`);
  assert.doesNotMatch(output, /\[(warning|error)\]/);
});
