// Every error the driver raises is an MgoError with a stable string `code`.
// Errors cross thread boundaries as plain ErrorRecords (structured clone drops
// class identity and custom fields), and are rebuilt with fromErrorRecord()
// (the crossing: src/worker/protocol.ts).
//
// Server-reported errors keep the server's numeric code as `serverCode`, plus
// `codeName` and `errorLabels`; `code` stays a string so that callers can
// switch on one field whatever the error's origin.

/** The stable string every MgoError carries in `code`: switch on it rather than on the class or message. */
export type ErrorCode =
  | 'ERR_INVALID_URI'
  | 'ERR_INVALID_OPTION'
  | 'ERR_UNSUPPORTED_OPTION'
  | 'ERR_SRV_LOOKUP'
  | 'ERR_NETWORK'
  | 'ERR_NETWORK_TIMEOUT'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_PROTOCOL'
  | 'ERR_TLS_CERTIFICATE'
  | 'ERR_TLS_HOSTNAME'
  | 'ERR_COMPRESSION_UNSUPPORTED'
  | 'ERR_INCOMPATIBLE_SERVER'
  | 'ERR_DOCUMENT_TOO_LARGE'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_BATCH_TOO_LARGE'
  | 'ERR_INVALID_DOCUMENT'
  | 'ERR_SERVER'
  | 'ERR_AUTH'
  | 'ERR_SERVER_SELECTION'
  | 'ERR_POOL_TIMEOUT'
  | 'ERR_POOL_CLEARED'
  | 'ERR_POOL_CLOSED'
  | 'ERR_NOT_FOUND'
  | 'ERR_SESSION_CLOSED'
  | 'ERR_SYNC_TIMEOUT'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_QUERY'
  | 'ERR_WRITE'
  | 'ERR_BULK'
  | 'ERR_CHANGE_STREAM'
  // GridFS: a stored file whose chunks or files document do not add up; a
  // write cancelled by abort(); a GridFile used in a mode it is not open in.
  | 'ERR_GRIDFS_CORRUPT'
  | 'ERR_GRIDFS_ABORTED'
  | 'ERR_GRIDFS_MODE';

/**
 * An error as plain data, the form in which it crosses a thread (structured
 * clone keeps no class nor custom field); fromErrorRecord() rebuilds the error.
 */
export interface ErrorRecord {
  /** The class name (MgoError, ServerError, ...). */
  name: string;
  /** The error's message. */
  message: string;
  /** The error's stable code. */
  code: ErrorCode;
  /** The server's numeric error code, for a server-reported error. */
  serverCode?: number;
  /** The server's name for serverCode (DuplicateKey, ...). */
  codeName?: string;
  /** The error labels (RetryableWriteError, TransientTransactionError, ...). */
  errorLabels?: string[];
  /** host:port of the server involved, when there is one. */
  address?: string;
}

/** What an MgoError may carry besides its code and message. */
export interface MgoErrorOptions {
  /** The error this one wraps (Error's `cause`). */
  cause?: unknown;
  /** host:port of the server involved. */
  address?: string;
  /** Error labels, from the server's reply or added by the driver (RetryableWriteError, ...). */
  errorLabels?: Iterable<string>;
}

/**
 * The base of every error the driver raises. mgo returned plain Go errors
 * (and a few typed ones: QueryError, LastError, BulkError); here each error
 * also has a stable string `code` to switch on, whatever its origin.
 */
export class MgoError extends Error {
  /** The class name, kept when the error crosses a thread. */
  override name = 'MgoError';
  /** The stable code, e.g. 'ERR_NETWORK' or 'ERR_SERVER'. */
  readonly code: ErrorCode;
  /** host:port of the server involved, when there is one. */
  readonly address: string | undefined;
  /** The error labels (RetryableWriteError, TransientTransactionError, ...). */
  readonly errorLabels: Set<string>;

  constructor(code: ErrorCode, message: string, options: MgoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.address = options.address;
    this.errorLabels = new Set(options.errorLabels ?? []);
  }

  /** Whether the error carries the label (transactions spec: retry on TransientTransactionError, ...). */
  hasErrorLabel(label: string): boolean {
    return this.errorLabels.has(label);
  }

