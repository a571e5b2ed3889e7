// The option table: one entry per connection option, used alike for values
// written in a URL (strings, connection-string spec "Values") and for values
// given in the options object (JS values). It lists every option of the URI
// options spec plus our own (workers, maxLifetimeMS, poolLimit), and says for
// each whether mgo-threads implements it yet.
//
// The spec types (what a value may be) are kept apart from our policy (spec
// values we refuse, such as maxPoolSize=0), so that the URL parser stays
// spec-conformant and the refusal happens in resolveOptions with a reason.

import { inspect, isDeepStrictEqual } from 'node:util';
import type { ServerApi } from '../wire/server-api.js';
import { EventHub } from '../monitoring/event-hub.js';
import { LOGGER_OPTION_ACCEPTS, checkLoggerOptions, type LoggerOptions } from '../monitoring/log-settings.js';
import { InvalidOptionError } from '../errors.js';
import { UNIMPLEMENTED_MECHANISMS, isImplementedMechanism, type AuthMechanism } from '../auth/credential.js';
import type { ReadPreferenceMode } from '../read-preference.js';
/** A read preference tag set: tag name to value, e.g. { dc: 'east' }. */
export type TagSet = Readonly<Record<string, string>>;
/** A wire compressor (compression spec); snappy and zstd load the optional dependencies snappy and zstd-napi. */
export type Compressor = 'snappy' | 'zlib' | 'zstd';
/** The serverMonitoringMode option (server monitoring spec). */
export type ServerMonitoringMode = 'auto' | 'stream' | 'poll';
export type { AuthMechanism };
/** The options object's `auth` (as in the official Node driver); each field given overrides the URL's userinfo. */
export interface AuthOption {
  /** The user to authenticate as. */
  readonly username?: string;
  /** The user's password; never shown in errors, logs or events. */
  readonly password?: string;
}

/**
 * Every connection option with its value: what dial()'s options object
 * accepts (each one optional there, DialOptions) and what a URL's query may
 * set (except workers, auth and serverApi, which only the object takes).
 * `undefined` where "not set" is itself the default. An option marked "not
 * implemented" is refused when given a value that would change behaviour.
 */
