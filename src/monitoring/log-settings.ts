// What a logger logs and where (logging spec, "Implementation requirements"):
// components, severities, the MONGODB_LOG_* environment variables, the
// `logger` dial option, and how they combine. The options object wins over
// the global setLogger()/setDebug(), which win over the environment
// (logging spec, "Supporting Both Programmatic and Environment Variable
// Configuration": programmatic configuration takes precedence).

/** The spec's components (logging spec, "Components"). */
export const LOG_COMPONENTS = ['command', 'topology', 'serverSelection', 'connection'] as const;
/** A log component: 'command', 'topology', 'serverSelection' or 'connection'. */
/** A logging component: 'command', 'topology', 'serverSelection' or 'connection'. */
export type LogComponent = (typeof LOG_COMPONENTS)[number];

/** The spec's severities, most severe first; 'off' logs nothing (logging spec, "Log Severity Levels"). */
export const SEVERITIES = ['off', 'emergency', 'alert', 'critical', 'error', 'warn', 'notice', 'info', 'debug', 'trace'] as const;
/** A log severity, 'off' and 'emergency' (most severe) to 'trace'. */
/** A severity level, 'off' (nothing) then 'emergency' (most severe) to 'trace' (least), as the logging spec names them. */
export type Severity = (typeof SEVERITIES)[number];

/** The syslog code of each severity; 'off' below every message's. */
export const SEVERITY_CODE: Readonly<Record<Severity, number>> = {
  off: -1,
  emergency: 0,
  alert: 1,
  critical: 2,
  error: 3,
  warn: 4,
  notice: 5,
  info: 6,
  debug: 7,
  trace: 8,
};

/** logging spec, "Configurable Max Document Length": 1000 by default (our unit: UTF-16 code units, never splitting a surrogate pair). */
export const DEFAULT_MAX_DOCUMENT_LENGTH = 1000;

/** The environment variable of each component (logging spec, "Components"). */
export const COMPONENT_ENV: Readonly<Record<LogComponent, string>> = {
  command: 'MONGODB_LOG_COMMAND',
  topology: 'MONGODB_LOG_TOPOLOGY',
  serverSelection: 'MONGODB_LOG_SERVER_SELECTION',
  connection: 'MONGODB_LOG_CONNECTION',
};

/** One structured log message: the spec's fields (message, serverHost, durationMS, ...) beside when, what and how severe. */
export interface LogMessage {
  /** When it was logged. */
  readonly time: Date;
  /** Which component logged it. */
  readonly component: LogComponent;
  /** How severe it is. */
  readonly severity: Severity;
  /** The spec's message text: "Command started", "Connection checked out", ... */
  readonly message: string;
  readonly [field: string]: unknown;
}

/** Something that takes log messages: a function, or an object with write() (a Node Writable in object mode works). */
export type LogMessageSink =
  | ((message: LogMessage) => void)
  | {
      /** Takes one message. */
      write(message: LogMessage): unknown;
    };

/**
 * Where messages go: 'stdout', 'stderr', any other string is a file path
 * (appended to, one JSON line per message), or a sink that gets each
 * message as an object.
 */
export type LogDestination = 'stdout' | 'stderr' | (string & {}) | LogMessageSink;

/** The `logger` dial option (object form only). */
export interface LoggerOptions {
  /** Where messages go; by default MONGODB_LOG_PATH's destination, or setLogger()'s logger, else stderr. */
  readonly destination?: LogDestination;
  /** The least severe level logged, per component; `default` for the components not named. */
  readonly levels?: Partial<Record<LogComponent | 'default', Severity>>;
  /** Longest extended JSON of a document in a message; longer ones are cut and end in "...". 0: never cut. */
  readonly maxDocumentLength?: number;
}

/** What setLogger() and setDebug() set for every dial (src/monitoring/global-logging.ts). */
export interface GlobalLogging {
  /** setLogger()'s logger, given each message as one formatted line. */
  readonly lineSink: ((line: string) => void) | undefined;
  readonly debug: boolean;
}

