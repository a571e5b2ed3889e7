import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NetworkError } from '../../../src/errors.js';
import { OpenCommands } from '../../../src/worker/open-commands.js';
import type { WorkerEvent } from '../../../src/worker/protocol.js';

const base = { commandName: 'insert', databaseName: 'db', connectionId: 1, address: '127.0.0.1:1', serverConnectionId: 7 };
const started = (requestId: number): WorkerEvent => ({ type: 'CommandStarted', ...base, requestId, command: new Uint8Array(5) });
const succeeded = (requestId: number): WorkerEvent => ({ type: 'CommandSucceeded', ...base, requestId, duration: 1, reply: new Uint8Array(5) });

test('a lost worker fails the commands it started and did not finish, once, with its fields and the given error', () => {
  const open = new OpenCommands();
  open.note(0, started(1));
  open.note(0, started(2));
  open.note(1, started(2));
  open.note(0, succeeded(1));
  open.note(0, { type: 'ConnectionCheckedIn', address: '127.0.0.1:1', connectionId: 1 });
  const error = new NetworkError('ERR_CONNECTION_CLOSED', 'worker 0 was lost');
  const failed = open.lost(0, error);
  assert.equal(failed.length, 1);
  const [event] = failed;
  assert.equal(event!.type, 'CommandFailed');
  assert.equal(event!.requestId, 2);
  assert.equal(event!.failure, error);
  assert.equal(event!.serverConnectionId, 7);
  assert.ok(event!.duration >= 0);
  assert.equal('command' in event!, false, 'the started command is not carried over');
  assert.deepEqual(open.lost(0, error), [], 'once');
  assert.equal(open.lost(1, error).length, 1, "the other worker's are its own");
});

test('clear() forgets every open command (command events stopped crossing)', () => {
  const open = new OpenCommands();
  open.note(0, started(1));
  open.clear();
  assert.deepEqual(open.lost(0, new NetworkError('ERR_CONNECTION_CLOSED', 'lost')), []);
});
