// Write commands (insert, update, delete) as mgo's writeOp ran them:
// statements checked and sized before anything is sent, split into batches
// the server accepts, sent with the session's write concern (or
// unacknowledged, with moreToCome), and the replies merged into one outcome
// whose error positions refer to the caller's statements.
import type { Document } from 'bson';
import { concatBytes, encodeStatement, type EncodedSequence, type StatementField } from '../wire/bson.js';
import type { WireLimits } from '../wire/constants.js';
import { INTERNAL } from './internal.js';
import type { Session } from './session.js';
import { LastError, QueryError, type BulkErrorCase } from './errors.js';
import type { WriteCounts } from './change-info.js';
import { writeConcernOf } from './write-concern.js';
import { integerOf, writeReplyOf, type WriteReply } from '../wire/reply-shape.js';
import { encodeDocument } from './validate.js';

/** Room kept in each message for the header, the command body and the sequence framing. */
const MESSAGE_RESERVE_BYTES = 64 * 1024;

/** mgo retries an upsert that lost a race on a unique index (a duplicate key error) this many times in all. */
export const MAX_UPSERT_ATTEMPTS = 5;

export type WriteKind = 'insert' | 'update' | 'delete';

const SEQUENCE: Record<WriteKind, string> = { insert: 'documents', update: 'updates', delete: 'deletes' };

/** One document to insert, or one update or delete statement, as the BSON bytes that go to the server. */
export interface WriteStatement {
  bytes: Uint8Array;
  /** It may change several documents (multi: true, limit: 0): the retryable writes spec never retries a batch holding one. */
  multi?: true;
}

export interface WriteTarget {
  session: Session;
  db: string;
  collection: string;
}

/** Where a collection's writes go. */
export function writeTarget(collection: { session: Session; database: { name: string }; name: string }): WriteTarget {
  return { session: collection.session, db: collection.database.name, collection: collection.name };
}

export interface WriteErrorDetail {
  /** Position among the statements given to runWrite(). */
  index: number;
  code: number;
  codeName?: string;
  errmsg: string;
  errInfo?: Document;
}

export interface WriteOutcome {
  /** False for unacknowledged writes: nothing below is known. */
  acknowledged: boolean;
  n: number;
  nModified: number;
  upserted: { index: number; _id: unknown }[];
  writeErrors: WriteErrorDetail[];
  writeConcernError: Document | undefined;
  address: string | undefined;
}

// The statements' documents are held to `maxBsonObjectSize`, the servers' (Router.limits()).

export function insertStatement(doc: unknown, what: string, maxBsonObjectSize: number): WriteStatement {
  return { bytes: encodeDocument(doc, what, maxBsonObjectSize, 'insert') };
}

/** { q, u, upsert?, multi? } built around the selector's and update's own bytes. */
export function updateStatement(
  selector: Document | undefined,
  update: Document | Document[],
  flags: { upsert?: boolean; multi?: boolean },
  what: string,
  maxBsonObjectSize: number,
): WriteStatement {
  const fields: StatementField[] = [
    ['q', encodeDocument(selector ?? {}, `the selector of ${what}`, maxBsonObjectSize), false],
    ['u', encodeDocument(update, `the update of ${what}`, maxBsonObjectSize), Array.isArray(update)],
  ];
  if (flags.upsert) fields.push(['upsert', true]);
  if (!flags.multi) return { bytes: encodeStatement(fields) };
  fields.push(['multi', true]);
  return { bytes: encodeStatement(fields), multi: true };
}

export function deleteStatement(selector: Document | undefined, all: boolean, what: string, maxBsonObjectSize: number): WriteStatement {
  const q = encodeDocument(selector ?? {}, `the selector of ${what}`, maxBsonObjectSize);
  const bytes = encodeStatement([['q', q, false], ['limit', all ? 0 : 1]]);
  return all ? { bytes, multi: true } : { bytes };
}

/**
 * Splits statements into batches under the servers' count and message-size
 * limits (Router.limits()), keeping their order.
 */