export interface OptionValues {
  // Ours: workers owning the sockets; 0 runs the pools in-process.
  /** Worker threads that own the sockets and pools; 0 (the default) keeps them in this thread. Not in mgo. */
  workers: number;
  // Pool (CMAP), with maxLifetimeMS as our extension.
  /** Sockets per server across every worker, an exact limit (mgo's poolLimit, an alias here): 100 by default; 0 is refused. */
  maxPoolSize: number;
  /** Sockets per server the pool keeps open even when idle (0). */
  minPoolSize: number;
  /** Sockets a pool may be establishing at once (2). */
  maxConnecting: number;
  /** An idle socket is closed after this long (0: never). */
  maxIdleTimeMS: number;
  /** A socket is retired this long after it opened (0: never). Not in the URI options spec. */
  maxLifetimeMS: number;
  /** Longest wait for a socket at the pool limit before a PoolTimeoutError (30 s; 0 is refused: a wait always ends). mgo's DialInfo.PoolTimeout. */
  waitQueueTimeoutMS: number;
  // Timeouts, monitoring and server selection.
  /** Bounds TCP connect plus handshake (10 s). */
  connectTimeoutMS: number;
  /** Longest silence while a reply is awaited (0: none). */
  socketTimeoutMS: number;
  /** Client-side operation timeout (CSOT): not implemented. */
  timeoutMS: number | undefined;
  /** How long an operation waits for a suitable server (30 s). */
  serverSelectionTimeoutMS: number;
  /** A single-threaded driver's option: not implemented (only false is accepted). */
  serverSelectionTryOnce: boolean;
  /** Interval between server checks (10 s; at least 500 ms). */
  heartbeatFrequencyMS: number;
  /** How servers are monitored: 'auto' (streaming unless on a FaaS platform), 'stream' or 'poll'. */
  serverMonitoringMode: ServerMonitoringMode;
  // Events: command events even without a listener (session.events).
  /** Publish command events whether or not anyone listens (official driver's monitorCommands; false). */
  monitorCommands: boolean;
  /** Latency window of server selection (15 ms). */
  localThresholdMS: number;
  // Topology and seed list.
  /** Talk to the one seed only (mgo's connect=direct, DialInfo.Direct). */
  directConnection: boolean;
  /** The replica set's name; servers of another set are removed. */
  replicaSet: string | undefined;
  /** Load-balanced mode: not implemented. */
  loadBalanced: boolean;
  /** Most hosts taken from a mongodb+srv:// lookup (0: all). */
  srvMaxHosts: number;
  /** The SRV service name of a mongodb+srv:// lookup ('mongodb'). */
  srvServiceName: string;
  // Handshake and wire.
  /** Sent in the handshake's client metadata (at most 128 bytes). */
  appName: string | undefined;
  /** Compressors to offer, by preference (none by default). */
  compressors: readonly Compressor[];
  /** zlib's level, -1 (zlib's default) to 9. */
  zlibCompressionLevel: number;
  // Read and write behaviour.
  /** The first session's read preference ('primary'; mgo's Strong). */
  readPreference: ReadPreferenceMode;
  /** Tag sets that secondary reads must match. */
  readPreferenceTags: readonly TagSet[];
  /** Secondaries staler than this are not read from (-1: no check). */
  maxStalenessSeconds: number;
  /** Read concern level of reads ('local', 'majority', ...). */
  readConcernLevel: string | undefined;
  /** Write concern w (a number or 'majority'); mgo's Safe.W / Safe.WMode. */
  w: number | string | undefined;
  /** Write concern timeout (mgo's Safe.WTimeout, in milliseconds). */
  wTimeoutMS: number | undefined;
  /** Write concern j: wait for the journal (mgo's Safe.J; URL key j too). */
  journal: boolean | undefined;
  /** Retry a read once after a retryable error (true). */
  retryReads: boolean;
  /** Retry a write once after a retryable error (true). */
  retryWrites: boolean;
  /** Retries after an overload error: not implemented (an overload error is reported). */
  maxAdaptiveRetries: number;
  /** Overload retargeting: not implemented. */
  enableOverloadRetargeting: boolean;
  // Authentication (src/auth/credential.ts puts them together).
  /** `{ username, password }`, each overriding the URL's userinfo; options object only. */
  auth: AuthOption | undefined;
  /** The database the user is defined in (else the URL's database, else 'admin'). */
  authSource: string | undefined;
  /** SCRAM-SHA-256, SCRAM-SHA-1 or MONGODB-X509 (others are refused); left out, SCRAM is negotiated. */
  authMechanism: AuthMechanism | undefined;
  /** Mechanism properties; no implemented mechanism takes any. */
  authMechanismProperties: TagSet | undefined;
  /** GSSAPI's service name: not implemented. */
  gssapiServiceName: string | undefined;
  // TLS.
  /** Connect with TLS (alias ssl). */
  tls: boolean;
  /** Skip every certificate and host name check. */
  tlsInsecure: boolean;
  /** Accept a server certificate that does not verify. */
  tlsAllowInvalidCertificates: boolean;
  /** Accept a server certificate issued for another host name. */
  tlsAllowInvalidHostnames: boolean;
  /** Accepted either way: Node's TLS does not check OCSP endpoints unless asked to. */
  tlsDisableOCSPEndpointCheck: boolean;
  /** Accepted either way: Node's TLS does not check revocation unless given a CRL. */
  tlsDisableCertificateRevocationCheck: boolean;
  /** PEM file of the certificate authorities to trust (else Node's default ones). */
  tlsCAFile: string | undefined;
  /** PEM file of the client's certificate and private key (for MONGODB-X509 or mutual TLS). */
  tlsCertificateKeyFile: string | undefined;
  /** Password of tlsCertificateKeyFile's private key. */
  tlsCertificateKeyFilePassword: string | undefined;
  /** The declared server API version (Stable API); options object only. */
  serverApi: ServerApi | undefined;
  // Logging spec: the dial's logger (levels, destination); the options object only.
  /** The dial's logger (logging spec): a destination and levels per component, over setLogger()/setDebug() and the MONGODB_LOG_* variables; options object only. */
  logger: LoggerOptions | undefined;
  /**
   * The dial's event emitter, made before dial() (new EventHub()) so that its
   * listeners see the dial's own first events (topologyOpening, the first
   * heartbeats and checkouts); session.events is then this object. One dial
   * per hub; options object only.
   */
  events: EventHub | undefined;
  // How replies are decoded (js-bson deserialize options, as the official driver has them).
  /** Decode int64 as a number when it fits (true). */
  promoteLongs: boolean;
  /** Decode BSON wrappers (Int32, Double, ...) as JS values (true). */
  promoteValues: boolean;
  /** Decode binary data as a Buffer rather than a Binary (false). */
  promoteBuffers: boolean;
  /** Decode int64 as a bigint (false). */
  useBigInt64: boolean;
  /** Decode regular expressions as BSONRegExp rather than RegExp (false). */
  bsonRegExp: boolean;
  /** Query and pipe results as each document's BSON bytes, undecoded (false). */
  raw: boolean;
  // SOCKS5 proxy.
  /** SOCKS5 proxy: not implemented. */
  proxyHost: string | undefined;
  /** SOCKS5 proxy: not implemented. */
  proxyPort: number | undefined;
  /** SOCKS5 proxy: not implemented. */
  proxyUsername: string | undefined;
  /** SOCKS5 proxy: not implemented. */
  proxyPassword: string | undefined;
}

export type OptionName = keyof OptionValues;

