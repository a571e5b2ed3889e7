// Read preference: which servers may run a read (server selection spec,
// "Read preference"). A leaf that imports nothing of ours, as the official
// driver's read_preference.ts, so that every layer that speaks of it (the
// option table, server selection, the router, the session's modes, the op
// protocol) imports it downward.
import type { Document } from 'bson';

/** Server selection spec read preference modes. */
export type ReadPreferenceMode = 'primary' | 'primaryPreferred' | 'secondary' | 'secondaryPreferred' | 'nearest';

export interface ReadPreference {
  mode: ReadPreferenceMode;
  tags?: Document[];
  maxStalenessSeconds?: number;
}

export const PRIMARY: ReadPreference = Object.freeze({ mode: 'primary' });
