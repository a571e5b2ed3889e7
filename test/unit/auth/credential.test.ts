import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { resolveCredential, type CredentialInput } from '../../../src/auth/credential.js';
import { MgoError } from '../../../src/errors.js';
import { fromDialInfo } from '../../../src/session/dial-info.js';
import { resolveOptions } from '../../../src/uri/resolve.js';

const PASSWORD = 'p@ss:w/rd-Tr0ub4dor';

function assertRefused(run: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof MgoError);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes(PASSWORD) && !err.message.includes('alice'), err.message);
    return true;
  });
}

async function assertRejected(run: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const err = await run.then(
    () => assert.fail('resolved'),
    (e: unknown) => e,
  );
  assertRefused(() => {
    throw err;
  }, code, pattern);
}

describe('resolveCredential', () => {
  test('SCRAM: the source is authSource, else the database, else admin', () => {
    const base = { username: 'alice', password: PASSWORD };
    assert.deepEqual(resolveCredential(base), { mechanism: undefined, username: 'alice', password: PASSWORD, source: 'admin' });
    assert.equal(resolveCredential({ ...base, database: 'app' })?.source, 'app');
    assert.equal(resolveCredential({ ...base, database: 'app', authSource: 'users' })?.source, 'users');
    assert.equal(resolveCredential({ ...base, authMechanism: 'SCRAM-SHA-1' })?.mechanism, 'SCRAM-SHA-1');
    assert.deepEqual(resolveCredential({ ...base, password: '' }), { mechanism: undefined, username: 'alice', password: '', source: 'admin' }, 'an empty password is a password');
  });

  test('MONGODB-X509: $external, with or without a username', () => {
    assert.deepEqual(resolveCredential({ authMechanism: 'MONGODB-X509', database: 'app' }), {
      mechanism: 'MONGODB-X509',
      username: undefined,
      source: '$external',
    });
    assert.equal(resolveCredential({ authMechanism: 'MONGODB-X509', username: 'CN=x', authSource: '$external' })?.username, 'CN=x');
  });

  test('nothing asks for authentication: no credential', () => {
    assert.equal(resolveCredential({}), undefined);
    assert.equal(resolveCredential({ database: 'app', authSource: 'admin' }), undefined);
  });

  const refusals: [string, CredentialInput, string, RegExp][] = [
    ['a SCRAM mechanism without username', { authMechanism: 'SCRAM-SHA-256' }, 'ERR_INVALID_OPTION', /^SCRAM-SHA-256 needs a username$/],
    ['no password for SCRAM', { username: 'alice' }, 'ERR_INVALID_OPTION', /SCRAM \(SCRAM-SHA-256 or SCRAM-SHA-1, negotiated\) needs a password/],
    ['an empty username', { username: '', password: PASSWORD }, 'ERR_INVALID_OPTION', /needs a username, and the one given is empty/],
    ['a password alone', { password: PASSWORD }, 'ERR_INVALID_OPTION', /a password is given without a username/],
    ['X509 with a password', { username: 'alice', password: PASSWORD, authMechanism: 'MONGODB-X509' }, 'ERR_INVALID_OPTION', /MONGODB-X509 takes no password/],
    ['X509 with another authSource', { authMechanism: 'MONGODB-X509', authSource: 'admin' }, 'ERR_INVALID_OPTION', /authSource cannot be 'admin'/],
    ['properties for SCRAM', { username: 'alice', password: PASSWORD, authMechanismProperties: { A: 'b' } }, 'ERR_INVALID_OPTION', /takes no mechanism properties/],
    ['properties alone', { authMechanismProperties: { A: 'b' } }, 'ERR_INVALID_OPTION', /'authMechanismProperties' is set, but neither/],
    ['GSSAPI', { username: 'alice', authMechanism: 'GSSAPI' }, 'ERR_UNSUPPORTED_OPTION', /^authMechanism GSSAPI is not supported: mgo-threads implements SCRAM-SHA-256/],
    ['MONGODB-AWS', { authMechanism: 'MONGODB-AWS' }, 'ERR_UNSUPPORTED_OPTION', /MONGODB-AWS is not supported/],
  ];
  for (const [what, input, code, pattern] of refusals) {
    test(`refuses ${what}`, () => assertRefused(() => resolveCredential(input), code, pattern));
  }
});

