// mgo's Safe: how writes are acknowledged. Where mgo followed each write
// with getLastError, modern servers take the same settings as the write
// command's writeConcern document. A null Safe is mgo's unsafe mode: the
// write goes out with { w: 0 } in an OP_MSG flagged moreToCome, and no reply
// is read.
import type { Document } from 'bson';
import { MgoError } from '../errors.js';

/**
 * mgo's Safe: how writes are acknowledged (w, wMode, wTimeout, j, fsync)
 * and the read concern (rMode). Session.setSafe() takes it; null makes
 * writes unacknowledged. wTimeout is in milliseconds.
 */
export interface Safe {
  /** How many servers must acknowledge each write; 0 or absent leaves the server's default. */
  w?: number;
  /** w as a name ('majority' or a custom write concern); wins over `w`. */
  wMode?: string;
  /** Read concern level sent with reads ('local', 'majority', 'linearizable', ...): mgo's RMode. */
  rMode?: string;
  /** Milliseconds to wait for `w` acknowledgements before reporting a write concern error. */
  wTimeout?: number;
  /**
   * Wait for the write to reach disk. Modern servers only know the journal
   * for this, so it is sent as j: true (what the server did for fsync with
   * journaling on, which is the only configuration they support).
   */
  fsync?: boolean;
  /** Wait for the journal commit. */
  j?: boolean;
}

const SAFE_KEYS = new Set(['w', 'wMode', 'rMode', 'wTimeout', 'fsync', 'j']);

function invalid(method: string, message: string): MgoError {
  return new MgoError('ERR_INVALID_ARGUMENT', `${method}: ${message}`);
}

/** A validated copy of `safe` (null stays null: unacknowledged writes). */
export function checkSafe(safe: Safe | null, method = 'setSafe'): Safe | null {
  if (safe === null) return null;
  if (typeof safe !== 'object' || Array.isArray(safe)) throw invalid(method, 'expected a Safe object or null');
  for (const key of Object.keys(safe)) if (!SAFE_KEYS.has(key)) throw invalid(method, `unknown field '${key}'`);
  const { w, wMode, rMode, wTimeout, fsync, j } = safe;
  if (w !== undefined && !(Number.isSafeInteger(w) && w >= 0)) throw invalid(method, `w must be an integer >= 0, got ${String(w)}`);
  if (wTimeout !== undefined && !(Number.isSafeInteger(wTimeout) && wTimeout >= 0)) {
    throw invalid(method, `wTimeout must be a whole number of milliseconds >= 0, got ${String(wTimeout)}`);
  }
  for (const [name, value] of [['wMode', wMode], ['rMode', rMode]] as const) {
    if (value !== undefined && typeof value !== 'string') throw invalid(method, `${name} must be a string`);
  }
  for (const [name, value] of [['fsync', fsync], ['j', j]] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw invalid(method, `${name} must be a boolean`);
  }
  return { ...safe };
}

/**
 * mgo's EnsureSafe: `wanted` merged into `current`, keeping the stronger
 * setting of each (session.go ensureSafe): a set wMode or rMode always
 * wins; w only when greater than the current w and no wMode is set; a
 * wTimeout only when shorter than the current one (none waits for ever);
 * fsync always (and replaces j), j unless fsync is on. Unacknowledged
 * (null) becomes `wanted`; a null `wanted` changes nothing.
 */
export function strongerSafe(current: Safe | null, wanted: Safe | null): Safe | null {
  const add = checkSafe(wanted, 'ensureSafe');
  if (add === null) return current && { ...current };
  if (current === null) return add;
  const merged: Safe = { ...current };
  if (add.wMode) {
    merged.wMode = add.wMode;
    delete merged.w;
  } else if (add.w !== undefined && add.w > 0 && !merged.wMode && add.w > (merged.w ?? 0)) {
    merged.w = add.w;
  }
  if (add.rMode) merged.rMode = add.rMode;
  // No wTimeout (0) waits for ever, the strongest: mgo only ever shortens one.
  if (add.wTimeout !== undefined && add.wTimeout > 0 && merged.wTimeout !== undefined && add.wTimeout < merged.wTimeout) {
    merged.wTimeout = add.wTimeout;
  }
  if (add.fsync) {
    merged.fsync = true;
    delete merged.j;
  } else if (add.j && !merged.fsync) {
    merged.j = true;
  }
  return merged;
}

/** The writeConcern document for a write, or undefined to leave the server's default. */
export function writeConcernOf(safe: Safe | null): Document | undefined {
  if (safe === null) return { w: 0 };
  const concern: Document = {};
  if (safe.wMode) concern.w = safe.wMode;
  else if (safe.w !== undefined && safe.w > 0) concern.w = safe.w;
  if (safe.j || safe.fsync) concern.j = true;
  if (safe.wTimeout !== undefined && safe.wTimeout > 0) concern.wtimeout = safe.wTimeout;
  return Object.keys(concern).length > 0 ? concern : undefined;
}

/** The readConcern document for a read, or undefined for the server's default. */
export function readConcernOf(safe: Safe | null): Document | undefined {
  return safe?.rMode ? { level: safe.rMode } : undefined;
}

export interface WriteConcernOptions {
  w: number | string | undefined;
  wTimeoutMS: number | undefined;
  journal: boolean | undefined;
  readConcernLevel: string | undefined;
}

/** The Safe a dialed session starts with, from the URL's w, wTimeoutMS, journal and readConcernLevel. */
export function safeFromOptions(options: WriteConcernOptions): Safe | null {
  // mgo read w=0 from a URL as the tag name "0"; here it means what the
  // connection-string spec says: unacknowledged writes.
  if (options.w === 0) return null;
  const safe: Safe = {};
  if (typeof options.w === 'number') safe.w = options.w;
  if (typeof options.w === 'string') safe.wMode = options.w;
  if (options.wTimeoutMS !== undefined) safe.wTimeout = options.wTimeoutMS;
  if (options.journal !== undefined) safe.j = options.journal;
  if (options.readConcernLevel !== undefined) safe.rMode = options.readConcernLevel;
  return safe;
}
