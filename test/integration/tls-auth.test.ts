// TLS and SCRAM against the FerretDB test server, with sockets in this
// thread (workers: 0) and in two workers: the URL a user gives the official
// driver works here; each failure is a coded error within its timeout,
// names the server, never shows the password, and leaves no socket and no
// permit behind. The tests dial `secure`, `wrongHost` and `untrusted`
// through a counting proxy in front of each (test/fixtures/counting-proxy.ts):
// the sockets a server holds are counted exactly, from its side.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dial, type Session } from '../../src/index.js';
import { MgoError } from '../../src/errors.js';
import { startCountingProxy, type CountingProxy } from '../fixtures/counting-proxy.js';
import { monitoringSockets } from '../fixtures/server-sockets.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { testCertificates, type TestCertificates } from '../fixtures/tls-certs.js';
import { waitFor, withTimeout } from '../fixtures/wait.js';

const USER = 'ada';
const PASSWORD = 'pä$$ wörd:/@42';
const FAST_FAIL = 'serverSelectionTimeoutMS=1500&connectTimeoutMS=1500';

let certs: TestCertificates;
let secure: CountingProxy; // in front of a server with TLS + SCRAM
let wrongHost: CountingProxy; // ... with TLS, a certificate for another host name
let untrusted: CountingProxy; // ... with TLS, a certificate from a CA nobody trusts
let mutual: TestServer; // TLS requiring a client certificate, no users
const servers: TestServer[] = [];
const proxies: CountingProxy[] = [];

before(async () => {
  certs = await testCertificates();
  servers.push(
    ...(await Promise.all([
      startTestServer({ tls: { certKeyFile: certs.serverCertKeyFile }, user: { name: USER, password: PASSWORD } }),
      startTestServer({ tls: { certKeyFile: certs.wrongHostServerCertKeyFile } }),
      startTestServer({ tls: { certKeyFile: certs.untrustedServerCertKeyFile } }),
      startTestServer({ tls: { certKeyFile: certs.serverCertKeyFile, caFile: certs.caFile } }),
    ])),
  );
  mutual = servers[3]!;
  proxies.push(...(await Promise.all(servers.slice(0, 3).map((server) => startCountingProxy(server)))));
  [secure, wrongHost, untrusted] = proxies as [CountingProxy, CountingProxy, CountingProxy];
});

after(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(servers.map((s) => s.stop()));
});

/** Waits until the server behind `proxy` holds no socket: whatever a test opened is gone. */
function noSocketLeft(proxy: CountingProxy): Promise<number> {
  return waitFor(`no socket left at the server behind ${proxy.address}`, () => proxy.open() === 0, 10_000);
}

function userinfo(password = PASSWORD): string {
  return `${USER}:${encodeURIComponent(password)}@`;
}

function url(server: { address: string }, options: string, credentials = userinfo()): string {
  return `mongodb://${credentials}${server.address}/?${options}`;
}

/** The error dial() fails with; it must be an MgoError and never contain the password. */
async function dialError(uri: string, options: Record<string, unknown> = {}): Promise<MgoError> {
  try {
    // A hang (no error at all) fails here; how soon the error comes is not the claim.
    const session = await withTimeout(dial(uri, options), 30_000, 'dial()');
    await session.close();
  } catch (err) {
    assert.ok(err instanceof MgoError, `expected an MgoError, got ${String(err)}`);
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), certs.clientKeyPassword]) {
      assert.ok(!err.message.includes(secret), `the error shows a secret: ${err.message}`);
      assert.ok(!JSON.stringify(err.toRecord()).includes(secret));
    }
    return err;
  }
  assert.fail('dial() succeeded');
}

async function insertAndFind(session: Session, name: string): Promise<void> {
  const c = session.db('tlsauth').c(name);
  await c.insert({ _id: 1, who: name });
  assert.deepEqual(await c.find({ _id: 1 }).one(), { _id: 1, who: name });
  await c.dropCollection();
}

