// The test server's TLS and SCRAM modes and the TLS certificate fixtures,
// checked with the official driver and Node's tls: what the driver's own TLS
// and authentication tests build on. Also pins the FerretDB v1.24 behaviour
// they rely on (mechanisms offered, error codes).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { MongoClient, MongoServerError, type MongoClientOptions } from 'mongodb';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { testCertificates, type TestCertificates } from '../fixtures/tls-certs.js';

const user = { name: 'mgo-tester', password: 'pencil-Ω-42' };
const dbName = `mgo_threads_testserver_${process.pid}`;
// Every driver wait is bounded by these (and every test by its timeout).
const bounded = { serverSelectionTimeoutMS: 5_000, connectTimeoutMS: 5_000, socketTimeoutMS: 10_000, directConnection: true } as const;
const TEST_TIMEOUT_MS = 30_000;

let certs: TestCertificates;

before(async () => {
  certs = await testCertificates();
});

/** Runs `body` with a connected client, closing it afterwards. */
async function withClient<T>(uri: string, options: MongoClientOptions, body: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = new MongoClient(uri, { ...bounded, ...options });
  try {
    await client.connect();
    return await body(client);
  } finally {
    await client.close();
  }
}

async function insertAndFind(client: MongoClient, tag: string): Promise<void> {
  const coll = client.db(dbName).collection<{ _id: string }>('docs');
  await coll.insertOne({ _id: tag });
  assert.deepEqual(await coll.findOne({ _id: tag }), { _id: tag });
}

