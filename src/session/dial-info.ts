// What dial() and dialWithInfo() accept, and how it becomes, on one side,
// the URL and options object resolveOptions() reads (for the router) and,
// on the other, the settings of the first session.
import type { Document } from 'bson';
import { MgoError } from '../errors.js';
import type { OptionValues } from '../uri/options.js';
import type { ResolvedOptions } from '../uri/resolve.js';
import { checkMode, modeOfReadPreference, type Mode } from './modes.js';
import type { SessionOptions } from './session.js';
import { safeFromOptions, type Safe } from './write-concern.js';

/**
 * Every connection-string option, in the options object (which wins over
 * the URL): workers (0 = sockets in this thread), poolLimit (= maxPoolSize),
 * minPoolSize, maxIdleTimeMS, maxLifetimeMS, maxConnecting,
 * waitQueueTimeoutMS, socketTimeoutMS, connectTimeoutMS,
 * serverSelectionTimeoutMS, heartbeatFrequencyMS, appName, ...
 * (OptionValues lists them all, with their defaults).
 */
export type DialOptions = Partial<OptionValues> & {
  /** mgo's name for maxPoolSize (DialInfo.PoolLimit): the connection limit per server, across all workers. */
  poolLimit?: number;
};

/** mgo's DialInfo, with durations in milliseconds. */
export interface DialInfo {
  /** Seed servers, "host:port" (the port defaults to 27017) or Unix socket paths. */
  addrs: string[];
  /** Talk to the seeds only, without discovering the rest of the cluster. */
  direct?: boolean;
  /** Bounds connecting, server selection, and the session's socket reservations (mgo's Timeout). */
  timeoutMS?: number;
  /** The default database (db() without a name). */
  database?: string;
  /** The replica set's name; servers of another set are left out (the replicaSet option). */
  replicaSetName?: string;
  /**
   * mgo's credentials: authSource (else the database, else 'admin'),
   * authMechanism (SCRAM-SHA-256, SCRAM-SHA-1 or MONGODB-X509; left out,
   * SCRAM is negotiated with the server), and the options object's `auth`.
   * As in mgo, an empty username means no authentication.
   */
  source?: string;
  /** The authentication mechanism (authMechanism); see `source`. */
  mechanism?: string;
  /** The user to authenticate as; see `source`. */
  username?: string;
  /** The user's password; it goes in the options object, never into a URL or a message. */
  password?: string;
  /**
   * TLS (mgo had only a DialServer hook for it): true, or the files and
   * checks, each the dial option of the same name without its 'tls'
   * prefix (caFile is tlsCAFile, ...). Given as an object, TLS is on.
   */
  tls?: boolean | DialTLS;
  /** The connection limit per server (across all workers). */
  poolLimit?: number;
  /** How long an operation waits for a socket when poolLimit is reached. */
  poolTimeoutMS?: number;
  /** Longest wait for a reply; the larger of the two bounds each reply. */
  readTimeoutMS?: number;
  /** mgo's WriteTimeout: the larger of readTimeoutMS and this bounds each reply (socketTimeoutMS). */
  writeTimeoutMS?: number;
  /** Sent to the server in the handshake (the appName option). */
  appName?: string;
  /** The first session's mode (Strong by default) and the tag sets its secondary reads must match. */
  readPreference?: {
    /** The read mode (Mode.Primary, ...). */
    mode: Mode;
    /** Tag sets a secondary must match, tried in order. */
    tagSets?: Document[];
  };
  /** The first session's safety (acknowledged writes by default). */
  safe?: Safe | null;
  /** Sockets per server kept open even when idle (the minPoolSize option). */
  minPoolSize?: number;
  /** An idle socket is closed after this long (the maxIdleTimeMS option; 0: never). */
  maxIdleTimeMS?: number;
  /** Any other option, as for dial(). */
  options?: DialOptions;
}

/** DialInfo.tls as an object: TLS on, with these files and checks (each the tls-prefixed dial option). */
export interface DialTLS {
  /** PEM file of the certificate authorities to trust (tlsCAFile). */
  caFile?: string;
  /** PEM file of the client's certificate and key (tlsCertificateKeyFile). */
  certificateKeyFile?: string;
  /** Password of the key in certificateKeyFile (tlsCertificateKeyFilePassword). */
  certificateKeyFilePassword?: string;
  /** Accept a server certificate that does not verify (tlsAllowInvalidCertificates). */
  allowInvalidCertificates?: boolean;
  /** Accept a certificate issued for another host name (tlsAllowInvalidHostnames). */
  allowInvalidHostnames?: boolean;
  /** Skip every certificate check (tlsInsecure). */
  insecure?: boolean;
}

