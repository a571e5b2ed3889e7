// mgo's FindRef: the query for the document a database reference (DBRef
// convention: $ref, $id, optional $db) points at. The reference is js-bson's
// DBRef, which the driver decodes { $ref, $id, $db } subdocuments into; the
// package entry re-exports the class.
import { MgoError } from '../errors.js';
import type { Query } from './query.js';
import type { Session } from './session.js';

/**
 * What findRef() reads of a reference: js-bson's DBRef, or any object with
 * the same fields. `oid` is any _id (js-bson types DBRef's as an ObjectId).
 */
export interface DBRefLike {
  /** The collection the document is in ($ref). */
  collection: string;
  /** The document's _id ($id). */
  oid: unknown;
  /** The database ($db); left out, the reference is resolved in the database at hand (Database.findRef). */
  db?: string | undefined;
}

/**
 * The query for `_id: ref.oid` in `ref.collection` of `ref.db`, or of
 * `fallbackDb` when the reference names no database; undefined
 * `fallbackDb` (Session.findRef) makes such a reference an error, as in mgo
 * (which panics there: "can't resolve database").
 */
export function refQuery(session: Session, ref: DBRefLike, method: string, fallbackDb?: string): Query {
  if (typeof ref !== 'object' || ref === null || typeof ref.collection !== 'string' || ref.collection === '') {
    throw new MgoError('ERR_INVALID_ARGUMENT', `${method}(): expected a DBRef with a collection name`);
  }
  if (ref.db !== undefined && (typeof ref.db !== 'string' || ref.db === '')) {
    throw new MgoError('ERR_INVALID_ARGUMENT', `${method}(): the DBRef's db must be a non-empty string when set`);
  }
  const db = ref.db ?? fallbackDb;
  if (db === undefined) {
    throw new MgoError(
      'ERR_INVALID_ARGUMENT',
      `${method}(): can't resolve the database of a DBRef to collection ${JSON.stringify(ref.collection)} that names none; set its db, or use Database.findRef()`,
    );
  }
  return session.db(db).c(ref.collection).findId(ref.oid);
}
