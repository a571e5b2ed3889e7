// The errors of mgo's API. Each keeps a stable string `code` (MgoError), and
// the server-reported ones keep the server's numeric code as `serverCode`.
//
//   ErrNotFound  'ERR_NOT_FOUND'  one()/update()/remove()/apply() found nothing
//   QueryError   'ERR_QUERY'      a command answered ok: 0 (a ServerError too)
//   LastError    'ERR_WRITE'      a write answered ok: 1 with writeErrors or a writeConcernError
//   BulkError    'ERR_BULK'       Bulk.run(): every failed operation, by its position
import type { Document } from 'bson';
import { MgoError, ServerError, type ErrorCode, type MgoErrorOptions } from '../errors.js';
import type { BulkResult } from './bulk.js';

/** A stable code on a subclass of an error class whose constructor fixes it. */
function setCode(error: MgoError, code: ErrorCode): void {
  (error as { code: ErrorCode }).code = code;
}

/** The class of ErrNotFound (mgo's ErrNotFound was a plain error value). */
export class NotFoundError extends MgoError {
  override name = 'NotFoundError';
  constructor() {
    super('ERR_NOT_FOUND', 'not found');
  }
}

/**
 * The one "not found" error, as in mgo: compare with `err === ErrNotFound`
 * (or check `err.code === 'ERR_NOT_FOUND'`).
 */
export const ErrNotFound: NotFoundError = new NotFoundError();

/** A query or command the server refused (ok: 0). It is a ServerError, with the stable code ERR_QUERY. */
export class QueryError extends ServerError {
  override name = 'QueryError';

  constructor(message: string, serverCode: number, codeName: string | undefined, options: MgoErrorOptions = {}) {
    super(message, serverCode, codeName, options);
    setCode(this, 'ERR_QUERY');
  }

  /** The QueryError for a ServerError (its codes, labels and address), with the ServerError as its cause. */
  static fromServerError(error: ServerError): QueryError {
    return new QueryError(error.message, error.serverCode, error.codeName, {
      cause: error,
      address: error.address,
      errorLabels: error.errorLabels,
    });
  }
}

/** One failed operation of a write batch or a Bulk, at its position (-1 when unknown). */
export interface BulkErrorCase {
  /** The operation's position in the call or Bulk (-1 when unknown). */
  index: number;
  /** Its error (a LastError or QueryError for a server-reported failure). */
  err: Error;
}

/** What the server reported about a write: the fields of mgo's LastError. */
export interface LastErrorInit {
  message: string;
  /** The server's numeric code for the (first) error. */
  serverCode: number;
  codeName?: string | undefined;
  /** Documents matched (updates), removed (deletes) or inserted (inserts). */
  n: number;
  /** Documents actually modified (updates). */
  updated: number;
  /** True when an update matched existing documents and upserted none. */
  updatedExisting: boolean;
  upsertedId?: unknown;
  /** The error is a writeConcernError (the write itself was applied). */
  writeConcern?: boolean;
  /** The write concern timed out (wtimeout). */
  wtimeout?: boolean;
  errInfo?: Document | undefined;
  cases?: BulkErrorCase[];
  address?: string | undefined;
  errorLabels?: string[] | undefined;
}

/** A write the server answered with writeErrors or a writeConcernError. */
export class LastError extends MgoError {
  override name = 'LastError';
  /** The server's numeric code for the (first) error (mgo's Code). */
  readonly serverCode: number;
  /** The server's name for serverCode, when the reply gave one. */
  readonly codeName: string | undefined;
  /** Documents matched (updates), removed (deletes) or inserted (inserts) (mgo's N). */
  readonly n: number;
  /** Documents actually modified (updates). */
  readonly updated: number;
  /** Documents matched: n for updates and deletes. */
  readonly matched: number;
  /** True when an update matched existing documents and upserted none. */
  readonly updatedExisting: boolean;
  /** The _id of an upserted document, if any (mgo's UpsertedId). */
  readonly upsertedId: unknown;
  /** The error is a writeConcernError: the write itself was applied. */
  readonly writeConcern: boolean;
  /** The write concern timed out (wtimeout). */
  readonly wtimeout: boolean;
  /** The server's errInfo document (e.g. why a document failed validation). */
  readonly errInfo: Document | undefined;
  readonly #cases: BulkErrorCase[];

  /** @internal The driver builds LastErrors from write replies. */
  constructor(init: LastErrorInit) {
    super('ERR_WRITE', init.message, { address: init.address, errorLabels: init.errorLabels });
    this.serverCode = init.serverCode;
    this.codeName = init.codeName;
    this.n = init.n;
    this.updated = init.updated;
    this.matched = init.n;
    this.updatedExisting = init.updatedExisting;
    this.upsertedId = init.upsertedId;
    this.writeConcern = init.writeConcern ?? false;
    this.wtimeout = init.wtimeout ?? false;
    this.errInfo = init.errInfo;
    this.#cases = init.cases ?? [];
  }

  /** Every failed document or statement of the write, by its position in the call. */
  cases(): BulkErrorCase[] {
    return [...this.#cases];
  }
}

/** Bulk.run() failed: cases() lists each failed operation by the position it was queued at. */
export class BulkError extends MgoError {
  override name = 'BulkError';
  readonly #cases: BulkErrorCase[];
  /** What the operations that ran reported before the failure (matched, modified). */
  readonly result: BulkResult;

  constructor(cases: BulkErrorCase[], result: BulkResult) {
    super('ERR_BULK', bulkMessage(cases));
    this.#cases = [...cases].sort((a, b) => a.index - b.index);
    this.result = result;
  }

  /** Every failed operation, in the order it was queued (mgo's BulkError.Cases). */
  cases(): BulkErrorCase[] {
    return [...this.#cases];
  }
}

// mgo's wording: one distinct message is the message; several are listed.
function bulkMessage(cases: BulkErrorCase[]): string {
  const messages = [...new Set(cases.map((c) => c.err.message))];
  if (messages.length === 0) return 'bulk operation failed';
  if (messages.length === 1) return messages[0]!;
  return `multiple errors in bulk operation:\n${messages.map((m) => `  - ${m}\n`).join('')}`;
}

const DUPLICATE_KEY_CODES = new Set([11000, 11001, 12582]);

/**
 * Whether `err` reports a duplicate key (server codes 11000, 11001, 12582).
 * A write or bulk error with several failures is a duplicate only if every
 * failure is one (as mgo decides for BulkError).
 */
export function isDup(err: unknown): boolean {
  if (err instanceof BulkError || (err instanceof LastError && err.cases().length > 0)) {
    const cases = err.cases();
    return cases.length > 0 && cases.every((c) => isDup(c.err));
  }
  if (err instanceof LastError) {
    // mgo: an old mongos wrapped the duplicate key error in code 16460.
    return DUPLICATE_KEY_CODES.has(err.serverCode) || (err.serverCode === 16460 && err.message.includes(' E11000 '));
  }
  return err instanceof ServerError && DUPLICATE_KEY_CODES.has(err.serverCode);
}
