// What a session's mode puts on the wire, per topology type (server
// selection spec, "Passing read preference"), recorded by fake servers
// posing as a replica-set secondary, a mongos and a standalone.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'bson';
import { dial, Mode, type Session } from '../../../src/index.js';
import { defaultHello, startFakeServer, type FakeServer, type ReceivedCommand } from '../../fixtures/fake-server.js';

const servers: FakeServer[] = [];
const sessions: Session[] = [];
after(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await Promise.all(servers.map((s) => s.close()));
});

/** A fake server answering count and insert, with `hello` for its role. */
async function serverAs(hello: (address: string) => Document): Promise<FakeServer> {
  let address = '';
  const server = await startFakeServer((cmd: ReceivedCommand) => {
    if (cmd.name === 'hello' || cmd.name === 'isMaster') cmd.connection.reply(cmd, { ...hello(address), connectionId: cmd.connection.id });
    else if (cmd.name === 'count') cmd.connection.reply(cmd, { ok: 1, n: 0 });
    else if (cmd.name === 'insert') cmd.connection.reply(cmd, { ok: 1, n: 1 });
  });
  address = server.address;
  servers.push(server);
  return server;
}

async function sessionOn(server: FakeServer, query = ''): Promise<Session> {
  const session = await dial(`mongodb://${server.address}/?serverSelectionTimeoutMS=2000${query}`);
  sessions.push(session);
  return session;
}

/** The $readPreference of the last command named `name`, or undefined if it carried none. */
function sentReadPreference(server: FakeServer, name: string): Document | undefined {
  const cmd = server.received.filter((c) => c.name === name).at(-1);
  assert.ok(cmd, `the server received no ${name}`);
  return cmd.command.$readPreference;
}

describe('read preference on the wire', () => {
  test('direct connection to a replica-set secondary (Single): primary reads become primaryPreferred; writes carry none', async () => {
    const server = await serverAs((me) => ({
      ...defaultHello,
      isWritablePrimary: false,
      secondary: true,
      setName: 'rs0',
      hosts: [me],
      me,
    }));
    const session = await sessionOn(server, '&directConnection=true');
    const c = session.db('d').c('c');
    await c.count();
    assert.deepEqual(sentReadPreference(server, 'count'), { mode: 'primaryPreferred' });
    session.setMode(Mode.Secondary, true);
    await c.count();
    assert.deepEqual(sentReadPreference(server, 'count'), { mode: 'secondary' });
    await c.insert({ a: 1 }).catch(() => {});
    assert.equal(sentReadPreference(server, 'insert'), undefined);
  });

  test('mongos (Sharded): $readPreference for every mode but primary', async () => {
    const server = await serverAs(() => ({ ...defaultHello, msg: 'isdbgrid' }));
    const session = await sessionOn(server);
    const c = session.db('d').c('c');
    await c.count();
    assert.equal(sentReadPreference(server, 'count'), undefined, 'Strong = primary: nothing');
    session.setMode(Mode.Nearest, true);
    await c.count();
    assert.deepEqual(sentReadPreference(server, 'count'), { mode: 'nearest' });
    session.setMode(Mode.SecondaryPreferred, true);
    await c.count();
    assert.deepEqual(sentReadPreference(server, 'count'), { mode: 'secondaryPreferred' });
    await c.insert({ a: 1 });
    assert.equal(sentReadPreference(server, 'insert'), undefined);
  });

  test('standalone (Single): never a $readPreference', async () => {
    const server = await serverAs(() => defaultHello);
    const session = await sessionOn(server);
    const c = session.db('d').c('c');
    for (const mode of [Mode.Strong, Mode.Secondary, Mode.Eventual, Mode.Nearest]) {
      session.setMode(mode, true);
      await c.count();
      assert.equal(sentReadPreference(server, 'count'), undefined, `mode ${mode}`);
    }
  });
});