/** What the first session takes from DialInfo rather than from the resolved options. */
export interface SessionOverrides {
  mode?: Mode;
  tags?: Document[];
  safe?: Safe | null;
  syncTimeoutMS?: number;
}

function hostPart(addr: string): string {
  if (typeof addr !== 'string' || addr === '') throw new MgoError('ERR_INVALID_ARGUMENT', 'dialWithInfo: every addrs entry must be a non-empty string');
  // A Unix socket path is %-encoded in a connection string.
  return addr.includes('/') ? encodeURIComponent(addr) : addr;
}

/** The connection string, options object and session settings a DialInfo stands for. */
export function fromDialInfo(info: DialInfo): { url: string; options: DialOptions; overrides: SessionOverrides } {
  if (!info || !Array.isArray(info.addrs) || info.addrs.length === 0) {
    throw new MgoError('ERR_INVALID_ARGUMENT', 'dialWithInfo: addrs must list at least one server');
  }
  const path = info.database ? encodeURIComponent(info.database) : '';
  const url = `mongodb://${info.addrs.map(hostPart).join(',')}/${path}`;

  const options: Record<string, unknown> = { ...info.options };
  const set = (name: string, value: unknown) => {
    if (value !== undefined) options[name] = value;
  };
  set('directConnection', info.direct);
  set('replicaSet', info.replicaSetName);
  // The options object rather than the URL, which would carry the password
  // into every string built from it (src/auth/credential.ts).
  if (info.username || info.password !== undefined) {
    set('auth', { username: info.username || undefined, password: info.password });
  }
  set('authSource', info.source);
  set('authMechanism', info.mechanism);
  if (typeof info.tls === 'object' && info.tls !== null) {
    set('tls', true);
    set('tlsCAFile', info.tls.caFile);
    set('tlsCertificateKeyFile', info.tls.certificateKeyFile);
    set('tlsCertificateKeyFilePassword', info.tls.certificateKeyFilePassword);
    set('tlsAllowInvalidCertificates', info.tls.allowInvalidCertificates);
    set('tlsAllowInvalidHostnames', info.tls.allowInvalidHostnames);
    set('tlsInsecure', info.tls.insecure);
  } else {
    set('tls', info.tls);
  }
  set('maxPoolSize', info.poolLimit);
  set('waitQueueTimeoutMS', info.poolTimeoutMS);
  const replyTimeouts = [info.readTimeoutMS, info.writeTimeoutMS].filter((t): t is number => t !== undefined);
  if (replyTimeouts.length > 0) options.socketTimeoutMS = Math.max(...replyTimeouts);
  set('connectTimeoutMS', info.timeoutMS);
  set('serverSelectionTimeoutMS', info.timeoutMS);
  set('appName', info.appName);
  set('minPoolSize', info.minPoolSize);
  set('maxIdleTimeMS', info.maxIdleTimeMS);

  const overrides: SessionOverrides = {};
  if (info.readPreference) {
    overrides.mode = checkMode(info.readPreference.mode);
    if (info.readPreference.tagSets) overrides.tags = info.readPreference.tagSets;
  }
  if (info.safe !== undefined) overrides.safe = info.safe;
  if (info.timeoutMS !== undefined) overrides.syncTimeoutMS = info.timeoutMS;
  return { url, options: options as DialOptions, overrides };
}

/**
 * The first session's settings: the URL's readPreference as a mode (primary
 * = Strong, as mgo maps it), its tags and maxStalenessSeconds for secondary
 * reads, its w/journal/wTimeoutMS/readConcernLevel as the Safe, its path as
 * and the default database.
 */
export function sessionOptionsOf(resolved: ResolvedOptions, overrides: SessionOverrides = {}): SessionOptions {
  const options: SessionOptions = {
    mode: overrides.mode ?? modeOfReadPreference(resolved.readPreference),
    safe: overrides.safe !== undefined ? overrides.safe : safeFromOptions(resolved),
    selection: {
      tags: (overrides.tags ?? resolved.readPreferenceTags).map((tags) => ({ ...tags })),
      maxStalenessSeconds: resolved.maxStalenessSeconds > 0 ? resolved.maxStalenessSeconds : undefined,
    },
    syncTimeoutMS: overrides.syncTimeoutMS ?? 0,
    loginSource: resolved.authSource ?? resolved.database ?? 'admin',
    dialSource: resolved.credentials?.source,
    retryWrites: resolved.retryWrites,
    retryReads: resolved.retryReads,
    bson: {
      promoteLongs: resolved.promoteLongs,
      promoteValues: resolved.promoteValues,
      promoteBuffers: resolved.promoteBuffers,
      useBigInt64: resolved.useBigInt64,
      bsonRegExp: resolved.bsonRegExp,
      raw: resolved.raw,
    },
  };
  if (resolved.database) options.database = resolved.database;
  return options;
}