export function splitBatches(statements: WriteStatement[], limits: Pick<WireLimits, 'maxMessageSizeBytes' | 'maxWriteBatchSize'>): WriteStatement[][] {
  const budget = limits.maxMessageSizeBytes - MESSAGE_RESERVE_BYTES;
  const batches: WriteStatement[][] = [];
  let batch: WriteStatement[] = [];
  let bytes = 0;
  for (const statement of statements) {
    const size = statement.bytes.byteLength;
    if (batch.length > 0 && (batch.length >= limits.maxWriteBatchSize || bytes + size > budget)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(statement);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/**
 * Runs the statements as one logical write. Ordered writes stop at the
 * first batch that reports an error; unordered ones send every batch.
 */
export async function runWrite(target: WriteTarget, kind: WriteKind, statements: WriteStatement[], ordered: boolean): Promise<WriteOutcome> {
  const safe = target.session.safe();
  const writeConcern = writeConcernOf(safe);
  const outcome: WriteOutcome = {
    acknowledged: safe !== null,
    n: 0,
    nModified: 0,
    upserted: [],
    writeErrors: [],
    writeConcernError: undefined,
    address: undefined,
  };
  let offset = 0;
  for (const batch of splitBatches(statements, target.session[INTERNAL].limits())) {
    const command: Document = { [kind]: target.collection, ordered };
    if (writeConcern) command.writeConcern = writeConcern;
    if (kind !== 'delete' && target.session[INTERNAL].bypassValidation) command.bypassDocumentValidation = true;
    // The statements' own bytes, back to back: what the socket sends (and, with workers, what crosses the thread).
    const sequence: EncodedSequence = { identifier: SEQUENCE[kind], bytes: concatBytes(batch.map((s) => s.bytes)), count: batch.length };
    const { reply, address } = await target.session[INTERNAL].run({
      db: target.db,
      command,
      routing: 'write',
      sequences: [sequence],
      moreToCome: safe === null,
      // Each batch is its own statement for the retryable writes spec (its own txnNumber).
      retryable: batch.every((s) => s.multi === undefined),
    });
    outcome.address = address;
    if (safe !== null) mergeReply(outcome, writeReplyOf(reply, address, batch.length), offset);
    offset += batch.length;
    if (ordered && (outcome.writeErrors.length > 0 || outcome.writeConcernError)) break;
  }
  return outcome;
}

function mergeReply(outcome: WriteOutcome, reply: WriteReply, offset: number): void {
  outcome.n += reply.n;
  outcome.nModified += reply.nModified;
  for (const up of reply.upserted) outcome.upserted.push({ index: up.index + offset, _id: up._id });
  for (const e of reply.writeErrors) {
    const detail: WriteErrorDetail = { index: e.index + offset, code: e.code, errmsg: e.errmsg };
    if (e.codeName !== undefined) detail.codeName = e.codeName;
    if (e.errInfo) detail.errInfo = e.errInfo;
    outcome.writeErrors.push(detail);
  }
  const concern = reply.writeConcernError;
  if (concern && !outcome.writeConcernError) {
    // 4.4+ servers put the labels (RetryableWriteError) beside writeConcernError, not in it.
    const own: string[] = concern.errorLabels ?? [];
    outcome.writeConcernError = reply.errorLabels.length === 0 ? concern : { ...concern, errorLabels: [...new Set([...own, ...reply.errorLabels])] };
  }
}

export function writeCounts(outcome: WriteOutcome): WriteCounts {
  const counts: WriteCounts = {
    n: outcome.n,
    nModified: outcome.nModified,
    updatedExisting: outcome.n > 0 && outcome.upserted.length === 0,
  };
  if (outcome.upserted.length > 0) counts.upsertedId = outcome.upserted[0]!._id;
  return counts;
}

/** Each write error as a QueryError at its statement's position. */
export function writeErrorCases(outcome: WriteOutcome): BulkErrorCase[] {
  return outcome.writeErrors.map((e) => ({ index: e.index, err: new QueryError(e.errmsg, e.code, e.codeName, { address: outcome.address }) }));
}

/** mgo's LastError for an acknowledged write that reported an error: the first write error, else the write concern error. */
export function lastErrorOf(outcome: WriteOutcome): LastError | undefined {
  if (!outcome.acknowledged) return undefined;
  const counts = writeCounts(outcome);
  const common = {
    n: counts.n,
    updated: counts.nModified,
    updatedExisting: counts.updatedExisting,
    upsertedId: counts.upsertedId,
    address: outcome.address,
  };
  const [first] = outcome.writeErrors;
  if (first) {
    return new LastError({
      ...common,
      message: first.errmsg,
      serverCode: first.code,
      codeName: first.codeName,
      errInfo: first.errInfo,
      cases: writeErrorCases(outcome),
    });
  }
  const concern = outcome.writeConcernError;
  if (!concern) return undefined;
  const errInfo: Document | undefined = concern.errInfo;
  return new LastError({
    ...common,
    message: String(concern.errmsg ?? 'write concern error'),
    serverCode: integerOf(concern.code) ?? 0,
    codeName: typeof concern.codeName === 'string' ? concern.codeName : undefined,
    errInfo,
    writeConcern: true,
    wtimeout: errInfo?.wtimeout === true,
    errorLabels: Array.isArray(concern.errorLabels) ? concern.errorLabels : undefined,
  });
}

/** Runs the statements and throws their LastError, if any; returns the counts (undefined when unacknowledged). */
export async function runWriteOrThrow(target: WriteTarget, kind: WriteKind, statements: WriteStatement[]): Promise<WriteCounts | undefined> {
  const outcome = await runWrite(target, kind, statements, true);
  const error = lastErrorOf(outcome);
  if (error) throw error;
  return outcome.acknowledged ? writeCounts(outcome) : undefined;
}
