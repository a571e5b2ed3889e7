// The results as tables: one per scenario family (the part of the scenario
// name before ':'), a row per scenario and metric, a column per variant,
// each cell "median [min–max]" and, where the official driver ran the same
// row, the ratio to it.
import { OFFICIAL } from './clients.js';
import type { Measurement } from './results.js';

export interface Row {
  scenario: string;
  metric: string;
  unit: string;
  cells: Map<string, Measurement>;
}

export interface Table {
  family: string;
  variants: string[];
  rows: Row[];
}

export function tables(all: readonly Measurement[]): Table[] {
  const byFamily = new Map<string, Table>();
  for (const m of all) {
    const family = m.scenario.split(':')[0]!;
    let table = byFamily.get(family);
    if (!table) byFamily.set(family, (table = { family, variants: [], rows: [] }));
    if (!table.variants.includes(m.variant)) table.variants.push(m.variant);
    let row = table.rows.find((r) => r.scenario === m.scenario && r.metric === m.metric);
    if (!row) table.rows.push((row = { scenario: m.scenario, metric: m.metric, unit: m.unit, cells: new Map() }));
    row.cells.set(m.variant, m);
  }
  return [...byFamily.values()];
}

/** Three significant digits, without exponent notation. */
export function num(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

/** Units whose ratio between drivers says nothing (socket counts, shares, CPU cores, an offered rate): no ratio is shown. */
const NO_RATIO = new Set(['sockets', '×', 'count', 'fraction', 'cores', 'req/s offered']);

/** The ratio of a cell to the official driver's cell of the same row, or undefined. */
export function ratioToOfficial(row: Row, variant: string): number | undefined {
  if (NO_RATIO.has(row.unit)) return undefined;
  const official = row.cells.get(OFFICIAL);
  const m = row.cells.get(variant);
  if (!official || !m || variant === OFFICIAL || official.median === 0) return undefined;
  return m.median / official.median;
}

export function cellText(row: Row, variant: string): string {
  const m = row.cells.get(variant);
  if (!m) return '';
  const range = m.reps > 1 || m.reps === 0 ? ` [${num(m.min)}–${num(m.max)}]` : '';
  const ratio = ratioToOfficial(row, variant);
  return `${num(m.median)}${range}${ratio === undefined ? '' : ` ${ratio.toFixed(2)}×`}`;
}

export function formatTables(all: readonly Measurement[]): string {
  const out: string[] = [];
  for (const table of tables(all)) {
    const labels = table.rows.map((r) => `${r.scenario.slice(table.family.length + 1).trim() || r.scenario} · ${r.metric} (${r.unit})`);
    const labelW = Math.max(...labels.map((l) => l.length), 10);
    const widths = table.variants.map((v) => Math.max(v.length, ...table.rows.map((r) => cellText(r, v).length)));
    out.push('', `${table.family}: median [min–max], ratio to official`);
    out.push(`  ${''.padEnd(labelW)}  ${table.variants.map((v, i) => v.padEnd(widths[i]!)).join('  ')}`);
    table.rows.forEach((row, j) => {
      out.push(`  ${labels[j]!.padEnd(labelW)}  ${table.variants.map((v, i) => cellText(row, v).padEnd(widths[i]!)).join('  ')}`.trimEnd());
    });
  }
  return out.join('\n');
}
