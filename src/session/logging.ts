// mgo's SetLogger and SetDebug, over the logging spec's logger
// (src/monitoring/logger.ts): process-wide switches every dial reads live.
import { MgoError } from '../errors.js';
import { setGlobalDebug, setGlobalLineSink } from '../monitoring/global-logging.js';

/** What mgo's SetLogger took: Go's *log.Logger, or anything with its Output(calldepth, s). */
export interface OutputLogger {
  /** Writes one line (Go's log.Logger.Output; calldepth is 2). */
  Output(calldepth: number, s: string): unknown;
}

/**
 * mgo's SetLogger: every dial's log messages go to `logger` as one text
 * line each ("debug connection: Connection checked out {...}"), called as
 * `logger.Output(2, line)` (Go's log.Logger shape) or `logger(line)`;
 * null or undefined removes it. With a logger set, each component logs its
 * info and more severe messages (mgo's logf), and setDebug(true) adds the
 * debug ones (every command, pool and heartbeat message).
 *
 * Differs from mgo: the messages are the logging spec's structured ones
 * (src/monitoring/log-messages.ts) written as text, not mgo's own; a dial's
 * `logger` option (destination and levels) overrides this for that dial,
 * and this overrides the MONGODB_LOG_* environment variables.
 */
export function setLogger(logger: OutputLogger | ((line: string) => void) | null | undefined): void {
  if (logger === null || logger === undefined) return setGlobalLineSink(undefined);
  if (typeof logger === 'function') return setGlobalLineSink((line) => void logger(line));
  if (typeof logger === 'object' && typeof (logger as Partial<OutputLogger>).Output === 'function') {
    return setGlobalLineSink((line) => void logger.Output(2, line));
  }
  throw new MgoError('ERR_INVALID_ARGUMENT', 'setLogger: expected an object with Output(calldepth, s), a function of one string, or null');
}

/**
 * mgo's SetDebug: true logs the debug messages of every component (every
 * command started and finished, every checkout, heartbeat and server
 * selection) on every dial; false goes back to what the environment or
 * setLogger() says.
 *
 * Differs from mgo: without setLogger(), the messages still go somewhere:
 * to MONGODB_LOG_PATH's destination (stderr by default), where mgo printed
 * nothing without a logger.
 */
export function setDebug(on: boolean): void {
  if (typeof on !== 'boolean') throw new MgoError('ERR_INVALID_ARGUMENT', `setDebug: expected a boolean, got ${typeof on}`);
  setGlobalDebug(on);
}
