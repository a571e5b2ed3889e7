// The table "mgo API → mgo-threads" (docs/mgo-api.md) stays true: one row
// per exported identifier of mgo's package, a status from the README's
// vocabulary, every function, type, method and field a "done" row names
// exists in the package's exports (as the TypeScript checker sees
// src/index.ts), and the README's counts are the table's.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = new URL('../../../', import.meta.url);
const TABLE = readFileSync(new URL('docs/mgo-api.md', ROOT), 'utf8');
const README = readFileSync(new URL('README.md', ROOT), 'utf8');

/** mgo r2018.06.15: 10 functions, 36 types, 156 methods, 156 fields, 21 constants, 2 variables. */
const MGO_IDENTIFIERS = 381;
const LANES = ['gridfs', 'cursors', 'changes', 'limits', 'queries', 'admin'];
const STATUSES = new Set(['done', 'done differently', 'left out', ...LANES.map((lane) => `in progress (${lane})`)]);

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

/**
 * The package's exports as TypeScript sees them (src/index.ts), so that a
 * row naming a type's field (an interface's, a class's) is checked as well
 * as one naming a method or a function.
 */
function packageExports() {
  const entry = fileURLToPath(new URL('src/index.ts', ROOT));
  const program = ts.createProgram([entry], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  const byName = new Map(checker.getExportsOfModule(moduleSymbol).map((symbol) => [symbol.name, symbol]));
  const resolve = (symbol: ts.Symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);

  /** The types a name stands for: an instance or declared type, and the value's own (a class's statics, Mode's keys). */
  const typesOf = (symbol: ts.Symbol): ts.Type[] => {
    const types: ts.Type[] = [];
    if (symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) types.push(checker.getDeclaredTypeOfSymbol(symbol));
    if (symbol.flags & ts.SymbolFlags.Value) types.push(checker.getTypeOfSymbol(symbol));
    return types;
  };

  /** Why `path` (Name, Name.member, Name.member.member...) is not in the exports, or undefined when it is. */
  return function missing(path: string[]): string | undefined {
    const [name, ...members] = path as [string, ...string[]];
    const symbol = byName.get(name);
    if (!symbol) return `${name} is not exported from src/index.ts`;
    let types = typesOf(resolve(symbol));
    for (const member of members) {
      const found = types.map((type) => checker.getNonNullableType(type).getProperty(member)).find((p) => p !== undefined);
      if (!found) return `${path.join('.')}: ${member} is not a member`;
      types = [checker.getNonNullableType(checker.getTypeOfSymbol(found))];
    }
    return undefined;
  };
}

/**
 * The exported name and members a cell's code names: `Session.copy()` ->
 * Session, copy; `dial(url)` -> dial; `DialInfo.readPreference.mode` ->
 * DialInfo, readPreference, mode. Undefined for a form with no export to
 * check (`for await (...)`, `'default'`, `{ ...info }`, an option name).
 */
function pathOf(code: string): string[] | undefined {
  const m = /^([A-Za-z]\w*(?:\.\w+)*)(\(|$)/.exec(code);
  if (!m) return undefined;
  const path = m[1]!.split('.');
  // A lower-case name alone is a function only when called: `tlsCertificateKeyFile` is a dial option.
  if (/^[a-z]/.test(path[0]!) && (path.length > 1 || m[2] !== '(')) return undefined;
  return path;
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
    const missing = packageExports();
    const problems: string[] = [];
    let checked = 0;
    for (const row of rows) {
      if (row.status !== 'done' && row.status !== 'done differently') continue;
      const code = /^`([^`]+)`/.exec(row.ours)?.[1];
      assert.ok(code, `line ${row.line} (${row.mgo}): the mgo-threads cell is not a code span`);
      const path = pathOf(code);
      if (!path) continue;
      checked++;
      const problem = missing(path);
      if (problem) problems.push(`line ${row.line} (${row.mgo}): ${problem}`);
    }
    assert.deepEqual(problems, []);
    // Nearly every row names an export: a parser that skipped them all would pass the loop above.
    assert.ok(checked > 300, `only ${checked} rows checked`);
  });

  test("the README's counts are the table's", () => {
    const table = countsOf(rows);
    const readme = readmeCounts();
    // A count the table no longer has is shown as 0 or left out of the README.
    for (const [status, n] of readme) if (!table.has(status)) table.set(status, n === 0 ? 0 : -1);
    assert.deepEqual(Object.fromEntries(readme), Object.fromEntries(table));
  });
});
