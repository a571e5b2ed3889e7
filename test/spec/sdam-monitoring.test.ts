// SDAM monitoring spec tests (server-discovery-and-monitoring/tests/monitoring,
// the SDAM test format whose outcomes are events): each file's phases feed
// hello replies through the code the driver's monitors feed them through
// (TopologyEvents.open / changed around updateTopology, and reconcileMembers
// for the servers a change adds or drops, as Cluster and TopologyMonitor
// do), and the events published meanwhile are compared with the phase's
// outcome, in order. The servers here are placeholders: no socket is opened.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Document } from 'bson';
import type { SdamEvent } from '../../src/cluster/sdam-events.js';
import { serverDescriptionFromHello, unknownServerDescription, type ServerDescription } from '../../src/cluster/server-description.js';
import { updateTopology, type TopologyDescription } from '../../src/cluster/topology-description.js';
import { reconcileMembers, TopologyEvents } from '../../src/cluster/topology-events.js';
import { SpecTally, jsonFilesBelow, readSpecFile, specsDir, topologyFor } from '../fixtures/sdam-spec.js';

interface Phase {
  responses?: [string, Document][];
  outcome: { events: Document[] };
}

interface MonitoringFile {
  description: string;
  uri: string;
  phases: Phase[];
}

const dir = join(specsDir, 'server-discovery-and-monitoring', 'tests', 'monitoring');
const tally = new SpecTally('server-discovery-and-monitoring/monitoring');

/** The spec files' event names, by our event types. */
const SPEC_NAMES: Readonly<Record<SdamEvent['type'], string>> = {
  TopologyOpening: 'topology_opening_event',
  TopologyClosed: 'topology_closed_event',
  TopologyDescriptionChanged: 'topology_description_changed_event',
  ServerOpening: 'server_opening_event',
  ServerClosed: 'server_closed_event',
  ServerDescriptionChanged: 'server_description_changed_event',
  ServerHeartbeatStarted: 'server_heartbeat_started_event',
  ServerHeartbeatSucceeded: 'server_heartbeat_succeeded_event',
  ServerHeartbeatFailed: 'server_heartbeat_failed_event',
};

/** A server description in the files' form (the fields they compare). */
function specServer(sd: ServerDescription): Document {
  return { address: sd.address, arbiters: [...sd.arbiters], hosts: [...sd.hosts], passives: [...sd.passives], type: sd.type, primary: sd.primary, setName: sd.setName };
}

function specTopology(td: TopologyDescription): Document {
  const servers = [...td.servers.values()].sort((a, b) => a.address.localeCompare(b.address)).map(specServer);
  return { topologyType: td.type, setName: td.setName, servers };
}

/**
 * Compares the fields the file names (and only those: a file leaves out a
 * server's `primary` or `setName` where it says nothing about them);
 * arrays as sets of addresses / by position once sorted.
 */
function matches(actual: unknown, expected: unknown, where: string): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array, got ${JSON.stringify(actual)}`);
    const sort = (list: unknown[]) => [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const byAddress = expected.every((e) => typeof e === 'object' && e !== null && 'address' in e);
    const want = byAddress ? [...expected].sort((a, b) => String(a.address).localeCompare(String(b.address))) : sort(expected);
    const got = byAddress ? actual : sort(actual);
    assert.equal(got.length, want.length, `${where}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
    want.forEach((e, i) => matches(got[i], e, `${where}[${i}]`));
  } else if (typeof expected === 'object' && expected !== null) {
    assert.ok(typeof actual === 'object' && actual !== null, `${where}: expected a document, got ${JSON.stringify(actual)}`);
    for (const [key, value] of Object.entries(expected)) matches((actual as Document)[key], value, `${where}.${key}`);
  } else {
    assert.equal(actual, expected, where);
  }
}

/** Our event in the files' form. The topologyId is checked apart: the files say "42" for "this topology's id". */
function specEvent(event: SdamEvent): Document {
  const name = SPEC_NAMES[event.type];
  switch (event.type) {
    case 'TopologyDescriptionChanged':
      return { [name]: { previousDescription: specTopology(event.previousDescription), newDescription: specTopology(event.newDescription) } };
    case 'ServerDescriptionChanged':
      return { [name]: { address: event.address, previousDescription: specServer(event.previousDescription), newDescription: specServer(event.newDescription) } };
    case 'ServerOpening':
    case 'ServerClosed':
      return { [name]: { address: event.address } };
    default:
      return { [name]: {} };
  }
}

/** One file: a topology as the driver's monitor keeps it, publishing into `published`. */
class Run {
  private td: TopologyDescription;
  private readonly servers = new Map<string, string>();
  readonly published: SdamEvent[] = [];
  readonly events = new TopologyEvents({ wanted: () => true, publish: (event) => this.published.push(event) });
  private clock = 0;

  constructor(uri: string) {
    this.td = topologyFor(uri);
    this.events.open(this.td, () => this.reconcile());
  }

  private reconcile(): void {
    reconcileMembers(this.servers, this.td, this.events, (address) => address, () => {});
  }

  /** README: an empty response {} is a network error during the check. */
  response(address: string, hello: Document): void {
    const now = ++this.clock;
    const sd =
      Object.keys(hello).length === 0
        ? unknownServerDescription(address, 'network error during the check (spec test)', now)
        : serverDescriptionFromHello(address, hello, 0, now);
    const previous = this.td;
    this.td = updateTopology(previous, sd);
    this.events.changed(previous, this.td, sd.address, () => this.reconcile());
  }
}

function runFile(file: MonitoringFile): void {
  const run = new Run(file.uri);
  file.phases.forEach((phase, i) => {
    for (const [address, hello] of phase.responses ?? []) run.response(address, hello);
    const got = run.published.splice(0);
    const where = `phase ${i + 1}`;
    assert.deepEqual(
      got.map((e) => SPEC_NAMES[e.type]),
      phase.outcome.events.map((e) => Object.keys(e)[0]),
      `${where}: the events in order`,
    );
    got.forEach((event, j) => {
      if ('topologyId' in event) assert.equal(event.topologyId, run.events.topologyId, `${where} event ${j + 1}: topologyId`);
      const expected = phase.outcome.events[j]!;
      const name = Object.keys(expected)[0]!;
      const { topologyId: _, ...fields } = expected[name] as Document;
      matches(specEvent(event)[name], fields, `${where} event ${j + 1} (${name})`);
    });
  });
}

for (const path of jsonFilesBelow(dir)) {
  describe(path, () => {
    const file = readSpecFile<MonitoringFile>(join(dir, path));
    test(file.description, () => {
      runFile(file);
      tally.passed++;
    });
  });
}

after(() => console.log(tally.summary()));
