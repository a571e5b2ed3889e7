// Scenario 8: what observing costs (issue 15). mgo-threads at workers 0
// and 2 runs `concurrency` loops of find one tweet against the canned-reply
// server, each as three dials side by side, interleaved: nobody listening,
// command listeners on session.events (commandStarted/Succeeded/Failed),
// and every event (command, pool and topology listeners). The official
// driver runs beside it without and with monitorCommands + listeners.
// Reported per variant: ops/s, the main thread's time per operation and its
// CPU time, p99 event-loop delay.
//
// With nobody listening, what remains per operation is the check of who
// observes (EventHub.wanted(): listener counts and the diagnostics_channel
// subscribers); the probe row times that check alone, per call.
import { MongoClient } from 'mongodb';
import { EVENT_LOOP_DELAY_P99, MAIN_CPU_US_PER_OP, MAIN_US_PER_OP, OPS_PER_SECOND, runCells } from '../lib/cells.js';
import { openClient, type BenchClient, type Variant } from '../lib/clients.js';
import type { Results } from '../lib/results.js';
import { EventHub } from '../../src/monitoring/event-hub.js';
import { EVENT_TYPES, publicName, type PublicEventName } from '../../src/monitoring/events.js';

export interface EventsConfig {
  reps: number;
  durationMS: number;
  warmupMS: number;
  concurrency: number;
  workers: number[];
}

export const EVENTS_SCENARIO = 'events: find one tweet, idle app';
export const WANTED_PROBE_SCENARIO = 'events: EventHub.wanted() per call';

export type Observing = 'none' | 'commands' | 'all';
const SUFFIX: Record<Observing, string> = { none: '', commands: ' +command listeners', all: ' +all listeners' };

export const eventsVariant = (workers: number | null, observing: Observing): string => `${workers === null ? 'official' : `mgo w${workers}`}${SUFFIX[observing]}`;

const noop = (): void => {};

function listen(on: (name: PublicEventName, listener: () => void) => void, observing: Observing): void {
  const kinds = observing === 'all' ? (['command', 'pool', 'topology'] as const) : observing === 'commands' ? (['command'] as const) : [];
  for (const kind of kinds) for (const type of EVENT_TYPES[kind]) on(publicName(type), noop);
}

async function openObserved(workers: number | null, observing: Observing, uri: string, poolLimit: number): Promise<BenchClient> {
  const variant: Variant = { name: eventsVariant(workers, observing), workers };
  if (workers === null && observing !== 'none') return openOfficialObserved(variant, uri, poolLimit);
  const client = await openClient(variant, uri, { poolLimit });
  if (client.session) listen((name, listener) => client.session!.events.on(name, listener), observing);
  return client;
}

/** The official driver with monitorCommands and a listener on each of its events (command, pool, SDAM). */
async function openOfficialObserved(variant: Variant, uri: string, poolLimit: number): Promise<BenchClient> {
  const client = new MongoClient(uri, { directConnection: true, maxPoolSize: poolLimit, monitorCommands: true });
  for (const name of ['commandStarted', 'commandSucceeded', 'commandFailed']) client.on(name as 'commandStarted', noop);
  await client.connect();
  const unused = (): never => {
    throw new Error(`${variant.name}: the events scenario only finds`);
  };
  return {
    variant,
    command: (db, command) => client.db(db).command(command),
    findOne: (db, collection, filter) => client.db(db).collection(collection).findOne(filter),
    insertOne: unused,
    insertMany: unused,
    forEach: unused,
    dropDatabase: unused,
    close: () => client.close(),
  };
}

/** Microseconds per EventHub.wanted() call with nobody observing (the per-operation check of workers > 0). */
function wantedProbe(calls: number): number {
  const hub = new EventHub();
  let mask = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) mask |= hub.wanted();
  const micros = Number(process.hrtime.bigint() - started) / 1000 / calls;
  if (mask !== 0) throw new Error('wantedProbe: somebody observes');
  return micros;
}

export async function runEvents(uri: string, poolLimit: number, config: EventsConfig, results: Results): Promise<void> {
  const clients: BenchClient[] = [];
  try {
    for (const workers of [...config.workers, null]) {
      for (const observing of workers === null ? (['none', 'commands'] as const) : (['none', 'commands', 'all'] as const)) {
        clients.push(await openObserved(workers, observing, uri, poolLimit));
      }
    }
    const window = { concurrency: config.concurrency, durationMS: config.durationMS };
    await runCells(
      clients,
      [{ scenario: EVENTS_SCENARIO, op: (c) => () => c.findOne('bench', 'tweet', { _id: 1 }), window }],
      config.reps,
      config.warmupMS,
      [OPS_PER_SECOND, MAIN_US_PER_OP, MAIN_CPU_US_PER_OP, EVENT_LOOP_DELAY_P99],
      results,
    );
    const probe = Array.from({ length: config.reps }, () => wantedProbe(1_000_000));
    results.add(WANTED_PROBE_SCENARIO, { name: 'mgo (any)', workers: 0 }, 'per_call', 'µs', probe);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}
