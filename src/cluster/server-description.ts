// The client's view of one server, built from a hello reply or from a failure
// (server-discovery-and-monitoring spec, "ServerDescription" and "Parsing a
// hello or legacy hello response"). Descriptions are immutable values: the
// cluster replaces them, never edits them ("Immutable data").
//
// Everything here is pure: no sockets, no clocks. The caller passes the round
// trip time (see rtt.ts) and the time of the check.
import { ObjectId, type Document } from 'bson';
import { wireLimitsOf } from '../connection/handshake.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from '../wire/constants.js';

/** SDAM "ServerType". PossiblePrimary: unchecked, but a secondary names it as the primary. */
export type ServerType =
  | 'Standalone'
  | 'Mongos'
  | 'PossiblePrimary'
  | 'RSPrimary'
  | 'RSSecondary'
  | 'RSArbiter'
  | 'RSOther'
  | 'RSGhost'
  | 'LoadBalancer'
  | 'Unknown';

/** SDAM "topologyVersion": a server process id and a counter of its state changes. */
export interface TopologyVersion {
  readonly processId: ObjectId;
  readonly counter: bigint;
}

/** SDAM "ServerDescription". Fields marked (=) take part in equality. */
export interface ServerDescription {
  /** "host:port" as the client dials it (lower-cased host), not the server's own `me`. */
  readonly address: string;
  /** (=) */
  readonly type: ServerType;
  /** (=) Why the server is Unknown: the last check's or operation's error message. */
  readonly error?: string;
  /** The driver's code for that error, when it had one (ERR_TLS_CERTIFICATE...): what a selection timeout reports. */
  readonly errorCode?: string;
  /** Average round trip time of the checks, ms; absent while the type is Unknown. */
  readonly roundTripTime?: number;
  /** Server monitoring spec "Measuring RTT": minimum of the recent samples, ms. */
  readonly minRoundTripTime?: number;
  /** `lastWrite.lastWriteDate` of the reply, ms since the epoch (the server's clock). */
  readonly lastWriteDate?: number;
  /** `lastWrite.opTime` of the reply: opaque. */
  readonly opTime?: Document;
  /** When the check completed, on the caller's (monotonic) clock, ms; -Infinity: never checked. */
  readonly lastUpdateTime: number;
  /** (=) */
  readonly minWireVersion: number;
  /** (=) */
  readonly maxWireVersion: number;
  /** (=) The address this member has in its replica set config. */
  readonly me: string | null;
  /** (=) This server's opinion of the replica set's members, lower-cased. */
  readonly hosts: readonly string[];
  /** (=) */
  readonly passives: readonly string[];
  /** (=) */
  readonly arbiters: readonly string[];
  /** (=) Replica set member tags. */
  readonly tags: Readonly<Record<string, string>>;
  /** (=) */
  readonly setName: string | null;
  /** (=) */
  readonly setVersion: number | null;
  /** (=) Set by a primary (MongoDB 2.6+). */
  readonly electionId: ObjectId | null;
  /** (=) This server's opinion of who the primary is. */
  readonly primary: string | null;
  /** (=) */
  readonly logicalSessionTimeoutMinutes: number | null;
  /** (=) From the reply, or from a state change error (SDAM "Error handling"). */
  readonly topologyVersion: TopologyVersion | null;
  /** (=) A mongocryptd process. */
  readonly iscryptd: boolean;
  /** The server answers `hello` (monitors then stop sending legacy hello). */
  readonly helloOk: boolean;
  /** Load balancer spec: the service behind the load balancer. */
  readonly serviceId: ObjectId | null;
  /**
   * The size limits of the server's hello reply; absent while the server is
   * Unknown. Not part of SDAM equality: the node driver keeps them here too.
   */
  readonly limits?: WireLimits;
}

/** SDAM "Data-Bearing Server Type". */
export function isDataBearing(type: ServerType): boolean {
  return type === 'Mongos' || type === 'RSPrimary' || type === 'RSSecondary' || type === 'Standalone' || type === 'LoadBalancer';
}

