// Which servers may run an operation (server-selection spec, "Rules for
// server selection"; max-staleness spec) and what to tell the chosen server
// about the read preference ("Passing read preference to mongos and load
// balancers", "Topology type: Single"). Pure functions over a
// TopologyDescription: the waiting loop, the immediate checks it requests and
// the operation counts live in the cluster layer.
import type { Document } from 'bson';
import { IncompatibleServerError, InvalidOptionError } from '../errors.js';
import { PRIMARY, type ReadPreference } from '../read-preference.js';
import { isAvailable, type ServerDescription } from './server-description.js';
import type { TopologyDescription, TopologyType } from './topology-description.js';

/** Max staleness spec "idleWritePeriodMS": an idle primary writes a no-op this often. */
export const IDLE_WRITE_PERIOD_MS = 10_000;
/** Server selection spec "smallestMaxStalenessSeconds". */
export const SMALLEST_MAX_STALENESS_SECONDS = 90;

export interface SelectionCriteria {
  /** Default { mode: 'primary' }. Ignored for writes. */
  readPreference?: ReadPreference | undefined;
  /** A write: only a writable server (primary, standalone, mongos, load balancer) will do. */
  forWrite?: boolean | undefined;
  /**
   * Addresses where earlier attempts of this operation failed (retryable
   * reads and writes): they are left out first, and used only when no other
   * server is suitable ("deprioritized servers", all topology types).
   */
  deprioritized?: Iterable<string> | undefined;
}

export interface SelectionOptions {
  /** Size of the latency window; the spec's default is 15. */
  localThresholdMS: number;
  /** Enters the staleness estimate and the smallest valid maxStalenessSeconds. */
  heartbeatFrequencyMS: number;
}

function invalid(message: string): InvalidOptionError {
  return new InvalidOptionError('ERR_INVALID_OPTION', message);
}

function hasNonEmptyTagSet(readPreference: ReadPreference): boolean {
  return (readPreference.tags ?? []).some((set) => Object.keys(set).length > 0);
}

/** maxStalenessSeconds that means "no maximum": absent, or -1. */
function noMaxStaleness(value: number | undefined): boolean {
  return value === undefined || value === -1;
}

function isReplicaSet(type: TopologyType): boolean {
  return type === 'ReplicaSetWithPrimary' || type === 'ReplicaSetNoPrimary';
}

/**
 * Read preference validation: server-selection spec "mode", "tag_sets" and
 * "maxStalenessSeconds". Throws InvalidOptionError for tags or a positive
 * maxStalenessSeconds with mode 'primary', and, in a replica set, for a
 * maxStalenessSeconds below 90 seconds or below heartbeatFrequencyMS +
 * idleWritePeriodMS.
 */
export function validateReadPreference(readPreference: ReadPreference, topologyType: TopologyType, heartbeatFrequencyMS: number): void {
  const { mode, maxStalenessSeconds } = readPreference;
  if (mode === 'primary' && hasNonEmptyTagSet(readPreference)) {
    throw invalid("read preference mode 'primary' cannot be combined with tag sets");
  }
  if (mode === 'primary' && maxStalenessSeconds !== undefined && maxStalenessSeconds > 0) {
    throw invalid("read preference mode 'primary' cannot be combined with maxStalenessSeconds");
  }
  if (!isReplicaSet(topologyType) || noMaxStaleness(maxStalenessSeconds)) return;
  const seconds = maxStalenessSeconds as number;
  const floorSeconds = Math.max(SMALLEST_MAX_STALENESS_SECONDS, (heartbeatFrequencyMS + IDLE_WRITE_PERIOD_MS) / 1000);
  if (!(seconds >= floorSeconds)) {
    throw invalid(
      `maxStalenessSeconds must be at least ${floorSeconds} (the larger of ${SMALLEST_MAX_STALENESS_SECONDS} and (heartbeatFrequencyMS + ${IDLE_WRITE_PERIOD_MS} ms) / 1000), not ${seconds}`,
    );
  }
}

/** Server selection spec "tag_sets": the first tag set that matches any candidate decides. */
function filterByTags(candidates: ServerDescription[], tagSets: readonly Document[] | undefined): ServerDescription[] {
  if (!tagSets || tagSets.length === 0) return candidates;
  for (const set of tagSets) {
    const wanted = Object.entries(set);
    const matching = candidates.filter((sd) => wanted.every(([key, value]) => sd.tags[key] === value));
    if (matching.length > 0) return matching;
  }
  return [];
}

