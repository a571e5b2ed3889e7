// Round trip times of monitoring checks, as plain values (no clocks here: the
// monitor measures, these functions only combine the samples).
//
// Server selection spec, "Calculation of Average Round Trip Times": the first
// sample after a server becomes available is the average; later samples are
// folded in with an exponentially weighted moving average, alpha 0.2.
// Server monitoring spec, "Measuring RTT": the minimum over (at most) the last
// 10 samples, reported as 0 until there are at least 2 samples.

/** Server selection spec: the weight of a new sample in the moving average. */
export const RTT_ALPHA = 0.2;

/** Server monitoring spec: how many recent samples the minimum RTT looks at. */
export const MIN_RTT_SAMPLES = 10;

/**
 * The new average RTT after one more sample. `previous` is null (or
 * undefined) while the server has no average yet: after a failed check the
 * average is cleared, and the next sample starts it afresh.
 */
export function nextAverageRtt(previous: number | null | undefined, sampleMS: number): number {
  // Server selection test plan: implementations should reject negative RTTs.
  if (!Number.isFinite(sampleMS) || sampleMS < 0) {
    throw new RangeError(`a round trip time must be a finite number >= 0, not ${sampleMS}`);
  }
  if (previous === null || previous === undefined) return sampleMS;
  return RTT_ALPHA * sampleMS + (1 - RTT_ALPHA) * previous;
}

/** The RTT statistics of one server: its moving average and its recent samples. */
export interface RttStats {
  /** null until the first sample (and again after reset). */
  readonly average: number | null;
  /** The last MIN_RTT_SAMPLES samples, oldest first. */
  readonly recent: readonly number[];
}

export const EMPTY_RTT_STATS: RttStats = Object.freeze({ average: null, recent: Object.freeze([]) as readonly number[] });

/** Returns the statistics with one more sample; `stats` is left as it was. */
export function addRttSample(stats: RttStats, sampleMS: number): RttStats {
  const average = nextAverageRtt(stats.average, sampleMS);
  const recent = [...stats.recent, sampleMS].slice(-MIN_RTT_SAMPLES);
  return Object.freeze({ average, recent: Object.freeze(recent) });
}

/** Server monitoring spec, "Measuring RTT": 0 until two samples, then the smallest recent one. */
export function minRoundTripTime(stats: RttStats): number {
  return stats.recent.length < 2 ? 0 : Math.min(...stats.recent);
}
