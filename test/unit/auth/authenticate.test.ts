// The authenticator against a scripted server (test/fixtures/scram-server.ts):
// in-process through a fake AuthConnection, and over a real socket.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import { Binary, type Document } from 'bson';
import { createAuthenticator, negotiatedMechanism, type AuthConnection } from '../../../src/auth/authenticate.js';
import type { Credential } from '../../../src/auth/credential.js';
import { ScramKeyCache } from '../../../src/auth/key-cache.js';
import { Connection } from '../../../src/connection/connection.js';
import { AuthError, MgoError, NetworkError, fromErrorRecord } from '../../../src/errors.js';
import { ScramServer, fakeAuthConnection, helloReply, startScramFakeServer, type ScramServerOptions } from '../../fixtures/scram-server.js';

const PASSWORD = 'Tr0ub4dor&3-not-echoed';
const USER = 'app-user';
const users = [
  { username: USER, password: PASSWORD },
  { username: 'sha1only', password: PASSWORD, mechanisms: ['SCRAM-SHA-1' as const] },
  { username: 'sha256only', password: PASSWORD, mechanisms: ['SCRAM-SHA-256' as const] },
  { username: 'reporter', password: PASSWORD, db: 'reports' },
  { username: 'IX', password: 'IX', mechanisms: ['SCRAM-SHA-256' as const] },
  { username: '\u2168', password: '\u2163', mechanisms: ['SCRAM-SHA-256' as const] },
];

const scram = (username = USER, password = PASSWORD, mechanism?: 'SCRAM-SHA-1' | 'SCRAM-SHA-256', source = 'admin'): Credential => ({
  mechanism,
  username,
  password,
  source,
});

/** One handshake against `server`: hello with the authenticator's fields, then finish(). */
async function handshake(server: ScramServer, credential: Credential, keyCache = new ScramKeyCache()) {
  const session = server.session();
  const authenticator = createAuthenticator(credential, { keyCache });
  const reply = helloReply(session, authenticator.helloFields);
  const connection = fakeAuthConnection(session);
  await authenticator.finish(connection, reply);
  return { session, authenticator, reply, sent: connection.sent };
}

const names = (sent: Document[]) => sent.map((c) => Object.keys(c)[0]);
const text = (binary: unknown) => Buffer.from((binary as Binary).value()).toString();

/** Everything an error shows: message, record, stack, inspect. */
function assertNoSecrets(err: unknown, secrets: readonly string[]): void {
  const shown = [String((err as Error).message), JSON.stringify((err as MgoError).toRecord?.() ?? {}), String((err as Error).stack)];
  for (const secret of secrets.filter((s) => s !== '')) for (const s of shown) assert.ok(!s.includes(secret), `'${secret}' shown in: ${s}`);
}

async function authFailure(server: ScramServer, credential: Credential): Promise<AuthError> {
  let caught: unknown;
  await handshake(server, credential).catch((err: unknown) => (caught = err));
  assert.ok(caught instanceof AuthError, `expected an AuthError, got ${String(caught)}`);
  assert.equal(caught.code, 'ERR_AUTH');
  assertNoSecrets(caught, credential.mechanism === 'MONGODB-X509' ? [credential.username ?? ''] : [credential.password, credential.username]);
  return caught;
}

