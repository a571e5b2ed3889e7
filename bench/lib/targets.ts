// The issues' targets, evaluated on the medians (reported, not asserted).
// Ratios are to the official driver at the same connection limit, measured
// side by side in the same run:
//   - find-one ops/s: idle app >= 1.0x; app >= 50 % busy >= 1.5x;
//   - p99 event-loop delay, workers 1 and 2: within noise of the official
//     driver's (<= 1.2x or + 2 ms), idle and busy, small and 16 KB documents;
//   - main-thread time per find-one of the tweet, workers 1 and 2, idle app:
//     <= 30 µs absolute;
//   - main-thread time per 16 KB read <= 0.5x; per insert <= 0.8x for 16 KB
//     and large_doc;
//   - 200 µs of app CPU per request: >= 1.5x the official driver's req/s;
//   - insert throughput, workers 1 and 2, 8 concurrent: >= 1.0x idle, >= 1.5x busy;
//   - seed experiment: most server-side pool sockets exactly the limit;
//   - HTTP service on the canned server, 200 µs app CPU per request:
//     closed-loop req/s >= 1.3x; open loop at 0.8x the official driver's
//     capacity: latency p99 and /health p99 <= 0.5x (issue 16).
// Each row says why, with the figures that decide it.
import { OFFICIAL } from './clients.js';
import type { Measurement, Results } from './results.js';

export interface TargetRow {
  target: string;
  variant: string;
  /** The figure compared with the threshold (a ratio, a time, or a socket count). */
  value: number;
  goal: string;
  met: boolean;
  detail: string;
  /** How `value` reads: a ratio (default), µs, or a count. */
  unit?: 'ratio' | 'µs' | 'count';
}

export interface TargetInputs {
  /** Scenario names of the CPU-heavy cells: idle/busy find-one of the tweet, and of the 16 KB document. */
  cpuScenario(busy: number, doc?: 'tweet' | 'typed16kb'): string;
  busyFractions: number[];
  handlerScenario?: string;
  readCostScenarios: string[];
  writeCostScenarios: string[];
  /** The decode placement probe rows for the 16 KB documents, to say where a 16 KB read's main-thread time goes. */
  decodeProbe16k?: { scenario: string; bsonVariant: string; cloneVariant: string };
  writesScenario?(busy: number): string;
  writesBusy: number[];
  seedScenario: string | undefined;
  /** The events scenario (scenarios/events.ts): its find-one cell, its wanted() probe, and how it names variants. */
  events?: { scenario: string; probe: string; variant(workers: number, observing: 'none' | 'commands' | 'all'): string; workers: number[] };
  poolLimit: number;
  /** The HTTP scenario's canned-server rows: closed and open loop. */
  http?: { closed: string; open: string };
}

const r2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
const us = (m: Measurement | undefined): string => (m ? `${m.median.toFixed(0)} µs` : 'n/a');
const ms = (m: Measurement | undefined): string => (m ? `${m.median.toFixed(1)} ms` : 'n/a');

function mgoVariants(results: Results, scenario: string, metric: string, minWorkers = 0): Measurement[] {
  return results.all.filter((m) => m.scenario === scenario && m.metric === metric && m.workers !== null && m.workers >= minWorkers);
}

/** A ratio target (mgo median / official median) for every mgo variant with at least `minWorkers`. */
function ratioRows(
  results: Results,
  scenario: string,
  metric: string,
  target: string,
  goal: { atMost?: number; atLeast?: number },
  detail: (m: Measurement, official: Measurement) => string,
  minWorkers = 0,
): TargetRow[] {
  const official = results.find(scenario, OFFICIAL, metric);
  if (!official) return [];
  return mgoVariants(results, scenario, metric, minWorkers).map((m) => {
    const ratio = m.median / official.median;
    const met = goal.atMost !== undefined ? ratio <= goal.atMost : ratio >= goal.atLeast!;
    return {
      target,
      variant: m.variant,
      value: ratio,
      goal: goal.atMost !== undefined ? `≤ ${goal.atMost}×` : `≥ ${goal.atLeast!.toFixed(1)}×`,
      met,
      detail: detail(m, official),
    };
  });
}

