// The client's view of the whole deployment and the SDAM state machine that
// updates it (server-discovery-and-monitoring spec, "TopologyDescription",
// "Updating the TopologyDescription", "Error handling"). Pure: every function
// returns a new frozen description or a decision; none does I/O, starts a
// monitor or clears a pool. The cluster layer reconciles monitors and pools
// with what the new description lists, and carries out the decisions.
import type { ResolvedOptions, ServerAddress } from '../uri/resolve.js';
import type { Document, ObjectId } from 'bson';
import { InvalidOptionError } from '../errors.js';
import { DRIVER_NAME } from '../version.js';
import { MAX_SUPPORTED_WIRE_VERSION, MIN_SUPPORTED_WIRE_VERSION } from '../wire/constants.js';
import {
  compareTopologyVersion,
  defaultServerDescription,
  isDataBearing,
  loadBalancerServerDescription,
  normalizeAddress,
  parseTopologyVersion,
  unknownServerDescription,
  type ServerDescription,
  type TopologyVersion,
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

// --- staleness by topologyVersion and generation ------------------------------

/**
 * "isStaleServerDescription": the server's current description has a newer
 * topologyVersion than `sd` (a description is replaced iff the new one's
 * topologyVersion is greater than or equal to the current one's).
 */
export function isStaleServerDescription(td: TopologyDescription, sd: ServerDescription): boolean {
  const current = td.servers.get(sd.address);
  return current !== undefined && compareTopologyVersion(current.topologyVersion, sd.topologyVersion) > 0;
}

/**
 * "isStaleError": the error came from a connection older than the pool's
 * current generation, or carries a topologyVersion that is not newer than
 * the server's current one (">= because any state change results in a new
 * topologyVersion").
 */
export function isStaleError(
  td: TopologyDescription,
  address: string,
  error: { generation: number; topologyVersion?: TopologyVersion | null | undefined },
  poolGeneration: number,
): boolean {
  if (error.generation < poolGeneration) return true;
  const current = td.servers.get(normalizeAddress(address));
  return compareTopologyVersion(current?.topologyVersion, error.topologyVersion) >= 0;
}

// --- application errors ------------------------------------------------------

/** "not writable primary" and "node is recovering" error codes (by number, never by codeName). */
const RECOVERING_CODES: ReadonlySet<number> = new Set([11600, 11602, 13436, 189, 91]);
const NOT_WRITABLE_PRIMARY_CODES: ReadonlySet<number> = new Set([10107, 13435, 10058]);
/** The "node is shutting down" subset of the recovering codes. */
const SHUTDOWN_CODES: ReadonlySet<number> = new Set([11600, 91]);

/** Backpressure: the pool labels connection-establishment failures it attributes to an overloaded server. */
export const SYSTEM_OVERLOADED_ERROR_LABEL = 'SystemOverloadedError';

/** A code of 0 or none: the message decides (the pseudocode's `if code:`). */
function hasCode(code: number | null | undefined): code is number {
  return typeof code === 'number' && code !== 0;
}

/**
 * "not writable primary" and "node is recovering": which state change error
 * a command error is, if any. The code alone decides when there is one; the
 * message is read only without a code.
 */
export function stateChangeErrorKind(code: number | null | undefined, message: string): 'nodeIsRecovering' | 'notWritablePrimary' | null {
  if (hasCode(code)) {
    if (RECOVERING_CODES.has(code)) return 'nodeIsRecovering';
    if (NOT_WRITABLE_PRIMARY_CODES.has(code)) return 'notWritablePrimary';
    return null;
  }
  if (message.includes('node is recovering') || message.includes('not master or secondary')) return 'nodeIsRecovering';
  if (message.includes('not master')) return 'notWritablePrimary';
  return null;
}

/** "node is shutting down" errors: the only state change errors that clear the pool on 4.2+. */
export function isShutdownCode(code: number | null | undefined): boolean {
  return hasCode(code) && SHUTDOWN_CODES.has(code);
}

/** The part of a command reply that SDAM error handling looks at. */
export interface SdamCommandError {
  code: number | undefined;
  message: string;
  topologyVersion: TopologyVersion | null;
}

/**
 * "parseCommandResponse": the error SDAM must check in a command reply: the
 * reply's own when ok is not 1, else its writeConcernError; null when there
 * is neither. Errors inside writeErrors are never checked.
 */
export function sdamErrorFromReply(reply: Document): SdamCommandError | null {
  const codeOf = (doc: Document): number | undefined => (typeof doc.code === 'number' ? doc.code : undefined);
  const messageOf = (doc: Document): string => (typeof doc.errmsg === 'string' ? doc.errmsg : '');
  const ok: unknown = reply.ok;
  if (!(ok === true || Number(ok) === 1)) {
    return { code: codeOf(reply), message: messageOf(reply), topologyVersion: parseTopologyVersion(reply.topologyVersion) };
  }
  const wce: unknown = reply.writeConcernError;
  if (wce !== null && typeof wce === 'object') {
    const doc = wce as Document;
    return {
      code: codeOf(doc),
      message: messageOf(doc),
      topologyVersion: parseTopologyVersion(doc.topologyVersion) ?? parseTopologyVersion(reply.topologyVersion),
    };
  }
  return null;
}

/**
 * Where an application connection failed (SDAM "Network error when reading
 * or writing"): 'handshake' is connection establishment and the hello,
 * 'authentication' the optional auth step, 'operation' an established
 * connection (after the handshake completes).
 */
export type ErrorStage = 'handshake' | 'authentication' | 'operation';

export interface ApplicationError {
  /** 'network': the socket failed or closed; 'timeout': a network timeout; 'command': an ok: 0 reply or a writeConcernError. */
  type: 'network' | 'timeout' | 'command';
  stage: ErrorStage;
  /** The connection's generation, or the pool's when the failed connection attempt started. */
  generation: number;
  /** maxWireVersion of the connection the error happened on (0 when its handshake did not finish). */
  maxWireVersion: number;
  /** Command errors: the server's numeric code (see sdamErrorFromReply). */
  code?: number | undefined;
  /** The error message: stored in the Unknown description, and read for code-less command errors. */
  message: string;
  /** Command errors from MongoDB 4.4+: the topologyVersion of the reply. */
  topologyVersion?: TopologyVersion | null | undefined;
  errorLabels?: Iterable<string> | undefined;
}

/** What the cluster must do about an application error; every flag false when it is ignored. */
export interface ErrorDecision {
  /** Why nothing is done, when nothing is. */
  readonly ignored: 'unknown-server' | 'stale' | 'overloaded' | 'not-an-sdam-error' | null;
  /** Apply `description` (type Unknown) with updateTopology. */
  readonly markUnknown: boolean;
  readonly description: ServerDescription | null;
  /** Clear the server's pool (in LoadBalanced mode: the pool of the error's serviceId), synchronized with the update. */
  readonly clearPool: boolean;
  /** Clear with interruptInUseConnections: only monitor timeouts ask for it, never application errors. */
  readonly interruptInUse: boolean;
  /** Ask the server's monitor to check now (state change errors). */
  readonly requestImmediateCheck: boolean;
  /** Cancel the monitor's check in progress and close its connection (server monitoring, "hello Cancellation"). */
  readonly cancelCheck: boolean;
}

function nothing(ignored: ErrorDecision['ignored']): ErrorDecision {
  return Object.freeze({
    ignored,
    markUnknown: false,
    description: null,
    clearPool: false,
    interruptInUse: false,
    requestImmediateCheck: false,
    cancelCheck: false,
  });
}

/** maxWireVersion 8 is MongoDB 4.2: older servers close all connections on a state change. */
const WIRE_VERSION_4_2 = 8;

/**
 * SDAM "Error handling" / "Application errors" as a decision: stale errors
 * (by pool generation, then topologyVersion) are ignored; a state change
 * error marks the server Unknown with the error's topologyVersion, clears
 * the pool only for shutdown errors or servers before 4.2, and asks for an
 * immediate check; a network error on an established connection marks the
 * server Unknown, clears the pool and cancels the monitor's check; a timeout
 * there changes nothing. Before the handshake completes: a network error or
 * timeout during connection establishment or hello changes nothing (the
 * backpressure rules), one during authentication, or any other handshake
 * error, marks Unknown and clears the pool. Errors labelled
 * SystemOverloadedError never mark a server Unknown. In LoadBalanced mode the
 * description is never marked Unknown and no monitor is asked.
 */
export function applicationErrorDecision(
  td: TopologyDescription,
  address: string,
  error: ApplicationError,
  poolGeneration: number,
  now = -Infinity,
): ErrorDecision {
  const key = normalizeAddress(address);
  if (!td.servers.has(key)) return nothing('unknown-server');
  const loadBalanced = td.type === 'LoadBalanced';
  const stateChange = error.type === 'command' ? stateChangeErrorKind(error.code, error.message) : null;
  const topologyVersion = error.type === 'command' ? (error.topologyVersion ?? null) : null;
  if (isStaleError(td, key, { generation: error.generation, topologyVersion }, poolGeneration)) return nothing('stale');

  if (stateChange !== null) {
    return Object.freeze({
      ignored: null,
      markUnknown: !loadBalanced,
      description: loadBalanced ? null : unknownServerDescription(key, error.message, now, topologyVersion),
      clearPool: isShutdownCode(error.code) || error.maxWireVersion < WIRE_VERSION_4_2,
      interruptInUse: false,
      requestImmediateCheck: !loadBalanced,
      cancelCheck: false,
    });
  }

  const marksUnknown =
    error.stage === 'authentication' ||
    (error.stage === 'handshake' && error.type === 'command') ||
    (error.stage === 'operation' && error.type === 'network');
  if (!marksUnknown) return nothing('not-an-sdam-error');
  if (new Set(error.errorLabels ?? []).has(SYSTEM_OVERLOADED_ERROR_LABEL)) return nothing('overloaded');
  return Object.freeze({
    ignored: null,
    markUnknown: !loadBalanced,
    description: loadBalanced ? null : unknownServerDescription(key, error.message, now),
    clearPool: true,
    interruptInUse: false,
    requestImmediateCheck: false,
    cancelCheck: !loadBalanced,
  });
}

// --- monitor check failures ---------------------------------------------------

export interface CheckErrorDecision {
  /** Always: the server becomes Unknown (an unknownServerDescription with the error). */
  readonly markUnknown: true;
  /** Always: "Clear the connection pool on both network and command errors". */
  readonly clearPool: true;
  /** A network timeout: clear with interruptInUseConnections = true. */
  readonly interruptInUse: boolean;
  /** A network error on a server that was known: check again at once, without sleeping. */
  readonly checkAgainNow: boolean;
}

/**
 * Server monitoring spec, "Network or command error during server check".
 * `previous` is the server's description before the failed check.
 */
export function checkErrorDecision(previous: ServerDescription | undefined, type: 'network' | 'timeout' | 'command'): CheckErrorDecision {
  const wasKnown = previous !== undefined && previous.type !== 'Unknown';
  return Object.freeze({
    markUnknown: true,
    clearPool: true,
    interruptInUse: type === 'timeout',
    // "If this was a network error (a timeout is one) and the server was in a known state".
    checkAgainNow: type !== 'command' && wasKnown,
  });
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
