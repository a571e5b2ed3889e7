// A Connection's command events against a scripted server (command
// monitoring spec): produced only while its outlet wants them and never for
// the handshake; fields; document sequences folded in; { ok: 1 } for an
// unacknowledged write; failed for ok: 0 and for a network error; the
// spec's redaction of sensitive commands.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON } from 'bson';
import { Connection, type ConnectionOptions } from '../../../src/connection/connection.js';
import type { CommandEvent, CommandEventOutlet, CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent } from '../../../src/connection/command-events.js';
import { NetworkError, ServerError } from '../../../src/errors.js';
import { startFakeServer, type FakeServer, type ReceivedCommand } from '../../fixtures/fake-server.js';

const servers: FakeServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function fake(...args: Parameters<typeof startFakeServer>): Promise<FakeServer> {
  const server = await startFakeServer(...args);
  servers.push(server);
  return server;
}

/** An outlet that records what it is given, wanting events while `on`. */
function recorder(on = true): CommandEventOutlet & { events: CommandEvent[]; asked: number; on: boolean } {
  const outlet = {
    events: [] as CommandEvent[],
    asked: 0,
    on,
    wanted: () => {
      outlet.asked++;
      return outlet.on;
    },
    publish: (event: CommandEvent) => void outlet.events.push(event),
  };
  return outlet;
}

function options(server: FakeServer, outlet: CommandEventOutlet, extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return { id: 7, generation: 0, host: server.host, port: server.port, address: `${server.host}:${server.port}`, connectTimeoutMS: 2000, socketTimeoutMS: 0, commandEvents: outlet, ...extra };
}

function lastReceived(server: FakeServer, name: string): ReceivedCommand {
  return server.received.filter((c) => c.name === name).at(-1)!;
}