/** How one option's value is read from URL text and from a JS value. */
export interface ValueType<T> {
  /** What the option accepts, for messages: "an integer from 1 to 2147483647". */
  readonly accepts: string;
  /** The value the URL text stands for, or undefined when it is not a valid one. */
  fromString(text: string): T | undefined;
  /** The options-object value checked, or undefined when it is not a valid one. */
  fromValue(value: unknown): T | undefined;
}

/**
 * Another name of an option: `alias` works everywhere, `deprecated` too but
 * with a warning (connection-string spec, "Deprecated Key Value Pairs"), and
 * `object` only in the options object.
 */
export interface Alias {
  readonly name: string;
  readonly kind: 'alias' | 'deprecated' | 'object';
  /**
   * An mgo URL key whose values are spelled differently: each URL text it
   * takes, as the option's own URL text (mgo's connect=direct is
   * directConnection=true). Such a key is read in URLs only.
   */
  readonly values?: Readonly<Record<string, string>>;
}

// Methods rather than function-valued properties: method parameters are
// bivariant, so any entry can be handled as an OptionSpec<unknown>.
export interface OptionSpec<T> {
  readonly type: ValueType<T>;
  readonly aliases?: readonly Alias[];
  /** false: the options object only; the URL ignores the key with a warning. */
  readonly url?: false;
  /**
   * A key given several times in one URL: `list` accumulates (the value is an
   * array), `same` requires every instance to agree, `error` refuses the
   * repetition. Unset: the last instance wins, with a warning.
   */
  readonly repeat?: 'list' | 'same' | 'error';
  /** The value is never echoed, in messages nor by redactUri. */
  readonly secret?: true;
  /** true, or why mgo-threads does not implement the option yet. */
  readonly supported: true | string;
  /** For an option not supported yet: values that ask for nothing we lack. */
  neutral?(value: T): boolean;
  /** Why mgo-threads refuses this spec-valid value, or undefined if it does not. */
  refuse?(value: T): string | undefined;
}

// An option whose value type includes undefined has no default; any other
// must declare one, so the resolved values always match OptionValues.
type Entry<T> = undefined extends T
  ? OptionSpec<Exclude<T, undefined>> & { readonly default?: undefined }
  : OptionSpec<T> & { readonly default: T };

// ---------------------------------------------------------------------------
// Value types

const INT32_MAX = 2 ** 31 - 1;
const INTEGER = /^-?\d+$/;

function integer(min: number, max = INT32_MAX, what = 'an integer'): ValueType<number> {
  const valid = (n: number) => Number.isSafeInteger(n) && n >= min && n <= max;
  return {
    accepts: `${what} from ${min} to ${max}`,
    fromString: (text) => (INTEGER.test(text) && valid(Number(text)) ? Number(text) : undefined),
    fromValue: (value) => (typeof value === 'number' && valid(value) ? value : undefined),
  };
}

const milliseconds = (min: number, max = INT32_MAX) => integer(min, max, 'a whole number of milliseconds');

// Only "true" and "false": the spec's legacy spellings (1, yes, t...) are a
// MAY, and a typo such as journal=ture should not turn into a value.
const boolean: ValueType<boolean> = {
  accepts: "'true' or 'false'",
  fromString: (text) => (text === 'true' ? true : text === 'false' ? false : undefined),
  fromValue: (value) => (typeof value === 'boolean' ? value : undefined),
};

/** A non-empty string, optionally bounded in UTF-8 bytes or by a pattern. */
function string(limit: { maxBytes?: number; pattern?: RegExp; accepts?: string } = {}): ValueType<string> {
  const { maxBytes = Infinity, pattern } = limit;
  const fromString = (text: string) =>
    text !== '' && Buffer.byteLength(text) <= maxBytes && (!pattern || pattern.test(text)) ? text : undefined;
  return {
    accepts: limit.accepts ?? (maxBytes < Infinity ? `a string of 1 to ${maxBytes} bytes in UTF-8` : 'a non-empty string'),
    fromString,
    fromValue: (value) => (typeof value === 'string' ? fromString(value) : undefined),
  };
}

/** One of fixed values, matched without regard to case and returned as spelled here. */
function oneOf<const V extends string>(values: readonly V[]): ValueType<V> {
  const fromString = (text: string) => values.find((v) => v.toLowerCase() === text.toLowerCase());
  return {
    accepts: values.map((v) => `'${v}'`).join(', '),
    fromString,
    fromValue: (value) => (typeof value === 'string' ? fromString(value) : undefined),
  };
}

/** Comma-separated items, each one of `values`. */
function listOf<const V extends string>(values: readonly V[]): ValueType<readonly V[]> {
  const item = oneOf(values);
  const items = (list: readonly unknown[]) => {
    const out = list.map((v) => item.fromValue(v));
    return out.every((v) => v !== undefined) ? (out as V[]) : undefined;
  };
  return {
    accepts: `a comma-separated list of ${item.accepts}`,
    fromString: (text) => (text === '' ? undefined : items(text.split(','))),
    fromValue: (value) => (Array.isArray(value) ? items(value) : undefined),
  };
}

