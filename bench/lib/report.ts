// Writes the run's JSON file, and beside it an HTML report (targets, notes,
// charts inlined as SVG, the tables) and each chart as an .svg file. The
// HTML has no script and loads nothing: it reads offline.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { charts } from './charts.js';
import type { Measurement } from './results.js';
import { cellText, tables } from './table.js';
import { targetValue, type TargetRow } from './targets.js';

export interface RunInfo {
  machine: { cpus: number; node: string; platform: string };
  profile: string;
  results: Measurement[];
}

export interface ReportContext {
  startedAt: Date;
  wallSeconds: number;
  targets: TargetRow[];
  /** Paragraphs (plain text) shown under "Notes". */
  notes: string[];
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const STYLE = `
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.met { color: #176b2c; font-weight: bold; }
.missed { color: #b00020; font-weight: bold; }
figure { margin: 1em 0; }
`;

function targetsHtml(rows: TargetRow[]): string {
  if (rows.length === 0) return '<p>No target could be evaluated (a scenario was skipped).</p>';
  const body = rows
    .map(
      (r) =>
        `<tr><td>${esc(r.target)}</td><td>${esc(r.variant)}</td><td class="num">${targetValue(r)}</td>` +
        `<td>${esc(r.goal)}</td><td class="${r.met ? 'met' : 'missed'}">${r.met ? 'met' : 'missed'}</td><td>${esc(r.detail)}</td></tr>`,
    )
    .join('\n');
  return `<table><tr><th>target</th><th>variant</th><th>value</th><th>goal</th><th></th><th>figures</th></tr>\n${body}</table>`;
}

function tablesHtml(all: readonly Measurement[]): string {
  return tables(all)
    .map((t) => {
      const head = `<tr><th>scenario · metric</th>${t.variants.map((v) => `<th>${esc(v)}</th>`).join('')}</tr>`;
      const rows = t.rows
        .map((r) => `<tr><td>${esc(`${r.scenario} · ${r.metric} (${r.unit})`)}</td>${t.variants.map((v) => `<td class="num">${esc(cellText(r, v))}</td>`).join('')}</tr>`)
        .join('\n');
      return `<h3>${esc(t.family)}</h3>\n<table>${head}\n${rows}</table>`;
    })
    .join('\n');
}

/** Writes `jsonPath`, the HTML report beside it (same name, .html) and one .svg per chart; returns the HTML path. */
export function writeReport(jsonPath: string, run: RunInfo, context: ReportContext): string {
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, JSON.stringify(run, null, 2) + '\n');
  const stem = jsonPath.replace(/\.json$/, '');
  const drawn = charts(run.results);
  for (const chart of drawn) writeFileSync(`${stem}-${chart.id}.svg`, chart.svg + '\n');
  const { machine } = run;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mgo-threads benchmark (${esc(run.profile)})</title><style>${STYLE}</style></head>
<body>
<h1>mgo-threads benchmark</h1>
<p>Profile <b>${esc(run.profile)}</b>, started ${esc(context.startedAt.toISOString())}, ${context.wallSeconds.toFixed(0)} s in all.
Machine: ${machine.cpus} CPUs, Node ${esc(machine.node)}, ${esc(machine.platform)}. Results: <code>${esc(basename(jsonPath))}</code>.
Each cell is the median over the repetitions, [min–max], and the ratio of the median to the official driver's.</p>
<h2>Targets</h2>
${targetsHtml(context.targets)}
<h2>Notes</h2>
${context.notes.map((n) => `<p>${esc(n)}</p>`).join('\n')}
<h2>Charts</h2>
${drawn.map((c) => `<figure>${c.svg}<figcaption>${esc(basename(`${stem}-${c.id}.svg`))}</figcaption></figure>`).join('\n')}
<h2>All measurements</h2>
${tablesHtml(run.results)}
</body></html>
`;
  const htmlPath = join(dirname(jsonPath), `${basename(stem)}.html`);
  writeFileSync(htmlPath, html);
  return htmlPath;
}
