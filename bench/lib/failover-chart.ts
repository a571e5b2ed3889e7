// The failover experiment's chart: per worker count, one run's timeline,
// operations acknowledged per bucket (writes and reads as lines, errors
// surfaced as red bars) with the stepdown, partition and heal marked.
// Standalone SVG like svg.ts: no script, no external font or style.
import type { FailoverResult } from '../failover.js';
import { PALETTE } from './svg.js';

const W = 760;
const PANEL_H = 236;
const M = { top: 46, right: 20, bottom: 40, left: 64 };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function failoverChart(runs: readonly FailoverResult[]): string {
  const shown = [...new Map(runs.map((r) => [r.workers, r])).values()];
  const height = shown.length * PANEL_H + 30;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${height}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">Failover: operations acknowledged per 100 ms while the primary steps down, then is partitioned</text>`,
  ];
  shown.forEach((run, i) => parts.push(panel(run, 24 + i * PANEL_H)));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function panel(run: FailoverResult, top: number): string {
  const x0 = M.left;
  const x1 = W - M.right;
  const y0 = top + M.top - 4;
  const y1 = top + PANEL_H - M.bottom;
  const tMax = Math.max(1, run.timeline.at(-1)?.t ?? 1);
  const yMax = Math.max(1, ...run.timeline.map((b) => Math.max(b.writes, b.reads, b.errors)));
  const x = (t: number) => x0 + ((x1 - x0) * t) / tMax;
  const y = (v: number) => y1 - ((y1 - y0) * v) / yMax;
  const line = (key: 'writes' | 'reads', color: string) =>
    `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${run.timeline.map((b) => `${x(b.t).toFixed(1)},${y(b[key]).toFixed(1)}`).join(' ')}"/>`;
  const errors = run.timeline
    .filter((b) => b.errors > 0)
    .map((b) => `<rect x="${x(b.t).toFixed(1)}" y="${y(b.errors).toFixed(1)}" width="3" height="${(y1 - y(b.errors)).toFixed(1)}" fill="#e15759"/>`);
  const events = run.events.map(
    (e) =>
      `<line x1="${x(e.at).toFixed(1)}" x2="${x(e.at).toFixed(1)}" y1="${y0}" y2="${y1}" stroke="#555" stroke-dasharray="4 3"/>` +
      `<text x="${(x(e.at) + 3).toFixed(1)}" y="${y0 + 10}" fill="#333">${esc(e.name)}${e.writesResumedMS === null ? '' : ` (writes back in ${e.writesResumedMS.toFixed(0)} ms)`}</text>`,
  );
  const ticks: string[] = [];
  for (let s = 0; s * 1000 <= tMax; s++) {
    ticks.push(`<line x1="${x(s * 1000)}" x2="${x(s * 1000)}" y1="${y1}" y2="${y1 + 4}" stroke="#333"/><text x="${x(s * 1000)}" y="${y1 + 16}" text-anchor="middle">${s}</text>`);
  }
  const errorsTotal = [...Object.values(run.writes.errors), ...Object.values(run.reads.errors)].reduce((a, b) => a + b, 0);
  return [
    `<text x="${x0}" y="${top + 14}" font-size="12" font-weight="bold">workers ${run.workers}, poolLimit ${run.poolLimit}: ${run.writes.acknowledged} writes, ${run.reads.ok} reads, ${errorsTotal} errors surfaced, ${run.lost} acknowledged writes lost</text>`,
    `<line x1="${x0}" x2="${x1}" y1="${y1}" y2="${y1}" stroke="#333"/><line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y1}" stroke="#333"/>`,
    `<text x="${x0 - 6}" y="${y0 + 4}" text-anchor="end">${yMax}</text><text x="${x0 - 6}" y="${y1}" text-anchor="end">0</text>`,
    `<text x="${(x0 + x1) / 2}" y="${y1 + 30}" text-anchor="middle">seconds since the loops started</text>`,
    ...ticks,
    ...errors,
    line('writes', PALETTE[0]!),
    line('reads', PALETTE[1]!),
    ...events,
    `<text x="${x0}" y="${top + 30}" fill="${PALETTE[0]}">— writes</text><text x="${x0 + 55}" y="${top + 30}" fill="${PALETTE[1]}">— reads</text><text x="${x0 + 105}" y="${top + 30}" fill="#e15759">▮ errors surfaced</text>`,
  ].join('\n');
}