// A plain object of strings: a Map or a class instance would read as empty.
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return isPlainObject(value) && Object.values(value).every((v) => typeof v === 'string');
}

// Connection-string spec, "Key value pairs": pairs split on ',' and each on
// its first ':', so that a value may hold colons (TOKEN_RESOURCE:mongodb://x).
function parsePairs(text: string): TagSet | undefined {
  if (text === '') return {};
  const entries: [string, string][] = [];
  for (const item of text.split(',')) {
    const colon = item.indexOf(':');
    if (colon <= 0) return undefined;
    entries.push([item.slice(0, colon), item.slice(colon + 1)]);
  }
  return Object.fromEntries(entries);
}

const keyValues: ValueType<TagSet> = {
  accepts: "comma-separated key:value pairs, e.g. 'A:x,B:y'",
  fromString: (text) => (text === '' ? undefined : parsePairs(text)),
  fromValue: (value) => (isStringRecord(value) ? { ...value } : undefined),
};

// One URL instance is one tag set (an empty one matches any server); the
// instances accumulate in order because the option repeats as a `list`.
const tagSets: ValueType<readonly TagSet[]> = {
  accepts: "tag sets of key:value pairs, e.g. 'dc:ny,rack:1' (an array of objects in the options object)",
  fromString: (text) => {
    const set = parsePairs(text);
    return set && [set];
  },
  fromValue: (value) =>
    Array.isArray(value) && value.every(isStringRecord) ? value.map((set) => ({ ...set })) : undefined,
};

// Fields left undefined count as not given, as options-object keys do.
const authObject: ValueType<AuthOption> = {
  accepts: 'an object { username?, password? } of strings',
  fromString: () => undefined,
  fromValue: (value) => {
    if (!isPlainObject(value)) return undefined;
    const out: { username?: string; password?: string } = {};
    for (const [key, field] of Object.entries(value)) {
      if ((key !== 'username' && key !== 'password') || (field !== undefined && typeof field !== 'string')) return undefined;
      if (field !== undefined) out[key] = field;
    }
    return out;
  },
};

const nodeCount = integer(0);
const tagName = string();
const writeConcernW: ValueType<number | string> = {
  accepts: "an integer from 0 to 2147483647, 'majority' or a custom write concern name",
  fromString: (text) => (INTEGER.test(text) ? nodeCount.fromString(text) : tagName.fromString(text)),
  fromValue: (value) => (typeof value === 'number' ? nodeCount.fromValue(value) : tagName.fromValue(value)),
};

// The official driver's shapes: '1', or { version: '1', strict?, deprecationErrors? }.
const serverApiType: ValueType<ServerApi> = {
  accepts: "'1' or { version: '1', strict?: boolean, deprecationErrors?: boolean }",
  fromString: () => undefined,
  fromValue: (value) => {
    if (value === '1') return { version: '1' };
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const { version, strict, deprecationErrors, ...rest } = value as Record<string, unknown>;
    if (version !== '1' || Object.keys(rest).length > 0) return undefined;
    if ((strict !== undefined && typeof strict !== 'boolean') || (deprecationErrors !== undefined && typeof deprecationErrors !== 'boolean')) return undefined;
    const api: ServerApi = { version };
    if (strict !== undefined) api.strict = strict;
    if (deprecationErrors !== undefined) api.deprecationErrors = deprecationErrors;
    return api;
  },
};

// RFC 6335 section 5.1 service names, without the 15-character limit
// (seedlist discovery spec, "srvServiceName"): the DNS label must fit in 63
// bytes with its leading underscore.
const serviceName = string({
  pattern: /^(?=.{1,62}$)(?=.*[a-z])[a-z0-9]+(?:-[a-z0-9]+)*$/i,
  accepts: 'an SRV service name (letters, digits and inner hyphens, at most 62 characters)',
});

// ---------------------------------------------------------------------------
// The table

const always = () => true;
const isFalse = (value: boolean) => !value;
const PROXY_NOT_IMPLEMENTED = 'SOCKS5 proxies are not implemented yet';

const tlsFlag: Entry<boolean> = { type: boolean, default: false, supported: true };

