// Server Discovery and Monitoring spec tests
// (server-discovery-and-monitoring/tests, README "Use as unittests"): each
// file's phases feed hello replies through serverDescriptionFromHello +
// updateTopology and application errors through applicationErrorDecision,
// then compare the TopologyDescription with the phase's outcome. The pool
// generation of each server is modelled here: a number incremented whenever
// a decision says to clear the pool.
//
// One describe per file, one test running the file's phases in order.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ObjectId, type Document } from 'bson';
import {
  compareTopologyVersion,
  parseTopologyVersion,
  serverDescriptionFromHello,
  unknownServerDescription,
} from '../../src/cluster/server-description.js';
import { applicationErrorDecision, checkErrorDecision, sdamErrorFromReply } from '../../src/cluster/sdam-errors.js';
import { updateTopology, type TopologyDescription } from '../../src/cluster/topology-description.js';
import { SpecTally, jsonFilesBelow, readSpecFile, specsDir, topologyFor } from '../fixtures/sdam-spec.js';

interface ApplicationErrorSpec {
  address: string;
  generation?: number;
  maxWireVersion: number;
  when: 'beforeHandshakeCompletes' | 'afterHandshakeCompletes';
  type: 'command' | 'network' | 'timeout';
  response?: Document;
}

interface Phase {
  description?: string;
  responses?: [string, Document][];
  applicationErrors?: ApplicationErrorSpec[];
  outcome: Document;
}

interface SdamFile {
  description: string;
  uri: string;
  phases: Phase[];
}

const dir = join(specsDir, 'server-discovery-and-monitoring', 'tests');
const tally = new SpecTally('server-discovery-and-monitoring');

/** Folders whose files another runner runs. */
const OTHER_RUNNERS: Readonly<Record<string, string>> = {
  monitoring: 'monitoring/ outcomes are SDAM events: test/spec/sdam-monitoring.test.ts runs them',
  unified:
    'unified/ files use the unified test format: test/spec/unified.test.ts runs them against the bridge',
};

class Run {
  td: TopologyDescription;
  readonly generations = new Map<string, number>();
  private clock = 0;

  constructor(uri: string) {
    this.td = topologyFor(uri);
  }

  generation(address: string): number {
    return this.generations.get(address) ?? 0;
  }

  private clearPool(address: string): void {
    this.generations.set(address, this.generation(address) + 1);
  }

  /** README: an empty response {} is a network error during the check. */
  response(address: string, hello: Document): void {
    const now = ++this.clock;
    if (Object.keys(hello).length === 0) {
      const previous = this.td.servers.get(address);
      this.td = updateTopology(this.td, unknownServerDescription(address, 'network error during the check (spec test)', now));
      // Server monitoring spec: a failed check also clears the server's pool.
      if (previous && checkErrorDecision(previous, 'network').clearPool) this.clearPool(address);
      return;
    }
    this.td = updateTopology(this.td, serverDescriptionFromHello(address, hello, 0, now));
  }

  applicationError(spec: ApplicationErrorSpec): void {
    let code: number | undefined;
    let message = `${spec.type} error (spec test)`;
    let topologyVersion = null;
    if (spec.type === 'command') {
      const parsed = sdamErrorFromReply(spec.response ?? {});
      // A reply with nothing SDAM checks (e.g. only writeErrors) is not an error to handle.
      if (parsed === null) return;
      ({ code, message, topologyVersion } = parsed);
    }
    const decision = applicationErrorDecision(
      this.td,
      spec.address,
      {
        type: spec.type,
        // README: "beforeHandshakeCompletes" is an error during a new connection's handshake.
        stage: spec.when === 'beforeHandshakeCompletes' ? 'handshake' : 'operation',
        generation: spec.generation ?? this.generation(spec.address),
        maxWireVersion: spec.maxWireVersion,
        code,
        message,
        topologyVersion,
      },
      this.generation(spec.address),
      ++this.clock,
    );
    if (decision.markUnknown && decision.description) this.td = updateTopology(this.td, decision.description);
    if (decision.clearPool) this.clearPool(spec.address);
  }
}

