// Shared pieces of the SDAM, server selection and max staleness spec runners:
// where the spec files are, how their fixtures become ServerDescriptions,
// TopologyDescriptions and ReadPreferences, and the passed/skipped tally each
// runner prints at the end. The files are read at test time from
// ../shared/specs (or $MGO_SPECS_DIR), never copied into the project.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { EJSON, type Document } from 'bson';
import { InvalidOptionError } from '../../src/errors.js';
import { selectServers, suitableServers, type SelectionOptions } from '../../src/cluster/server-selection.js';
import type { ReadPreference, ReadPreferenceMode } from '../../src/read-preference.js';
import { unknownServerDescription, type ServerDescription, type ServerType } from '../../src/cluster/server-description.js';
import { initialTopology, type TopologyDescription, type TopologyType } from '../../src/cluster/topology-description.js';

export const specsDir = process.env.MGO_SPECS_DIR ?? resolve(import.meta.dirname, '../../../shared/specs');

/** Every *.json below `dir`, as paths relative to it, sorted. */
export function jsonFilesBelow(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path).sort()) {
      const full = join(path, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (entry.endsWith('.json')) out.push(relative(dir, full));
    }
  };
  walk(dir);
  return out;
}

/** Parses a spec file as canonical-ish Extended JSON ($oid becomes ObjectId, $numberLong a number). */
export function readSpecFile<T = Document>(path: string): T {
  return EJSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Counts outcomes per runner and prints one summary line (plus skip reasons) at the end. */
export class SpecTally {
  passed = 0;
  private readonly skips = new Map<string, number>();

  constructor(private readonly name: string) {}

  skip(reason: string): void {
    this.skips.set(reason, (this.skips.get(reason) ?? 0) + 1);
  }

  summary(): string {
    const skipped = [...this.skips.values()].reduce((a, b) => a + b, 0);
    const lines = [`${this.name} spec tests: ${this.passed} of ${this.passed + skipped} passed, ${skipped} skipped`];
    for (const [reason, count] of this.skips) lines.push(`  skipped ${count}: ${reason}`);
    return lines.join('\n');
  }
}

// --- server selection / max staleness fixtures -------------------------------

export interface SpecServer {
  address: string;
  type: string;
  avg_rtt_ms?: number | 'NULL';
  tags?: Record<string, string>;
  lastUpdateTime?: number;
  lastWrite?: { lastWriteDate: number };
  maxWireVersion?: number;
}

export interface SpecReadPreference {
  mode?: string;
  tag_sets?: Document[];
  maxStalenessSeconds?: number;
}

/** "Primary", "SecondaryPreferred"... in the files; camel case in the spec's document and our type. */
export function readPreferenceFromSpec(spec: SpecReadPreference | undefined): ReadPreference {
  const mode = (spec?.mode ? spec.mode[0]!.toLowerCase() + spec.mode.slice(1) : 'primary') as ReadPreferenceMode;
  const readPreference: ReadPreference = { mode };
  if (spec?.tag_sets !== undefined) readPreference.tags = spec.tag_sets;
  if (spec?.maxStalenessSeconds !== undefined) readPreference.maxStalenessSeconds = spec.maxStalenessSeconds;
  return readPreference;
}

/** A ServerDescription with the fields a selection fixture gives; the rest are defaults. */
export function serverFromSpec(spec: SpecServer): ServerDescription {
  const base = unknownServerDescription(spec.address);
  const sd: { -readonly [K in keyof ServerDescription]: ServerDescription[K] } = {
    ...base,
    type: spec.type as ServerType,
    tags: spec.tags ?? {},
    lastUpdateTime: spec.lastUpdateTime ?? 0,
    // The fixtures describe servers this driver can talk to.
    maxWireVersion: spec.maxWireVersion ?? 21,
  };
  if (typeof spec.avg_rtt_ms === 'number') sd.roundTripTime = spec.avg_rtt_ms;
  if (spec.lastWrite) sd.lastWriteDate = Number(spec.lastWrite.lastWriteDate);
  return Object.freeze(sd);
}

/** A TopologyDescription in the state a selection fixture describes (compatible, by construction). */
export function topologyFromSpec(spec: { type: string; servers: SpecServer[] }): TopologyDescription {
  const servers = new Map(spec.servers.map((s) => [s.address, serverFromSpec(s)] as const));
  const base = initialTopology(spec.servers.map((s) => s.address));
  return Object.freeze({ ...base, type: spec.type as TopologyType, servers });
}

/** A server selection or max staleness case (both folders share the shape). */
export interface SelectionCase {
  topology_description: { type: string; servers: SpecServer[] };
  /** Absent in max staleness files: a read. */
  operation?: 'read' | 'write';
  read_preference?: SpecReadPreference;
  deprioritized_servers?: SpecServer[];
  suitable_servers?: SpecServer[];
  in_latency_window?: SpecServer[];
  /** Selection must reject the read preference. */
  error?: boolean;
}

const addresses = (servers: readonly { address: string }[]) => servers.map((s) => s.address).sort();

/**
 * Server selection and max staleness READMEs: `error: true` means selection
 * throws for the read preference; otherwise compare suitable_servers
 * (suitableServers) and in_latency_window (selectServers) as sets of addresses.
 */
export function checkSelectionCase(spec: SelectionCase, options: SelectionOptions): void {
  const td = topologyFromSpec(spec.topology_description);
  const criteria = {
    readPreference: readPreferenceFromSpec(spec.read_preference),
    forWrite: spec.operation === 'write',
    deprioritized: (spec.deprioritized_servers ?? []).map((s) => s.address),
  };
  if (spec.error) {
    assert.throws(() => selectServers(td, criteria, options), InvalidOptionError);
    return;
  }
  if (spec.suitable_servers) {
    assert.deepEqual(addresses(suitableServers(td, criteria, options)), addresses(spec.suitable_servers), 'suitable_servers');
  }
  assert.deepEqual(addresses(selectServers(td, criteria, options)), addresses(spec.in_latency_window ?? []), 'in_latency_window');
}