export const OPTIONS: { readonly [K in OptionName]: Entry<OptionValues[K]> } = {
  workers: { type: integer(0), default: 0, url: false, supported: true },

  maxPoolSize: {
    type: integer(0),
    default: 100,
    // mgo's name (DialInfo.PoolLimit, Session.SetPoolLimit), in URLs too.
    aliases: [{ name: 'poolLimit', kind: 'alias' }],
    supported: true,
    refuse: (n) =>
      n === 0
        ? "0 means 'no limit' in the URI options spec, but mgo-threads promises an exact connection limit: use an integer >= 1"
        : undefined,
  },
  minPoolSize: { type: integer(0), default: 0, supported: true },
  maxConnecting: { type: integer(1), default: 2, supported: true },
  maxIdleTimeMS: { type: milliseconds(0), default: 0, supported: true },
  maxLifetimeMS: { type: milliseconds(0), default: 0, supported: true },
  // CMAP lets 0 mean "wait forever"; a waiter here always ends, with a
  // PoolTimeoutError that says where the sockets are.
  waitQueueTimeoutMS: {
    type: milliseconds(0),
    default: 30_000,
    supported: true,
    refuse: (n) =>
      n === 0 ? "0 would mean 'wait forever' for a connection; mgo-threads requires a finite wait: use an integer >= 1" : undefined,
  },

  connectTimeoutMS: { type: milliseconds(0), default: 10_000, supported: true },
  socketTimeoutMS: { type: milliseconds(0), default: 0, supported: true },
  timeoutMS: {
    type: milliseconds(0),
    supported:
      'client-side operation timeouts (CSOT) are not implemented yet; use socketTimeoutMS, waitQueueTimeoutMS and serverSelectionTimeoutMS',
  },
  serverSelectionTimeoutMS: { type: milliseconds(1), default: 30_000, supported: true },
  // Uri options spec: "required for single-threaded drivers" only.
  serverSelectionTryOnce: {
    type: boolean,
    default: false,
    supported: 'a single-threaded driver option: server selection here waits asynchronously until serverSelectionTimeoutMS',
    neutral: isFalse,
  },
  heartbeatFrequencyMS: { type: milliseconds(500), default: 10_000, supported: true },
  // Server monitoring spec: auto streams unless on a FaaS platform (src/cluster/monitor.ts).
  serverMonitoringMode: { type: oneOf(['auto', 'stream', 'poll']), default: 'auto', supported: true },
  // The official Node driver's option: command events are built (and, with
  // workers, sent to the main thread) while it is on, listened to or not;
  // off, only while someone listens (src/monitoring/event-hub.ts).
  monitorCommands: { type: boolean, default: false, supported: true },
  localThresholdMS: { type: milliseconds(0), default: 15, supported: true },

  // mgo's connect=direct / connect=replicaSet (globalsign/mgo ParseURL).
  directConnection: {
    type: boolean,
    default: false,
    aliases: [{ name: 'connect', kind: 'alias', values: { direct: 'true', replicaSet: 'false' } }],
    supported: true,
  },
  replicaSet: { type: string(), supported: true },
  loadBalanced: { type: boolean, default: false, supported: 'load-balanced mode is not implemented yet', neutral: isFalse },
  srvMaxHosts: { type: integer(0), default: 0, supported: true },
  srvServiceName: { type: serviceName, default: 'mongodb', supported: true },

  // Handshake spec: the client metadata's application name is at most 128 bytes.
  appName: { type: string({ maxBytes: 128 }), supported: true },
  // Array defaults are shared by every resolved result, hence frozen.
  compressors: {
    type: listOf(['snappy', 'zlib', 'zstd']),
    default: Object.freeze([]),
    supported: true,
  },
  zlibCompressionLevel: {
    type: integer(-1, 9),
    default: -1,
    supported: true,
  },

  readPreference: {
    type: oneOf(['primary', 'primaryPreferred', 'secondary', 'secondaryPreferred', 'nearest']),
    default: 'primary',
    supported: true,
  },
  readPreferenceTags: { type: tagSets, default: Object.freeze([]), repeat: 'list', supported: true },
  // -1 means no staleness check (max staleness spec); the lower bound that
  // depends on heartbeatFrequencyMS is enforced by server selection.
  maxStalenessSeconds: { type: integer(-1), default: -1, supported: true },
  readConcernLevel: { type: string(), supported: true },
  w: { type: writeConcernW, supported: true },
  wTimeoutMS: {
    type: milliseconds(0, Number.MAX_SAFE_INTEGER),
    aliases: [{ name: 'wtimeout', kind: 'deprecated' }],
    supported: true,
  },
  // 'j' is mgo's URL key (and the write concern field's name).
  journal: { type: boolean, aliases: [{ name: 'j', kind: 'alias' }], supported: true },
  // Session.#run applies them (src/session/retry.ts); README, "Retries".
  retryReads: { type: boolean, default: true, supported: true },
  retryWrites: { type: boolean, default: true, supported: true },
  // Client backpressure: retries after SystemOverloadedError, likewise reported instead.
  maxAdaptiveRetries: {
    type: integer(0),
    default: 2,
    supported: 'overload retries are not implemented yet: an overload error is reported',
    neutral: always,
  },
  enableOverloadRetargeting: {
    type: boolean,
    default: false,
    supported: 'overload retargeting is not implemented yet',
    neutral: isFalse,
  },

  // The rules between these and the userinfo live in resolveCredential.
  auth: { type: authObject, url: false, secret: true, supported: true },
  authSource: { type: string(), supported: true },
  authMechanism: {
    type: oneOf(['SCRAM-SHA-1', 'SCRAM-SHA-256', 'MONGODB-X509', 'MONGODB-AWS', 'MONGODB-OIDC', 'GSSAPI', 'PLAIN']),
    supported: UNIMPLEMENTED_MECHANISMS,
    neutral: isImplementedMechanism,
  },
  // An mgo URL key: refused when set, since GSSAPI is not implemented.
  gssapiServiceName: { type: string(), supported: 'GSSAPI (Kerberos) authentication is not implemented' },
  // Secret: AWS_SESSION_TOKEN travels here. No implemented mechanism takes
  // properties; resolveCredential says so.
  authMechanismProperties: { type: keyValues, secret: true, supported: true },

  // URI options spec, "Conflicting TLS options" (8): every tls and ssl must agree.
  // Files are read and checked at dial (src/connection/tls.ts).
  tls: { ...tlsFlag, aliases: [{ name: 'ssl', kind: 'alias' }], repeat: 'same' },
  tlsInsecure: tlsFlag,
  tlsAllowInvalidCertificates: tlsFlag,
  tlsAllowInvalidHostnames: tlsFlag,
  // Node's TLS checks neither OCSP nor revocation lists unless asked to (a
  // CRL given to the secure context), and these options only turn checks
  // off: either value gets what was asked for.
  tlsDisableOCSPEndpointCheck: tlsFlag,
  tlsDisableCertificateRevocationCheck: tlsFlag,
  tlsCAFile: { type: string(), supported: true },
  tlsCertificateKeyFile: { type: string(), supported: true },
  tlsCertificateKeyFilePassword: { type: string(), secret: true, supported: true },
  // Stable API spec: declared on the client, never in the URL.
  serverApi: { type: serverApiType, url: false, supported: true },
  // Logging spec: object form only (a sink cannot be written in a URL); MONGODB_LOG_* is the text form.
  logger: { type: { accepts: LOGGER_OPTION_ACCEPTS, fromString: () => undefined, fromValue: checkLoggerOptions }, url: false, supported: true },
  events: {
    type: { accepts: 'an EventHub (new EventHub())', fromString: () => undefined, fromValue: (value) => (value instanceof EventHub ? value : undefined) },
    url: false,
    supported: true,
  },

  // SOCKS5 spec: repeating any proxy option is an error.
  // js-bson's deserialize options (official driver: BSONSerializeOptions),
  // applied wherever the reply is decoded (main thread or worker); also
  // settable per session (setBSONOptions) and per query and pipe.
  promoteLongs: { type: boolean, default: true, supported: true },
  promoteValues: { type: boolean, default: true, supported: true },
  promoteBuffers: { type: boolean, default: false, supported: true },
  useBigInt64: { type: boolean, default: false, supported: true },
  bsonRegExp: { type: boolean, default: false, supported: true },
  // Query and pipe results as each document's BSON bytes (a Buffer), undecoded.
  raw: { type: boolean, default: false, supported: true },

  proxyHost: { type: string(), repeat: 'error', supported: PROXY_NOT_IMPLEMENTED },
  proxyPort: { type: integer(0, 65535), repeat: 'error', supported: PROXY_NOT_IMPLEMENTED },
  proxyUsername: { type: string(), repeat: 'error', supported: PROXY_NOT_IMPLEMENTED },
  proxyPassword: { type: string(), repeat: 'error', secret: true, supported: PROXY_NOT_IMPLEMENTED },
};

