// The client's view of the whole deployment and the SDAM state machine that
// updates it (server-discovery-and-monitoring spec, "TopologyDescription",
// "Updating the TopologyDescription"). Pure: every function returns a new
// frozen description; none does I/O, starts a monitor or clears a pool. The
// cluster layer reconciles monitors and pools with what the new description
// lists. The error rules ("Error handling") are in sdam-errors.ts.
import type { ResolvedOptions, ServerAddress } from '../uri/resolve.js';
import type { ObjectId } from 'bson';
import { InvalidOptionError } from '../errors.js';
import { DRIVER_NAME } from '../version.js';
import { MAX_SUPPORTED_WIRE_VERSION, MIN_SUPPORTED_WIRE_VERSION } from '../wire/constants.js';
import {
  compareTopologyVersion,
  defaultServerDescription,
  isDataBearing,
  loadBalancerServerDescription,
  normalizeAddress,
  unknownServerDescription,
  type ServerDescription,
} from './server-description.js';

/** SDAM "TopologyType". */
export type TopologyType = 'Single' | 'ReplicaSetNoPrimary' | 'ReplicaSetWithPrimary' | 'Sharded' | 'Unknown' | 'LoadBalanced';

/** SDAM "TopologyDescription" (immutable: updateTopology returns a new one). */
export interface TopologyDescription {
  readonly type: TopologyType;
  /** The replica set name: configured (replicaSet) or discovered. */
  readonly setName: string | null;
  /** The largest setVersion reported by a primary (not always monotonic: electionId ranks first). */
  readonly maxSetVersion: number | null;
  /** The largest electionId reported by a primary. */
  readonly maxElectionId: ObjectId | null;
  /** By address ("host:port", lower-cased). */
  readonly servers: ReadonlyMap<string, ServerDescription>;
  /** False when some server's wire version range does not overlap the driver's. */
  readonly compatible: boolean;
  /** Why `compatible` is false; null otherwise. */
  readonly compatibilityError: string | null;
  /** SDAM "Logical Session Timeout": the smallest among data-bearing servers, or null. */
  readonly logicalSessionTimeoutMinutes: number | null;
  /** The initial seed list: updateUnknownWithStandalone asks whether there was only one. */
  readonly seeds: readonly string[];
}

export interface TopologyOptions {
  directConnection?: boolean | undefined;
  replicaSet?: string | undefined;
  loadBalanced?: boolean | undefined;
}

function configError(message: string): InvalidOptionError {
  return new InvalidOptionError('ERR_INVALID_OPTION', message);
}

/**
 * SDAM "Initial TopologyDescription": the seeds, all Unknown (a single
 * LoadBalancer with loadBalanced), and the initial TopologyType from the
 * "Initial TopologyType" table. Enforces "Allowed configuration combinations".
 */
export function initialTopology(seeds: readonly string[], options: TopologyOptions = {}): TopologyDescription {
  const addresses = [...new Set(seeds.map(normalizeAddress))];
  const setName = options.replicaSet ?? null;
  if (options.loadBalanced) {
    if (addresses.length !== 1) throw configError(`loadBalanced=true needs exactly one host, not ${addresses.length}`);
    if (options.directConnection) throw configError('loadBalanced=true cannot be combined with directConnection=true');
    if (setName !== null) throw configError("loadBalanced=true cannot be combined with 'replicaSet'");
  }
  if (options.directConnection && addresses.length !== 1) {
    throw configError(`directConnection=true needs exactly one host, not ${addresses.length}`);
  }
  let type: TopologyType;
  if (options.loadBalanced) type = 'LoadBalanced';
  else if (options.directConnection) type = 'Single';
  else type = setName === null ? 'Unknown' : 'ReplicaSetNoPrimary';
  const servers = new Map<string, ServerDescription>();
  for (const address of addresses) {
    servers.set(address, type === 'LoadBalanced' ? loadBalancerServerDescription(address) : unknownServerDescription(address));
  }
  return finish(
    { type, setName, maxSetVersion: null, maxElectionId: null, servers, invalidatedPrimaries: [] },
    Object.freeze(addresses),
  );
}

/** The seeds of a resolved URL, by address, and the topology they start from. */
export function seedTopology(
  options: Pick<ResolvedOptions, 'hosts' | 'directConnection' | 'replicaSet' | 'loadBalanced'>,
): { seeds: Map<string, ServerAddress>; description: TopologyDescription } {
  const seeds = new Map(options.hosts.map((host) => [host.address, host] as const));
  const description = initialTopology([...seeds.keys()], {
    directConnection: options.directConnection,
    replicaSet: options.replicaSet,
    loadBalanced: options.loadBalanced,
  });
  return { seeds, description };
}

