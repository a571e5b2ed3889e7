// The chaos report (issue 13, item 6): a table per fault and worker count
// (operations, errors surfaced to the application, acknowledged writes
// lost, most sockets seen against the limit, time to recover), and an HTML
// page with bar charts of the same (bench/lib/svg.ts) and each run's
// timeline: operations settled per bucket, the fault's window shaded.
// Standalone like the other reports: no script, nothing loaded.
import { summarize } from '../lib/stats.js';
import { PALETTE, barChart, type Range } from '../lib/svg.js';
import { NO_FAULT } from './faults.js';
import type { ChaosOptions, ChaosResult } from './scenario.js';

export interface ChaosRunInfo {
  date: string;
  machine: { cpus: number; node: string; platform: string };
  /** The scenario options every run used (poolLimit, loops, fault length, driver timeouts), with the worker counts and repetitions. */
  options: Omit<ChaosOptions, 'workers'> & { workers: number[]; reps: number };
  wallSeconds: number;
  runs: ChaosResult[];
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Runs grouped by fault then worker count, in the order they first ran. */
function groups(runs: readonly ChaosResult[]): { fault: string; workers: number; runs: ChaosResult[] }[] {
  const out = new Map<string, { fault: string; workers: number; runs: ChaosResult[] }>();
  for (const r of runs) {
    const key = `${r.fault}\0${r.workers}`;
    if (!out.has(key)) out.set(key, { fault: r.fault, workers: r.workers, runs: [] });
    out.get(key)!.runs.push(r);
  }
  return [...out.values()];
}

/** "median (min–max)" over the repetitions, or the one value. */
function span(values: number[], digits = 0): string {
  const s = summarize(values);
  if (Number.isNaN(s.median)) return '-';
  return values.length === 1 || s.min === s.max ? s.median.toFixed(digits) : `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

function errorsText(r: ChaosResult): string {
  const entries = Object.entries(r.errors);
  return entries.length === 0 ? '0' : `${sum(r.errors)}: ${entries.map(([code, n]) => `${code} ${n}`).join(', ')}`;
}

interface Row {
  fault: string;
  workers: string;
  runs: string;
  operations: string;
  errors: string;
  lost: string;
  serverSockets: string;
  clientSockets: string;
  longest: string;
  recovery: string;
  invariants: string;
}

function rows(runs: readonly ChaosResult[]): Row[] {
  return groups(runs).map(({ fault, workers, runs: rs }) => ({
    fault,
    workers: String(workers),
    runs: String(rs.length),
    operations: span(rs.map((r) => r.operations)),
    errors: rs.map(errorsText).join(' / '),
    lost: rs.map((r) => r.lost).join(', '),
    serverSockets: `${Math.max(...rs.map((r) => r.maxServerSockets))} (${rs[0]!.socketAllowance})`,
    clientSockets: `${Math.max(...rs.map((r) => r.maxClientSockets))} (${rs[0]!.poolLimit})`,
    longest: span(rs.map((r) => r.longestOpMS)),
    recovery: span(rs.map((r) => r.recoveryMS ?? Number.NaN)),
    invariants: rs.every((r) => r.violations.length === 0) ? 'held' : `${rs.reduce((n, r) => n + r.violations.length, 0)} broken`,
  }));
}

const HEADER = [
  'fault',
  'workers',
  'runs',
  'operations',
  'errors surfaced',
  'acknowledged writes lost',
  'most sockets, server side (allowed)',
  'most pool sockets, client side (limit)',
  'longest operation, ms',
  'time to recover, ms',
  'invariants',
];

/** The README's table (Markdown). */
export function chaosTable(runs: readonly ChaosResult[]): string {
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`];
  for (const r of rows(runs)) {
    lines.push(`| ${r.fault} | ${r.workers} | ${r.runs} | ${r.operations} | ${r.errors} | ${r.lost} | ${r.serverSockets} | ${r.clientSockets} | ${r.longest} | ${r.recovery} | ${r.invariants} |`);
  }
  return `${lines.join('\n')}\n`;
}

function range(values: number[]): Range | undefined {
  const s = summarize(values);
  return Number.isNaN(s.median) ? undefined : s;
}

/** One bar chart over the faults, a bar per worker count. */
function perFaultChart(runs: readonly ChaosResult[], title: string, yLabel: string, value: (r: ChaosResult) => number, references?: { value: number; label: string; color: string }[]): string {
  const faults = [...new Set(runs.map((r) => r.fault))];
  const workers = [...new Set(runs.map((r) => r.workers))];
  return barChart({
    title,
    yLabel,
    groups: faults,
    series: workers.map((w, i) => ({ name: `workers ${w}`, color: PALETTE[i % PALETTE.length]! })),
    values: faults.map((f) => workers.map((w) => range(runs.filter((r) => r.fault === f && r.workers === w).map(value)))),
    ...(references ? { references } : {}),
  });
}

