// The report's charts, drawn from the measurements (svg.ts).
import { OFFICIAL } from './clients.js';
import type { Measurement } from './results.js';
import { PALETTE, barChart, type Range } from './svg.js';

export interface NamedChart {
  /** File-name part: "cpu-heavy-throughput". */
  id: string;
  svg: string;
}

function colors(variants: string[]): { name: string; color: string }[] {
  return variants.map((name, i) => ({ name, color: name === OFFICIAL ? '#e15759' : PALETTE[i % PALETTE.length]! }));
}

function pick(all: readonly Measurement[], scenario: string, variant: string, metric: string): Range | undefined {
  return all.find((m) => m.scenario === scenario && m.variant === variant && m.metric === metric);
}

/** Variants of the rows matching `filter`, in order of appearance. */
function variantsOf(all: readonly Measurement[], filter: (m: Measurement) => boolean): string[] {
  return [...new Set(all.filter(filter).map((m) => m.variant))];
}

function grouped(all: readonly Measurement[], prefix: string, metric: string, title: string, yLabel: string, log = false) {
  const rows = all.filter((m) => m.scenario.startsWith(prefix) && m.metric === metric);
  const scenarios = [...new Set(rows.map((m) => m.scenario))];
  const variants = variantsOf(rows, () => true);
  return barChart({
    title,
    yLabel,
    log,
    groups: scenarios.map((s) => s.slice(prefix.length).trim()),
    series: colors(variants),
    values: scenarios.map((s) => variants.map((v) => pick(rows, s, v, metric))),
  });
}

const OFFICIAL_LINE = { value: 1, label: 'official driver = 1', color: '#e15759' };

/** Each mgo-threads variant's `metric` over the official driver's median, per scenario: median, min and max of the ratio. */
function ratioChart(all: readonly Measurement[], prefix: string, metric: string, title: string, yLabel: string, label: (scenario: string) => string, extra: { value: number; label: string; color: string }[] = []): string {
  const rows = all.filter((m) => m.scenario.startsWith(prefix) && m.metric === metric);
  const scenarios = [...new Set(rows.map((m) => m.scenario))];
  const variants = variantsOf(rows, (m) => m.variant !== OFFICIAL);
  return barChart({
    title,
    yLabel,
    groups: scenarios.map(label),
    series: colors(variants),
    values: scenarios.map((s) => {
      const official = pick(rows, s, OFFICIAL, metric);
      return variants.map((v) => {
        const r = pick(rows, s, v, metric);
        return r && official ? { median: r.median / official.median, min: r.min / official.median, max: r.max / official.median } : undefined;
      });
    }),
    references: [OFFICIAL_LINE, ...extra],
  });
}

const specLabel = (scenario: string): string =>
  scenario
    .slice('spec:'.length)
    .replace(' doc ', ' ')
    .replace('(canned server)', '(canned)')
    .replace('LDJSON multi-file', 'LDJSON')
    .replace(', empty cursor', '')
    .trim();

/** The README's chart: find-one throughput over the official driver's, by how busy the application keeps the main thread. */
export function summaryChart(all: readonly Measurement[]): string {
  return ratioChart(
    all,
    'cpu-heavy: find one,',
    'throughput',
    'Find one: ops/s relative to the official driver, by main-thread app load',
    'ops/s / official ops/s',
    (s) => s.slice('cpu-heavy: find one,'.length).trim(),
    [{ value: 1.5, label: 'target when busy: 1.5', color: '#555' }],
  );
}

export function charts(all: readonly Measurement[]): NamedChart[] {
  const out: NamedChart[] = [];
  const has = (prefix: string) => all.some((m) => m.scenario.startsWith(prefix));
  if (has('cpu-heavy:')) {
    out.push({ id: 'summary', svg: summaryChart(all) });
    out.push({ id: 'cpu-heavy-throughput', svg: grouped(all, 'cpu-heavy: find one,', 'throughput', 'Find one (1.5 KB) while the main thread is busy with app work', 'ops/s') });
    out.push({ id: 'cpu-heavy-main-thread', svg: grouped(all, 'cpu-heavy: find one,', 'main_thread_per_op', 'Main-thread time per find one (app work excluded)', 'µs per op') });
    out.push({ id: 'cpu-heavy-eld', svg: grouped(all, 'cpu-heavy: find one,', 'event_loop_delay_p99', 'p99 event-loop delay during the run', 'ms', true) });
  }
  if (has('main-thread cost:')) {
    out.push({ id: 'main-thread-cost', svg: grouped(all, 'main-thread cost:', 'main_thread_per_op', 'Main-thread time per operation by document size', 'µs per op', true) });
  }
  if (has('decode placement probe:')) {
    out.push({ id: 'decode-probe', svg: grouped(all, 'decode placement probe:', 'main_thread_per_doc', 'Main-thread time to take in one reply document', 'µs per document', true) });
  }
  if (has('spec:')) {
    out.push({
      id: 'spec-ratios',
      svg: ratioChart(all, 'spec:', 'throughput', 'Spec tasks: throughput relative to the official driver', 'MB/s / official MB/s', specLabel),
    });
  }
  if (has('http:')) {
    const label = (s: string) => s.slice('http:'.length).replace(" official's req/s", '').trim();
    const target = (value: number) => [{ value, label: `target (canned server): ${value}`, color: '#555' }];
    out.push({ id: 'http-throughput', svg: ratioChart(all, 'http:', 'throughput', 'HTTP service: req/s relative to the official driver', 'req/s / official req/s', label, target(1.3)) });
    out.push({ id: 'http-latency', svg: ratioChart(all, 'http:', 'latency_p99', 'HTTP service: latency p99 relative to the official driver', 'p99 / official p99', label, target(0.5)) });
    out.push({ id: 'http-health', svg: ratioChart(all, 'http:', 'health_p99', 'HTTP service: /health p99 during the load, relative to the official driver', 'p99 / official p99', label, target(0.5)) });
    out.push({ id: 'http-eld', svg: grouped(all, 'http:', 'event_loop_delay_p99', "HTTP service: the service's main-thread event-loop delay p99", 'ms', true) });
  }
  if (has('seed:')) {
    const rows = all.filter((m) => m.scenario.startsWith('seed:') && m.metric === 'max_sockets_per_limit');
    const variants = variantsOf(rows, () => true);
    out.push({
      id: 'seed',
      svg: barChart({
        title: `${rows[0]!.scenario.slice('seed:'.length).trim()}: most server-side sockets`,
        yLabel: 'most pool sockets / poolLimit',
        groups: ['pool sockets / limit (mgo-threads: server sockets minus its 1 monitoring socket)'],
        series: colors(variants),
        values: [variants.map((v) => pick(rows, rows[0]!.scenario, v, 'max_sockets_per_limit'))],
        references: [{ value: 1, label: 'poolLimit', color: '#c00' }],
      }),
    });
  }
  return out;
}
