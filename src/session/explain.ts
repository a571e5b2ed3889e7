// Query.explain() and Pipe.explain(): the explain command wrapped around
// the find or aggregate the query or pipe would run. mgo sent find's legacy
// $explain modifier and aggregate's explain: true; the explain command
// replaces both on every server since 3.6, and FerretDB (the test server)
// answers it while refusing aggregate's explain: true.
import type { Document } from 'bson';
import { MgoError } from '../errors.js';
import { runCommand } from './database.js';
import type { Routing } from './internal.js';
import type { Session } from './session.js';

/**
 * How much the server tells: the chosen plan only ('queryPlanner'), plus
 * running it and counting ('executionStats'), plus the plans it rejected
 * ('allPlansExecution').
 */
export type ExplainVerbosity = 'queryPlanner' | 'executionStats' | 'allPlansExecution';

const VERBOSITIES: readonly string[] = ['queryPlanner', 'executionStats', 'allPlansExecution'];

/** Runs { explain: command, verbosity } on `db` and resolves to the server's whole reply. */
export async function runExplain(session: Session, db: string, command: Document, verbosity: ExplainVerbosity | undefined, routing: Routing, method: string): Promise<Document> {
  const explain: Document = { explain: command };
  if (verbosity !== undefined) {
    if (!VERBOSITIES.includes(verbosity)) {
      throw new MgoError('ERR_INVALID_ARGUMENT', `${method}: verbosity must be one of ${VERBOSITIES.map((v) => `'${v}'`).join(', ')}, got ${JSON.stringify(verbosity)}`);
    }
    explain.verbosity = verbosity;
  }
  return (await runCommand(session, db, explain, routing)).reply;
}