export function chaosCharts(runs: readonly ChaosResult[]): { id: string; svg: string }[] {
  const allowance = Math.max(...runs.map((r) => r.socketAllowance));
  const limit = Math.max(...runs.map((r) => r.poolLimit));
  return [
    { id: 'recovery', svg: perFaultChart(runs, 'Time to recover: from the fault removed to the first success', 'ms', (r) => r.recoveryMS ?? Number.NaN) },
    { id: 'errors', svg: perFaultChart(runs, 'Errors surfaced to the application (per 100 operations)', 'errors per 100 operations', (r) => (100 * sum(r.errors)) / Math.max(1, r.operations)) },
    {
      id: 'sockets',
      svg: perFaultChart(runs, 'Most sockets the server saw at once (counting proxy)', 'sockets', (r) => r.maxServerSockets, [
        { value: allowance, label: `allowed: poolLimit ${limit} + monitoring`, color: '#c00' },
      ]),
    },
  ];
}

const TL = { w: 470, h: 150, left: 44, right: 10, top: 30, bottom: 30 };

/** One run's timeline: operations that succeeded (line) and failed (red bars) per bucket, the fault's window shaded, the first success after it marked. */
export function timelineSvg(r: ChaosResult): string {
  const x0 = TL.left;
  const x1 = TL.w - TL.right;
  const y0 = TL.top;
  const y1 = TL.h - TL.bottom;
  const bucketMS = r.timeline.length > 1 ? r.timeline[1]!.t - r.timeline[0]!.t : 100;
  const tMax = Math.max(1, r.durationMS);
  const yMax = Math.max(1, ...r.timeline.map((b) => Math.max(b.ok, b.errors)));
  const x = (t: number) => x0 + ((x1 - x0) * Math.min(t, tMax)) / tMax;
  const y = (v: number) => y1 - ((y1 - y0) * v) / yMax;
  const barW = Math.max(1, x(bucketMS) - x(0) - 1);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${TL.w}" height="${TL.h}" viewBox="0 0 ${TL.w} ${TL.h}" font-family="sans-serif" font-size="10">`,
    `<rect width="${TL.w}" height="${TL.h}" fill="white"/>`,
    `<text x="${x0}" y="13" font-size="12" font-weight="bold">${esc(r.fault)} · workers ${r.workers}</text>`,
    `<text x="${x0}" y="25" fill="#444">${r.operations} ops, ${sum(r.errors)} errors, ${r.lost} lost, sockets ${r.maxServerSockets}/${r.socketAllowance}, recovered ${r.recoveryMS === null ? 'never' : `${r.recoveryMS.toFixed(0)} ms`} after removal</text>`,
    `<rect x="${x(r.faultAt).toFixed(1)}" y="${y0}" width="${Math.max(1, x(r.removedAt) - x(r.faultAt)).toFixed(1)}" height="${y1 - y0}" fill="#fbe3e3"/>`,
    `<text x="${(x(r.faultAt) + 2).toFixed(1)}" y="${y0 + 10}" fill="#a33">${r.fault === NO_FAULT.name ? 'nothing applied' : 'fault'}</text>`,
  ];
  for (const b of r.timeline) {
    if (b.errors > 0) parts.push(`<rect x="${x(b.t).toFixed(1)}" y="${y(b.errors).toFixed(1)}" width="${barW.toFixed(1)}" height="${(y1 - y(b.errors)).toFixed(1)}" fill="#e15759"/>`);
  }
  parts.push(`<polyline fill="none" stroke="${PALETTE[0]}" stroke-width="1.3" points="${r.timeline.map((b) => `${x(b.t + bucketMS / 2).toFixed(1)},${y(b.ok).toFixed(1)}`).join(' ')}"/>`);
  if (r.recoveryMS !== null) {
    const rx = x(r.removedAt + r.recoveryMS).toFixed(1);
    parts.push(`<line x1="${rx}" x2="${rx}" y1="${y0}" y2="${y1}" stroke="#2a7d2a" stroke-dasharray="3 2"/>`);
  }
  parts.push(`<line x1="${x0}" x2="${x1}" y1="${y1}" y2="${y1}" stroke="#333"/><line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y1}" stroke="#333"/>`);
  parts.push(`<text x="${x0 - 4}" y="${y0 + 8}" text-anchor="end">${yMax}</text><text x="${x0 - 4}" y="${y1}" text-anchor="end">0</text>`);
  const step = tMax > 20_000 ? 5_000 : tMax > 8_000 ? 2_000 : 1_000;
  for (let t = 0; t <= tMax; t += step) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${y1}" y2="${y1 + 3}" stroke="#333"/><text x="${x(t).toFixed(1)}" y="${y1 + 13}" text-anchor="middle">${t / 1000}</text>`);
  }
  parts.push(`<text x="${x1}" y="${y1 + 25}" text-anchor="end" fill="#444">s since the load started; per ${bucketMS} ms</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

const STYLE = `
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.broken { color: #b00020; font-weight: bold; }
.grid { display: grid; grid-template-columns: repeat(2, 470px); gap: 8px 16px; }
.legend span { margin-right: 1.5em; }
code { font-size: 12px; }
`;

function loadSentence(o: ChaosRunInfo['options']): string {
  const t = o.timeouts;
  return (
    `The load: ${o.writeLoops} write loops and ${o.readLoops} read loops, every operation on its own session.copy() (Strong mode), ` +
    `through driver → counting proxy → Toxiproxy → FerretDB, poolLimit ${o.poolLimit}, maxLifetimeMS ${o.maxLifetimeMS}; ` +
    `the fault applied after ${o.steadyOps} successes, held ${o.faultMS} ms, then the load goes on until ${o.afterMS} ms after the first success. ` +
    `Driver timeouts: socketTimeoutMS ${t.socketTimeoutMS}, connectTimeoutMS ${t.connectTimeoutMS}, serverSelectionTimeoutMS ${t.serverSelectionTimeoutMS}, ` +
    `heartbeatFrequencyMS ${t.heartbeatFrequencyMS}, waitQueueTimeoutMS ${t.waitQueueTimeoutMS}. Workers ${o.workers.join(' and ')}, ${o.reps} run(s) each.`
  );
}

export function chaosHtml(info: ChaosRunInfo): string {
  const table = rows(info.runs)
    .map(
      (r) =>
        `<tr>${[r.fault, r.workers, r.runs, r.operations, r.errors, r.lost, r.serverSockets, r.clientSockets, r.longest, r.recovery]
          .map((cell) => `<td>${esc(cell)}</td>`)
          .join('')}<td class="${r.invariants === 'held' ? '' : 'broken'}">${esc(r.invariants)}</td></tr>`,
    )
    .join('\n');
  const descriptions = [...new Map(info.runs.map((r) => [r.fault, r.description])).entries()].map(([f, d]) => `<li><b>${esc(f)}</b>: ${esc(d)}</li>`).join('\n');
  const violations = info.runs.flatMap((r) => r.violations.map((v) => `<li>${esc(`${r.fault}, workers ${r.workers}: ${v}`)}</li>`));
  const samples = info.runs.flatMap((r) => Object.entries(r.errorSamples).map(([code, message]) => `<li>${esc(`${r.fault}, workers ${r.workers}, ${code}: ${message}`)}</li>`));
  const timelines = groups(info.runs).map((g) => g.runs[0]!);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mgo-threads under faults</title><style>${STYLE}</style></head>
<body>
<h1>mgo-threads under faults (<code>npm run chaos</code>)</h1>
<p>Started ${esc(info.date)}, ${info.wallSeconds.toFixed(0)} s in all. Machine: ${info.machine.cpus} CPUs, Node ${esc(info.machine.node)}, ${esc(info.machine.platform)}.
${esc(loadSentence(info.options))}</p>
<h2>Faults</h2>
<ul>${descriptions}</ul>
<h2>Results</h2>
<p>Errors surfaced: operations that failed at the application (by error code; HANG: missed its deadline). Lost: acknowledged writes missing when read back after the fault.
Server side: the most sockets the counting proxy had open at once (pool and monitoring). Client side: ${esc([...new Set(info.runs.map((r) => r.clientSocketsSource))].join(', '))}.
Longest operation: from its <code>copy()</code> to its result or error, what an application waited at worst.
Time to recover: from the fault's removal to the first success of an operation started after it.</p>
<table><tr>${HEADER.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>
${table}</table>
${violations.length > 0 ? `<h2 class="broken">Invariants broken</h2><ul>${violations.join('\n')}</ul>` : '<p>Every invariant held in every run (limit, deadlines, acknowledged writes, baseline, new operations).</p>'}
<h2>Charts</h2>
${chaosCharts(info.runs)
  .map((c) => `<figure>${c.svg}</figure>`)
  .join('\n')}
<h2>Timelines</h2>
<p class="legend"><span style="color:${PALETTE[0]}">— operations succeeded</span><span style="color:#e15759">▮ errors surfaced</span><span style="color:#a33">▮ fault applied (shaded)</span><span style="color:#2a7d2a">┆ first success after removal</span></p>
<div class="grid">
${timelines.map((r) => `<div>${timelineSvg(r)}</div>`).join('\n')}
</div>
<h2>Error messages (a sample per code)</h2>
<ul>${samples.join('\n') || '<li>none</li>'}</ul>
</body></html>
`;
}
