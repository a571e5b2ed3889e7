// Issue 14, item 10: user management (mgo's UpsertUser, AddUser,
// RemoveUser), workers 0 and 2. Round trips against FerretDB 1.24 with
// authentication on (its "new auth": createUser, updateUser and dropUser
// exist, but roles other than [] and customData are "not implemented
// yet"), logging in as the users made; the commands' shapes, roles included,
// against a scripted server, which also echoes a password in an error.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import type { Document } from 'bson';
import { dial, ErrNotFound, MgoError, QueryError, RoleRead, RoleReadAny, RoleReadWrite, RoleReadWriteAny, type Session } from '../../src/index.js';
import { startFakeServer, type FakeServer, type ReceivedCommand } from '../fixtures/fake-server.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';

const ROOT = { name: 'root', password: 'root-pw-9f3a' };
const DB = `mgo_users_${process.pid}`;
let server: TestServer;
let fake: FakeServer;
/** The scripted server's users, as "db.name". */
const fakeUsers = new Set<string>();

/** A user registry: updateUser and dropUser of an unknown user fail with UserNotFound; createUser of a known one with an error that echoes the command, password included. */
function scriptedUsers(cmd: ReceivedCommand): void {
  const c = cmd.command;
  const key = `${c.$db}.${c[cmd.name]}`;
  const fail = (code: number, codeName: string, errmsg: string) => cmd.connection.reply(cmd, { ok: 0, code, codeName, errmsg });
  if (cmd.name === 'updateUser') {
    if (String(c.updateUser).startsWith('first')) fail(13, 'Unauthorized', 'not authorized on admin to execute command');
    else if (!fakeUsers.has(key)) fail(11, 'UserNotFound', `User ${key} not found`);
  } else if (cmd.name === 'createUser') {
    if (fakeUsers.has(key)) fail(51003, 'Location51003', `User "${key}" already exists: ${JSON.stringify({ createUser: c.createUser, pwd: c.pwd })}`);
    else fakeUsers.add(key);
  } else if (cmd.name === 'dropUser') {
    if (!fakeUsers.delete(key)) fail(11, 'UserNotFound', `User '${key}' not found`);
  }
}

before(async () => {
  [server, fake] = await Promise.all([startTestServer({ user: ROOT }), startFakeServer(scriptedUsers)]);
});

after(async () => {
  await Promise.all([server?.stop(), fake?.close()]);
});

const USER_COMMANDS = new Set(['createUser', 'updateUser', 'dropUser']);

function userCommandsSince(from: number): Document[] {
  return fake.received
    .slice(from)
    .filter((c) => USER_COMMANDS.has(c.name))
    .map((c) => {
      const { lsid: _lsid, $readPreference: _rp, ...command } = c.command;
      return command;
    });
}

function dialAsRoot(workers: number): Promise<Session> {
  return dial(`mongodb://${server.address}/?authSource=admin`, { workers, auth: { username: ROOT.name, password: ROOT.password } });
}

/**
 * Logs in as `username` on a router of its own: a login() with a
 * credential its router saw before may run on a socket authenticated
 * earlier, which says nothing of the password the server holds now.
 */
async function loginAs(username: string, password: string): Promise<string[]> {
  // workers 0: the user's own dial checks the server's state; the admin session under test runs with either.
  const session = await dial(`mongodb://${server.address}/${DB}?authSource=${DB}`, { workers: 0, auth: { username, password } });
  try {
    return await authenticatedUsers(session);
  } finally {
    await session.close();
  }
}

/** The users the server says `session`'s socket is authenticated as. */
async function authenticatedUsers(session: Session): Promise<string[]> {
  const reply = await session.run({ connectionStatus: 1 });
  return (reply.authInfo?.authenticatedUsers ?? []).map((u: { user: string; db: string }) => `${u.db}.${u.user}`);
}