/**
 * Server selection spec "maxStalenessSeconds": estimated staleness of each
 * secondary, in ms; primaries (and any non-secondary) are never stale. The
 * reference servers (the primary, or the freshest secondary) are taken from
 * the whole topology, whatever the candidates.
 */
function filterByStaleness(
  candidates: ServerDescription[],
  td: TopologyDescription,
  maxStalenessSeconds: number | undefined,
  heartbeatFrequencyMS: number,
): ServerDescription[] {
  if (maxStalenessSeconds === undefined || !(maxStalenessSeconds > 0)) return candidates;
  const all = [...td.servers.values()];
  // A member without lastWrite (a server before 3.4, which this driver does not support) counts as maximally stale.
  const lastWrite = (sd: ServerDescription): number => sd.lastWriteDate ?? 0;
  let staleness: (sd: ServerDescription) => number;
  if (td.type === 'ReplicaSetWithPrimary') {
    const primary = all.find((sd) => sd.type === 'RSPrimary');
    if (!primary) return candidates;
    const primaryLag = primary.lastUpdateTime - lastWrite(primary);
    staleness = (sd) => sd.lastUpdateTime - lastWrite(sd) - primaryLag + heartbeatFrequencyMS;
  } else {
    const secondaries = all.filter((sd) => sd.type === 'RSSecondary');
    if (secondaries.length === 0) return candidates;
    const freshest = Math.max(...secondaries.map(lastWrite));
    staleness = (sd) => freshest - lastWrite(sd) + heartbeatFrequencyMS;
  }
  return candidates.filter((sd) => sd.type !== 'RSSecondary' || staleness(sd) <= maxStalenessSeconds * 1000);
}

/**
 * "Topology types: ReplicaSetWithPrimary or ReplicaSetNoPrimary", read
 * operations: candidates by mode, then staleness, then tag sets.
 */
function replicaSetReadServers(
  servers: ServerDescription[],
  td: TopologyDescription,
  readPreference: ReadPreference,
  heartbeatFrequencyMS: number,
): ServerDescription[] {
  const primary = servers.filter((sd) => sd.type === 'RSPrimary');
  const secondaries = servers.filter((sd) => sd.type === 'RSSecondary');
  const eligible = (candidates: ServerDescription[]) =>
    filterByTags(filterByStaleness(candidates, td, readPreference.maxStalenessSeconds, heartbeatFrequencyMS), readPreference.tags);
  switch (readPreference.mode) {
    case 'primary':
      return primary;
    case 'primaryPreferred':
      return primary.length > 0 ? primary : eligible(secondaries);
    case 'secondary':
      return eligible(secondaries);
    case 'secondaryPreferred': {
      const chosen = eligible(secondaries);
      return chosen.length > 0 ? chosen : primary;
    }
    case 'nearest':
      return eligible([...primary, ...secondaries]);
  }
}

/** Suitable servers among `servers` by topology type and operation (no latency window). */
function suitableAmong(
  servers: ServerDescription[],
  td: TopologyDescription,
  criteria: SelectionCriteria,
  heartbeatFrequencyMS: number,
): ServerDescription[] {
  switch (td.type) {
    case 'Unknown':
      // "Topology type: Unknown": no server is suitable.
      return [];
    case 'Single':
      // "Topology type: Single": the one server, whatever its type, if available.
      return servers.filter((sd) => isAvailable(sd.type));
    case 'LoadBalanced':
      return servers.filter((sd) => sd.type === 'LoadBalancer');
    case 'Sharded':
      // "Topology type: Sharded": any mongos, for reads and writes.
      return servers.filter((sd) => sd.type === 'Mongos');
    case 'ReplicaSetWithPrimary':
    case 'ReplicaSetNoPrimary':
      // "Write operations": only a primary (none in ReplicaSetNoPrimary).
      if (criteria.forWrite) return servers.filter((sd) => sd.type === 'RSPrimary');
      return replicaSetReadServers(servers, td, criteria.readPreference ?? PRIMARY, heartbeatFrequencyMS);
  }
}

/**
 * The suitable servers for the operation, before the latency window. Throws
 * IncompatibleServerError when the topology is not compatible ("If the
 * topology wire version is invalid, raise an error") and InvalidOptionError
 * for an invalid read preference.
 */