// --- the state machine -------------------------------------------------------

/** A topology under construction inside one update. */
interface Draft {
  type: TopologyType;
  setName: string | null;
  maxSetVersion: number | null;
  maxElectionId: ObjectId | null;
  servers: Map<string, ServerDescription>;
  invalidatedPrimaries: ServerDescription[];
}

/** What an update did besides producing the new description. */
export interface TopologyUpdate {
  readonly topology: TopologyDescription;
  /**
   * Previous descriptions of primaries that updateRSFromPrimary replaced by
   * Unknown because a newer primary showed up. SDAM: request an immediate
   * check of each; clear its pool too if its maxWireVersion is below 8
   * (MongoDB < 4.2 closes its sockets on stepdown), never otherwise.
   */
  readonly invalidatedPrimaries: readonly ServerDescription[];
}

/**
 * SDAM "Updating the TopologyDescription": applies one new server
 * description (from a check, or an Unknown one from error handling). Returns
 * `td` itself, unchanged, when the server is no longer in the topology ("the
 * client MUST ignore hello outcomes from servers that are not in the
 * TopologyDescription") or when the description is stale by topologyVersion.
 */
export function updateTopology(td: TopologyDescription, sd: ServerDescription): TopologyDescription {
  return applyServerDescription(td, sd).topology;
}

/** updateTopology, also reporting the old primaries it invalidated. */
export function applyServerDescription(td: TopologyDescription, sd: ServerDescription): TopologyUpdate {
  const unchanged: TopologyUpdate = { topology: td, invalidatedPrimaries: [] };
  const address = sd.address;
  if (!td.servers.has(address)) return unchanged;
  // "Replacing the TopologyDescription": ignore a description older than the current one.
  if (isStaleServerDescription(td, sd)) return unchanged;
  // Load balancer spec: in LoadBalanced mode the LoadBalancer description never changes.
  if (td.type === 'LoadBalanced') return unchanged;

  const draft: Draft = {
    type: td.type,
    setName: td.setName,
    maxSetVersion: td.maxSetVersion,
    maxElectionId: td.maxElectionId,
    servers: new Map(td.servers),
    invalidatedPrimaries: [],
  };
  draft.servers.set(address, sd);

  switch (td.type) {
    case 'Single':
      updateSingle(draft, sd);
      break;
    case 'Unknown':
    case 'ReplicaSetNoPrimary':
      updateWithoutPrimary(draft, sd, td.seeds);
      break;
    case 'Sharded':
      // "TopologyType Sharded": keep Unknown servers and mongoses, remove others.
      if (sd.type !== 'Unknown' && sd.type !== 'Mongos') draft.servers.delete(address);
      break;
    case 'ReplicaSetWithPrimary':
      updateReplicaSetWithPrimary(draft, sd);
      break;
  }
  return { topology: finish(draft, td.seeds), invalidatedPrimaries: Object.freeze(draft.invalidatedPrimaries) };
}

/** "TopologyType Single" and "Verifying setName with TopologyType Single". */
function updateSingle(draft: Draft, sd: ServerDescription): void {
  if (draft.setName !== null && sd.type !== 'Unknown' && sd.setName !== draft.setName) {
    const reported = sd.setName === null ? 'no replica set name' : `replica set name '${sd.setName}'`;
    draft.servers.set(
      sd.address,
      unknownServerDescription(sd.address, `replica set name mismatch: expected '${draft.setName}', the server reports ${reported}`, sd.lastUpdateTime),
    );
  }
}

/**
 * "TopologyType table", columns Unknown and ReplicaSetNoPrimary: they differ
 * only for standalones and mongoses. Unknown servers are kept; an RSGhost
 * changes nothing ("TopologyType remains Unknown when an RSGhost is
 * discovered").
 */
