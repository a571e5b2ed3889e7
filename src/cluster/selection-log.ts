// Server selection's log messages (server selection spec, "Logging"):
// "Server selection started", "... succeeded", "... failed" (debug) and
// "Waiting for suitable server to become available" (info, once per
// selection). They are not events: the Cluster that selects (the main
// thread's with workers: 0, a worker's otherwise) makes each one a plain
// record, which crosses to the main thread as it is (protocol.ts LOG) and
// becomes a message there (src/monitoring/logger.ts).
import type { Document } from 'bson';
import type { ReadPreference } from '../read-preference.js';
import type { ServerDescription } from './server-description.js';
import type { TopologyDescription } from './topology-description.js';

export type SelectionMessage =
  | 'Server selection started'
  | 'Server selection succeeded'
  | 'Server selection failed'
  | 'Waiting for suitable server to become available';

/** One message's data: plain values and documents only (it may cross threads). */
export interface SelectionLogRecord {
  readonly message: SelectionMessage;
  readonly severity: 'debug' | 'info';
  readonly operation: string;
  /** Numbers the selections of one cluster; each selection (each attempt of an operation) gets its own. */
  readonly operationId: number;
  readonly selector: Document;
  readonly topologyDescription: Document;
  /** Succeeded: the server chosen ("host:port"). */
  readonly address?: string;
  /** Failed: the error the operation gets. */
  readonly failure?: Document;
  /** Waiting: milliseconds left before serverSelectionTimeoutMS. */
  readonly remainingTimeMS?: number;
}

/** Where a Cluster sends its selection records, and whether anyone logs them. */
export interface SelectionLog {
  /** Whether serverSelection messages are logged at all now (asked once per selection). */
  wanted(): boolean;
  log(record: SelectionLogRecord): void;
}

/** What is being selected for: the command's name and the criteria. */
export interface SelectionSubject {
  readonly operation: string;
  readonly readPreference: ReadPreference;
  readonly forWrite?: boolean | undefined;
  readonly deprioritized?: readonly string[] | undefined;
}

function describeServer(sd: ServerDescription): Document {
  const out: Document = { address: sd.address, type: sd.type };
  if (sd.error !== undefined) out.error = sd.error;
  if (sd.roundTripTime !== undefined) out.roundTripTime = sd.roundTripTime;
  return out;
}

/** A topology description as a plain document (its servers' addresses, types and errors), for logs. */
export function describeTopology(td: TopologyDescription): Document {
  const out: Document = { type: td.type };
  if (td.setName !== null) out.setName = td.setName;
  out.servers = [...td.servers.values()].map(describeServer);
  if (td.compatibilityError !== null) out.compatibilityError = td.compatibilityError;
  return out;
}

/** The selector as a document: a write's need of a writable server, or the read preference (its mode always). */
function selectorOf(subject: SelectionSubject): Document {
  const out: Document = subject.forWrite ? { writable: true } : { readPreference: { ...subject.readPreference } };
  if (subject.deprioritized && subject.deprioritized.length > 0) out.deprioritized = [...subject.deprioritized];
  return out;
}

/** An error as the failure field: what our error classes report, never a server reply. */
function failureOf(error: unknown): Document {
  if (!(error instanceof Error)) return { message: String(error) };
  const { code } = error as { code?: unknown };
  return code === undefined ? { name: error.name, message: error.message } : { name: error.name, code, message: error.message };
}

/** The messages of one selection, in the spec's order; "Waiting ..." at most once. */
export class SelectionTrace {
  readonly #selector: Document;
  #waited = false;

  constructor(
    private readonly sink: SelectionLog,
    private readonly subject: SelectionSubject,
    private readonly operationId: number,
  ) {
    this.#selector = selectorOf(subject);
  }

  #log(message: SelectionMessage, severity: 'debug' | 'info', td: TopologyDescription, extra: Partial<SelectionLogRecord> = {}): void {
    this.sink.log({ message, severity, operation: this.subject.operation, operationId: this.operationId, selector: this.#selector, topologyDescription: describeTopology(td), ...extra });
  }

  started(td: TopologyDescription): void {
    this.#log('Server selection started', 'debug', td);
  }

  succeeded(td: TopologyDescription, address: string): void {
    this.#log('Server selection succeeded', 'debug', td, { address });
  }

  waiting(td: TopologyDescription, remainingTimeMS: number): void {
    if (this.#waited) return;
    this.#waited = true;
    this.#log('Waiting for suitable server to become available', 'info', td, { remainingTimeMS: Math.max(0, Math.round(remainingTimeMS)) });
  }

  failed(td: TopologyDescription, error: unknown): void {
    this.#log('Server selection failed', 'debug', td, { failure: failureOf(error) });
  }
}