export function suitableServers(td: TopologyDescription, criteria: SelectionCriteria, options: SelectionOptions): ServerDescription[] {
  if (!td.compatible) throw new IncompatibleServerError(td.compatibilityError ?? 'the topology is not compatible with this driver');
  if (!criteria.forWrite && criteria.readPreference) {
    validateReadPreference(criteria.readPreference, td.type, options.heartbeatFrequencyMS);
  }
  const all = [...td.servers.values()];
  const deprioritized = new Set(criteria.deprioritized ?? []);
  if (deprioritized.size > 0) {
    // Deprioritized servers are filtered out before the read preference is
    // applied; they come back only if nothing else is suitable.
    const preferred = suitableAmong(
      all.filter((sd) => !deprioritized.has(sd.address)),
      td,
      criteria,
      options.heartbeatFrequencyMS,
    );
    if (preferred.length > 0) return preferred;
  }
  return suitableAmong(all, td, criteria, options.heartbeatFrequencyMS);
}

/**
 * "Filtering suitable servers based on the latency window": those whose
 * average RTT is within localThresholdMS of the fastest. A server without an
 * RTT (a load balancer) counts as 0 ms.
 */
export function latencyWindow(servers: readonly ServerDescription[], localThresholdMS: number): ServerDescription[] {
  if (servers.length <= 1) return [...servers];
  const rtt = (sd: ServerDescription) => sd.roundTripTime ?? 0;
  const fastest = Math.min(...servers.map(rtt));
  return servers.filter((sd) => rtt(sd) <= fastest + localThresholdMS);
}

/**
 * Server selection: the suitable servers within the latency window, in
 * topology order; empty when none is suitable yet (the caller then requests
 * an immediate check and waits for the topology to change).
 */
export function selectServers(td: TopologyDescription, criteria: SelectionCriteria, options: SelectionOptions): ServerDescription[] {
  return latencyWindow(suitableServers(td, criteria, options), options.localThresholdMS);
}

/**
 * "Server Selection Algorithm" steps 6-7 (multi-threaded drivers): two
 * distinct candidates at random, the one with the lower operationCount (the
 * first drawn on a tie). `random` returns numbers in [0, 1).
 */
export function pickServer<T>(candidates: readonly T[], operationCount: (candidate: T) => number, random: () => number = Math.random): T | undefined {
  if (candidates.length <= 1) return candidates[0];
  const i = Math.floor(random() * candidates.length);
  let j = Math.floor(random() * (candidates.length - 1));
  if (j >= i) j++;
  const first = candidates[i] as T;
  const second = candidates[j] as T;
  return operationCount(second) < operationCount(first) ? second : first;
}

/**
 * "Document structure": the $readPreference document. Tags are sent only
 * when some tag set is not empty ([{}] is the default and matches all), and
 * maxStalenessSeconds only when positive.
 */
export function readPreferenceDocument(readPreference: ReadPreference): Document {
  const doc: Document = { mode: readPreference.mode };
  if (readPreference.mode === 'primary') return doc;
  if (hasNonEmptyTagSet(readPreference)) doc.tags = readPreference.tags;
  const seconds = readPreference.maxStalenessSeconds;
  if (seconds !== undefined && seconds > 0) doc.maxStalenessSeconds = seconds;
  return doc;
}

/** What to send with a read: the $readPreference global argument (OP_MSG), and the OP_QUERY secondaryOk flag's value. */
export interface WireReadPreference {
  $readPreference?: Document;
  secondaryOk: boolean;
}

/**
 * The read preference as the selected server must hear it (OP_MSG), from
 * the topology type and the server's type:
 * - a Standalone (topology Single) never gets it ("Topology type: Single");
 * - a Mongos or LoadBalancer gets $readPreference for every mode except
 *   'primary' ("Passing read preference to mongos and load balancers");
 * - any other server in topology Single gets the application's read
 *   preference, or { mode: 'primaryPreferred' } when there is none or it is
 *   'primary', so that a secondary accepts the read;
 * - a replica set member in a replica set topology gets it for every mode
 *   except 'primary' ("For all read preferences modes except 'primary'").
 * `readPreference` undefined means the application configured none. For reads only.
 */
export function readPreferenceForCommand(
  td: TopologyDescription,
  sd: ServerDescription,
  readPreference: ReadPreference | undefined,
): WireReadPreference {
  if (sd.type === 'Standalone') return { secondaryOk: false };
  const mode = readPreference?.mode ?? 'primary';
  if (sd.type !== 'Mongos' && sd.type !== 'LoadBalancer' && td.type === 'Single') {
    return {
      $readPreference: readPreference === undefined || mode === 'primary' ? { mode: 'primaryPreferred' } : readPreferenceDocument(readPreference),
      secondaryOk: true,
    };
  }
  if (readPreference === undefined || mode === 'primary') return { secondaryOk: false };
  return { $readPreference: readPreferenceDocument(readPreference), secondaryOk: true };
}