/** A server that takes writes: a primary, a standalone, a mongos or a load balancer. */
export function isWritable(type: ServerType | undefined): boolean {
  return type === 'RSPrimary' || type === 'Standalone' || type === 'Mongos' || type === 'LoadBalancer';
}

/** Addresses of the writable servers among `servers`. */
export function writableServersOf(servers: Iterable<ServerDescription>): string[] {
  const out: string[] = [];
  for (const sd of servers) if (isWritable(sd.type)) out.push(sd.address);
  return out;
}

/** Server selection spec "Available": Unknown and PossiblePrimary servers are not. */
export function isAvailable(type: ServerType): boolean {
  return type !== 'Unknown' && type !== 'PossiblePrimary';
}

/**
 * SDAM "Hostnames are normalized to lower-case": "Host:27017" -> "host:27017",
 * and a missing port becomes 27017. IPv6 literals keep their brackets; Unix
 * socket paths (which are case sensitive) are left alone.
 */
export function normalizeAddress(address: string): string {
  if (address.includes('/') || address.endsWith('.sock')) return address;
  const lower = address.toLowerCase();
  if (lower.startsWith('[')) return lower.includes(']:') ? lower : `${lower}:27017`;
  return lower.includes(':') ? lower : `${lower}:27017`;
}

function frozen<T extends object>(value: T): T {
  return Object.freeze(value);
}

const NO_ADDRESSES: readonly string[] = frozen([]);
const NO_TAGS: Readonly<Record<string, string>> = frozen({});

/**
 * A default ServerDescription of type Unknown (SDAM: "default
 * ServerDescription"), with the error that made it Unknown if any.
 * `lastUpdateTime` defaults to "infinity ago" (never checked).
 */
export function unknownServerDescription(
  address: string,
  error?: string | { message: string; code?: string | undefined } | null,
  lastUpdateTime = -Infinity,
  topologyVersion: TopologyVersion | null = null,
): ServerDescription {
  const description: ServerDescription = {
    address: normalizeAddress(address),
    type: 'Unknown',
    lastUpdateTime,
    minWireVersion: 0,
    maxWireVersion: 0,
    me: null,
    hosts: NO_ADDRESSES,
    passives: NO_ADDRESSES,
    arbiters: NO_ADDRESSES,
    tags: NO_TAGS,
    setName: null,
    setVersion: null,
    electionId: null,
    primary: null,
    logicalSessionTimeoutMinutes: null,
    topologyVersion,
    iscryptd: false,
    helloOk: false,
    serviceId: null,
  };
  if (error === undefined || error === null) return frozen(description);
  if (typeof error === 'string') return frozen({ ...description, error });
  return frozen(error.code === undefined ? { ...description, error: error.message } : { ...description, error: error.message, errorCode: error.code });
}

/**
 * Load balancer spec, "Server Discovery Logging and Monitoring": in
 * TopologyType LoadBalanced the one server is a LoadBalancer from the start
 * and is never monitored; only its address is known.
 */
export function loadBalancerServerDescription(address: string): ServerDescription {
  return frozen({ ...unknownServerDescription(address), type: 'LoadBalancer' });
}

/** A server description of `type` that is otherwise the default: for PossiblePrimary. */
export function defaultServerDescription(address: string, type: ServerType): ServerDescription {
  return frozen({ ...unknownServerDescription(address), type });
}

// --- reading a hello reply -------------------------------------------------

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Numbers arrive as number, bigint or a BSON Long/Int32/Double wrapper. */
function toNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number(value);
  if (value !== null && typeof value === 'object' && 'valueOf' in value) {
    const primitive = (value as { valueOf(): unknown }).valueOf();
    // Long, Int32, Double and Date all give their value through valueOf().
    if (typeof primitive === 'number' || typeof primitive === 'bigint') return Number(primitive);
  }
  return null;
}

function toBigInt(value: unknown): bigint | null {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : null;
  if (value !== null && typeof value === 'object') {
    const long = value as { toBigInt?: () => bigint; valueOf(): unknown };
    if (typeof long.toBigInt === 'function') return long.toBigInt();
    const primitive = long.valueOf();
    if (typeof primitive === 'number' && Number.isInteger(primitive)) return BigInt(primitive);
  }
  return null;
}

