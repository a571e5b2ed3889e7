// Command monitoring when a worker dies with a command in flight (workers
// only: with workers: 0 there is no thread to lose). The worker sent its
// CommandStarted, then died before the outcome: the main thread publishes
// the CommandFailed itself, with the error the operation gets (retryable,
// WorkerLost), before the operation settles, so that every started event
// has its outcome (command-logging-and-monitoring spec: a started event is
// followed by a succeeded or a failed one with its requestId).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkError } from '../../src/errors.js';
import type { CommandEvent } from '../../src/connection/command-events.js';
import type { EventHub } from '../../src/monitoring/event-hub.js';
import type { Published } from '../../src/monitoring/events.js';
import { Mode } from '../../src/session/modes.js';
import { openSession } from '../../src/session/session.js';
import { waitFor } from '../fixtures/wait.js';
import { workerTestEnv } from '../fixtures/worker-env.js';

const DB = `mgo_command_events_lost_${process.pid}`;
const env = workerTestEnv(DB);

test('workers 2: a worker terminated with an insert held at the server: commandFailed (WorkerLost) for its commandStarted, before the insert rejects', { timeout: 60_000 }, async () => {
  const bridge = await env.bridge();
  const router = await env.router(bridge.uri, { workers: 2 });
  const session = openSession(router, { mode: Mode.Strong, database: DB });
  // create()'s own hub when no dial gave one.
  const hub = router.events as EventHub;
  const log: (Published<CommandEvent> | string)[] = [];
  const push = (event: Published<CommandEvent>) => log.push(event);
  hub.on('commandStarted', push);
  hub.on('commandSucceeded', push);
  hub.on('commandFailed', push);
  try {
    const c = session.db(DB).c('lost');
    await c.insert({ _id: 'seed' });
    bridge.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: { times: 1 }, data: { failCommands: ['insert'], blockConnection: true, blockTimeMS: 5_000 } });
    const inserted = c.insert({ _id: 'held' }).then(
      () => 'resolved',
      (error: unknown) => error,
    );
    const isHeld = (e: Published<CommandEvent> | string): e is Published<CommandEvent> =>
      typeof e !== 'string' && e.type === 'CommandStarted' && e.commandName === 'insert' && (e.command.documents as { _id: string }[])[0]?._id === 'held';
    await waitFor('the held insert is started', () => log.some(isHeld), 15_000);
    const started = log.find(isHeld)!;
    await router.workerThread(started.workerId!)!.terminate();
    const outcome = await inserted;
    log.push('settled');
    assert.ok(outcome instanceof NetworkError && outcome.errorLabels.has('WorkerLost'), `the insert fails with the worker's loss: ${String(outcome)}`);
    const outcomes = log.filter((e): e is Published<CommandEvent> => typeof e !== 'string' && e.type !== 'CommandStarted' && e.requestId === started.requestId && e.workerId === started.workerId);
    assert.equal(outcomes.length, 1, 'one outcome for the started event');
    const failed = outcomes[0]!;
    assert.equal(failed.type, 'CommandFailed');
    if (failed.type !== 'CommandFailed') return;
    assert.ok(log.indexOf(failed) < log.indexOf('settled'), 'failed before the operation settles');
    assert.equal(failed.commandName, 'insert');
    assert.equal(failed.databaseName, DB);
    assert.equal(failed.connectionId, started.connectionId);
    assert.equal(failed.address, started.address);
    assert.ok(failed.duration >= 0);
    assert.ok(failed.failure instanceof NetworkError && failed.failure.errorLabels.has('WorkerLost'), `failure ${String(failed.failure)}`);
  } finally {
    hub.removeAllListeners();
    await session.close();
    await router.destroy();
  }
});