export const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];

/** The entry of an option, seen without its value type. */
export function specOf(name: OptionName): OptionSpec<unknown> & { readonly default?: unknown } {
  return OPTIONS[name];
}

// ---------------------------------------------------------------------------
// Lookup

export interface FoundOption {
  readonly name: OptionName;
  /** The key as the table spells it (canonical name or alias). */
  readonly key: string;
  readonly kind: 'name' | Alias['kind'];
  /** An mgo key's URL texts (Alias.values). */
  readonly values?: Alias['values'];
}

// Keys are matched after lowering A-Z only (connection-string spec, "Keys").
export const lowerKey = (key: string) => key.replace(/[A-Z]/g, (c) => c.toLowerCase());

const byLowerKey = new Map<string, FoundOption>();
for (const name of OPTION_NAMES) {
  byLowerKey.set(lowerKey(name), { name, key: name, kind: 'name' });
  for (const alias of specOf(name).aliases ?? []) byLowerKey.set(lowerKey(alias.name), { name, key: alias.name, kind: alias.kind, values: alias.values });
}

/** The option a URL key names (any case), or undefined for an unknown key. */
export function findOption(key: string): FoundOption | undefined {
  return byLowerKey.get(lowerKey(key));
}

/** Whether the URL may set the option under this key. */
export function settableInUrl(found: FoundOption): boolean {
  return found.kind !== 'object' && specOf(found.name).url !== false;
}