function updateWithoutPrimary(draft: Draft, sd: ServerDescription, seeds: readonly string[]): void {
  const fromUnknown = draft.type === 'Unknown';
  switch (sd.type) {
    case 'Standalone':
      // "updateUnknownWithStandalone"; a replica set drops a standalone.
      if (fromUnknown && seeds.length === 1) draft.type = 'Single';
      else draft.servers.delete(sd.address);
      break;
    case 'Mongos':
      if (fromUnknown) draft.type = 'Sharded';
      else draft.servers.delete(sd.address);
      break;
    case 'RSPrimary':
      draft.type = 'ReplicaSetWithPrimary';
      updateRSFromPrimary(draft, sd);
      break;
    case 'RSSecondary':
    case 'RSArbiter':
    case 'RSOther':
      draft.type = 'ReplicaSetNoPrimary';
      updateRSWithoutPrimary(draft, sd);
      break;
    default:
      break;
  }
}

/** "TopologyType table", column ReplicaSetWithPrimary. */
function updateReplicaSetWithPrimary(draft: Draft, sd: ServerDescription): void {
  switch (sd.type) {
    case 'Standalone':
    case 'Mongos':
      draft.servers.delete(sd.address);
      checkIfHasPrimary(draft);
      break;
    case 'RSPrimary':
      updateRSFromPrimary(draft, sd);
      break;
    case 'RSSecondary':
    case 'RSArbiter':
    case 'RSOther':
      updateRSWithPrimaryFromMember(draft, sd);
      break;
    default:
      // Unknown (perhaps the primary just disconnected) and RSGhost.
      checkIfHasPrimary(draft);
      break;
  }
}

/** Adds an Unknown description for every member `sd` lists that the topology lacks. */
function addMembers(draft: Draft, sd: ServerDescription): void {
  for (const address of [...sd.hosts, ...sd.passives, ...sd.arbiters]) {
    if (!draft.servers.has(address)) draft.servers.set(address, unknownServerDescription(address));
  }
}

/** The special handling of description.primary: an Unknown server it names becomes PossiblePrimary. */
function markPossiblePrimary(draft: Draft, sd: ServerDescription): void {
  if (sd.primary === null) return;
  const named = draft.servers.get(sd.primary);
  if (named?.type === 'Unknown') draft.servers.set(named.address, defaultServerDescription(named.address, 'PossiblePrimary'));
}

/**
 * The member reports a `me` other than the address the client uses for it.
 * A reply without `me` (older servers, some test fixtures) is not a mismatch.
 */
function meMismatch(sd: ServerDescription): boolean {
  return sd.me !== null && sd.me !== sd.address;
}

/** "updateRSWithoutPrimary". */
function updateRSWithoutPrimary(draft: Draft, sd: ServerDescription): void {
  if (draft.setName === null) {
    draft.setName = sd.setName;
  } else if (draft.setName !== sd.setName) {
    draft.servers.delete(sd.address);
    return;
  }
  addMembers(draft, sd);
  markPossiblePrimary(draft, sd);
  if (meMismatch(sd)) draft.servers.delete(sd.address);
}

/** "updateRSWithPrimaryFromMember". */
function updateRSWithPrimaryFromMember(draft: Draft, sd: ServerDescription): void {
  if (draft.setName !== sd.setName || meMismatch(sd)) {
    draft.servers.delete(sd.address);
    checkIfHasPrimary(draft);
    return;
  }
  // "Had this member been the primary?"
  if (![...draft.servers.values()].some((s) => s.type === 'RSPrimary')) {
    draft.type = 'ReplicaSetNoPrimary';
    markPossiblePrimary(draft, sd);
  }
}

/** ObjectIds order by their bytes, which their hex strings order alike; null ranks below any id. */
function compareElectionIds(a: ObjectId | null, b: ObjectId | null): number {
  if (a === null || b === null) return (a === null ? 0 : 1) - (b === null ? 0 : 1);
  const x = a.toHexString();
  const y = b.toHexString();
  return x === y ? 0 : x < y ? -1 : 1;
}

/** setVersions with null below any number. */
function compareSetVersions(a: number | null, b: number | null): number {
  if (a === null || b === null) return (a === null ? 0 : 1) - (b === null ? 0 : 1);
  return Math.sign(a - b);
}

/**
 * "updateRSFromPrimary", with "Using electionId and setVersion to detect
 * stale primaries": a stale primary is replaced by Unknown.
 */
