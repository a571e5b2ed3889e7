// The targets, evaluated on the medians (reported, not asserted):
//   - main thread >= 50 % busy: mgo-threads >= 1.5x the official driver's find-one ops/s;
//   - main-thread time per 16 KB read <= 0.5x the official driver's;
//   - idle machine (0 % app work): >= 1.0x the official driver's ops/s at equal connections;
//   - seed experiment: most server-side pool sockets exactly the limit.
// Each row says why, with the figures that decide it.
import { OFFICIAL } from './clients.js';
import type { Measurement, Results } from './results.js';

export interface TargetRow {
  target: string;
  variant: string;
  /** The figure compared with the threshold (a ratio, or a socket count). */
  value: number;
  goal: string;
  met: boolean;
  detail: string;
}

export interface TargetInputs {
  cpuScenario(busy: number): string;
  busyFractions: number[];
  read16kScenario: string;
  /** The decode placement probe rows for the 16 KB document, to say where a 16 KB read's main-thread time goes. */
  decodeProbe16k?: { scenario: string; bsonVariant: string; cloneVariant: string };
  seedScenario: string | undefined;
  poolLimit: number;
  monitoringSockets: number;
}

const r2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
const us = (m: Measurement | undefined): string => (m ? `${m.median.toFixed(0)} µs` : 'n/a');

function mgoVariants(results: Results, scenario: string, metric: string): Measurement[] {
  return results.all.filter((m) => m.scenario === scenario && m.metric === metric && m.workers !== null);
}

export function evaluateTargets(results: Results, inputs: TargetInputs): TargetRow[] {
  const rows: TargetRow[] = [];
  for (const busy of inputs.busyFractions) {
    const scenario = inputs.cpuScenario(busy);
    const official = results.find(scenario, OFFICIAL, 'throughput');
    if (!official) continue;
    const goalRatio = busy >= 0.5 ? 1.5 : busy === 0 ? 1.0 : undefined;
    if (goalRatio === undefined) continue;
    const target = busy === 0 ? 'idle: find-one ops/s ≥ 1.0× official' : `app ${Math.round(busy * 100)}% busy: find-one ops/s ≥ 1.5× official`;
    for (const m of mgoVariants(results, scenario, 'throughput')) {
      const ratio = m.median / official.median;
      const cost = results.find(scenario, m.variant, 'main_thread_per_op');
      const officialCost = results.find(scenario, OFFICIAL, 'main_thread_per_op');
      rows.push({
        target,
        variant: m.variant,
        value: ratio,
        goal: `≥ ${goalRatio.toFixed(1)}×`,
        met: ratio >= goalRatio,
        detail: `${m.median.toFixed(0)} vs ${official.median.toFixed(0)} ops/s; main thread per op ${us(cost)} vs ${us(officialCost)}`,
      });
    }
  }
  const official16 = results.find(inputs.read16kScenario, OFFICIAL, 'main_thread_per_op');
  if (official16) {
    const probe = inputs.decodeProbe16k;
    const decode = probe && results.find(probe.scenario, probe.bsonVariant, 'main_thread_per_doc');
    const clone = probe && results.find(probe.scenario, probe.cloneVariant, 'main_thread_per_doc');
    const why = decode
      ? `; decoding the reply on the main thread (BSON.deserialize) alone takes ${us(decode)}, and both drivers pay it` +
        (clone ? ` (receiving a worker-decoded structured clone would take ${us(clone)}, but loses BSON types: not implemented)` : '')
      : '';
    for (const m of mgoVariants(results, inputs.read16kScenario, 'main_thread_per_op')) {
      const ratio = m.median / official16.median;
      rows.push({
        target: 'main-thread time per 16 KB read ≤ 0.5× official',
        variant: m.variant,
        value: ratio,
        goal: '≤ 0.5×',
        met: ratio <= 0.5,
        detail: `${us(m)} vs ${us(official16)} per read${ratio > 0.5 ? why : ''}`,
      });
    }
  }
  if (inputs.seedScenario) {
    for (const m of mgoVariants(results, inputs.seedScenario, 'max_server_sockets')) {
      const pool = m.max - inputs.monitoringSockets;
      rows.push({
        target: `seed: most server-side pool sockets = poolLimit ${inputs.poolLimit}`,
        variant: m.variant,
        value: pool,
        goal: `= ${inputs.poolLimit}`,
        met: pool === inputs.poolLimit,
        detail:
          `${m.min}–${m.max} server sockets over ${m.reps} reps, ${inputs.monitoringSockets} of them monitoring` +
          (pool > inputs.poolLimit ? ': LIMIT EXCEEDED' : pool < inputs.poolLimit ? ': the limit was never reached' : ''),
      });
    }
  }
  return rows;
}

export function describeTarget(row: TargetRow): string {
  const value = row.goal.startsWith('=') ? String(row.value) : `${r2(row.value)}×`;
  return `${row.met ? 'met   ' : 'MISSED'} ${row.target} · ${row.variant}: ${value} (goal ${row.goal}); ${row.detail}`;
}