describe('SCRAM conversations', () => {
  const server = new ScramServer({ users });

  test('negotiated: hello asks for the mechanisms and speculates with SCRAM-SHA-256; one saslContinue finishes', async () => {
    const { session, authenticator, reply, sent } = await handshake(server, scram());
    assert.equal(authenticator.helloFields.saslSupportedMechs, `admin.${USER}`);
    const speculative = authenticator.helloFields.speculativeAuthenticate as Document;
    assert.equal(speculative.mechanism, 'SCRAM-SHA-256');
    assert.equal(speculative.db, 'admin');
    assert.deepEqual(speculative.options, { skipEmptyExchange: true });
    assert.match(text(speculative.payload), new RegExp(`^n,,n=${USER},r=[A-Za-z0-9+/=]{32}$`));
    assert.deepEqual(reply.saslSupportedMechs, ['SCRAM-SHA-1', 'SCRAM-SHA-256']);
    assert.ok(reply.speculativeAuthenticate);
    assert.deepEqual(names(sent), ['saslContinue']);
    assert.equal(session.user, USER);
  });

  test('negotiated without speculation: SCRAM-SHA-256 when offered, in saslStart + saslContinue', async () => {
    const { session, sent } = await handshake(new ScramServer({ users, speculative: false }), scram());
    assert.deepEqual(names(sent), ['saslStart', 'saslContinue']);
    assert.equal(sent[0]!.mechanism, 'SCRAM-SHA-256');
    assert.equal(sent[1]!.conversationId, 1);
    assert.equal(session.user, USER);
  });

  test('negotiated for a SCRAM-SHA-1-only user: the speculative SHA-256 fails silently, SHA-1 follows', async () => {
    const { session, reply, sent } = await handshake(server, scram('sha1only'));
    assert.deepEqual(reply.saslSupportedMechs, ['SCRAM-SHA-1']);
    assert.equal(reply.speculativeAuthenticate, undefined);
    assert.deepEqual(names(sent), ['saslStart', 'saslContinue']);
    assert.equal(sent[0]!.mechanism, 'SCRAM-SHA-1');
    assert.equal(session.user, 'sha1only');
  });

  test('auth spec: without saslSupportedMechs in the reply, SCRAM-SHA-1', () => {
    assert.equal(negotiatedMechanism({ ok: 1 }), 'SCRAM-SHA-1');
    assert.equal(negotiatedMechanism({ saslSupportedMechs: ['SCRAM-SHA-1', 'PLAIN', 'UNKNOWN'] }), 'SCRAM-SHA-1');
    assert.equal(negotiatedMechanism({ saslSupportedMechs: ['SCRAM-SHA-256'] }), 'SCRAM-SHA-256');
    assert.equal(negotiatedMechanism({ saslSupportedMechs: 'SCRAM-SHA-256' }), 'SCRAM-SHA-1');
  });

  for (const mechanism of ['SCRAM-SHA-1', 'SCRAM-SHA-256'] as const) {
    test(`${mechanism} given: no negotiation, speculation with ${mechanism}`, async () => {
      const { session, authenticator, sent } = await handshake(server, scram(USER, PASSWORD, mechanism));
      assert.equal(authenticator.helloFields.saslSupportedMechs, undefined);
      assert.equal((authenticator.helloFields.speculativeAuthenticate as Document).mechanism, mechanism);
      assert.deepEqual(names(sent), ['saslContinue']);
      assert.equal(session.user, USER);
    });

    test(`${mechanism}: a server without skipEmptyExchange gets the extra empty saslContinue`, async () => {
      const { session, sent } = await handshake(new ScramServer({ users, skipEmptyExchange: false, speculative: false }), scram(USER, PASSWORD, mechanism));
      assert.deepEqual(names(sent), ['saslStart', 'saslContinue', 'saslContinue']);
      assert.equal(text(sent[2]!.payload), '');
      assert.equal(session.user, USER);
    });
  }

  test('the auth database is the credential source, in saslSupportedMechs and every command', async () => {
    const { session, authenticator } = await handshake(new ScramServer({ users, speculative: false }), scram('reporter', PASSWORD, undefined, 'reports'));
    assert.equal(authenticator.helloFields.saslSupportedMechs, 'reports.reporter');
    assert.equal(session.user, 'reporter');
    const recorded = new ScramServer({ users });
    const s = recorded.session();
    const a = createAuthenticator(scram('reporter', PASSWORD, 'SCRAM-SHA-1', 'reports'));
    await a.finish(fakeAuthConnection(s), helloReply(s, { ...a.helloFields, speculativeAuthenticate: undefined }));
    assert.deepEqual(recorded.received.slice(1).map((r) => r.db), ['reports', 'reports']);
  });

  // Auth spec test plan, step 4: either form of the password authenticates.
  for (const [username, password] of [
    ['IX', 'IX'],
    ['IX', 'I\u00ADX'],
    ['\u2168', 'IV'],
    ['\u2168', 'I\u00ADV'],
  ]) {
    test(`SASLprep: user ${JSON.stringify(username)} with password form ${JSON.stringify(password)}`, async () => {
      for (const mechanism of [undefined, 'SCRAM-SHA-256'] as const) {
        const { session } = await handshake(server, scram(username, password, mechanism));
        assert.equal(session.user, username);
      }
    });
  }

  test('one derivation serves many handshakes of the same user', async () => {
    const cache = new ScramKeyCache();
    const shared = new ScramServer({ users });
    await Promise.all(Array.from({ length: 20 }, () => handshake(shared, scram(), cache)));
    assert.equal(cache.derivations, 1);
  });
});

