// Measurements as the JSON file lists them, collected while scenarios run,
// with progress on stderr.
import { summarize } from './stats.js';

export interface Measurement {
  scenario: string;
  variant: string;
  /** Worker threads of an mgo-threads variant; null for the official driver and reference rows. */
  workers: number | null;
  metric: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  reps: number;
}

const started = performance.now();

export function log(message: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${seconds}s] ${message}\n`);
}

export class Results {
  readonly all: Measurement[] = [];

  /** Records the repetitions of one metric (NaN values, e.g. from a failed repetition, are left out of the summary). */
  add(scenario: string, variant: { name: string; workers: number | null }, metric: string, unit: string, values: readonly number[]): Measurement {
    const m: Measurement = { scenario, variant: variant.name, workers: variant.workers, metric, unit, ...summarize(values), reps: values.length };
    this.all.push(m);
    return m;
  }

  find(scenario: string, variant: string, metric: string): Measurement | undefined {
    return this.all.find((m) => m.scenario === scenario && m.variant === variant && m.metric === metric);
  }
}

/** The order variants run in for repetition `rep`: rotated, so that none always runs first (on a colder or warmer machine). */
export function rotated<T>(items: readonly T[], rep: number): T[] {
  const k = rep % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