describe('credentials through resolveOptions', () => {
  test('from the URL, percent-decoded', async () => {
    const o = await resolveOptions(`mongodb://alice:${encodeURIComponent(PASSWORD)}@h/app?authMechanism=SCRAM-SHA-256`);
    assert.deepEqual(o.credentials, { mechanism: 'SCRAM-SHA-256', username: 'alice', password: PASSWORD, source: 'app' });
    assert.equal('auth' in o, false);
  });

  test("the options object's auth overrides the URL's userinfo field by field", async () => {
    const o = await resolveOptions('mongodb://alice@h/app', { auth: { password: PASSWORD } });
    assert.deepEqual(o.credentials, { mechanism: undefined, username: 'alice', password: PASSWORD, source: 'app' });
    const both = await resolveOptions('mongodb://bob:old@h', { auth: { username: 'alice', password: PASSWORD }, authSource: 'users' });
    assert.deepEqual(both.credentials, { mechanism: undefined, username: 'alice', password: PASSWORD, source: 'users' });
    assert.equal('auth' in both, false, 'the password is kept in one place');
  });

  test('an authSource from the URL with no credentials, or from a TXT record, asks for nothing', async () => {
    assert.equal((await resolveOptions('mongodb://h/?authSource=users')).credentials, undefined);
  });

  test("auth must be { username?, password? } of strings, and never echoed", async () => {
    for (const auth of [{ username: 'alice', password: 42 }, { user: 'alice' }, 'alice:pw', new Map()]) {
      await assertRejected(resolveOptions('mongodb://h', { auth }), 'ERR_INVALID_OPTION', /^invalid value <redacted> for option 'auth': expected an object/);
    }
  });

  test('the URL cannot set auth', async () => {
    const o = await resolveOptions('mongodb://h/?auth=x');
    assert.deepEqual(o.warnings, ["option 'auth' can only be set in the options object; ignored in the URL"]);
  });

  test('refused mechanisms name themselves, from the URL or the object', async () => {
    await assertRejected(
      resolveOptions('mongodb://alice@h/?authMechanism=GSSAPI'),
      'ERR_UNSUPPORTED_OPTION',
      /^option 'authMechanism' set to 'GSSAPI' is not supported: mgo-threads implements SCRAM-SHA-256, SCRAM-SHA-1 and MONGODB-X509; MONGODB-AWS, MONGODB-OIDC, GSSAPI \(Kerberos\) and PLAIN \(LDAP\) are not implemented$/,
    );
    for (const mechanism of ['MONGODB-AWS', 'MONGODB-OIDC', 'PLAIN']) {
      await assertRejected(resolveOptions('mongodb://h', { authMechanism: mechanism }), 'ERR_UNSUPPORTED_OPTION', new RegExp(`set to '${mechanism}' is not supported`));
    }
  });

  test('credential rule violations fail resolveOptions without echoing secrets', async () => {
    await assertRejected(resolveOptions(`mongodb://alice:${PASSWORD.replace(/[@:/]/g, encodeURIComponent)}@h/?authMechanism=MONGODB-X509`), 'ERR_INVALID_OPTION', /takes no password/);
    await assertRejected(resolveOptions('mongodb://alice@h'), 'ERR_INVALID_OPTION', /needs a password/);
  });
});

describe('DialInfo credentials (mgo)', () => {
  test('username and password go to the options object, never into the URL', async () => {
    const { url, options } = fromDialInfo({ addrs: ['h:1'], database: 'app', username: 'alice', password: PASSWORD, source: 'users', mechanism: 'SCRAM-SHA-1' });
    assert.equal(url, 'mongodb://h:1/app');
    assert.deepEqual(options, { auth: { username: 'alice', password: PASSWORD }, authSource: 'users', authMechanism: 'SCRAM-SHA-1' });
    const o = await resolveOptions(url, options);
    assert.deepEqual(o.credentials, { mechanism: 'SCRAM-SHA-1', username: 'alice', password: PASSWORD, source: 'users' });
  });

  test("mgo's source defaults: the database, else admin; X509 on $external", async () => {
    const resolve = async (info: Parameters<typeof fromDialInfo>[0]) => {
      const { url, options } = fromDialInfo(info);
      return (await resolveOptions(url, options)).credentials;
    };
    assert.equal((await resolve({ addrs: ['h'], database: 'app', username: 'alice', password: PASSWORD }))?.source, 'app');
    assert.equal((await resolve({ addrs: ['h'], username: 'alice', password: PASSWORD }))?.source, 'admin');
    assert.deepEqual(await resolve({ addrs: ['h'], database: 'app', mechanism: 'MONGODB-X509' }), { mechanism: 'MONGODB-X509', username: undefined, source: '$external' });
  });

  test('an empty username means no authentication, as in mgo', async () => {
    const { options } = fromDialInfo({ addrs: ['h'], username: '' });
    assert.equal(options.auth, undefined);
  });
});