function updateRSFromPrimary(draft: Draft, sd: ServerDescription): void {
  if (draft.setName === null) {
    draft.setName = sd.setName;
  } else if (draft.setName !== sd.setName) {
    // A primary, but not of the set the user configured or we discovered.
    draft.servers.delete(sd.address);
    checkIfHasPrimary(draft);
    return;
  }

  if (isStalePrimary(draft, sd)) {
    draft.servers.set(
      sd.address,
      unknownServerDescription(
        sd.address,
        `primary marked stale due to electionId/setVersion mismatch: it reports (${sd.electionId?.toHexString() ?? 'null'}, ${sd.setVersion}), the topology has seen (${draft.maxElectionId?.toHexString() ?? 'null'}, ${draft.maxSetVersion})`,
        sd.lastUpdateTime,
      ),
    );
    checkIfHasPrimary(draft);
    return;
  }

  // "A note on invalidating the old primary": there can be only one.
  for (const server of draft.servers.values()) {
    if (server.address !== sd.address && server.type === 'RSPrimary') {
      draft.invalidatedPrimaries.push(server);
      draft.servers.set(
        server.address,
        unknownServerDescription(server.address, `primary marked stale due to discovery of newer primary ${sd.address}`, server.lastUpdateTime),
      );
    }
  }

  addMembers(draft, sd);
  // The primary's member list is authoritative: remove everyone else (this
  // also removes the primary itself when its `me` is not in its own list).
  const members = new Set([...sd.hosts, ...sd.passives, ...sd.arbiters]);
  for (const address of [...draft.servers.keys()]) {
    if (!members.has(address)) draft.servers.delete(address);
  }
  checkIfHasPrimary(draft);
}

/**
 * The electionId/setVersion comparison of updateRSFromPrimary; records the
 * new maxima when the primary is not stale.
 */
function isStalePrimary(draft: Draft, sd: ServerDescription): boolean {
  if (sd.maxWireVersion >= 17) {
    // MongoDB 6.0+: (electionId, setVersion) compared as a tuple, electionId
    // first, null below any value; a primary that is not older sets both maxima.
    const byElection = compareElectionIds(sd.electionId, draft.maxElectionId);
    const notOlder = byElection > 0 || (byElection === 0 && compareSetVersions(sd.setVersion, draft.maxSetVersion) >= 0);
    if (!notOlder) return true;
    draft.maxElectionId = sd.electionId;
    draft.maxSetVersion = sd.setVersion;
    return false;
  }
  // Before 6.0: setVersion ranks first, and only when both sides have both values.
  if (sd.setVersion !== null && sd.electionId !== null) {
    if (
      draft.maxSetVersion !== null &&
      draft.maxElectionId !== null &&
      (draft.maxSetVersion > sd.setVersion ||
        (draft.maxSetVersion === sd.setVersion && compareElectionIds(draft.maxElectionId, sd.electionId) > 0))
    ) {
      return true;
    }
    draft.maxElectionId = sd.electionId;
  }
  if (sd.setVersion !== null && (draft.maxSetVersion === null || sd.setVersion > draft.maxSetVersion)) {
    draft.maxSetVersion = sd.setVersion;
  }
  return false;
}

/** "checkIfHasPrimary". */
function checkIfHasPrimary(draft: Draft): void {
  draft.type = [...draft.servers.values()].some((s) => s.type === 'RSPrimary') ? 'ReplicaSetWithPrimary' : 'ReplicaSetNoPrimary';
}

/** MongoDB versions by wire version, for the compatibility message. */
const MONGODB_VERSION_BY_WIRE: Readonly<Record<number, string>> = { 6: '3.6', 7: '4.0', 8: '4.2', 9: '4.4', 13: '5.0', 17: '6.0', 21: '7.0', 25: '8.0' };

/** "Checking wire protocol compatibility": the error for the first incompatible server, or null. */
function compatibilityErrorOf(servers: Iterable<ServerDescription>): string | null {
  for (const sd of servers) {
    // Unknown and PossiblePrimary servers have not been heard from; a
    // LoadBalancer is never checked (its connections' handshakes are).
    if (sd.type === 'Unknown' || sd.type === 'PossiblePrimary' || sd.type === 'LoadBalancer') continue;
    if (sd.minWireVersion > MAX_SUPPORTED_WIRE_VERSION) {
      return `Server at ${sd.address} requires wire version ${sd.minWireVersion}, but this version of ${DRIVER_NAME} only supports up to ${MAX_SUPPORTED_WIRE_VERSION}.`;
    }
    if (sd.maxWireVersion < MIN_SUPPORTED_WIRE_VERSION) {
      const mongo = MONGODB_VERSION_BY_WIRE[MIN_SUPPORTED_WIRE_VERSION] ?? 'a newer version';
      return `Server at ${sd.address} reports wire version ${sd.maxWireVersion}, but this version of ${DRIVER_NAME} requires at least ${MIN_SUPPORTED_WIRE_VERSION} (MongoDB ${mongo}).`;
    }
  }
  return null;
}