function sameObjectId(actual: ObjectId | null, expected: unknown, what: string): void {
  if (expected === null || expected === undefined) {
    assert.equal(actual, null, `${what}: expected null, got ${actual?.toHexString()}`);
  } else {
    assert.ok(actual !== null && actual.equals(expected as ObjectId), `${what}: expected ${String(expected)}, got ${actual?.toHexString() ?? null}`);
  }
}

function checkOutcome(run: Run, outcome: Document, where: string): void {
  const td = run.td;
  if ('events' in outcome) throw new Error(`${where}: an events outcome reached the description runner`);
  assert.equal(td.type, outcome.topologyType, `${where}: topologyType`);
  if ('setName' in outcome) assert.equal(td.setName, outcome.setName, `${where}: setName`);
  if ('logicalSessionTimeoutMinutes' in outcome) {
    assert.equal(td.logicalSessionTimeoutMinutes, outcome.logicalSessionTimeoutMinutes, `${where}: logicalSessionTimeoutMinutes`);
  }
  if ('maxSetVersion' in outcome) assert.equal(td.maxSetVersion, outcome.maxSetVersion, `${where}: maxSetVersion`);
  if ('maxElectionId' in outcome) sameObjectId(td.maxElectionId, outcome.maxElectionId, `${where}: maxElectionId`);
  if ('compatible' in outcome) assert.equal(td.compatible, outcome.compatible, `${where}: compatible (${td.compatibilityError})`);

  const expected = outcome.servers as Record<string, Document>;
  assert.deepEqual([...td.servers.keys()].sort(), Object.keys(expected).sort(), `${where}: the set of servers`);
  for (const [address, want] of Object.entries(expected)) {
    const sd = td.servers.get(address)!;
    const at = `${where}: server ${address}`;
    assert.equal(sd.type, want.type, `${at}: type`);
    if ('setName' in want) assert.equal(sd.setName, want.setName, `${at}: setName`);
    if ('setVersion' in want) assert.equal(sd.setVersion, want.setVersion, `${at}: setVersion`);
    if ('electionId' in want) sameObjectId(sd.electionId, want.electionId, `${at}: electionId`);
    if ('logicalSessionTimeoutMinutes' in want) {
      assert.equal(sd.logicalSessionTimeoutMinutes, want.logicalSessionTimeoutMinutes, `${at}: logicalSessionTimeoutMinutes`);
    }
    // SDAM "ServerDescription": min/maxWireVersion default to 0, which is what
    // the files' null (never reported) stands for.
    if ('minWireVersion' in want) assert.equal(sd.minWireVersion, want.minWireVersion ?? 0, `${at}: minWireVersion`);
    if ('maxWireVersion' in want) assert.equal(sd.maxWireVersion, want.maxWireVersion ?? 0, `${at}: maxWireVersion`);
    if ('topologyVersion' in want) {
      const expectedTv = parseTopologyVersion(want.topologyVersion);
      if (expectedTv === null) assert.equal(sd.topologyVersion, null, `${at}: topologyVersion`);
      else assert.equal(compareTopologyVersion(sd.topologyVersion, expectedTv), 0, `${at}: topologyVersion`);
    }
    if ('error' in want) {
      assert.ok(sd.error?.includes(String(want.error)), `${at}: error ${JSON.stringify(sd.error)} should contain ${JSON.stringify(want.error)}`);
    }
    if (want.pool) assert.equal(run.generation(address), want.pool.generation, `${at}: pool generation`);
  }
}

function runFile(file: SdamFile): void {
  const run = new Run(file.uri);
  file.phases.forEach((phase, i) => {
    const where = `phase ${i + 1}${phase.description ? ` (${phase.description})` : ''}`;
    for (const [address, hello] of phase.responses ?? []) run.response(address, hello);
    for (const error of phase.applicationErrors ?? []) run.applicationError(error);
    checkOutcome(run, phase.outcome, where);
  });
}

for (const path of jsonFilesBelow(dir)) {
  const folder = path.split('/')[0]!;
  // Not skips: these files run elsewhere, and count there.
  if (OTHER_RUNNERS[folder] !== undefined) continue;
  describe(path, () => {
    const file = readSpecFile<SdamFile & { tests?: unknown }>(join(dir, path));
    test(file.description, () => {
      runFile(file);
      tally.passed++;
    });
  });
}

after(() => console.log(tally.summary()));
