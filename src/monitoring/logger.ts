// The logging spec's logger of one dial: the EventHub's EventLogger (each
// published event becomes the spec's structured message, log-messages.ts)
// and the writer of the messages that are not events (server selection,
// src/cluster/selection-log.ts). Levels, destination and document length
// come from the `logger` dial option, setLogger()/setDebug() and the
// MONGODB_LOG_* environment variables (log-settings.ts).
//
// Nothing is built for a component logged at no level: wanted() gives the
// hub only the kinds whose messages would be written, and the hub asks it
// before producers build an event (issue 15: an off logger costs nothing).
import { openSync, writeSync } from 'node:fs';
import { WANT_COMMAND, WANT_POOL, WANT_SELECTION_LOG, WANT_TOPOLOGY, type Published } from './events.js';
import type { EventLogger } from './event-hub.js';
import { globalLogging, globalLoggingGeneration } from './global-logging.js';
import type { SelectionLog, SelectionLogRecord } from '../cluster/selection-log.js';
import { componentOf, messageOf, selectionMessageOf, type MessageFields } from './log-messages.js';
import {
  SEVERITY_CODE,
  resolveLogSettings,
  type LogComponent,
  type LogMessage,
  type LogSettings,
  type LoggerOptions,
  type Severity,
} from './log-settings.js';

/** Every event-derived message is at debug level (the specs' "Log Messages" sections). */
const EVENT_SEVERITY: Severity = 'debug';

type Write = (message: LogMessage) => void;

export class Logger implements EventLogger {
  #settings!: LogSettings;
  #mask = 0;
  #write!: Write;
  #generation = -1;
  /** The dial's topology id, from its topology events: heartbeat events carry none. */
  #topologyId: number | undefined;

  constructor(
    private readonly options: LoggerOptions | undefined,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.#refresh();
  }

  /** Settings read again when setLogger()/setDebug() changed them since. */
  #refresh(): void {
    const generation = globalLoggingGeneration();
    if (generation === this.#generation) return;
    this.#generation = generation;
    this.#settings = resolveLogSettings(this.options, globalLogging(), this.env);
    const { levels } = this.#settings;
    const at = (component: LogComponent) => SEVERITY_CODE[levels[component]] >= SEVERITY_CODE[EVENT_SEVERITY];
    this.#mask =
      (at('command') ? WANT_COMMAND : 0) |
      (at('connection') ? WANT_POOL : 0) |
      (at('topology') ? WANT_TOPOLOGY : 0) |
      // "Waiting for suitable server" is at info, the other selection messages at debug.
      (SEVERITY_CODE[levels.serverSelection] >= SEVERITY_CODE.info ? WANT_SELECTION_LOG : 0);
    // A file path comes from the option, else from the environment.
    this.#write = writerFor(this.#settings.destination, this.options?.destination !== undefined ? "the logger option's destination" : 'MONGODB_LOG_PATH');
  }

  /** The levels, destination and document length in force now. */
  get settings(): LogSettings {
    this.#refresh();
    return this.#settings;
  }

  wanted(): number {
    this.#refresh();
    return this.#mask;
  }