  /** The error as plain data, to send to another thread. */
  toRecord(): ErrorRecord {
    const record: ErrorRecord = { name: this.name, message: this.message, code: this.code };
    if (this.address !== undefined) record.address = this.address;
    if (this.errorLabels.size > 0) record.errorLabels = [...this.errorLabels];
    return record;
  }
}

/** A URL or option value that cannot be used; the message names the option or URL part. */
export class InvalidOptionError extends MgoError {
  override name = 'InvalidOptionError';
  constructor(code: 'ERR_INVALID_URI' | 'ERR_INVALID_OPTION' | 'ERR_UNSUPPORTED_OPTION' | 'ERR_SRV_LOOKUP', message: string) {
    super(code, message);
  }
}

/** The socket failed, closed, timed out, or the peer spoke something that is not the wire protocol. */
export class NetworkError extends MgoError {
  override name = 'NetworkError';
  constructor(
    code:
      | 'ERR_NETWORK'
      | 'ERR_NETWORK_TIMEOUT'
      | 'ERR_CONNECTION_CLOSED'
      | 'ERR_PROTOCOL'
      | 'ERR_TLS_CERTIFICATE'
      | 'ERR_TLS_HOSTNAME'
      | 'ERR_COMPRESSION_UNSUPPORTED',
    message: string,
    options: MgoErrorOptions = {},
  ) {
    super(code, message, options);
  }

  /** Timeouts do not clear a pool (CMAP: only non-timeout network errors do). */
  get isTimeout(): boolean {
    return this.code === 'ERR_NETWORK_TIMEOUT';
  }
}

/** The server's wire version range does not overlap ours. */
export class IncompatibleServerError extends MgoError {
  override name = 'IncompatibleServerError';
  constructor(message: string, options: MgoErrorOptions = {}) {
    super('ERR_INCOMPATIBLE_SERVER', message, options);
  }
}

/** A document or batch the client refuses before sending: too large, or not a valid document. */
export class InvalidDocumentError extends MgoError {
  override name = 'InvalidDocumentError';
  constructor(code: 'ERR_DOCUMENT_TOO_LARGE' | 'ERR_MESSAGE_TOO_LARGE' | 'ERR_BATCH_TOO_LARGE' | 'ERR_INVALID_DOCUMENT', message: string) {
    super(code, message);
  }
}

/** MgoErrorOptions plus what a server error carries for SDAM. */
export interface ServerErrorOptions extends MgoErrorOptions {
  /** The reply's topologyVersion as it came (a document), for the SDAM error rules; not carried across threads. */
  topologyVersion?: unknown;
}

/** A command the server answered with ok: 0. */
export class ServerError extends MgoError {
  override name = 'ServerError';
  /** The server's numeric error code (11000 for a duplicate key, ...). */
  readonly serverCode: number;
  /** The server's name for the code (DuplicateKey, ...), when the reply gave one. */
  readonly codeName: string | undefined;
  /**
   * MongoDB 4.4+ puts its topologyVersion in state change errors: SDAM
   * ignores such an error when the server's description is as new
   * (src/cluster/sdam-errors.ts, isStaleError), in the thread it happened in.
   */
  readonly topologyVersion: unknown;

  constructor(message: string, serverCode: number, codeName: string | undefined, options: ServerErrorOptions = {}) {
    super('ERR_SERVER', message, options);
    this.serverCode = serverCode;
    this.codeName = codeName;
    this.topologyVersion = options.topologyVersion;
  }

  /** Builds the error from a command reply with ok: 0 (errmsg, code, codeName, errorLabels). */
  static fromReply(reply: Record<string, unknown>, address?: string): ServerError {
    const message = typeof reply.errmsg === 'string' ? reply.errmsg : 'command failed';
    const serverCode = typeof reply.code === 'number' ? reply.code : 0;
    const codeName = typeof reply.codeName === 'string' ? reply.codeName : undefined;
    const labels = Array.isArray(reply.errorLabels) ? reply.errorLabels.filter((l): l is string => typeof l === 'string') : [];
    return new ServerError(message, serverCode, codeName, { address, errorLabels: labels, topologyVersion: reply.topologyVersion });
  }

