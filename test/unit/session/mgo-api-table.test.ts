// The table "mgo API → mgo-threads" (docs/mgo-api.md) stays true: one row
// per exported identifier of mgo's package, a status from the README's
// vocabulary, every method a "done" row names exists in the package's
// exports, and the README's counts are the table's.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as api from '../../../src/index.js';

const ROOT = new URL('../../../', import.meta.url);
const TABLE = readFileSync(new URL('docs/mgo-api.md', ROOT), 'utf8');
const README = readFileSync(new URL('README.md', ROOT), 'utf8');

/** mgo r2018.06.15: 10 functions, 36 types, 156 methods, 156 fields, 21 constants, 2 variables. */
const MGO_IDENTIFIERS = 381;
const LANES = ['gridfs', 'cursors', 'changes', 'limits', 'queries', 'admin'];
const STATUSES = new Set(['done', 'done differently', 'planned in issue 15', 'left out', ...LANES.map((lane) => `in progress (${lane})`)]);

interface Row {
  line: number;
  mgo: string;
  ours: string;
  status: string;
  note: string;
}

function rowsOf(markdown: string): Row[] {
  const rows: Row[] = [];
  markdown.split('\n').forEach((text, i) => {
    if (!text.startsWith('| `')) return;
    const cells = text.replace(/^\|/, '').replace(/\|\s*$/, '').split('|').map((cell) => cell.trim());
    assert.equal(cells.length, 4, `docs/mgo-api.md line ${i + 1}: want 4 cells (mgo | mgo-threads | status | note), got ${cells.length}`);
    const [mgo, ours, status, note] = cells as [string, string, string, string];
    rows.push({ line: i + 1, mgo, ours, status, note });
  });
  return rows;
}

/** `Session.Copy()` → Session.Copy; `Default` (FullDocument) → Default. */
function identifierOf(mgoCell: string): string {
  const code = /^`([^`(]+)/.exec(mgoCell);
  assert.ok(code, `not a code span: ${mgoCell}`);
  return code[1]!.trim();
}

/** Counts as the README shows them: the lanes' rows together as "in progress (issue 14)". */
function countsOf(rows: Row[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { status } of rows) {
    const key = status.startsWith('in progress') ? 'in progress (issue 14)' : status;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function readmeCounts(): Map<string, number> {
  const block = /<!-- mgo-api counts[^\n]*-->\n([\s\S]*?)<!-- end of mgo-api counts -->/.exec(README);
  assert.ok(block, 'README: the counts block of "mgo API → mgo-threads" is missing');
  const counts = new Map<string, number>();
  for (const line of block[1]!.split('\n')) {
    const m = /^\| ([^|]+?) \| (\d+) \|$/.exec(line);
    if (m) counts.set(m[1]!, Number(m[2]));
  }
  return counts;
}

const exported = api as Record<string, unknown>;

/**
 * The method or function a cell names, checked against the exports when
 * it is a runtime value: `Class.method(...)` on the class's prototype (or
 * the class itself), `fn(...)` as a function, `Object.key` as a property.
 * Undefined: the cell names a type or a form (`for await`) with no runtime
 * value to check.
 */
function missingFrom(code: string): string | undefined {
  let m = /^([A-Z]\w*)\.(\w+)\(/.exec(code);
  if (m) {
    const owner = exported[m[1]!];
    if (typeof owner !== 'function') return `${m[1]} is not an exported class`;
    const proto = (owner as { prototype: object }).prototype;
    return m[2]! in proto || m[2]! in owner ? undefined : `${m[1]} has no method ${m[2]}`;
  }
  m = /^([a-z]\w*)\(/.exec(code);
  if (m) return typeof exported[m[1]!] === 'function' ? undefined : `${m[1]} is not an exported function`;
  m = /^([A-Z]\w*)\.(\w+)$/.exec(code);
  if (m && m[1] === 'Mode') return m[2]! in (exported.Mode as object) ? undefined : `Mode has no ${m[2]}`;
  m = /^([A-Z]\w*)$/.exec(code);
  if (m && m[1]! in exported && exported[m[1]!] === undefined) return `${m[1]} is exported as undefined`;
  return undefined;
}

describe('mgo API table (docs/mgo-api.md)', () => {
  const rows = rowsOf(TABLE);

  test('one row for each exported identifier of mgo, none twice', () => {
    const seen = new Map<string, number>();
    for (const row of rows) {
      const id = identifierOf(row.mgo);
      assert.ok(!seen.has(id), `${id} has two rows (lines ${seen.get(id)} and ${row.line})`);
      seen.set(id, row.line);
    }
    assert.equal(rows.length, MGO_IDENTIFIERS);
  });

  test('every status is from the vocabulary; a decision or a difference is explained', () => {
    for (const row of rows) {
      assert.ok(STATUSES.has(row.status), `line ${row.line} (${row.mgo}): unknown status '${row.status}'`);
      if (row.status === 'done' || row.status === 'done differently') assert.notEqual(row.ours, '', `line ${row.line} (${row.mgo}): ${row.status} names nothing`);
      if (row.status === 'done differently' || row.status === 'left out') assert.notEqual(row.note, '', `line ${row.line} (${row.mgo}): ${row.status} without a note`);
    }
  });

  test('what a done row names exists in the package exports', () => {
    const missing: string[] = [];
    for (const row of rows) {
      if (row.status !== 'done' && row.status !== 'done differently') continue;
      const code = /^`([^`]+)`/.exec(row.ours)?.[1];
      assert.ok(code, `line ${row.line} (${row.mgo}): the mgo-threads cell is not a code span`);
      const problem = missingFrom(code);
      if (problem) missing.push(`line ${row.line} (${row.mgo}): ${problem}`);
    }
    assert.deepEqual(missing, []);
  });

  test("the README's counts are the table's", () => {
    const table = countsOf(rows);
    const readme = readmeCounts();
    // A count the table no longer has is shown as 0 or left out of the README.
    for (const [status, n] of readme) if (!table.has(status)) table.set(status, n === 0 ? 0 : -1);
    assert.deepEqual(Object.fromEntries(readme), Object.fromEntries(table));
  });
});