  /** Whether a message of `component` at `severity` would be written. */
  willLog(component: LogComponent, severity: Severity): boolean {
    this.#refresh();
    return severity !== 'off' && SEVERITY_CODE[this.#settings.levels[component]] >= SEVERITY_CODE[severity];
  }

  log(event: Published): void {
    const component = componentOf(event);
    if (!this.willLog(component, EVENT_SEVERITY)) return;
    const { topologyId } = event as { topologyId?: unknown };
    if (typeof topologyId === 'number') this.#topologyId = topologyId;
    const fields = messageOf(event, this.#settings.maxDocumentLength, this.#topologyId);
    if (fields !== undefined) this.#emit(component, EVENT_SEVERITY, fields);
  }

  /** Writes a message that is not an event's (server selection), if its component logs at `severity`. */
  write(component: LogComponent, severity: Severity, fields: MessageFields): void {
    if (this.willLog(component, severity)) this.#emit(component, severity, fields);
  }

  /** A server selection record, made here or in worker `workerId` (src/cluster/selection-log.ts). */
  logSelection(record: SelectionLogRecord, workerId?: number): void {
    if (this.willLog('serverSelection', record.severity)) this.#emit('serverSelection', record.severity, selectionMessageOf(record, this.#settings.maxDocumentLength, workerId));
  }

  /** Whether any serverSelection message (info "Waiting ..." or the debug ones) is logged: what a Cluster asks before tracing a selection. */
  logsSelection(): boolean {
    return (this.wanted() & WANT_SELECTION_LOG) !== 0;
  }

  /** This logger as a Cluster's SelectionLog (workers: 0). */
  get selectionLog(): SelectionLog {
    return { wanted: () => this.logsSelection(), log: (record) => this.logSelection(record) };
  }

  #emit(component: LogComponent, severity: Severity, fields: MessageFields): void {
    const message: LogMessage = { time: new Date(), component, severity, ...fields };
    try {
      this.#write(message);
    } catch (error) {
      // A throwing sink must not unwind into the producer (a pool half-way
      // through a state change): rethrown on the next tick, as the hub does
      // with a throwing listener.
      process.nextTick(() => {
        throw error;
      });
    }
  }
}

/** A message as one line of JSON (time as ISO 8601): what stdout, stderr and files get. */
export function jsonLine(message: LogMessage): string {
  return JSON.stringify({ ...message, time: message.time.toISOString() }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
}

/** A message as setLogger()'s text line: "debug connection: Connection checked out {"serverHost":...}". */
export function textLine(message: LogMessage): string {
  const { time: _time, component, severity, message: text, ...fields } = message;
  return `${severity} ${component}: ${text} ${JSON.stringify(fields, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))}`;
}

function writerFor(destination: LogSettings['destination'], pathSetting = 'MONGODB_LOG_PATH'): Write {
  if (typeof destination === 'function') return destination;
  if (typeof destination === 'object') {
    if ('lines' in destination) {
      const lines = destination.lines;
      return (message) => lines(textLine(message));
    }
    return (message) => void destination.write(message);
  }
  if (destination === 'stdout') return (message) => void process.stdout.write(`${jsonLine(message)}\n`);
  if (destination === 'stderr') return (message) => void process.stderr.write(`${jsonLine(message)}\n`);
  return fileWriter(destination, pathSetting);
}

/** One descriptor per log file for the process: every dial logging to a path appends through it. */
const files = new Map<string, number>();
/** Paths already warned about: every dial (and every setLogger()/setDebug() change) tries again, but warns once. */
const unopenable = new Set<string>();
/** Files a write failed on (a full disk): every logger of the process logs to stderr instead, after one warning. */
const unwritable = new Set<string>();

/**
 * Appends to `path` (logging spec: an existing file is appended to). A
 * path that cannot be opened logs to stderr instead, with one warning
 * (the spec: never an exception). Written synchronously: lines stay in
 * order across dials and none is lost when the process exits at once.
 */
function fileWriter(path: string, pathSetting: string): Write {
  if (unwritable.has(path)) return writerFor('stderr');
  let fd = files.get(path);
  if (fd === undefined) {
    try {
      fd = openSync(path, 'a');
      files.set(path, fd);
    } catch (err) {
      if (!unopenable.has(path)) {
        unopenable.add(path);
        process.emitWarning(`mgo-threads: cannot open the log file ${path} (${pathSetting}: ${(err as Error).message}); logging to stderr`, { code: 'MGO_LOG_PATH' });
      }
      return writerFor('stderr');
    }
  }
  const descriptor = fd;
  const stderr = writerFor('stderr');
  return (message) => {
    if (!unwritable.has(path)) {
      try {
        writeSync(descriptor, `${jsonLine(message)}\n`);
        return;
      } catch (err) {
        // A full disk (ENOSPC), a file gone read-only: logging must not take
        // the application down (#emit would rethrow it), so the process's
        // messages for this file go to stderr from now on, as for a path
        // that cannot be opened, after one warning.
        unwritable.add(path);
        process.emitWarning(`mgo-threads: cannot write to the log file ${path} (${pathSetting}: ${(err as Error).message}); logging to stderr`, { code: 'MGO_LOG_PATH' });
      }
    }
    stderr(message);
  };
}