/** The user the server says this session's socket is authenticated as. */
async function authenticatedUsers(session: Session): Promise<string[]> {
  const reply = await session.run({ connectionStatus: 1 });
  return (reply.authInfo?.authenticatedUsers ?? []).map((u: { user: string; db: string }) => `${u.db}.${u.user}`);
}

for (const workers of [0, 2]) {
  describe(`workers: ${workers}`, () => {
    const base = `tls=true&tlsCAFile=@CA@&authSource=admin&workers=${workers}`;
    // The certificates exist once the suite's before() ran.
    const withCA = (options: string) => options.replace('@CA@', encodeURIComponent(certs.caFile));

    for (const mechanism of ['', 'SCRAM-SHA-256', 'SCRAM-SHA-1']) {
      test(`TLS + ${mechanism || 'negotiated SCRAM'}: the official driver's URL works`, async () => {
        const session = await dial(url(secure, withCA(`${base}${mechanism ? `&authMechanism=${mechanism}` : ''}`)));
        try {
          await insertAndFind(session, `m${workers}${mechanism.replace(/\W/g, '')}`);
          assert.deepEqual(await authenticatedUsers(session), [`admin.${USER}`]);
        } finally {
          await session.close();
        }
      });
    }

    test('credentials from the options object and DialInfo-style auth fields', async () => {
      const session = await dial(`mongodb://${secure.address}/?${withCA(base)}`, { auth: { username: USER, password: PASSWORD } });
      try {
        assert.deepEqual(await authenticatedUsers(session), [`admin.${USER}`]);
      } finally {
        await session.close();
      }
    });

    test('a wrong password and an unknown user fail with ERR_AUTH 18, leaving no socket', async () => {
      for (const credentials of [userinfo('not the password'), `nobody:${encodeURIComponent(PASSWORD)}@`]) {
        const err = await dialError(url(secure, withCA(`${base}&${FAST_FAIL}`), credentials));
        assert.equal(err.code, 'ERR_AUTH', err.message);
        assert.equal((err as MgoError & { serverCode?: number }).serverCode, 18);
        assert.match(err.message, new RegExp(secure.address.replace(/\./g, '\\.')));
      }
      // The monitor's socket is the only one a dial may leave, and dial() closed it.
      await noSocketLeft(secure);
    });

    test('an untrusted certificate is ERR_TLS_CERTIFICATE; a wrong host name ERR_TLS_HOSTNAME unless allowed', async () => {
      const bad = await dialError(url(untrusted, withCA(`${base}&${FAST_FAIL}`), ''));
      assert.equal(bad.code, 'ERR_TLS_CERTIFICATE', bad.message);
      assert.match(bad.message, /not trusted/);
      const host = await dialError(url(wrongHost, withCA(`${base}&${FAST_FAIL}`), ''));
      assert.equal(host.code, 'ERR_TLS_HOSTNAME', host.message);
      assert.match(host.message, new RegExp(wrongHost.address.replace(/\./g, '\\.')));
      for (const relax of ['tlsAllowInvalidHostnames=true', 'tlsInsecure=true']) {
        const session = await dial(url(wrongHost, withCA(`${base}&${relax}`), ''));
        await session.ping();
        await session.close();
      }
      const insecure = await dial(url(untrusted, withCA(`${base}&tlsAllowInvalidCertificates=true`), ''));
      await insecure.ping();
      await insecure.close();
      await noSocketLeft(untrusted);
      await noSocketLeft(wrongHost);
    });

    test('plain TCP to a TLS port fails within the timeout with a coded error', async () => {
      const err = await dialError(url(secure, `workers=${workers}&${FAST_FAIL}`));
      assert.ok(['ERR_SERVER_SELECTION', 'ERR_CONNECTION_CLOSED', 'ERR_NETWORK'].includes(err.code), `${err.code}: ${err.message}`);
      await noSocketLeft(secure);
    });

    test('mutual TLS: refused without a client certificate, served with one (plain or encrypted key)', async () => {
      const refused = await dialError(url(mutual, withCA(`tls=true&tlsCAFile=@CA@&workers=${workers}&${FAST_FAIL}`), ''));
      assert.ok(['ERR_TLS_CERTIFICATE', 'ERR_SERVER_SELECTION', 'ERR_CONNECTION_CLOSED'].includes(refused.code), `${refused.code}: ${refused.message}`);
      const plain = await dial(url(mutual, withCA(`tls=true&tlsCAFile=@CA@&workers=${workers}`), ''), { tlsCertificateKeyFile: certs.clientCertKeyFile });
      await plain.ping();
      await plain.close();
      const encrypted = await dial(url(mutual, withCA(`tls=true&tlsCAFile=@CA@&workers=${workers}`), ''), {
        tlsCertificateKeyFile: certs.clientEncryptedCertKeyFile,
        tlsCertificateKeyFilePassword: certs.clientKeyPassword,
      });
      await encrypted.ping();
      await encrypted.close();
      const wrongKeyPassword = await dialError(url(mutual, withCA(`tls=true&tlsCAFile=@CA@&workers=${workers}`), ''), {
        tlsCertificateKeyFile: certs.clientEncryptedCertKeyFile,
        tlsCertificateKeyFilePassword: 'not the key password',
      });
      assert.equal(wrongKeyPassword.code, 'ERR_INVALID_OPTION');
      assert.match(wrongKeyPassword.message, /tlsCertificateKeyFile/);
    });

    test('login() and logoutAll(): sessions of different users never share a socket, within poolLimit 1', async () => {
      // Counted over the whole test, from the dial: earlier tests' sockets gone first.
      await noSocketLeft(secure);
      secure.resetMaxOpen();
      const root = await dial(`mongodb://${secure.address}/?${withCA(`tls=true&tlsCAFile=@CA@&workers=${workers}&maxPoolSize=1`)}`);
      const anonymous = root.copy();
      const user = root.copy();
      try {
        // Without credentials the server refuses data commands (code 13).
        await assert.rejects(anonymous.db('tlsauth').c('x').find({}).one(), (err: MgoError & { serverCode?: number }) => err.serverCode === 13);
        anonymous.refresh();
        await assert.rejects(user.login({ username: USER, password: 'wrong' }), (err: MgoError & { serverCode?: number }) => {
          assert.equal(err.code, 'ERR_AUTH');
          assert.equal(err.serverCode, 18);
          return true;
        });
        await user.login({ username: USER, password: PASSWORD });
        assert.deepEqual(await authenticatedUsers(user), [`admin.${USER}`]);
        await insertAndFind(user, `login${workers}`);
        user.refresh();
        // The anonymous session gets a socket of its own (the user's is closed to make room).
        assert.deepEqual(await authenticatedUsers(anonymous), []);
        anonymous.refresh();
        assert.deepEqual(await authenticatedUsers(user), [`admin.${USER}`]);
        user.refresh();
        const copy = user.copy();
        assert.deepEqual(await authenticatedUsers(copy), [`admin.${USER}`], 'copy() keeps the login');
        await copy.close();
        const fresh = user.new();
        assert.deepEqual(await authenticatedUsers(fresh), [], 'new() goes back to the dial credential (none)');
        await fresh.close();
        user.logoutAll();
        assert.deepEqual(await authenticatedUsers(user), []);
        const monitoring = monitoringSockets(root.stats(), secure.address);
        assert.ok(secure.maxOpen() <= 1 + monitoring, `the server saw ${secure.maxOpen()} sockets at once: over poolLimit 1 plus the ${monitoring} monitoring socket(s) stats() reports`);
        const { sockets } = root.stats().find((s) => s.address === secure.address)!;
        assert.ok(sockets.maxOpen <= 1, `${sockets.maxOpen} pool sockets open at once at the client at poolLimit 1`);
        assert.ok(sockets.opened >= 2, `${sockets.opened} pool sockets opened: the users never needed a socket of their own`);
      } finally {
        await Promise.all([anonymous.close(), user.close()]);
        await root.close();
      }
      await noSocketLeft(secure);
    });
  });
}