export interface LogSettings {
  readonly levels: Readonly<Record<LogComponent, Severity>>;
  /** The resolved destination: a sink object, or setLogger()'s line sink, or a stream/file name. */
  readonly destination: LogDestination | { readonly lines: (line: string) => void };
  readonly maxDocumentLength: number;
}

/** A severity named case-insensitively, or undefined for anything else. */
export function parseSeverity(text: string | undefined): Severity | undefined {
  if (text === undefined) return undefined;
  const lower = text.trim().toLowerCase();
  return (SEVERITIES as readonly string[]).includes(lower) ? (lower as Severity) : undefined;
}

/** A non-negative integer in decimal, or undefined. */
function parseLength(text: string | undefined): number | undefined {
  if (text === undefined || !/^\s*\d+\s*$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * The settings of a dial: `options` first, then setLogger()/setDebug()
 * (a logger set logs info and more severe messages of every component;
 * debug adds the debug ones, as mgo's SetDebug did), then the environment.
 * An invalid environment value counts as unset (logging spec: never an
 * exception); the options object is checked by the option table instead.
 */
export function resolveLogSettings(options: LoggerOptions | undefined, global: GlobalLogging, env: NodeJS.ProcessEnv = process.env): LogSettings {
  const globalLevel: Severity | undefined = global.debug ? 'debug' : global.lineSink !== undefined ? 'info' : undefined;
  const all = parseSeverity(env.MONGODB_LOG_ALL);
  const levels = {} as Record<LogComponent, Severity>;
  for (const component of LOG_COMPONENTS) {
    levels[component] = options?.levels?.[component] ?? options?.levels?.default ?? globalLevel ?? parseSeverity(env[COMPONENT_ENV[component]]) ?? all ?? 'off';
  }
  let destination: LogSettings['destination'];
  if (options?.destination !== undefined) destination = options.destination;
  else if (global.lineSink !== undefined) destination = { lines: global.lineSink };
  else destination = envDestination(env.MONGODB_LOG_PATH);
  const maxDocumentLength = options?.maxDocumentLength ?? parseLength(env.MONGODB_LOG_MAX_DOCUMENT_LENGTH) ?? DEFAULT_MAX_DOCUMENT_LENGTH;
  return { levels, destination, maxDocumentLength };
}

/** MONGODB_LOG_PATH: stdout or stderr (any case), else a file path; unset or empty: stderr. */
function envDestination(path: string | undefined): LogDestination {
  if (path === undefined || path.trim() === '') return 'stderr';
  if (/^stdout$/i.test(path)) return 'stdout';
  if (/^stderr$/i.test(path)) return 'stderr';
  return path;
}

/** The `logger` option checked (the option table's fromValue): the value, or undefined when it is not a valid one. */
export function checkLoggerOptions(value: unknown): LoggerOptions | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { destination, levels, maxDocumentLength, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return undefined;
  if (destination !== undefined && !isDestination(destination)) return undefined;
  if (maxDocumentLength !== undefined && !(Number.isSafeInteger(maxDocumentLength) && (maxDocumentLength as number) >= 0)) return undefined;
  if (levels !== undefined) {
    if (typeof levels !== 'object' || levels === null || Array.isArray(levels)) return undefined;
    for (const [key, level] of Object.entries(levels)) {
      if (key !== 'default' && !(LOG_COMPONENTS as readonly string[]).includes(key)) return undefined;
      if (typeof level !== 'string' || !(SEVERITIES as readonly string[]).includes(level)) return undefined;
    }
  }
  return value as LoggerOptions;
}

function isDestination(value: unknown): boolean {
  if (typeof value === 'string') return value.length > 0;
  if (typeof value === 'function') return true;
  return typeof value === 'object' && value !== null && typeof (value as { write?: unknown }).write === 'function';
}

export const LOGGER_OPTION_ACCEPTS =
  "an object { destination?: 'stdout' | 'stderr' | a file path | a function or { write(message) }, levels?: { command?, topology?, serverSelection?, connection?, default?: 'off' | 'emergency' | ... | 'trace' }, maxDocumentLength?: an integer >= 0 }";