/** "Logical Session Timeout": the minimum over data-bearing servers; null if any of them has none. */
function logicalSessionTimeoutOf(servers: Iterable<ServerDescription>): number | null {
  let minimum: number | null = null;
  for (const sd of servers) {
    if (!isDataBearing(sd.type)) continue;
    if (sd.logicalSessionTimeoutMinutes === null) return null;
    minimum = minimum === null ? sd.logicalSessionTimeoutMinutes : Math.min(minimum, sd.logicalSessionTimeoutMinutes);
  }
  return minimum;
}

/** Derives the computed fields and freezes. */
function finish(draft: Draft, seeds: readonly string[]): TopologyDescription {
  const compatibilityError = compatibilityErrorOf(draft.servers.values());
  return Object.freeze({
    type: draft.type,
    setName: draft.setName,
    maxSetVersion: draft.maxSetVersion,
    maxElectionId: draft.maxElectionId,
    servers: draft.servers,
    compatible: compatibilityError === null,
    compatibilityError,
    logicalSessionTimeoutMinutes: logicalSessionTimeoutOf(draft.servers.values()),
    seeds,
  });
}

// --- staleness by topologyVersion ---------------------------------------------

/**
 * "isStaleServerDescription": the server's current description has a newer
 * topologyVersion than `sd` (a description is replaced iff the new one's
 * topologyVersion is greater than or equal to the current one's).
 */
export function isStaleServerDescription(td: TopologyDescription, sd: ServerDescription): boolean {
  const current = td.servers.get(sd.address);
  return current !== undefined && compareTopologyVersion(current.topologyVersion, sd.topologyVersion) > 0;
}

// --- logical sessions and retryable writes --------------------------------------

/** What the driver may send the topology: lsid (sessions), txnNumber (retryable writes). */
export interface SessionSupport {
  /** A data-bearing server was heard from: the fields below describe the deployment, not an empty view of it. */
  readonly known: boolean;
  /** The topology's logicalSessionTimeoutMinutes; null: the servers do not support sessions (no lsid is sent). */
  readonly timeoutMinutes: number | null;
  /**
   * Retryable writes spec, "Supported server versions" and "Supported
   * topologies": sessions, wire version 6+ and replica-set members or
   * mongos. A standalone refuses txnNumber (code 20, IllegalOperation).
   */
  readonly retryableWrites: boolean;
  /**
   * Wire version 9+ (4.4): servers attach the RetryableWriteError label
   * themselves, and the driver must rely on it rather than on the code
   * ("Determining Retryable Errors").
   */
  readonly serverLabelsWrites: boolean;
}

/** No data-bearing server known yet (or none supports sessions): no lsid, no txnNumber. */
export const NO_SESSION_SUPPORT: SessionSupport = Object.freeze({ known: false, timeoutMinutes: null, retryableWrites: false, serverLabelsWrites: false });

/**
 * The sessions and retryable-writes support of the topology as described.
 * Decided from the whole description rather than from the server an
 * operation will run on, because in worker mode that server is selected in
 * a worker after the command (lsid, txnNumber) was built on the main
 * thread; mixed-version deployments are where the two could differ.
 */
export function sessionSupportOf(td: TopologyDescription): SessionSupport {
  let support = supportByTopology.get(td);
  if (support === undefined) {
    support = computeSessionSupport(td);
    supportByTopology.set(td, support);
  }
  return support;
}

/** Descriptions are immutable: each is looked at once, not once per operation. */
const supportByTopology = new WeakMap<TopologyDescription, SessionSupport>();

function computeSessionSupport(td: TopologyDescription): SessionSupport {
  const timeoutMinutes = td.logicalSessionTimeoutMinutes;
  const known = [...td.servers.values()].some((sd) => isDataBearing(sd.type));
  if (timeoutMinutes === null || td.type === 'LoadBalanced') return known ? { ...NO_SESSION_SUPPORT, known } : NO_SESSION_SUPPORT;
  let retryableWrites = true;
  let serverLabelsWrites = true;
  for (const sd of td.servers.values()) {
    if (!isDataBearing(sd.type)) continue;
    if (sd.type === 'Standalone' || sd.maxWireVersion < 6) retryableWrites = false;
    if (sd.maxWireVersion < 9) serverLabelsWrites = false;
  }
  return { known, timeoutMinutes, retryableWrites, serverLabelsWrites };
}