describe('Connection command events', () => {
  test('none for the handshake; started then succeeded around a command, with its fields; none while the outlet wants none', async () => {
    const server = await fake();
    const outlet = recorder();
    const conn = await Connection.connect(options(server, outlet));
    try {
      assert.equal(outlet.events.length, 0, 'the handshake hello is no event');
      await conn.command('db', { ping: 1 });
      assert.deepEqual(
        outlet.events.map((e) => e.type),
        ['CommandStarted', 'CommandSucceeded'],
      );
      const started = outlet.events[0] as CommandStartedEvent;
      const succeeded = outlet.events[1] as CommandSucceededEvent;
      const sent = lastReceived(server, 'ping');
      for (const event of [started, succeeded]) {
        assert.equal(event.commandName, 'ping');
        assert.equal(event.databaseName, 'db');
        assert.equal(event.requestId, sent.requestId, 'the OP_MSG request id');
        assert.equal(event.connectionId, 7);
        assert.equal(event.address, `${server.host}:${server.port}`);
        assert.equal(event.serverConnectionId, 1, "the hello's connectionId");
      }
      assert.deepEqual(started.command, { ping: 1, $db: 'db' });
      assert.deepEqual(succeeded.reply, { ok: 1 });
      assert.ok(succeeded.duration >= 0);

      outlet.on = false;
      const asked = outlet.asked;
      await conn.command('db', { ping: 1 });
      await conn.commandBytes('db', { ping: 1 });
      assert.equal(outlet.events.length, 2, 'nothing built while not wanted');
      assert.equal(outlet.asked - asked, 2, 'one question per command');
    } finally {
      conn.destroy();
    }
  });

  test('document sequences (documents or encoded bytes) are folded in as arrays; commandBytes publishes the decoded reply', async () => {
    const server = await fake((cmd) => {
      if (cmd.name === 'insert') cmd.connection.reply(cmd, { n: 2, ok: 1 });
    });
    const outlet = recorder();
    const conn = await Connection.connect(options(server, outlet));
    try {
      await conn.command('db', { insert: 'c' }, { sequences: [{ identifier: 'documents', documents: [{ a: 1 }, { a: 2 }] }] });
      const bytes = Buffer.concat([BSON.serialize({ b: 1 }), BSON.serialize({ b: 2 })]);
      await conn.commandBytes('db', { insert: 'c' }, { sequences: [{ identifier: 'documents', bytes, count: 2 }] });
      const started = outlet.events.filter((e) => e.type === 'CommandStarted');
      assert.deepEqual(started.map((e) => e.command.documents), [
        [{ a: 1 }, { a: 2 }],
        [{ b: 1 }, { b: 2 }],
      ]);
      const replies = outlet.events.filter((e) => e.type === 'CommandSucceeded').map((e) => e.reply);
      assert.deepEqual(replies, [
        { n: 2, ok: 1 },
        { n: 2, ok: 1 },
      ]);
    } finally {
      conn.destroy();
    }
  });

  test('an unacknowledged write (moreToCome) succeeds with { ok: 1 }', async () => {
    const server = await fake();
    const outlet = recorder();
    const conn = await Connection.connect(options(server, outlet));
    try {
      await conn.command('db', { insert: 'c', writeConcern: { w: 0 } }, { moreToCome: true, sequences: [{ identifier: 'documents', documents: [{ a: 1 }] }] });
      assert.deepEqual(
        outlet.events.map((e) => e.type),
        ['CommandStarted', 'CommandSucceeded'],
      );
      assert.deepEqual(outlet.events[1]!.type === 'CommandSucceeded' && outlet.events[1]!.reply, { ok: 1 });
    } finally {
      conn.destroy();
    }
  });

  test('ok: 0 fails with the ServerError, a cut connection with the NetworkError; the caller gets the same error after the event', async () => {
    const server = await fake((cmd) => {
      if (cmd.name === 'refused') cmd.connection.reply(cmd, { ok: 0, errmsg: 'no', code: 59, codeName: 'CommandNotFound' });
      if (cmd.name === 'cut') cmd.connection.socket.destroy();
    });
    const outlet = recorder();
    const conn = await Connection.connect(options(server, outlet));
    let refusal: unknown;
    await conn.command('db', { refused: 1 }).catch((err) => (refusal = err));
    assert.ok(refusal instanceof ServerError);
    const failed = outlet.events.at(-1)!;
    assert.equal(failed.type, 'CommandFailed');
    assert.equal(failed.type === 'CommandFailed' && failed.failure, refusal);
    let cut: unknown;
    await conn.command('db', { cut: 1 }).catch((err) => (cut = err));
    assert.ok(cut instanceof NetworkError);
    const [started, failedToo] = outlet.events.slice(-2);
    assert.equal(started!.type, 'CommandStarted');
    assert.equal(failedToo!.type === 'CommandFailed' && failedToo!.failure, cut);
    assert.equal(failedToo!.requestId, started!.requestId);
  });

  test('sensitive commands (saslStart, hello with speculativeAuthenticate) show {}; a server error of theirs keeps only code, codeName and labels', async () => {
    const secret = 'r=s3cr3t-n0nce';
    const server = await fake((cmd) => {
      if (cmd.name === 'saslStart') cmd.connection.reply(cmd, { ok: 0, errmsg: `bad payload ${secret}`, code: 18, codeName: 'AuthenticationFailed', errorLabels: ['L'] });
      if (cmd.name === 'saslContinue') cmd.connection.reply(cmd, { ok: 1, payload: Buffer.from(secret), done: true });
    });
    const outlet = recorder();
    const conn = await Connection.connect(options(server, outlet));
    try {
      await assert.rejects(conn.command('admin', { saslStart: 1, payload: Buffer.from(secret) }), ServerError);
      await conn.command('admin', { saslContinue: 1, payload: Buffer.from(secret) });
      await conn.command('admin', { hello: 1, speculativeAuthenticate: { saslStart: 1 } });
      await conn.command('admin', { hello: 1 });
      const [saslStart, saslFailed, saslContinue, continued, hello, helloOk, plainHello, plainOk] = outlet.events;
      assert.deepEqual(saslStart!.type === 'CommandStarted' && saslStart!.command, {});
      assert.ok(saslFailed!.type === 'CommandFailed' && saslFailed!.failure instanceof ServerError);
      const failure = (saslFailed as CommandFailedEvent).failure as ServerError;
      assert.equal(failure.serverCode, 18);
      assert.equal(failure.codeName, 'AuthenticationFailed');
      assert.deepEqual([...failure.errorLabels], ['L']);
      assert.ok(!failure.message.includes(secret));
      assert.deepEqual(saslContinue!.type === 'CommandStarted' && saslContinue!.command, {});
      assert.deepEqual(continued!.type === 'CommandSucceeded' && continued!.reply, {});
      assert.deepEqual(hello!.type === 'CommandStarted' && hello!.command, {});
      assert.deepEqual(helloOk!.type === 'CommandSucceeded' && helloOk!.reply, {});
      assert.equal(plainHello!.type === 'CommandStarted' && plainHello!.command.hello, 1, 'hello without speculativeAuthenticate is not redacted');
      assert.equal(plainOk!.type === 'CommandSucceeded' && plainOk!.reply.ok, 1);
      assert.ok(!JSON.stringify(outlet.events, (_, v) => (v instanceof Error ? v.message : v)).includes(secret));
    } finally {
      conn.destroy();
    }
  });
});

test('the spec redaction matches command names in any case, and hello only with speculativeAuthenticate', async () => {
  const { isSensitiveCommand, isSensitiveCommandName } = await import('../../../src/connection/command-monitoring.js');
  for (const name of ['saslStart', 'SASLSTART', 'saslcontinue', 'createUser', 'CreateUser', 'copydbSaslStart']) assert.ok(isSensitiveCommand(name, {}), name);
  assert.ok(isSensitiveCommandName('UpdateUser'));
  assert.equal(isSensitiveCommand('find', {}), false);
  assert.equal(isSensitiveCommand('hello', {}), false);
  assert.ok(isSensitiveCommand('isMaster', { speculativeAuthenticate: {} }));
});
