// The SDAM error rules (server-discovery-and-monitoring spec, "Error
// handling"; server monitoring spec, "Network or command error during server
// check"): which errors are stale, which codes are state changes, the error
// SDAM reads in a command reply, and what the cluster must do about an
// application error or a failed check. Pure, as topology-description.ts:
// every function returns a decision; the cluster layer carries it out.
import { ObjectId, type Document } from 'bson';
import {
  compareTopologyVersion,
  normalizeAddress,
  parseTopologyVersion,
  unknownServerDescription,
  type ServerDescription,
  type TopologyVersion,
} from './server-description.js';
import type { TopologyDescription } from './topology-description.js';
import { integerOf } from '../wire/reply-shape.js';

// --- staleness by generation and topologyVersion ------------------------------

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
  // A code decoded as a BSON Int32 (promoteValues: false) is read too (reply-shape.ts).
  const codeOf = (doc: Document): number | undefined => integerOf(doc.code);
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

// --- decisions that cross threads -------------------------------------------

/** A topologyVersion as plain data (an ObjectId does not survive structured clone). */
export interface PlainTopologyVersion {
  readonly processId: string;
  readonly counter: bigint;
}

export function plainTopologyVersion(tv: TopologyVersion | null): PlainTopologyVersion | null {
  return tv === null ? null : { processId: tv.processId.toHexString(), counter: tv.counter };
}

export function topologyVersionOf(plain: PlainTopologyVersion | null | undefined): TopologyVersion | null {
  return plain ? Object.freeze({ processId: ObjectId.createFromHexString(plain.processId), counter: plain.counter }) : null;
}

/**
 * An application error that made a server Unknown in a worker, as the
 * worker's cluster decided it (its own pool generation ruled out a stale
 * one): what the process's monitor needs to do the same process-wide. Plain
 * data: it crosses a MessagePort (src/worker/protocol.ts, UNKNOWN).
 */
export interface UnknownReport {
  readonly address: string;
  /** The error, stored in the Unknown description. */
  readonly message: string;
  /** The error's topologyVersion (state change errors from 4.4+): the main thread ignores the error if its description is as new. */
  readonly topologyVersion: PlainTopologyVersion | null;
  readonly clearPool: boolean;
  readonly requestCheck: boolean;
  readonly cancelCheck: boolean;
}

/** The report of a decision that marks a server Unknown. */
export function unknownReport(address: string, decision: ErrorDecision): UnknownReport {
  return {
    address,
    message: decision.description?.error ?? 'an operation failed',
    topologyVersion: plainTopologyVersion(decision.description?.topologyVersion ?? null),
    clearPool: decision.clearPool,
    requestCheck: decision.requestImmediateCheck,
    cancelCheck: decision.cancelCheck,
  };
}
