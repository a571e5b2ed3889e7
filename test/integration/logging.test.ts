// The logging spec against the test server, workers 0 and 2: a dial's
// `logger` option gets "Command succeeded", "Connection checked out" and
// server selection messages with the spec's fields; with workers, each message of a
// worker's events is written once, on the main thread, with the worker's
// id; server selection logs name the operation; setLogger()/setDebug()
// write through mgo's Output; and a SCRAM dial's log, every message of
// every component, holds no password.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dial, setDebug, setLogger, type LogMessage } from '../../src/index.js';
import { testServerForFile } from '../fixtures/file-server.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';

const DB = `mgo_logging_${process.pid}`;
const server = testServerForFile(DB);

function collector(): { messages: LogMessage[]; destination: (m: LogMessage) => void } {
  const messages: LogMessage[] = [];
  return { messages, destination: (m) => void messages.push(m) };
}

describe('logging', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: connection and server selection messages with the spec's fields, each once, on this thread`, { timeout: 60_000 }, async () => {
      const { messages, destination } = collector();
      const session = await dial(server.uri, { workers, logger: { destination, levels: { command: 'debug', connection: 'debug', serverSelection: 'debug' } } });
      try {
        const c = session.db(DB).c(`w${workers}`);
        await c.insert({ _id: 1, secret: 'x' });
        assert.deepEqual(await c.find({ _id: 1 }).one(), { _id: 1, secret: 'x' });
      } finally {
        await session.close();
      }
      const checkedOut = messages.filter((m) => m.message === 'Connection checked out');
      assert.ok(checkedOut.length >= 2, 'the ping and the insert checked out connections');
      for (const m of checkedOut) {
        assert.equal(m.component, 'connection');
        assert.equal(m.serverHost, server.host);
        assert.equal(typeof m.durationMS, 'number');
        assert.equal(typeof m.driverConnectionId, 'number');
        assert.equal(m.workerId === undefined, workers === 0, 'a worker\'s events carry its id');
      }
      // Each connection's events are logged once: one "created" per worker and connection id.
      const created = messages.filter((m) => m.message === 'Connection created').map((m) => `${String(m.workerId)}/${String(m.driverConnectionId)}`);
      assert.ok(created.length >= 1);
      assert.equal(new Set(created).size, created.length, 'no connection logged twice');
      assert.equal(messages.filter((m) => m.message === 'Connection pool created').length, Math.max(1, workers), 'one pool per worker');
      // Server selection: the insert's, named by its command.
      const selections = messages.filter((m) => m.component === 'serverSelection' && m.operation === 'insert');
      assert.deepEqual(selections.map((m) => m.message), ['Server selection started', 'Server selection succeeded']);
      assert.equal(selections[1]!.serverPort, server.port);
    });
  }

  for (const workers of [0, 2]) {
    test(`workers ${workers}: command messages with the spec's fields, each command once`, { timeout: 60_000 }, async () => {
      const { messages, destination } = collector();
      const session = await dial(server.uri, { workers, logger: { destination, levels: { command: 'debug' } } });
      try {
        const c = session.db(DB).c(`cmd${workers}`);
        await c.insert({ _id: 1, secret: 'x' });
        assert.deepEqual(await c.find({ _id: 1 }).one(), { _id: 1, secret: 'x' });
      } finally {
        await session.close();
      }
      assert.ok(messages.every((m) => m.component === 'command'), 'only the component asked for');
      const succeeded = messages.filter((m) => m.message === 'Command succeeded' && m.commandName === 'find');
      assert.equal(succeeded.length, 1, 'one find, logged once');
      const find = succeeded[0]!;
      assert.equal(find.severity, 'debug');
      assert.equal(find.databaseName, DB);
      assert.equal(find.serverHost, server.host);
      assert.equal(find.serverPort, server.port);
      assert.equal(typeof find.driverConnectionId, 'number');
      assert.equal(typeof find.requestId, 'number');
      assert.equal(typeof find.durationMS, 'number');
      assert.equal(find.workerId === undefined, workers === 0, "a worker's command carries its id");
      assert.match(find.reply as string, /"firstBatch":\[\{"_id":1,"secret":"x"\}\]/);
      const started = messages.find((m) => m.message === 'Command started' && m.commandName === 'find');
      assert.match(started?.command as string, /^\{"find":"cmd\d","filter":\{"_id":1\}/);
      const ids = messages.filter((m) => m.message === 'Command started').map((m) => `${String(m.workerId)}/${String(m.driverConnectionId)}/${String(m.requestId)}`);
      assert.equal(new Set(ids).size, ids.length, 'no command logged twice');
      assert.ok(!messages.some((m) => m.commandName === 'hello' || m.commandName === 'isMaster'), 'no handshake or heartbeat');
    });
  }

  for (const workers of [0, 2]) {
    test(`workers ${workers}: setLogger + setDebug, set on an open dial, log through mgo's Output`, { timeout: 60_000 }, async () => {
      const lines: string[] = [];
      const session = await dial(server.uri, { workers });
      try {
        await session.db(DB).c(`quiet${workers}`).insert({ _id: 1 });
        assert.equal(lines.length, 0);
        setLogger({ Output: (_depth: number, s: string) => lines.push(s) });
        setDebug(true);
        // A fresh copy (Strong): its find selects and checks a connection out.
        const copy = session.copy();
        await copy.db(DB).c(`quiet${workers}`).find({}).all();
        await copy.close();
        setDebug(false);
        setLogger(null);
      } finally {
        setDebug(false);
        setLogger(null);
        await session.close();
      }
      assert.ok(lines.some((l) => /^debug connection: Connection checked out \{"serverHost":/.test(l)), lines.join('\n'));
      assert.ok(lines.some((l) => /^debug serverSelection: Server selection succeeded \{.*"operation":"find"/.test(l)), lines.join('\n'));
    });
  }
});

describe('logging with SCRAM', () => {
  const USER = 'log_user';
  const PASSWORD = 'pw-that-must-not-be-logged-7Q';
  let secure: TestServer;
  before(async () => {
    secure = await startTestServer({ user: { name: USER, password: PASSWORD } });
  });
  after(async () => {
    await secure?.stop();
  });

  for (const workers of [0, 2]) {
    test(`workers ${workers}: no message of any component holds the password`, { timeout: 60_000 }, async () => {
      const { messages, destination } = collector();
      const url = `mongodb://${USER}:${PASSWORD}@${secure.address}/?authSource=admin`;
      const session = await dial(url, { workers, logger: { destination, levels: { default: 'trace' }, maxDocumentLength: 0 } });
      try {
        await session.db(DB).c(`auth${workers}`).insert({ _id: 1 });
        await session.db(DB).c(`auth${workers}`).find({}).all();
      } finally {
        await session.close();
      }
      assert.ok(messages.some((m) => m.message === 'Connection checked out'), 'messages were logged');
      assert.ok(messages.some((m) => m.message === 'Command succeeded' && m.commandName === 'find'), 'commands were logged');
      const text = JSON.stringify(messages);
      assert.ok(!text.includes(PASSWORD), 'the password appears in no message');
      for (const m of messages.filter((x) => x.commandName === 'saslStart' || x.commandName === 'saslContinue')) {
        if (m.command !== undefined) assert.equal(m.command, '{}');
        if (m.reply !== undefined) assert.equal(m.reply, '{}');
      }
    });
  }
});