describe('SCRAM failures', () => {
  test('wrong password: ERR_AUTH with the server code 18, its message, the mechanism, database and server', async () => {
    const err = await authFailure(new ScramServer({ users }), scram(USER, 'wrong-password-123'));
    assert.equal(err.serverCode, 18);
    assert.equal(err.codeName, 'AuthenticationFailed');
    assert.equal(err.address, '127.0.0.1:27017');
    assert.equal(
      err.message,
      "SCRAM-SHA-256 authentication on database 'admin' at 127.0.0.1:27017 failed: Authentication failed. (server code 18 AuthenticationFailed)",
    );
    const record = err.toRecord();
    assert.deepEqual(record, { name: 'AuthError', message: err.message, code: 'ERR_AUTH', serverCode: 18, codeName: 'AuthenticationFailed', address: '127.0.0.1:27017' });
    const back = fromErrorRecord(structuredClone(record));
    assert.ok(back instanceof AuthError);
    assert.equal(back.serverCode, 18);
    assert.equal(back.codeName, 'AuthenticationFailed');
    assert.equal(back.message, err.message);
  });

  test('unknown user: the same error as a wrong password (auth spec test plan, step 3)', async () => {
    const err = await authFailure(new ScramServer({ users }), scram('nobody-here'));
    assert.equal(err.serverCode, 18);
    assert.match(err.message, /^SCRAM-SHA-1 authentication on database 'admin'/, 'no saslSupportedMechs for an unknown user: SCRAM-SHA-1');
  });

  test('a mechanism the user does not have', async () => {
    const err = await authFailure(new ScramServer({ users }), scram('sha1only', PASSWORD, 'SCRAM-SHA-256'));
    assert.equal(err.serverCode, 18);
  });

  test('a tampered server signature: ERR_AUTH without a server code', async () => {
    const err = await authFailure(new ScramServer({ users, tamperSignature: true }), scram());
    assert.equal(err.serverCode, undefined);
    assert.match(err.message, /at 127\.0\.0\.1:27017 failed: the server's signature is wrong/);
    assert.equal(fromErrorRecord(err.toRecord()).constructor, AuthError);
  });

  test('an iteration count under 4096', async () => {
    const err = await authFailure(new ScramServer({ users, iterations: 1024 }), scram());
    assert.match(err.message, /asked for 1024 iterations, fewer than the minimum of 4096/);
  });

  test("a nonce that does not extend the client's", async () => {
    const err = await authFailure(new ScramServer({ users, serverNonce: () => 'attacker-chosen-nonce' }), scram());
    assert.match(err.message, /nonce does not extend/);
  });

  test('a SASLprep-prohibited password fails as ERR_AUTH before anything is derived', async () => {
    const cache = new ScramKeyCache();
    const password = 'bell\u0007password';
    const session = new ScramServer({ users }).session();
    const authenticator = createAuthenticator(scram(USER, password, 'SCRAM-SHA-256'), { keyCache: cache });
    const err = await authenticator.finish(fakeAuthConnection(session), helloReply(session, authenticator.helloFields)).catch((e: unknown) => e);
    assert.ok(err instanceof AuthError);
    assert.match(err.message, /SASLprep/);
    assertNoSecrets(err, [password, USER]);
    assert.equal(cache.derivations, 0);
  });

  test('a server that echoes the username or password: masked in the message', async () => {
    const connection: AuthConnection = {
      address: 'h:1',
      async command() {
        const { ServerError } = await import('../../../src/errors.js');
        throw new ServerError(`user ${USER} with password ${PASSWORD} not found`, 11, 'UserNotFound');
      },
    };
    const err = await createAuthenticator(scram(USER, PASSWORD, 'SCRAM-SHA-1')).finish(connection, {}).catch((e: unknown) => e);
    assert.ok(err instanceof AuthError);
    assert.match(err.message, /user <redacted> with password <redacted> not found \(server code 11 UserNotFound\)$/);
    assertNoSecrets(err, [PASSWORD, USER]);
  });

  describe('replies that break the protocol', () => {
    /** A connection whose replies to saslStart and saslContinue are scripted. */
    const scripted = (replies: Document[]): AuthConnection => ({
      address: 'h:1',
      command: async () => replies.shift() ?? { ok: 1, done: true },
    });
    const start = async (replies: Document[], hello: Document = {}) => {
      const authenticator = createAuthenticator(scram(USER, PASSWORD, 'SCRAM-SHA-256'), { nonce: () => 'NONCE' });
      return authenticator.finish(scripted(replies), hello).catch((e: unknown) => e);
    };
    const serverFirst = { conversationId: 1, done: false, payload: new Binary(Buffer.from('r=NONCEabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096')), ok: 1 };
    const cases: [string, Document[], RegExp][] = [
      ['done before the proof', [{ conversationId: 1, done: true, payload: new Binary(Buffer.alloc(0)), ok: 1 }], /ended the conversation before the client sent its proof/],
      ['no payload', [{ conversationId: 1, done: false, ok: 1 }], /without a binary payload/],
      ['no conversationId', [{ done: false, payload: serverFirst.payload, ok: 1 }], /no conversationId/],
      ['a string payload', [{ ...serverFirst, payload: 'cj1OT05DRWFiYw==' }], /without a binary payload/],
      ['garbage as server-first', [{ ...serverFirst, payload: new Binary(Buffer.from('\u0000\u0001')) }], /malformed SCRAM message/],
      ['no signature in server-final', [serverFirst, { conversationId: 1, done: true, payload: new Binary(Buffer.from('x=1')), ok: 1 }], /lacks a valid signature/],
    ];
    for (const [what, replies, pattern] of cases) {
      test(what, async () => {
        const err = await start(replies);
        assert.ok(err instanceof AuthError, String(err));
        assert.match(err.message, pattern);
        assertNoSecrets(err, [PASSWORD, USER, 'NONCE']);
      });
    }

    test('a speculative reply that breaks the protocol is checked the same way', async () => {
      const err = await start([], { speculativeAuthenticate: { conversationId: 1, done: false, payload: new Binary(Buffer.from('r=OTHER,s=AAAA,i=4096')) } });
      assert.ok(err instanceof AuthError);
      assert.match(err.message, /nonce does not extend/);
    });

    test('a server that never says done after the extra empty exchange', async () => {
      const server = new ScramServer({ users, skipEmptyExchange: false, speculative: false });
      const session = server.session();
      const connection = fakeAuthConnection(session);
      const stuck: AuthConnection = {
        address: connection.address,
        async command(db, command) {
          const reply = await connection.command(db, command);
          return { ...reply, done: false };
        },
      };
      const err = await createAuthenticator(scram(USER, PASSWORD, 'SCRAM-SHA-1')).finish(stuck, {}).catch((e: unknown) => e);
      assert.ok(err instanceof AuthError);
      assert.match(err.message, /did not end the conversation/);
    });
  });

  test('a network error mid-conversation passes unchanged, not as ERR_AUTH', async () => {
    const closed = new NetworkError('ERR_CONNECTION_CLOSED', 'connection to h:1 closed by the server', { address: 'h:1' });
    const session = new ScramServer({ users, speculative: false }).session();
    const inner = fakeAuthConnection(session);
    let calls = 0;
    const connection: AuthConnection = {
      address: 'h:1',
      command: (db, command) => (++calls === 2 ? Promise.reject(closed) : inner.command(db, command)),
    };
    const err = await createAuthenticator(scram()).finish(connection, { saslSupportedMechs: ['SCRAM-SHA-256'] }).catch((e: unknown) => e);
    assert.equal(err, closed);
  });
});

describe('MONGODB-X509', () => {
  const subject = 'CN=client,OU=Drivers,O=MongoDB,L=Reykjavik,ST=Reykjavik,C=IS';
  const x509 = (username?: string): Credential => ({ mechanism: 'MONGODB-X509', username, source: '$external' });

  for (const username of [undefined, subject]) {
    const what = username === undefined ? 'without a username' : 'with the subject as username';
    test(`${what}: speculative authenticate in hello, nothing after`, async () => {
      const { authenticator, session, sent } = await handshake(new ScramServer({ users, x509Subject: subject }), x509(username));
      assert.deepEqual(authenticator.helloFields, {
        speculativeAuthenticate: { authenticate: 1, mechanism: 'MONGODB-X509', ...(username ? { user: username } : {}), db: '$external' },
      });
      assert.deepEqual(sent, []);
      assert.equal(session.user, subject);
    });

    test(`${what}: without speculation, authenticate on $external`, async () => {
      const server = new ScramServer({ users, x509Subject: subject, speculative: false });
      const { session, sent } = await handshake(server, x509(username));
      assert.deepEqual(sent, [{ authenticate: 1, mechanism: 'MONGODB-X509', ...(username ? { user: username } : {}) }]);
      assert.deepEqual(server.received.at(-1)!.db, '$external');
      assert.equal(session.user, subject);
    });
  }

  test('a username that is not the certificate subject: ERR_AUTH with the server code', async () => {
    const err = await authFailure(new ScramServer({ users, x509Subject: subject, speculative: false }), x509('CN=someone-else'));
    assert.equal(err.serverCode, 11);
    assert.match(err.message, /^MONGODB-X509 authentication on database '\$external' at 127\.0\.0\.1:27017 failed: There is no x\.509/);
  });
});

describe('over a real socket', () => {
  let server: Awaited<ReturnType<typeof startScramFakeServer>>;
  let closeOnContinue = false;
  before(async () => {
    server = await startScramFakeServer(new ScramServer({ users }), {
      onCommand: (name, socket) => {
        if (name !== 'saslContinue' || !closeOnContinue) return false;
        socket.destroy();
        return true;
      },
    });
  });
  after(() => server.close());

  /** Connection.connect does a plain hello; the authenticating hello is sent as the handshake will send it. */
  async function connectAndAuthenticate(credential: Credential) {
    const connection = await Connection.connect({ id: 1, generation: 0, host: server.host, port: server.port, connectTimeoutMS: 5000, socketTimeoutMS: 5000 });
    try {
      const authenticator = createAuthenticator(credential, { keyCache: new ScramKeyCache() });
      const hello = await connection.command('admin', { hello: 1, ...authenticator.helloFields });
      const before = server.received.length;
      await authenticator.finish({ address: connection.address, command: (db, command) => connection.command(db, command) }, hello);
      return server.received.slice(before).map((c) => c.name);
    } finally {
      connection.destroy();
    }
  }

  test('speculative: hello, then one saslContinue', async () => {
    assert.deepEqual(await connectAndAuthenticate(scram()), ['saslContinue']);
    assert.ok([...server.sessions.values()].some((s) => s.user === USER));
  });

  test('two round trips for a SCRAM-SHA-1-only user', async () => {
    assert.deepEqual(await connectAndAuthenticate(scram('sha1only')), ['saslStart', 'saslContinue']);
  });

  test('wrong password: ERR_AUTH code 18 over the wire', async () => {
    const err = await connectAndAuthenticate(scram(USER, 'wrong-password-456')).catch((e: unknown) => e);
    assert.ok(err instanceof AuthError);
    assert.equal(err.serverCode, 18);
    assert.equal(err.address, server.address);
    assertNoSecrets(err, ['wrong-password-456', USER]);
  });

  test('the server closes the socket mid-conversation: a NetworkError, not ERR_AUTH', async () => {
    closeOnContinue = true;
    try {
      const err = await connectAndAuthenticate(scram()).catch((e: unknown) => e);
      assert.ok(err instanceof NetworkError, String(err));
      assert.notEqual((err as MgoError).code, 'ERR_AUTH');
      assertNoSecrets(err, [PASSWORD, USER]);
    } finally {
      closeOnContinue = false;
    }
  });
});

// Option sets used above must stay valid for the fixture's type.
const _typecheck: ScramServerOptions = { users };
void _typecheck;