/** Whether the options object may set the option under this key (mgo's connect=... is URL text only). */
export function settableInObject(found: FoundOption): boolean {
  return found.values === undefined;
}

/** "'ssl' (alias of 'tls')" or "'tls'": the option as the user wrote it. */
export function optionLabel(name: OptionName, key: string = name): string {
  return key === name ? `'${name}'` : `'${key}' (alias of '${name}')`;
}

/**
 * A value for a message: "<redacted>" for secret options, else quoted (the
 * URL parser passes its own quote, which may withhold the text).
 */
export function showValue(name: OptionName, value: unknown, quote = (text: string) => `'${text}'`): string {
  if (specOf(name).secret) return '<redacted>';
  return typeof value === 'string' ? quote(value) : inspect(value, { breakLength: Infinity, depth: 3 });
}

export function invalidValue(name: OptionName, key: string, value: unknown, quote?: (text: string) => string): InvalidOptionError {
  return new InvalidOptionError(
    'ERR_INVALID_OPTION',
    `invalid value ${showValue(name, value, quote)} for option ${optionLabel(name, key)}: expected ${specOf(name).type.accepts}`,
  );
}

// ---------------------------------------------------------------------------
// The options object

export interface ObjectOptions {
  values: Partial<OptionValues>;
  /** Which key set each option (an alias such as poolLimit, or the name). */
  keys: Map<OptionName, string>;
  warnings: string[];
}

/**
 * Validates the options object. Unlike a URL from configuration, the object
 * is code: an unknown key or a wrong value is a bug and fails here.
 * Keys whose value is undefined count as absent.
 */
export function readObjectOptions(input: Readonly<Record<string, unknown>>): ObjectOptions {
  const out: ObjectOptions = { values: {}, keys: new Map(), warnings: [] };
  const values = out.values as Record<OptionName, unknown>;
  for (const [key, raw] of Object.entries(input)) {
    if (raw === undefined) continue;
    const found = findOption(key);
    if (found?.key !== key || !settableInObject(found)) {
      const hint = found ? `; did you mean '${settableInObject(found) ? found.key : found.name}'?` : '';
      throw new InvalidOptionError('ERR_INVALID_OPTION', `unknown option '${key}' in the options object${hint}`);
    }
    const value = specOf(found.name).type.fromValue(raw);
    if (value === undefined) throw invalidValue(found.name, key, raw);
    const earlier = out.keys.get(found.name);
    if (earlier !== undefined && !isDeepStrictEqual(values[found.name], value)) {
      throw new InvalidOptionError(
        'ERR_INVALID_OPTION',
        `options '${earlier}' and '${key}' both set ${optionLabel(found.name)} with different values`,
      );
    }
    if (found.kind === 'deprecated') out.warnings.push(deprecationNotice(found));
    values[found.name] = value;
    out.keys.set(found.name, key);
  }
  return out;
}

export function deprecationNotice(found: FoundOption): string {
  return `option '${found.key}' is deprecated; use '${found.name}'`;
}

// ---------------------------------------------------------------------------
// Rules between options

export interface Seeds {
  /** Number of hosts: the URL's, or the SRV records' once resolved. */
  readonly count: number;
  readonly srv: boolean;
}

// URI options spec, "Conflicting TLS options" (1-7): these pairs may not
// both appear, whatever their values.
const TLS_EXCLUSIVE: readonly (readonly [OptionName, OptionName])[] = [
  ['tlsInsecure', 'tlsAllowInvalidCertificates'],
  ['tlsInsecure', 'tlsAllowInvalidHostnames'],
  ['tlsInsecure', 'tlsDisableOCSPEndpointCheck'],
  ['tlsInsecure', 'tlsDisableCertificateRevocationCheck'],
  ['tlsAllowInvalidCertificates', 'tlsDisableOCSPEndpointCheck'],
  ['tlsAllowInvalidCertificates', 'tlsDisableCertificateRevocationCheck'],
  ['tlsDisableOCSPEndpointCheck', 'tlsDisableCertificateRevocationCheck'],
];

const PROXY_DETAILS: readonly OptionName[] = ['proxyPort', 'proxyUsername', 'proxyPassword'];

function fail(message: string): never {
  throw new InvalidOptionError('ERR_INVALID_OPTION', message);
}

/**
 * Checks the rules that tie options together. `given` holds the values set
 * explicitly (URL, TXT record, options object); defaults fill the rest.
 */