/** The error `promise` rejects with, checked to carry nothing of `password`. */
async function errorWithout(promise: Promise<unknown>, password: string): Promise<MgoError> {
  const err = await promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MgoError, `an MgoError: ${String(err)}`);
  for (const text of [err.message, err.stack ?? '', JSON.stringify(err), String(err), inspect(err, { depth: 10 })]) assert.ok(!text.includes(password), `the password appears in: ${text}`);
  return err;
}

for (const workers of [0, 2]) {
  describe(`workers ${workers}`, () => {
    test('FerretDB: upsertUser creates, then changes the password; the user logs in; removeUser drops it', { timeout: 60_000 }, async () => {
      const session = await dialAsRoot(workers);
      const username = `ann${workers}`;
      try {
        await session.db(DB).upsertUser({ username, password: 'ann-pw-one' });
        assert.deepEqual(await loginAs(username, 'ann-pw-one'), [`${DB}.${username}`]);

        await session.db(DB).upsertUser({ username, password: 'ann-pw-two' });
        await assert.rejects(loginAs(username, 'ann-pw-one'), (err: MgoError) => err.code === 'ERR_AUTH');
        assert.deepEqual(await loginAs(username, 'ann-pw-two'), [`${DB}.${username}`]);

        const info = await session.db(DB).run({ usersInfo: username });
        assert.deepEqual(
          info.users.map((u: Document) => u.user),
          [username],
        );
        await session.db(DB).removeUser(username);
        await assert.rejects(session.db(DB).removeUser(username), (err) => err === ErrNotFound);
        await assert.rejects(loginAs(username, 'ann-pw-two'), (err: MgoError) => err.code === 'ERR_AUTH');
      } finally {
        await session.close();
      }
    });

    test("FerretDB: a refused createUser's error names the refusal, never the password", { timeout: 60_000 }, async () => {
      const session = await dialAsRoot(workers);
      try {
        // FerretDB 1.24 takes roles: [] only: updateUser says UserNotFound, then createUser NotImplemented.
        const refused = await errorWithout(session.db(DB).upsertUser({ username: `bob${workers}`, password: 'bob-secret-77', roles: [RoleRead] }), 'bob-secret-77');
        assert.ok(refused instanceof QueryError && refused.serverCode === 238, refused.message);
        await errorWithout(session.db(DB).addUser(`carl${workers}`, 'carl-secret-88', true), 'carl-secret-88');
        const users = await session.db(DB).run({ usersInfo: { forAllDBs: true } }).catch(() => session.db(DB).run({ usersInfo: 1 }));
        assert.deepEqual(
          users.users.map((u: Document) => u.user).filter((name: string) => name === `bob${workers}` || name === `carl${workers}`),
          [],
        );
      } finally {
        await session.close();
      }
    });

    test('scripted server: the commands of upsertUser, addUser and removeUser, and mgo fallbacks', { timeout: 30_000 }, async () => {
      const session = await dial(`mongodb://${fake.address}/?serverSelectionTimeoutMS=5000`, { workers });
      try {
        const from = fake.received.length;
        const ann = `ann${workers}`;
        await session.db('admin').upsertUser({
          username: ann,
          password: 'pw-ann',
          roles: [RoleRead],
          otherDBRoles: { other: [RoleReadWrite], more: [RoleRead] },
          customData: { employee: 7 },
        });
        await session.db('admin').upsertUser({ username: ann });
        await session.db('admin').upsertUser({ username: ann, roles: [] });
        await session.db('d').addUser(`bob${workers}`, 'pw-bob', true);
        await session.db('d').addUser(`bob${workers}`, 'pw-bob2', false);
        await session.db('admin').addUser(`carl${workers}`, 'pw-carl', true);
        await session.db('admin').addUser(`dora${workers}`, 'pw-dora', false);
        await session.db('d').upsertUser({ username: `x509${workers}`, userSource: '$external', roles: [RoleRead] });
        await session.db('admin').upsertUser({ username: `first${workers}`, password: 'pw-first' });
        await session.db('d').removeUser(`bob${workers}`);
        await assert.rejects(session.db('d').removeUser(`bob${workers}`), (err) => err === ErrNotFound);
        const annRoles = [RoleRead, { role: RoleReadWrite, db: 'other' }, { role: RoleRead, db: 'more' }];
        assert.deepEqual(userCommandsSince(from), [
          { updateUser: ann, pwd: 'pw-ann', roles: annRoles, customData: { employee: 7 }, $db: 'admin' },
          { createUser: ann, pwd: 'pw-ann', roles: annRoles, customData: { employee: 7 }, $db: 'admin' },
          // Neither password nor roles given: an update that changes neither.
          { updateUser: ann, $db: 'admin' },
          { updateUser: ann, roles: [], $db: 'admin' },
          { updateUser: `bob${workers}`, pwd: 'pw-bob', roles: [RoleRead], $db: 'd' },
          { createUser: `bob${workers}`, pwd: 'pw-bob', roles: [RoleRead], $db: 'd' },
          { updateUser: `bob${workers}`, pwd: 'pw-bob2', roles: [RoleReadWrite], $db: 'd' },
          { updateUser: `carl${workers}`, pwd: 'pw-carl', roles: [RoleReadAny], $db: 'admin' },
          { createUser: `carl${workers}`, pwd: 'pw-carl', roles: [RoleReadAny], $db: 'admin' },
          { updateUser: `dora${workers}`, pwd: 'pw-dora', roles: [RoleReadWriteAny], $db: 'admin' },
          { createUser: `dora${workers}`, pwd: 'pw-dora', roles: [RoleReadWriteAny], $db: 'admin' },
          { updateUser: `x509${workers}`, roles: [RoleRead], $db: '$external' },
          { createUser: `x509${workers}`, roles: [RoleRead], $db: '$external' },
          // Unauthorized update (the localhost exception): create.
          { updateUser: `first${workers}`, pwd: 'pw-first', $db: 'admin' },
          { createUser: `first${workers}`, pwd: 'pw-first', roles: [], $db: 'admin' },
          { dropUser: `bob${workers}`, $db: 'd' },
          { dropUser: `bob${workers}`, $db: 'd' },
        ]);

        // A server that echoes the password in its error: redacted.
        // ('first…' makes updateUser fail as Unauthorized, and the user exists: createUser fails too.)
        const echoed = await errorWithout(session.db('admin').upsertUser({ username: `first${workers}`, password: 'echoed-pw-31' }), 'echoed-pw-31');
        assert.match(echoed.message, /already exists.*<redacted>/);
      } finally {
        await session.close();
      }
    });

    test('arguments mgo refuses, refused before anything is sent', { timeout: 30_000 }, async () => {
      const session = await dial(`mongodb://${fake.address}/?serverSelectionTimeoutMS=5000`, { workers });
      try {
        const from = fake.received.length;
        const d = session.db('d');
        const cases: [Promise<void>, string, RegExp][] = [
          [d.upsertUser({ username: '' }), 'ERR_INVALID_ARGUMENT', /no username/],
          [d.upsertUser({ username: 'u', passwordHash: 'abc' }), 'ERR_UNSUPPORTED_OPTION', /passwordHash/],
          [d.upsertUser({ username: 'u', password: 'p', userSource: '$external' }), 'ERR_INVALID_ARGUMENT', /not both/],
          [d.upsertUser({ username: 'u', userSource: 'other' }), 'ERR_UNSUPPORTED_OPTION', /userSource/],
          [d.upsertUser({ username: 'u', otherDBRoles: { x: [RoleRead] } }), 'ERR_INVALID_ARGUMENT', /otherDBRoles/],
          [d.addUser('u', '', false), 'ERR_INVALID_ARGUMENT', /password/],
          [d.removeUser(''), 'ERR_INVALID_ARGUMENT', /user name/],
        ];
        for (const [promise, code, message] of cases) {
          await assert.rejects(promise, (err: MgoError) => err.code === code && message.test(err.message));
        }
        assert.deepEqual(userCommandsSince(from), []);
      } finally {
        await session.close();
      }
    });
  });
}