/** Resolves with the error `promise` rejects with; fails if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  assert.fail('expected a rejection');
}

describe('TLS and SCRAM authentication', { timeout: 60_000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tls: { certKeyFile: certs.serverCertKeyFile }, user });
  });
  after(() => server?.stop());

  test('prints the URI with user, tls and authSource, without the password', () => {
    assert.equal(server.uri, `mongodb://${user.name}@127.0.0.1:${server.port}/?tls=true&authSource=admin`);
    assert.ok(!server.uri.includes(user.password));
  });

  for (const authMechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-1'] as const) {
    test(`${authMechanism} over TLS: insert and find`, { timeout: TEST_TIMEOUT_MS }, async () => {
      await withClient(server.uri, { tlsCAFile: certs.caFile, auth: { username: user.name, password: user.password }, authMechanism }, (client) =>
        insertAndFind(client, authMechanism),
      );
    });
  }

  test('hello offers both SCRAM mechanisms for the user', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withClient(server.uri.replace(`${user.name}@`, ''), { tlsCAFile: certs.caFile }, async (client) => {
      const hello = await client.db('admin').command({ hello: 1, saslSupportedMechs: `admin.${user.name}` });
      assert.deepEqual([...hello.saslSupportedMechs].sort(), ['SCRAM-SHA-1', 'SCRAM-SHA-256']);
    });
  });

  test('a wrong password fails with code 18 (AuthenticationFailed)', { timeout: TEST_TIMEOUT_MS }, async () => {
    const err = await rejection(
      withClient(server.uri, { tlsCAFile: certs.caFile, auth: { username: user.name, password: 'wrong' } }, async () => {}),
    );
    assert.ok(err instanceof MongoServerError, `got ${err.name}: ${err.message}`);
    assert.equal(err.code, 18);
  });

  test('an unauthenticated command is refused with code 13 (Unauthorized)', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withClient(server.uri.replace(`${user.name}@`, ''), { tlsCAFile: certs.caFile }, async (client) => {
      const err = await rejection(client.db(dbName).collection('docs').findOne({}));
      assert.ok(err instanceof MongoServerError, `got ${err.name}: ${err.message}`);
      assert.equal(err.code, 13);
    });
  });

  test('plain TCP to the TLS port fails', { timeout: TEST_TIMEOUT_MS }, async () => {
    const err = await rejection(withClient(`mongodb://127.0.0.1:${server.port}/`, { serverSelectionTimeoutMS: 2_000 }, async () => {}));
    assert.equal(err.name, 'MongoServerSelectionError');
    // Go's TLS listener closes a connection whose first bytes are no TLS record.
    assert.match(err.message, /closed/);
  });
});

describe('mutual TLS without users', { timeout: 60_000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ tls: { certFile: certs.serverCertKeyFile, keyFile: certs.serverCertKeyFile, caFile: certs.caFile } });
  });
  after(() => server?.stop());

  test('prints the URI with tls only', () => {
    assert.equal(server.uri, `mongodb://127.0.0.1:${server.port}/?tls=true`);
  });

  test('a client certificate signed by the CA is accepted', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withClient(server.uri, { tlsCAFile: certs.caFile, tlsCertificateKeyFile: certs.clientCertKeyFile }, (client) =>
      insertAndFind(client, 'client-cert'),
    );
  });

  test('the client certificate with its encrypted key and password is accepted', { timeout: TEST_TIMEOUT_MS }, async () => {
    const options = {
      tlsCAFile: certs.caFile,
      tlsCertificateKeyFile: certs.clientEncryptedCertKeyFile,
      tlsCertificateKeyFilePassword: certs.clientKeyPassword,
    };
    await withClient(server.uri, options, (client) => insertAndFind(client, 'encrypted-client-cert'));
  });

  test('a client without certificate is refused', { timeout: TEST_TIMEOUT_MS }, async () => {
    const err = await rejection(withClient(server.uri, { tlsCAFile: certs.caFile, serverSelectionTimeoutMS: 2_000 }, async () => {}));
    assert.equal(err.name, 'MongoServerSelectionError');
    // TLS 1.3: the server's alert arrives after the client's handshake.
    assert.match(err.message, /certificate required/);
  });
});

describe('SCRAM authentication without TLS', { timeout: 60_000 }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ user });
  });
  after(() => server?.stop());

  test('prints the URI with user and authSource', () => {
    assert.equal(server.uri, `mongodb://${user.name}@127.0.0.1:${server.port}/?authSource=admin`);
  });

  test('SCRAM-SHA-256: insert and find', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withClient(server.uri, { auth: { username: user.name, password: user.password }, authMechanism: 'SCRAM-SHA-256' }, (client) =>
      insertAndFind(client, 'plain-tcp'),
    );
  });
});

// The certificates themselves, against a Node TLS server: each fails for the
// reason its name gives, so the driver's tests can rely on them.
describe('TLS certificate fixtures', { timeout: 60_000 }, () => {
  async function handshake(serverCertKeyFile: string, ca: string, servername?: string): Promise<void> {
    const pem = readFileSync(serverCertKeyFile);
    const server = tls.createServer({ cert: pem, key: pem }, (socket) => socket.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const socket = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(ca), servername });
      socket.setTimeout(10_000, () => socket.destroy(new Error('TLS handshake: no answer within 10 s')));
      try {
        await once(socket, 'secureConnect');
      } finally {
        socket.destroy();
      }
    } finally {
      server.close();
    }
  }

  test('the server certificate is valid for 127.0.0.1 and localhost', { timeout: TEST_TIMEOUT_MS }, async () => {
    await handshake(certs.serverCertKeyFile, certs.caFile);
    await handshake(certs.serverCertKeyFile, certs.caFile, 'localhost');
  });

  test('the wrong-host certificate fails the hostname check only', { timeout: TEST_TIMEOUT_MS }, async () => {
    const err = (await rejection(handshake(certs.wrongHostServerCertKeyFile, certs.caFile))) as NodeJS.ErrnoException;
    assert.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  test('the untrusted server certificate fails verification with the CA, passes with its own', { timeout: TEST_TIMEOUT_MS }, async () => {
    const err = (await rejection(handshake(certs.untrustedServerCertKeyFile, certs.caFile))) as NodeJS.ErrnoException;
    assert.equal(err.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    await handshake(certs.untrustedServerCertKeyFile, certs.untrustedCAFile);
  });

  test('the encrypted client key loads with its password only', () => {
    const pem = readFileSync(certs.clientEncryptedCertKeyFile, 'utf8');
    assert.match(pem, /-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    tls.createSecureContext({ cert: pem, key: pem, passphrase: certs.clientKeyPassword });
    assert.throws(() => tls.createSecureContext({ cert: pem, key: pem, passphrase: 'wrong' }));
  });

  test('clientSubject is the client certificate\'s subject in RFC 2253 order', () => {
    const cert = new X509Certificate(readFileSync(certs.clientCertKeyFile));
    // Node lists the RDNs in certificate order, RFC 2253 in reverse.
    assert.equal(cert.subject.split('\n').reverse().join(','), certs.clientSubject);
    assert.equal(certs.clientSubject, 'CN=mgo-threads-client,OU=tests,O=mgo-threads');
    assert.ok(cert.checkIssued(new X509Certificate(readFileSync(certs.caFile))));
  });
});