  override toRecord(): ErrorRecord {
    const record = super.toRecord();
    record.serverCode = this.serverCode;
    if (this.codeName !== undefined) record.codeName = this.codeName;
    return record;
  }
}

/** MgoErrorOptions plus the server's code when the server refused the authentication. */
export interface AuthErrorOptions extends MgoErrorOptions {
  /** The server's numeric error code (18: AuthenticationFailed). */
  serverCode?: number;
  /** The server's name for serverCode. */
  codeName?: string;
}

/**
 * Authentication failed: the server refused it (then `serverCode` and
 * `codeName` are the server's, e.g. 18 AuthenticationFailed), or the server's
 * side of the conversation broke a rule the client checks (bad nonce or
 * signature, too few iterations, a malformed payload: no serverCode). The
 * message never holds the username, password or any SCRAM value.
 */
export class AuthError extends MgoError {
  override name = 'AuthError';
  /** The server's numeric error code, when the server refused the credentials. */
  readonly serverCode: number | undefined;
  /** The server's name for serverCode. */
  readonly codeName: string | undefined;

  constructor(message: string, options: AuthErrorOptions = {}) {
    super('ERR_AUTH', message, options);
    this.serverCode = options.serverCode;
    this.codeName = options.codeName;
  }

  override toRecord(): ErrorRecord {
    const record = super.toRecord();
    if (this.serverCode !== undefined) record.serverCode = this.serverCode;
    if (this.codeName !== undefined) record.codeName = this.codeName;
    return record;
  }
}

/** No server matched the read preference before serverSelectionTimeoutMS (server selection spec). */
export class ServerSelectionError extends MgoError {
  override name = 'ServerSelectionError';
  constructor(message: string, options: MgoErrorOptions = {}) {
    super('ERR_SERVER_SELECTION', message, options);
  }
}

/**
 * No socket of the pool became free within waitQueueTimeoutMS (CMAP
 * WaitQueueTimeoutError; mgo's poolLimit wait with DialInfo.PoolTimeout,
 * whose error was the string "could not acquire connection within pool timeout").
 */
export class PoolTimeoutError extends MgoError {
  override name = 'PoolTimeoutError';
  constructor(message: string, options: MgoErrorOptions = {}) {
    super('ERR_POOL_TIMEOUT', message, options);
  }
}

/** Raised to waiters and checkouts when a pool is cleared; retryable (CMAP). */
export class PoolClearedError extends MgoError {
  override name = 'PoolClearedError';
  constructor(message: string, options: MgoErrorOptions = {}) {
    super('ERR_POOL_CLEARED', message, { ...options, errorLabels: [...(options.errorLabels ?? []), 'RetryableWriteError'] });
  }
}

/** The pool was closed (its dial or session was closed) while an operation needed a socket from it. */
export class PoolClosedError extends MgoError {
  override name = 'PoolClosedError';
  constructor(message: string, options: MgoErrorOptions = {}) {
    super('ERR_POOL_CLOSED', message, options);
  }
}

const classesByName: Record<string, new (...args: never[]) => MgoError> = {
  InvalidOptionError,
  NetworkError,
  IncompatibleServerError,
  InvalidDocumentError,
  ServerError,
  AuthError,
  ServerSelectionError,
  PoolTimeoutError,
  PoolClearedError,
  PoolClosedError,
};

/** Rebuilds an error from a record that crossed a thread boundary. */
export function fromErrorRecord(record: ErrorRecord): MgoError {
  const options: MgoErrorOptions = { address: record.address, errorLabels: record.errorLabels };
  let error: MgoError;
  if (record.name === 'ServerError') {
    error = new ServerError(record.message, record.serverCode ?? 0, record.codeName, options);
  } else if (record.name === 'AuthError') {
    error = new AuthError(record.message, { ...options, serverCode: record.serverCode, codeName: record.codeName });
  } else {
    error = new MgoError(record.code, record.message, options);
    // Keep the class so `instanceof` works on the receiving side too.
    const cls = classesByName[record.name];
    if (cls) Object.setPrototypeOf(error, cls.prototype);
    error.name = record.name;
  }
  return error;
}