export function evaluateTargets(results: Results, inputs: TargetInputs): TargetRow[] {
  const rows: TargetRow[] = [];
  const costDetail = (scenario: string) => (m: Measurement, official: Measurement) =>
    `${m.median.toFixed(0)} vs ${official.median.toFixed(0)} ops/s; main thread per op ${us(results.find(scenario, m.variant, 'main_thread_per_op'))} vs ${us(
      results.find(scenario, OFFICIAL, 'main_thread_per_op'),
    )}`;

  // Find-one throughput by app load (the tweet).
  for (const busy of inputs.busyFractions) {
    const scenario = inputs.cpuScenario(busy);
    const goalRatio = busy >= 0.5 ? 1.5 : busy === 0 ? 1.0 : undefined;
    if (goalRatio === undefined) continue;
    const target = busy === 0 ? 'idle: find-one ops/s ≥ 1.0× official' : `app ${Math.round(busy * 100)}% busy: find-one ops/s ≥ 1.5× official`;
    rows.push(...ratioRows(results, scenario, 'throughput', target, { atLeast: goalRatio }, costDetail(scenario)));
  }

  // Event-loop delay, workers 1 and 2: within 1.2x or 2 ms of the official driver's.
  const delayScenarios: string[] = [];
  for (const doc of ['tweet', 'typed16kb'] as const) for (const busy of inputs.busyFractions) delayScenarios.push(inputs.cpuScenario(busy, doc));
  if (inputs.handlerScenario) delayScenarios.push(inputs.handlerScenario);
  for (const scenario of delayScenarios) {
    const official = results.find(scenario, OFFICIAL, 'event_loop_delay_p99');
    if (!official) continue;
    for (const m of mgoVariants(results, scenario, 'event_loop_delay_p99', 1)) {
      const allowed = Math.max(official.median * 1.2, official.median + 2);
      const slice = results.find(scenario, m.variant, 'largest_slice');
      rows.push({
        target: `p99 event-loop delay ≤ 1.2× or + 2 ms official · ${scenario}`,
        variant: m.variant,
        value: m.median / official.median,
        goal: `≤ ${allowed.toFixed(1)} ms`,
        met: m.median <= allowed,
        detail: `${ms(m)} vs ${ms(official)}; longest reply slice ${slice ? `${slice.max.toFixed(1)} ms (median ${slice.median.toFixed(1)})` : 'n/a'}`,
      });
    }
  }

  // Main-thread time per find-one of the tweet, idle app, workers >= 1: <= 30 µs.
  const idleTweet = inputs.cpuScenario(0);
  const officialIdle = results.find(idleTweet, OFFICIAL, 'main_thread_per_op');
  for (const m of mgoVariants(results, idleTweet, 'main_thread_per_op', 1)) {
    rows.push({
      target: 'main-thread time per find-one of the tweet ≤ 30 µs (idle app, 64 loops)',
      variant: m.variant,
      value: m.median,
      unit: 'µs',
      goal: '≤ 30 µs',
      met: m.median <= 30,
      detail: `${us(m)} (CPU ${us(results.find(idleTweet, m.variant, 'main_thread_cpu_per_op'))}); official ${us(officialIdle)}`,
    });
  }

  // Main-thread time per 16 KB read <= 0.5x, with where it goes.
  const probe = inputs.decodeProbe16k;
  const decode = probe && results.find(probe.scenario, probe.bsonVariant, 'main_thread_per_doc');
  const clone = probe && results.find(probe.scenario, probe.cloneVariant, 'main_thread_per_doc');
  for (const scenario of inputs.readCostScenarios) {
    rows.push(
      ...ratioRows(results, scenario, 'main_thread_per_op', `main-thread time per read ≤ 0.5× official · ${scenario}`, { atMost: 0.5 }, (m, official) => {
        const why = decode && clone ? `; on the main thread BSON.deserialize of a 16 KB reply takes ${us(decode)}, receiving the worker's typed clone ${us(clone)}` : '';
        return `${us(m)} vs ${us(official)} per read${why}`;
      }),
    );
  }
  for (const scenario of inputs.writeCostScenarios) {
    rows.push(
      ...ratioRows(results, scenario, 'main_thread_per_op', `main-thread time per insert ≤ 0.8× official · ${scenario}`, { atMost: 0.8 }, (m, official) => `${us(m)} vs ${us(official)} per insert`),
    );
  }

  // Requests per second with 200 µs of app CPU per request.
  if (inputs.handlerScenario) {
    rows.push(...ratioRows(results, inputs.handlerScenario, 'throughput', 'request handler (200 µs app CPU each): req/s ≥ 1.5× official', { atLeast: 1.5 }, costDetail(inputs.handlerScenario)));
  }

  // Insert throughput, workers >= 1.
  if (inputs.writesScenario) {
    for (const busy of inputs.writesBusy) {
      const scenario = inputs.writesScenario(busy);
      const goal = busy === 0 ? 1.0 : 1.5;
      rows.push(...ratioRows(results, scenario, 'throughput', `insert throughput ≥ ${goal.toFixed(1)}× official · ${scenario}`, { atLeast: goal }, costDetail(scenario), 1));
    }
  }

  if (inputs.http) {
    const { closed, open } = inputs.http;
    const latency = (metric: string) => (m: Measurement, official: Measurement) =>
      `${ms(m)} vs ${ms(official)}; req/s ${results.find(open, m.variant, 'throughput')?.median.toFixed(0) ?? 'n/a'} at ${results.find(open, OFFICIAL, 'offered_rate')?.median.toFixed(0) ?? 'n/a'} offered; ` +
      `main-thread event-loop delay p99 ${ms(results.find(open, m.variant, 'event_loop_delay_p99'))} vs ${ms(results.find(open, OFFICIAL, 'event_loop_delay_p99'))} (${metric})`;
    rows.push(
      ...ratioRows(results, closed, 'throughput', 'HTTP service, canned server, closed loop: req/s ≥ 1.3× official', { atLeast: 1.3 }, (m, official) =>
        `${m.median.toFixed(0)} vs ${official.median.toFixed(0)} req/s; main thread busy ${r2(results.find(closed, m.variant, 'main_thread_busy')?.median ?? Number.NaN)} vs ${r2(results.find(closed, OFFICIAL, 'main_thread_busy')?.median ?? Number.NaN)}`,
      ),
      ...ratioRows(results, open, 'latency_p99', 'HTTP service, canned server, open loop at 0.8× official capacity: latency p99 ≤ 0.5× official', { atMost: 0.5 }, latency('latency p99')),
      ...ratioRows(results, open, 'health_p99', 'HTTP service, canned server, open loop at 0.8× official capacity: /health p99 ≤ 0.5× official', { atMost: 0.5 }, latency('/health p99')),
    );
  }

  if (inputs.seedScenario) {
    for (const m of mgoVariants(results, inputs.seedScenario, 'max_server_sockets')) {
      // Per run: the server's count less the monitoring sockets that run's stats() reported.
      const pool = results.find(inputs.seedScenario, m.variant, 'max_pool_sockets')?.max ?? Number.NaN;
      rows.push({
        target: `seed: most server-side pool sockets = poolLimit ${inputs.poolLimit}`,
        variant: m.variant,
        value: pool,
        unit: 'count',
        goal: `= ${inputs.poolLimit}`,
        met: pool === inputs.poolLimit,
        detail:
          `${m.min}–${m.max} server sockets over ${m.reps} reps, the monitoring sockets stats() reported left out` +
          (pool > inputs.poolLimit ? ': LIMIT EXCEEDED' : pool < inputs.poolLimit ? ': the limit was never reached' : ''),
      });
    }
  }
  // Events (issue 15): with nobody listening, <= 1 µs of main-thread time and
  // <= 2 % of ops/s per operation. What nobody listening leaves on each
  // operation is the wanted() check; the listener rows say what observing costs.
  const events = inputs.events;
  const check = events && results.find(events.probe, 'mgo (any)', 'per_call');
  if (events && check) {
    rows.push({
      target: 'events, nobody listening: the per-operation check ≤ 1 µs',
      variant: 'mgo (any)',
      value: check.median,
      unit: 'µs',
      goal: '≤ 1 µs',
      met: check.max <= 1,
      detail: `EventHub.wanted() ${check.median.toFixed(3)} µs per call (max ${check.max.toFixed(3)})`,
    });
    for (const workers of events.workers) {
      const none = results.find(events.scenario, events.variant(workers, 'none'), 'throughput');
      if (!none) continue;
      for (const observing of ['commands', 'all'] as const) {
        const m = results.find(events.scenario, events.variant(workers, observing), 'throughput');
        if (!m) continue;
        const cpu = (v: string) => us(results.find(events.scenario, v, 'main_thread_cpu_per_op'));
        rows.push({
          target: `events: ops/s with ${observing === 'commands' ? 'command listeners' : 'every event listened to'} / nobody listening (reported)`,
          variant: m.variant,
          value: m.median / none.median,
          goal: 'reported',
          met: true,
          detail: `${m.median.toFixed(0)} vs ${none.median.toFixed(0)} ops/s; main-thread CPU per op ${cpu(m.variant)} vs ${cpu(none.variant)}`,
        });
      }
    }
  }
  return rows;
}

/** A target row's value as the table and the report show it (sub-10 µs times with two decimals: the events check is a fraction of one). */
export function targetValue(row: TargetRow): string {
  return row.unit === 'count' ? String(row.value) : row.unit === 'µs' ? `${row.value < 10 ? row.value.toFixed(2) : row.value.toFixed(0)} µs` : `${r2(row.value)}×`;
}

export function describeTarget(row: TargetRow): string {
  const value = targetValue(row);
  return `${row.met ? 'met   ' : 'MISSED'} ${row.target} · ${row.variant}: ${value} (goal ${row.goal}); ${row.detail}`;
}
