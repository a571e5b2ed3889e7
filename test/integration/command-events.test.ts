// Command monitoring against the test server, for workers 0 and 2 (issue
// 15 items 1 and 4; command-logging-and-monitoring spec, "Command
// Monitoring"): started, then succeeded or failed, then the operation
// settles; the events' fields (document sequences folded in, BSON types
// kept across the thread crossing, workerId); the diagnostics_channel
// messages; monitorCommands; and the redaction of a sensitive command on a
// server with SCRAM on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import {
  Binary,
  dial,
  Long,
  ObjectId,
  ServerError,
  type CommandEvent,
  type CommandFailedEvent,
  type CommandStartedEvent,
  type CommandSucceededEvent,
  type Published,
  type Session,
} from '../../src/index.js';
import { WANT_COMMAND } from '../../src/monitoring/events.js';
import { testServerForFile } from '../fixtures/file-server.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';

const DB = `mgo_command_events_${process.pid}`;
const server = testServerForFile(DB);

/** Every command event of a session's hub, in the order emitted, with "settled" markers the test adds. */
function record(session: Session): { log: (Published<CommandEvent> | string)[]; stop(): void } {
  const log: (Published<CommandEvent> | string)[] = [];
  const push = (event: Published<CommandEvent>) => log.push(event);
  session.events.on('commandStarted', push);
  session.events.on('commandSucceeded', push);
  session.events.on('commandFailed', push);
  return {
    log,
    stop() {
      session.events.off('commandStarted', push);
      session.events.off('commandSucceeded', push);
      session.events.off('commandFailed', push);
    },
  };
}

function of<T extends CommandEvent['type']>(log: readonly (Published<CommandEvent> | string)[], type: T, commandName: string) {
  return log.filter((e): e is Published<Extract<CommandEvent, { type: T }>> => typeof e !== 'string' && e.type === type && e.commandName === commandName);
}

function checkWorkerId(event: { workerId?: number }, workers: number): void {
  if (workers === 0) assert.equal(event.workerId, undefined);
  else assert.ok(Number.isInteger(event.workerId) && event.workerId! >= 0 && event.workerId! < workers, `workerId ${event.workerId}`);
}

describe('command events', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: an insert's started and succeeded, then the operation resolves; fields and BSON types`, { timeout: 60_000 }, async () => {
      const session = await dial(server.uri, { workers });
      const { log, stop } = record(session);
      try {
        const id = new ObjectId();
        await session.db(DB).c(`insert${workers}`).insert({ _id: id, big: Long.fromString('9007199254740993') });
        log.push('resolved');
        const started = of(log, 'CommandStarted', 'insert');
        const succeeded = of(log, 'CommandSucceeded', 'insert');
        assert.equal(started.length, 1);
        assert.equal(succeeded.length, 1);
        const [s, ok] = [started[0]!, succeeded[0]!];
        assert.ok(log.indexOf(s) < log.indexOf(ok) && log.indexOf(ok) < log.indexOf('resolved'), 'started < succeeded < resolved');
        for (const event of [s, ok]) {
          assert.equal(event.databaseName, DB);
          assert.equal(event.address, server.address);
          assert.ok(Number.isInteger(event.connectionId));
          assert.ok(event.serverConnectionId === undefined || typeof event.serverConnectionId === 'number');
          checkWorkerId(event, workers);
        }
        assert.equal(ok.requestId, s.requestId);
        assert.equal(ok.connectionId, s.connectionId);
        assert.equal(s.command.insert, `insert${workers}`);
        assert.equal(s.command.$db, DB);
        // The documents went as an OP_MSG sequence: folded in as an array, their BSON types kept.
        assert.ok(Array.isArray(s.command.documents));
        assert.ok(s.command.documents[0]._id instanceof ObjectId && s.command.documents[0]._id.equals(id));
        assert.ok(s.command.documents[0].big instanceof Long && s.command.documents[0].big.toString() === '9007199254740993');
        assert.equal(ok.reply.ok, 1);
        assert.equal(ok.reply.n, 1);
        assert.ok(typeof ok.duration === 'number' && ok.duration >= 0);
      } finally {
        stop();
        await session.close();
      }
    });

    test(`workers ${workers}: a command the server refuses is started then failed, with the ServerError, before the operation rejects`, { timeout: 60_000 }, async () => {
      const session = await dial(server.uri, { workers });
      const { log, stop } = record(session);
      try {
        await assert.rejects(session.db(DB).run({ noSuchCommandHere: 1 }), ServerError);
        log.push('rejected');
        const [s] = of(log, 'CommandStarted', 'noSuchCommandHere');
        const [failed] = of(log, 'CommandFailed', 'noSuchCommandHere');
        assert.ok(s && failed);
        assert.ok(log.indexOf(s) < log.indexOf(failed) && log.indexOf(failed) < log.indexOf('rejected'));
        assert.equal(failed.requestId, s.requestId);
        assert.ok(failed.failure instanceof ServerError, `failure ${failed.failure}`);
        assert.ok(failed.duration >= 0);
        checkWorkerId(failed, workers);
      } finally {
        stop();
        await session.close();
      }
    });

    test(`workers ${workers}: the mgo-threads:command:* channels get the events without any listener`, { timeout: 60_000 }, async () => {
      const session = await dial(server.uri, { workers });
      const messages: Record<string, Published<CommandEvent>[]> = { started: [], succeeded: [], failed: [] };
      const subscribers = Object.keys(messages).map((name) => {
        const subscriber = (message: unknown) => messages[name]!.push(message as Published<CommandEvent>);
        diagnosticsChannel.subscribe(`mgo-threads:command:${name}`, subscriber);
        return [name, subscriber] as const;
      });
      try {
        assert.equal(session.events.listenerCount('commandStarted'), 0);
        await session.db(DB).run({ ping: 1 });
        await assert.rejects(session.db(DB).run({ noSuchCommandHere: 1 }));
        const started = messages.started!.find((m) => m.commandName === 'ping') as CommandStartedEvent & { workerId?: number };
        const succeeded = messages.succeeded!.find((m) => m.commandName === 'ping') as CommandSucceededEvent & { workerId?: number };
        const failed = messages.failed!.find((m) => m.commandName === 'noSuchCommandHere') as CommandFailedEvent & { workerId?: number };
        assert.ok(started && succeeded && failed);
        for (const m of [started, succeeded, failed]) {
          assert.ok(Number.isInteger(m.requestId));
          assert.equal(m.address, server.address);
          assert.equal(m.databaseName, DB);
          checkWorkerId(m, workers);
        }
        assert.equal(succeeded.requestId, started.requestId);
        assert.equal(succeeded.reply.ok, 1);
        assert.ok(succeeded.duration >= 0 && failed.duration >= 0);
        assert.ok(failed.failure instanceof ServerError);
      } finally {
        for (const [name, subscriber] of subscribers) diagnosticsChannel.unsubscribe(`mgo-threads:command:${name}`, subscriber);
        await session.close();
      }
    });
  }

  test('monitorCommands (URL or options) asks for command events with nobody listening; off by default', { timeout: 60_000 }, async () => {
    const plain = await dial(server.uri);
    const byOption = await dial(server.uri, { monitorCommands: true });
    const byUrl = await dial(`${server.uri}${server.uri.includes('?') ? '&' : '?'}monitorCommands=true`);
    try {
      assert.equal(plain.events.wanted() & WANT_COMMAND, 0);
      assert.equal(byOption.events.wanted() & WANT_COMMAND, WANT_COMMAND);
      assert.equal(byUrl.events.wanted() & WANT_COMMAND, WANT_COMMAND);
    } finally {
      await Promise.all([plain.close(), byOption.close(), byUrl.close()]);
    }
  });
});

