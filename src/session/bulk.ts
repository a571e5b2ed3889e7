// mgo's Bulk: operations queued on a collection and sent together. Queued
// operations of the same kind are grouped into one write command (only
// neighbours when ordered, any when unordered), each remembering its
// position in the queue, so that a failure is reported against the
// operation the caller queued. Ordered (the default) stops at the first
// failure; unordered runs everything and reports every failure.
import type { Document } from 'bson';
import { MgoError } from '../errors.js';
import type { Collection } from './collection.js';
import { BulkError, type BulkErrorCase } from './errors.js';
import { INTERNAL } from './internal.js';
import {
  deleteStatement,
  insertStatement,
  lastErrorOf,
  runWrite,
  updateStatement,
  writeErrorCases,
  writeTarget,
  type WriteKind,
  type WriteOutcome,
  type WriteStatement,
} from './write.js';

/** What Bulk.run() reports, as mgo does: totals of the updates and removals. */
export interface BulkResult {
  /** Documents matched by updates and removed by removals. */
  matched: number;
  /** Documents modified by updates. */
  modified: number;
}

interface Action {
  kind: WriteKind;
  statements: WriteStatement[];
  /** Each statement's position in the queue. */
  positions: number[];
}

/**
 * mgo's Bulk: writes queued on a collection (insert, update, upsert,
 * remove, ...) and sent together by run(), grouped into as few write
 * commands as the order allows. Ordered by default (stops at the first
 * failure); a failure is a BulkError whose cases() name the queued
 * operations by position.
 */
export class Bulk {
  readonly #collection: Collection;
  #ordered = true;
  #actions: Action[] = [];
  #queued = 0;

  /** @internal Bulks come from Collection.bulk(). */
  constructor(collection: Collection) {
    this.#collection = collection;
  }

  /** Runs the operations in any order, each whatever the others do. */
  unordered(): this {
    this.#ordered = false;
    return this;
  }

  /** Queues the insertion of the documents. */
  insert(...docs: object[]): this {
    const start = this.#queued;
    const limit = this.#maxBsonObjectSize();
    return this.#queue('insert', docs.map((doc, i) => insertStatement(doc, this.#what(start + i, 'insert'), limit)));
  }

  /** Pairs of selector and update: each updates one matching document. */
  update(...pairs: (Document | Document[] | null)[]): this {
    return this.#queueUpdates('update', pairs, {});
  }

  /** Pairs of selector and update: each updates every matching document. */
  updateAll(...pairs: (Document | Document[] | null)[]): this {
    return this.#queueUpdates('updateAll', pairs, { multi: true });
  }

  /** Pairs of selector and update: each updates one matching document or inserts one. */
  upsert(...pairs: (Document | Document[] | null)[]): this {
    return this.#queueUpdates('upsert', pairs, { upsert: true });
  }

  /** Selectors: each removes one matching document. */
  remove(...selectors: (Document | null)[]): this {
    return this.#queueRemovals('remove', selectors, false);
  }

  /** Selectors: each removes every matching document. */
  removeAll(...selectors: (Document | null)[]): this {
    return this.#queueRemovals('removeAll', selectors, true);
  }

  /**
   * Sends the queued operations and empties the queue. Rejects with a
   * BulkError whose cases() give each failed operation's queue position.
   */
  async run(): Promise<BulkResult> {
    const actions = this.#actions;
    this.#actions = [];
    this.#queued = 0;
    const result: BulkResult = { matched: 0, modified: 0 };
    const cases: BulkErrorCase[] = [];
    const target = writeTarget(this.#collection);
    for (const action of actions) {
      let failures: BulkErrorCase[];
      try {
        const outcome = await runWrite(target, action.kind, action.statements, this.#ordered);
        if (action.kind !== 'insert') {
          result.matched += outcome.n;
          result.modified += outcome.nModified;
        }
        failures = failuresOf(outcome, action);
      } catch (err) {
        // The command itself failed: no operation of the group is known to have run.
        failures = action.positions.map((index) => ({ index, err: err as Error }));
      }
      cases.push(...failures);
      if (failures.length > 0 && this.#ordered) break;
    }
    if (cases.length > 0) throw new BulkError(cases, result);
    return result;
  }

  #what(position: number, method: string): string {
    return `operation ${position} (${method}) of the bulk on ${this.#collection.fullName}`;
  }

  #queueUpdates(method: string, pairs: (Document | Document[] | null)[], flags: { upsert?: boolean; multi?: boolean }): this {
    if (pairs.length % 2 !== 0) throw new MgoError('ERR_INVALID_ARGUMENT', `Bulk.${method}() takes pairs of selector and update, got ${pairs.length} arguments`);
    const statements: WriteStatement[] = [];
    const limit = this.#maxBsonObjectSize();
    for (let i = 0; i < pairs.length; i += 2) {
      const selector = pairs[i] as Document | null;
      statements.push(updateStatement(selector ?? undefined, pairs[i + 1] as Document, flags, this.#what(this.#queued + i / 2, method), limit));
    }
    return this.#queue('update', statements);
  }

  #queueRemovals(method: string, selectors: (Document | null)[], all: boolean): this {
    const start = this.#queued;
    const limit = this.#maxBsonObjectSize();
    return this.#queue('delete', selectors.map((selector, i) => deleteStatement(selector ?? undefined, all, this.#what(start + i, method), limit)));
  }

  // Statements are encoded as they are queued, so they are held to the servers' limit as it is then.
  #maxBsonObjectSize(): number {
    return this.#collection.session[INTERNAL].limits().maxBsonObjectSize;
  }

  // Every statement was checked before anything is queued: a bad document leaves the queue as it was.
  #queue(kind: WriteKind, statements: WriteStatement[]): this {
    const last = this.#actions[this.#actions.length - 1];
    let action = last?.kind === kind ? last : this.#ordered ? undefined : this.#actions.find((a) => a.kind === kind);
    if (!action) {
      action = { kind, statements: [], positions: [] };
      this.#actions.push(action);
    }
    for (const statement of statements) {
      action.statements.push(statement);
      action.positions.push(this.#queued++);
    }
    return this;
  }
}

// Failures of one group, at their queue positions. A write concern error
// (the writes were applied but not acknowledged as asked) counts against
// every operation of the group, as in mgo.
function failuresOf(outcome: WriteOutcome, action: Action): BulkErrorCase[] {
  const cases = writeErrorCases(outcome).map((c) => ({ index: action.positions[c.index] ?? -1, err: c.err }));
  if (cases.length > 0 || !outcome.writeConcernError) return cases;
  const error = lastErrorOf(outcome)!;
  return action.positions.map((index) => ({ index, err: error }));
}