export function checkOptionRules(given: Partial<OptionValues>, seeds: Seeds): void {
  const set = (name: OptionName) => given[name] !== undefined;
  const value = <K extends OptionName>(name: K) => (given[name] ?? OPTIONS[name].default) as OptionValues[K];

  for (const [a, b] of TLS_EXCLUSIVE) {
    if (set(a) && set(b)) fail(`options '${a}' and '${b}' cannot both be set: '${a}' already decides what '${b}' does`);
  }

  // URI options spec, "directConnection URI option with multiple seeds or SRV URI".
  if (given.directConnection) {
    if (seeds.srv) fail("directConnection=true cannot be used with mongodb+srv://, which may resolve to several hosts");
    if (seeds.count > 1) fail(`directConnection=true needs exactly one host, not ${seeds.count}`);
  }

  // Load balancer spec, "URI Validation".
  if (given.loadBalanced) {
    if (seeds.count > 1) fail(`loadBalanced=true needs exactly one host (the load balancer), not ${seeds.count}`);
    if (set('replicaSet')) fail("loadBalanced=true cannot be combined with 'replicaSet'");
    if (given.directConnection) fail('loadBalanced=true cannot be combined with directConnection=true');
  }

  // Initial DNS seedlist discovery spec, "URI Validation".
  if (!seeds.srv) {
    for (const name of ['srvServiceName', 'srvMaxHosts'] as const) {
      if (set(name)) fail(`option '${name}' requires a mongodb+srv:// connection string`);
    }
  }
  if (value('srvMaxHosts') > 0) {
    if (set('replicaSet')) fail("a positive 'srvMaxHosts' cannot be combined with 'replicaSet'");
    if (given.loadBalanced) fail("a positive 'srvMaxHosts' cannot be combined with loadBalanced=true");
  }

  // SOCKS5 spec, "MongoClient Configuration".
  for (const name of PROXY_DETAILS) {
    if (set(name) && !set('proxyHost')) fail(`option '${name}' requires 'proxyHost'`);
  }
  if (set('proxyUsername') !== set('proxyPassword')) fail("options 'proxyUsername' and 'proxyPassword' must be set together");

  checkBSONOptionRules({ useBigInt64: value('useBigInt64'), promoteLongs: value('promoteLongs'), promoteValues: value('promoteValues') });

  const max = value('maxPoolSize');
  const min = value('minPoolSize');
  if (!minPoolSizeFits(min, max)) fail(`minPoolSize (${min}) cannot be greater than maxPoolSize (${max})`);

  // Server selection and max staleness specs: mode 'primary' (also the
  // default) takes no tag sets and no maxStalenessSeconds.
  if (value('readPreference') === 'primary') {
    if (value('readPreferenceTags').some((set) => Object.keys(set).length > 0)) {
      fail("readPreferenceTags cannot be used with readPreference 'primary' (the default)");
    }
    if (value('maxStalenessSeconds') > 0) {
      fail("maxStalenessSeconds cannot be used with readPreference 'primary' (the default)");
    }
  }
}

/**
 * CMAP: "If maxPoolSize is > 0 then minPoolSize must be <= maxPoolSize"
 * (minPoolSize counts towards maxPoolSize; 0 there means no maximum). The
 * option table and the pool (src/pool/pool-options.ts) both apply it.
 */
export function minPoolSizeFits(minPoolSize: number, maxPoolSize: number): boolean {
  return maxPoolSize === 0 || minPoolSize <= maxPoolSize;
}

/** The options that say how replies are decoded. */
export const BSON_OPTION_NAMES = ['promoteLongs', 'promoteValues', 'promoteBuffers', 'useBigInt64', 'bsonRegExp', 'raw'] as const;
export type BSONOptionName = (typeof BSON_OPTION_NAMES)[number];
/** BSON decoding options as given to dial(), a session or a query: each may be left out. */
export type BSONOptions = Partial<Pick<OptionValues, BSONOptionName>>;

/** js-bson: "Must either request bigint or Long for int64 deserialization". */
function checkBSONOptionRules(values: BSONOptions): void {
  if (values.useBigInt64 && (values.promoteLongs === false || values.promoteValues === false)) {
    fail('useBigInt64=true needs promoteLongs and promoteValues (int64 values are either bigints or Longs)');
  }
}

/**
 * Validates BSON options given to a session or query through the option
 * table (so the messages name the option as dial() does), and the rule
 * that ties them together once merged over `base`.
 */
export function readBSONOptions(input: Readonly<Record<string, unknown>>, base: BSONOptions, where: string): BSONOptions {
  const out: BSONOptions = {};
  for (const key of Object.keys(input)) {
    if (!(BSON_OPTION_NAMES as readonly string[]).includes(key)) {
      throw new InvalidOptionError('ERR_INVALID_OPTION', `${where}: '${key}' is not a BSON option (${BSON_OPTION_NAMES.join(', ')})`);
    }
  }
  const { values } = readObjectOptions(input);
  for (const name of BSON_OPTION_NAMES) if (values[name] !== undefined) out[name] = values[name];
  checkBSONOptionRules({ ...base, ...out });
  return out;
}
