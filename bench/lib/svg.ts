// Grouped bar charts as standalone SVG: one group per label, one bar per
// series, the median as the bar and min-max as a whisker. No script, no
// external font or style: viewable offline and embeddable in HTML.

export interface Range {
  median: number;
  min: number;
  max: number;
}

export interface BarChart {
  title: string;
  yLabel: string;
  groups: string[];
  series: { name: string; color: string }[];
  /** values[group][series]; undefined draws nothing. */
  values: (Range | undefined)[][];
  /** Logarithmic y axis (for values that span orders of magnitude). */
  log?: boolean;
  /** Dashed horizontal lines, e.g. 1.0 for ratios; named in the legend. */
  references?: { value: number; label: string; color: string }[];
}

export const PALETTE = ['#4e79a7', '#59a14f', '#9c755f', '#b07aa1', '#76b7b2', '#e15759', '#f28e2b'];

const W = 760;
const H = 360;
const M = { top: 40, right: 20, bottom: 84, left: 70 };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${(v / 1e3).toPrecision(3)}k`;
  return a >= 100 ? v.toFixed(0) : v.toPrecision(2);
}

/** Words of `text` in lines of at most `width` characters (a longer word stands alone), at most three lines. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + word.length <= width) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines.length > 3 ? [...lines.slice(0, 2), lines.slice(2).join(' ')] : lines;
}

/** Tick values: powers of ten (log) or about five round steps (linear). */
function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
    return out;
  }
  const raw = hi / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((s) => s * mag).find((s) => s >= raw)!;
  return Array.from({ length: Math.floor(hi / step) + 1 }, (_, i) => i * step);
}

export function barChart(chart: BarChart): string {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const finite = chart.values.flat().flatMap((r) => (r ? [r.median, r.min, r.max] : [])).filter((v) => Number.isFinite(v) && (!chart.log || v > 0));
  for (const r of chart.references ?? []) finite.push(r.value);
  const hiRaw = finite.length ? Math.max(...finite) : 1;
  const loRaw = finite.length ? Math.min(...finite) : 1;
  const tickValues = chart.log ? ticks(loRaw, hiRaw, true) : ticks(0, hiRaw * 1.05 || 1, false);
  const lo = chart.log ? tickValues[0]! : 0;
  const hi = chart.log ? tickValues.at(-1)! : Math.max(tickValues.at(-1)!, hiRaw * 1.05);
  const y = (v: number): number => {
    const f = chart.log ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : v / hi;
    return M.top + plotH * (1 - f);
  };
  const groupW = plotW / Math.max(1, chart.groups.length);
  const barW = Math.min(28, (groupW * 0.8) / Math.max(1, chart.series.length));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(chart.title)}</text>`);
  for (const t of tickValues) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}${chart.log ? ' (log scale)' : ''}</text>`);
  chart.groups.forEach((group, g) => {
    const x0 = M.left + g * groupW + (groupW - barW * chart.series.length) / 2;
    chart.series.forEach((s, i) => {
      const r = chart.values[g]?.[i];
      if (!r || !Number.isFinite(r.median)) return;
      const x = x0 + i * barW;
      const top = y(r.median);
      out.push(
        `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${Math.max(0, y(lo) - top).toFixed(1)}" fill="${s.color}">` +
          `<title>${esc(`${group} · ${s.name}: ${fmt(r.median)} (${fmt(r.min)}–${fmt(r.max)})`)}</title></rect>`,
      );
      const cx = (x + (barW - 2) / 2).toFixed(1);
      out.push(`<line x1="${cx}" x2="${cx}" y1="${y(r.max).toFixed(1)}" y2="${y(r.min).toFixed(1)}" stroke="#222"/>`);
    });
    const cx = (M.left + (g + 0.5) * groupW).toFixed(1);
    const lines = wrap(group, Math.max(6, Math.floor(groupW / 6.2)));
    out.push(`<text x="${cx}" y="${H - M.bottom + 16}" text-anchor="middle">${lines.map((l, k) => `<tspan x="${cx}" dy="${k === 0 ? 0 : 13}">${esc(l)}</tspan>`).join('')}</text>`);
  });
  for (const r of chart.references ?? []) {
    const ry = y(r.value).toFixed(1);
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${ry}" y2="${ry}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  }
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(lo)}" y2="${y(lo)}" stroke="#333"/>`);
  // Legend, one row under the groups' labels: the series, then the reference lines.
  let lx = M.left;
  for (const s of chart.series) {
    out.push(`<rect x="${lx}" y="${H - 22}" width="12" height="12" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 16}" y="${H - 12}">${esc(s.name)}</text>`);
    lx += 24 + s.name.length * 6.5;
  }
  for (const r of chart.references ?? []) {
    out.push(`<line x1="${lx}" x2="${lx + 18}" y1="${H - 16}" y2="${H - 16}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${lx + 22}" y="${H - 12}">${esc(r.label)}</text>`);
    lx += 30 + r.label.length * 6.5;
  }
  out.push('</svg>');
  return out.join('\n');
}
