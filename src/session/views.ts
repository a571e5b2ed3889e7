// mgo's CreateView: a read-only view is the create command with viewOn and
// pipeline (MongoDB 3.4+, "Views"); reads of it run the pipeline on the source.
import type { Document } from 'bson';
import { MgoError } from '../errors.js';
import { collationDocument, type Collation } from './collation.js';

/** The create command of view `view` on collection (or view) `source` of the same database. */
export function createViewCommand(view: string, source: string, pipeline: Document[], collation?: Collation | null): Document {
  for (const [what, name] of [
    ['view', view],
    ['source', source],
  ] as const) {
    if (typeof name !== 'string' || name === '') throw new MgoError('ERR_INVALID_ARGUMENT', `createView(): the ${what} must be a non-empty collection name`);
  }
  if (!Array.isArray(pipeline)) throw new MgoError('ERR_INVALID_ARGUMENT', 'createView(): the pipeline must be an array of stages');
  const command: Document = { create: view, viewOn: source, pipeline };
  if (collation !== undefined && collation !== null) command.collation = collationDocument('createView()', collation);
  return command;
}