describe('command events on a server with SCRAM on', () => {
  const USER = 'grace';
  const PASSWORD = 'c0mmand-ev3nts-secret';
  let scram: TestServer;

  before(async () => {
    scram = await startTestServer({ user: { name: USER, password: PASSWORD } });
  });

  after(async () => {
    await scram?.stop();
  });

  for (const workers of [0, 2]) {
    test(`workers ${workers}: saslStart is redacted ({} command, {} reply or a failure without its message); the handshake's authentication is no event; no credential anywhere`, { timeout: 60_000 }, async () => {
      const uri = `mongodb://${USER}:${PASSWORD}@${scram.address}/?authSource=admin`;
      const session = await dial(uri, { workers });
      const { log, stop } = record(session);
      try {
        await session.db(DB).c('c').insert({ a: 1 });
        const clientFirst = `n,,n=${USER},r=clientnonce0123456789`;
        const payload = new Binary(Buffer.from(clientFirst));
        await session
          .db('admin')
          .run({ saslStart: 1, mechanism: 'SCRAM-SHA-256', payload, autoAuthorize: 1 })
          .catch(() => {});
        const [started] = of(log, 'CommandStarted', 'saslStart');
        assert.ok(started, 'saslStart is a command event');
        assert.deepEqual(started.command, {});
        const [succeeded] = of(log, 'CommandSucceeded', 'saslStart');
        const [failed] = of(log, 'CommandFailed', 'saslStart');
        if (succeeded) assert.deepEqual(succeeded.reply, {});
        else assert.ok(failed && !failed.failure.message.includes(USER), 'a failure without the command or reply');
        // Sockets authenticated in their handshake: no saslStart/saslContinue but the test's own.
        assert.equal(of(log, 'CommandStarted', 'saslContinue').length, 0);
        assert.equal(of(log, 'CommandStarted', 'saslStart').length, 1);
        const text = JSON.stringify(log, (_, v) => (v instanceof Error ? `${v.name}: ${v.message}` : v));
        assert.ok(!text.includes(PASSWORD), 'no password');
        assert.ok(!text.includes('clientnonce0123456789'), 'no SCRAM value');
      } finally {
        stop();
        await session.close();
      }
    });
  }
});