function objectIdOrNull(value: unknown): ObjectId | null {
  return value instanceof ObjectId ? value : null;
}

function addressList(value: unknown): readonly string[] {
  if (!Array.isArray(value)) return NO_ADDRESSES;
  return frozen(value.filter((v): v is string => typeof v === 'string').map(normalizeAddress));
}

function tagsOf(value: unknown): Readonly<Record<string, string>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return NO_TAGS;
  const tags: Record<string, string> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) tags[key] = String(v);
  return frozen(tags);
}

/** Reads a `topologyVersion` subdocument; null when absent or malformed. */
export function parseTopologyVersion(value: unknown): TopologyVersion | null {
  if (value === null || typeof value !== 'object') return null;
  const { processId, counter } = value as { processId?: unknown; counter?: unknown };
  const count = toBigInt(counter);
  if (!(processId instanceof ObjectId) || count === null) return null;
  return frozen({ processId, counter: count });
}

function isOk(reply: Document): boolean {
  const ok: unknown = reply.ok;
  return ok === true || toNumber(ok) === 1;
}

/** SDAM "type": the ServerType a successful hello reply describes (loadBalanced=true is not read from replies). */
function serverTypeOf(hello: Document): ServerType {
  if (!isOk(hello)) return 'Unknown';
  if (hello.msg === 'isdbgrid') return 'Mongos';
  // "any server is an RSGhost that reports isreplicaset: true"
  if (hello.isreplicaset === true) return 'RSGhost';
  if (typeof hello.setName === 'string') {
    // "RSOther: hidden: true, or not primary, secondary, nor arbiter" -- a
    // hidden member also says secondary: true, so hidden is looked at first.
    if (hello.hidden === true) return 'RSOther';
    // "first check for the isWritablePrimary field and fall back to ismaster"
    const writable = 'isWritablePrimary' in hello ? hello.isWritablePrimary : hello.ismaster;
    if (writable === true) return 'RSPrimary';
    if (hello.secondary === true) return 'RSSecondary';
    if (hello.arbiterOnly === true) return 'RSArbiter';
    return 'RSOther';
  }
  return 'Standalone';
}

export interface HelloExtras {
  /** Server monitoring spec "Measuring RTT": see rtt.ts minRoundTripTime. */
  minRoundTripTime?: number;
}

/**
 * SDAM "Parsing a hello or legacy hello response". `roundTripTimeMS` is the
 * server's average RTT including this check (rtt.ts nextAverageRtt), `now`
 * the time the check completed on the caller's monotonic clock. A reply
 * without ok: 1 gives an Unknown description.
 */
export function serverDescriptionFromHello(
  address: string,
  hello: Document,
  roundTripTimeMS: number | null,
  now: number,
  extras: HelloExtras = {},
): ServerDescription {
  const type = serverTypeOf(hello);
  if (type === 'Unknown') {
    const reason = typeof hello.errmsg === 'string' ? hello.errmsg : 'the hello reply does not say ok: 1';
    // "while a server's type is Unknown its RTT is null"
    return unknownServerDescription(address, reason, now);
  }
  const lastWrite: unknown = hello.lastWrite;
  const lastWriteDoc = lastWrite !== null && typeof lastWrite === 'object' ? (lastWrite as Document) : undefined;
  const lastWriteDate = toNumber(lastWriteDoc?.lastWriteDate);
  const opTime: unknown = lastWriteDoc?.opTime;
  const lstm = toNumber(hello.logicalSessionTimeoutMinutes);
  const description: ServerDescription = {
    address: normalizeAddress(address),
    type,
    lastUpdateTime: now,
    minWireVersion: toNumber(hello.minWireVersion) ?? 0,
    maxWireVersion: toNumber(hello.maxWireVersion) ?? 0,
    me: typeof hello.me === 'string' ? normalizeAddress(hello.me) : null,
    hosts: addressList(hello.hosts),
    passives: addressList(hello.passives),
    arbiters: addressList(hello.arbiters),
    tags: tagsOf(hello.tags),
    setName: stringOrNull(hello.setName),
    setVersion: toNumber(hello.setVersion),
    electionId: objectIdOrNull(hello.electionId),
    primary: typeof hello.primary === 'string' ? normalizeAddress(hello.primary) : null,
    logicalSessionTimeoutMinutes: lstm,
    topologyVersion: parseTopologyVersion(hello.topologyVersion),
    iscryptd: hello.iscryptd === true,
    helloOk: hello.helloOk === true,
    serviceId: objectIdOrNull(hello.serviceId),
  };
  const optional: { -readonly [K in keyof ServerDescription]?: ServerDescription[K] } = {};
  if (roundTripTimeMS !== null) optional.roundTripTime = roundTripTimeMS;
  if (extras.minRoundTripTime !== undefined) optional.minRoundTripTime = extras.minRoundTripTime;
  if (lastWriteDate !== null) optional.lastWriteDate = lastWriteDate;
  if (opTime !== null && typeof opTime === 'object') optional.opTime = opTime as Document;
  optional.limits = wireLimitsOf(hello);
  return frozen({ ...description, ...optional });
}

