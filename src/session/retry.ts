// Which failures an operation is retried after: the retryable writes spec
// ("Determining Retryable Errors") and the retryable reads spec
// ("Retryable Error"). Pure: Session.#run asks, and retries at most once.
import type { Document } from 'bson';
import type { SessionSupport } from '../cluster/topology-description.js';
import { MgoError, NetworkError } from '../errors.js';
import { integerOf } from '../wire/reply-shape.js';

export const RETRYABLE_WRITE_ERROR = 'RetryableWriteError';
/** A retry attempt that failed with this label did nothing: the first attempt's error is the one to report. */
export const NO_WRITES_PERFORMED = 'NoWritesPerformed';

/**
 * Retryable writes spec: HostUnreachable, HostNotFound, NetworkTimeout,
 * ShutdownInProgress, PrimarySteppedDown, ExceededTimeLimit,
 * SocketException, NotWritablePrimary, InterruptedAtShutdown,
 * InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk,
 * NotPrimaryOrSecondary.
 */
const RETRYABLE_WRITE_CODES: ReadonlySet<number> = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);
/** Retryable reads spec: the same codes plus ReadConcernMajorityNotAvailableYet (134). */
const RETRYABLE_READ_CODES: ReadonlySet<number> = new Set([...RETRYABLE_WRITE_CODES, 134]);

/** What a Router's failure is, to the retry rules: a lost connection or a server's numbered refusal. */
function serverCodeOf(error: MgoError): number | undefined {
  const code = (error as { serverCode?: unknown }).serverCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * A retryable write failed with `error`: labels it RetryableWriteError
 * where the driver must, and says whether it is retryable. A network error
 * (a socket lost, a worker lost with the request) always is, and gets the
 * label (spec: drivers add it). A server error is when the server labelled
 * it; servers before 4.4 do not label, so for them the driver labels by code.
 */
export function labelRetryableWriteError(error: unknown, support: SessionSupport): error is MgoError {
  if (!(error instanceof MgoError)) return false;
  if (isConnectionLoss(error)) {
    error.errorLabels.add(RETRYABLE_WRITE_ERROR);
    return true;
  }
  if (error.hasErrorLabel(RETRYABLE_WRITE_ERROR)) return true;
  const code = serverCodeOf(error);
  if (!support.serverLabelsWrites && code !== undefined && RETRYABLE_WRITE_CODES.has(code)) {
    error.errorLabels.add(RETRYABLE_WRITE_ERROR);
    return true;
  }
  return false;
}

/**
 * An acknowledged write whose reply is ok: 1 with a writeConcernError is
 * retried like an error when the reply is labelled RetryableWriteError (or,
 * before 4.4, when the write concern error's code is a retryable one).
 */
export function hasRetryableWriteConcernError(reply: Document, support: SessionSupport): boolean {
  const concern: unknown = reply.writeConcernError;
  if (typeof concern !== 'object' || concern === null) return false;
  if (Array.isArray(reply.errorLabels) && reply.errorLabels.includes(RETRYABLE_WRITE_ERROR)) return true;
  // A code decoded as a BSON Int32 (the session's promoteValues: false) is read too (reply-shape.ts).
  const code = integerOf((concern as Document).code);
  return !support.serverLabelsWrites && code !== undefined && RETRYABLE_WRITE_CODES.has(code);
}

/** A retryable read failed with `error`: whether to retry it (retryable reads spec, "Retryable Error"). */
export function isRetryableReadError(error: unknown): error is MgoError {
  if (!(error instanceof MgoError)) return false;
  if (isConnectionLoss(error) || error.code === 'ERR_POOL_CLEARED') return true;
  const code = serverCodeOf(error);
  return code !== undefined && RETRYABLE_READ_CODES.has(code);
}

/** Change streams spec, "Resumable Error": the retryable write codes plus these, for servers before 4.4 (which label nothing). */
const RESUMABLE_CHANGE_STREAM_CODES: ReadonlySet<number> = new Set([
  ...RETRYABLE_WRITE_CODES,
  63, // StaleShardVersion
  150, // StaleEpoch
  13388, // StaleConfig
  234, // RetryChangeStream
  133, // FailedToSatisfyReadPreference
]);
/** CursorNotFound: resumable whatever the server's version. */
const CURSOR_NOT_FOUND = 43;
export const RESUMABLE_CHANGE_STREAM_ERROR = 'ResumableChangeStreamError';

/**
 * A change stream's getMore failed with `error`: whether the stream resumes
 * (change streams spec, "Resumable Error"). A lost connection (or a cleared
 * pool) is; CursorNotFound is; otherwise a 4.4+ server's label decides,
 * and for older servers the code list. The spec asks for the wire version
 * of the connection that failed; the session layer knows the deployment's
 * (SessionSupport.serverLabelsWrites: every data-bearing server is 4.4+),
 * which differs only while a cluster mixes versions in an upgrade.
 */
export function isResumableChangeStreamError(error: unknown, support: SessionSupport): error is MgoError {
  if (!(error instanceof MgoError)) return false;
  if (isConnectionLoss(error) || error.code === 'ERR_POOL_CLEARED') return true;
  const code = serverCodeOf(error);
  if (code === undefined) return false;
  if (code === CURSOR_NOT_FOUND) return true;
  if (support.serverLabelsWrites) return error.hasErrorLabel(RESUMABLE_CHANGE_STREAM_ERROR);
  return RESUMABLE_CHANGE_STREAM_CODES.has(code);
}

/**
 * A network error that another connection may not meet: not a TLS
 * verdict or a compressor refusal, which the next server of the same
 * deployment would give again.
 */
function isConnectionLoss(error: MgoError): boolean {
  return error instanceof NetworkError && !error.code.startsWith('ERR_TLS_') && error.code !== 'ERR_COMPRESSION_UNSUPPORTED';
}
