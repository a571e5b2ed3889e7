// Consistency modes, numbered exactly as mgo numbers them (Eventual 0,
// Monotonic 1, Strong 2 = Primary 2, PrimaryPreferred 3, Secondary 4,
// SecondaryPreferred 5, Nearest 6), and what each means for routing:
// which read preference a read is sent with, and whether the session keeps
// a reserved socket between operations.
import type { Document } from 'bson';
import { MgoError } from '../errors.js';
import type { ReadPreference, ReadPreferenceMode } from '../read-preference.js';

/**
 * mgo's consistency modes, with mgo's numbers: Eventual, Monotonic,
 * Strong (= Primary), and the read preference modes. Session.setMode()
 * takes one.
 */
export const Mode = {
  /** Reads go to any server a read preference of secondaryPreferred allows, op by op; nothing is reserved. */
  Eventual: 0,
  /** Reads on one reserved secondary-capable socket until the first write, then everything on the primary. */
  Monotonic: 1,
  /** Everything on one reserved socket to the primary. Same value as Primary. */
  Strong: 2,
  /** Everything on the primary (read preference primary); same value as Strong. */
  Primary: 2,
  /** Reads on the primary, or a secondary when there is none; writes on the primary. */
  PrimaryPreferred: 3,
  /** Reads on a secondary only; writes on the primary. */
  Secondary: 4,
  /** Reads on a secondary, or the primary when there is none; writes on the primary. */
  SecondaryPreferred: 5,
  /** Reads on the server of lowest latency, within localThresholdMS; writes on the primary. */
  Nearest: 6,
} as const;

/** One of Mode's values (a number, 0 to 6, as in mgo). */
export type Mode = (typeof Mode)[keyof typeof Mode];

const READ_MODE: Record<Mode, ReadPreferenceMode> = {
  // mgo's server choice for Eventual and Monotonic reads prefers secondaries
  // and falls back to the primary: secondaryPreferred in spec terms.
  0: 'secondaryPreferred',
  1: 'secondaryPreferred',
  2: 'primary',
  3: 'primaryPreferred',
  4: 'secondary',
  5: 'secondaryPreferred',
  6: 'nearest',
};

const MODE_NAME: Record<Mode, string> = {
  0: 'Eventual',
  1: 'Monotonic',
  2: 'Strong',
  3: 'PrimaryPreferred',
  4: 'Secondary',
  5: 'SecondaryPreferred',
  6: 'Nearest',
};

export function isMode(value: unknown): value is Mode {
  return typeof value === 'number' && Object.hasOwn(READ_MODE, value);
}

export function checkMode(value: unknown): Mode {
  if (!isMode(value)) {
    throw new MgoError('ERR_INVALID_ARGUMENT', `unknown mode ${String(value)}: use one of Mode.Eventual, Mode.Monotonic, Mode.Strong, Mode.Primary ... Mode.Nearest`);
  }
  return value;
}

export function modeName(mode: Mode): string {
  return MODE_NAME[mode];
}

/** Whether a session in this mode keeps a socket between operations (mgo: every mode but Eventual). */
export function reservesSocket(mode: Mode): boolean {
  return mode !== Mode.Eventual;
}

/** Whether a session in this mode may read from a secondary (mgo's slaveOk): all but Strong/Primary. */
export function allowsSecondaryReads(mode: Mode): boolean {
  return mode !== Mode.Strong;
}

/** Which servers a session's secondary-capable reads may go to. */
export interface ServerSelection {
  /** Tag sets (mgo's SelectServers); ignored for primary reads. */
  tags?: Document[];
  /** Secondaries staler than this are not read from (max staleness spec); mgo had no such option. */
  maxStalenessSeconds?: number;
}

/** The read preference a read is routed with in this mode. */
export function readPreferenceOf(mode: Mode, selection: ServerSelection = {}): ReadPreference {
  const readMode = READ_MODE[mode];
  const preference: ReadPreference = { mode: readMode };
  if (readMode === 'primary') return preference;
  if (selection.tags && selection.tags.length > 0) preference.tags = selection.tags.map((t) => ({ ...t }));
  if (selection.maxStalenessSeconds !== undefined && selection.maxStalenessSeconds > 0) {
    preference.maxStalenessSeconds = selection.maxStalenessSeconds;
  }
  return preference;
}

/** The mode a spec read preference stands for, as mgo's URL parser maps it. */
export function modeOfReadPreference(mode: ReadPreferenceMode): Mode {
  switch (mode) {
    case 'primary':
      return Mode.Primary;
    case 'primaryPreferred':
      return Mode.PrimaryPreferred;
    case 'secondary':
      return Mode.Secondary;
    case 'secondaryPreferred':
      return Mode.SecondaryPreferred;
    case 'nearest':
      return Mode.Nearest;
  }
}
