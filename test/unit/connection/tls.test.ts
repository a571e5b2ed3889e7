// The TLS helpers on their own: how failures are named, and what an
// unusable option file gives. Handshakes against real certificates are in
// test/integration/tls-auth.test.ts.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { secureContextFor, tlsFailure, type TlsOptions } from '../../../src/connection/tls.js';

const dir = mkdtempSync(join(tmpdir(), 'mgo-tls-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const base: TlsOptions = {
  tls: true,
  tlsInsecure: false,
  tlsAllowInvalidCertificates: false,
  tlsAllowInvalidHostnames: false,
  tlsCAFile: undefined,
  tlsCertificateKeyFile: undefined,
  tlsCertificateKeyFilePassword: undefined,
};

function failure(code: string, message = 'boom') {
  return tlsFailure(Object.assign(new Error(message), { code }), 'connection 1 to db:27017', 'db:27017');
}

describe('tlsFailure', () => {
  test('a hostname mismatch is ERR_TLS_HOSTNAME', () => {
    const err = failure('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames");
    assert.equal(err?.code, 'ERR_TLS_HOSTNAME');
    assert.equal(err?.address, 'db:27017');
    assert.match(err!.message, /^connection 1 to db:27017: TLS: .*not valid for this host name: Hostname\/IP does not match/);
  });

  test('verification failures are ERR_TLS_CERTIFICATE, naming OpenSSL\'s reason', () => {
    for (const code of ['SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT']) {
      const err = failure(code);
      assert.equal(err?.code, 'ERR_TLS_CERTIFICATE', code);
      assert.match(err!.message, new RegExp(`not trusted: boom \\(${code}\\)$`));
    }
    assert.equal(failure('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')?.code, 'ERR_TLS_CERTIFICATE');
  });

  test('anything else is left to the caller', () => {
    assert.equal(failure('ECONNRESET'), undefined);
    assert.equal(failure('ERR_SSL_WRONG_VERSION_NUMBER'), undefined);
  });
});

describe('secureContextFor', () => {
  test('an unreadable file names the option and the path', () => {
    const missing = join(dir, 'missing.pem');
    assert.throws(() => secureContextFor({ ...base, tlsCAFile: missing }), {
      code: 'ERR_INVALID_OPTION',
      message: `option 'tlsCAFile': cannot read '${missing}' (ENOENT)`,
    });
  });

  test('a file that is not a key names the option, never the password', () => {
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    assert.throws(
      () => secureContextFor({ ...base, tlsCertificateKeyFile: junk, tlsCertificateKeyFilePassword: 'hunter2xyz' }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_INVALID_OPTION');
        assert.match(err.message, /^option 'tlsCertificateKeyFile': cannot use the file: /);
        assert.doesNotMatch(err.message, /hunter2xyz/);
        return true;
      },
    );
  });

  test('one context per settings, reused', () => {
    assert.equal(secureContextFor(base), secureContextFor({ ...base }));
  });
});