/**
 * The limits every server heard from accepts: for each, the smallest their
 * hello replies report; the defaults while none has answered. A session
 * sizes its writes (batches, documents) with them before it knows which
 * server will run them (Router.limits()).
 */
export function commonLimits(servers: Iterable<ServerDescription>): WireLimits {
  let common: WireLimits | undefined;
  for (const { limits } of servers) {
    if (limits === undefined) continue;
    if (common === undefined) {
      common = limits;
      continue;
    }
    common = {
      maxBsonObjectSize: Math.min(common.maxBsonObjectSize, limits.maxBsonObjectSize),
      maxMessageSizeBytes: Math.min(common.maxMessageSizeBytes, limits.maxMessageSizeBytes),
      maxWriteBatchSize: Math.min(common.maxWriteBatchSize, limits.maxWriteBatchSize),
    };
  }
  return common ?? DEFAULT_WIRE_LIMITS;
}

// --- comparisons -------------------------------------------------------------

/**
 * SDAM "topologyVersion Comparison": -1 when `a` is older than `b` or when
 * the two cannot be ordered (either is null, or the process ids differ: the
 * other one is then assumed more recent), 0 when equal, 1 when `a` is newer.
 */
export function compareTopologyVersion(a: TopologyVersion | null | undefined, b: TopologyVersion | null | undefined): -1 | 0 | 1 {
  if (!a || !b) return -1;
  if (!a.processId.equals(b.processId)) return -1;
  if (a.counter === b.counter) return 0;
  return a.counter < b.counter ? -1 : 1;
}

function sameObjectId(a: ObjectId | null, b: ObjectId | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sorted = [...b].sort();
  return [...a].sort().every((value, i) => value === sorted[i]);
}

function sameTags(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

function sameTopologyVersion(a: TopologyVersion | null, b: TopologyVersion | null): boolean {
  return a === null || b === null ? a === b : compareTopologyVersion(a, b) === 0;
}

/**
 * SDAM "Server Description Equality": the fields marked (=) are equal. Used
 * to decide whether a "server description changed" event is due; the
 * description itself is replaced after every check regardless.
 */
export function serverDescriptionsEqual(a: ServerDescription, b: ServerDescription): boolean {
  return (
    a.address === b.address &&
    a.type === b.type &&
    (a.error ?? null) === (b.error ?? null) &&
    a.minWireVersion === b.minWireVersion &&
    a.maxWireVersion === b.maxWireVersion &&
    a.me === b.me &&
    sameSet(a.hosts, b.hosts) &&
    sameSet(a.passives, b.passives) &&
    sameSet(a.arbiters, b.arbiters) &&
    sameTags(a.tags, b.tags) &&
    a.setName === b.setName &&
    sameObjectId(a.electionId, b.electionId) &&
    a.setVersion === b.setVersion &&
    a.primary === b.primary &&
    a.logicalSessionTimeoutMinutes === b.logicalSessionTimeoutMinutes &&
    sameTopologyVersion(a.topologyVersion, b.topologyVersion) &&
    a.iscryptd === b.iscryptd
  );
}
