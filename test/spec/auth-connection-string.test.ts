// The auth spec's connection-string tests (auth/tests/legacy/connection-string.json,
// read from ../shared/specs or $MGO_SPECS_DIR at test time) through the real
// resolveOptions: `valid` decides whether it resolves, `credential` what it
// resolves to. Cases of the mechanisms mgo-threads refuses (MONGODB-AWS,
// MONGODB-OIDC, GSSAPI, PLAIN) are skipped, each naming why; a separate test
// checks that each of them is refused with ERR_UNSUPPORTED_OPTION.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { MgoError } from '../../src/errors.js';
import { resolveOptions } from '../../src/uri/resolve.js';

interface SpecCredential {
  username: string | null;
  password: string | null;
  source: string;
  mechanism: string | null;
  mechanism_properties: Record<string, unknown> | null;
}

interface SpecCase {
  description: string;
  uri: string;
  valid: boolean;
  credential?: SpecCredential | null;
}

const specsDir = process.env.MGO_SPECS_DIR ?? resolve(import.meta.dirname, '../../../shared/specs');
const { tests } = JSON.parse(readFileSync(join(specsDir, 'auth/tests/legacy/connection-string.json'), 'utf8')) as { tests: SpecCase[] };

const REFUSED: Record<string, string> = {
  'MONGODB-AWS': 'MONGODB-AWS is refused (ERR_UNSUPPORTED_OPTION): AWS IAM authentication is not implemented',
  'MONGODB-OIDC': 'MONGODB-OIDC is refused (ERR_UNSUPPORTED_OPTION): OIDC authentication is not implemented',
  GSSAPI: 'GSSAPI is refused (ERR_UNSUPPORTED_OPTION): Kerberos authentication is not implemented',
  PLAIN: 'PLAIN is refused (ERR_UNSUPPORTED_OPTION): LDAP authentication is not implemented',
};

function mechanismOf(uri: string): string | undefined {
  const query = uri.split('?')[1] ?? '';
  for (const pair of query.split('&')) {
    const [key, value] = pair.split('=');
    if (key?.toLowerCase() === 'authmechanism' && value !== undefined) return value.toUpperCase();
  }
  return undefined;
}

const counts = { total: tests.length, passed: 0, skipped: 0 };

describe('auth spec: connection-string.json', () => {
  for (const c of tests) {
    const refused = REFUSED[mechanismOf(c.uri) ?? ''];
    test(c.description, async (t) => {
      if (refused !== undefined) {
        counts.skipped++;
        t.skip(refused);
        return;
      }
      if (!c.valid) {
        await assert.rejects(resolveOptions(c.uri), (err: unknown) => {
          assert.ok(err instanceof MgoError, String(err));
          assert.ok(err.code === 'ERR_INVALID_OPTION' || err.code === 'ERR_INVALID_URI', `${err.code}: ${err.message}`);
          return true;
        });
        counts.passed++;
        return;
      }
      const { credentials } = await resolveOptions(c.uri);
      if (c.credential === null || c.credential === undefined) {
        assert.equal(credentials, undefined);
      } else {
        assert.ok(credentials, 'a credential');
        const expected = c.credential;
        assert.deepEqual(
          {
            username: credentials.username ?? null,
            password: credentials.mechanism === 'MONGODB-X509' ? null : credentials.password,
            source: credentials.source,
            mechanism: credentials.mechanism ?? null,
            // No implemented mechanism takes properties.
            mechanism_properties: null,
          },
          expected,
        );
      }
      counts.passed++;
    });
  }
});

test('every case of a refused mechanism is refused, naming the mechanism', async () => {
  const refusedCases = tests.filter((c) => REFUSED[mechanismOf(c.uri) ?? ''] !== undefined);
  assert.ok(refusedCases.length > 0);
  for (const c of refusedCases) {
    const mechanism = mechanismOf(c.uri)!;
    await assert.rejects(resolveOptions(c.uri), (err: unknown) => {
      assert.ok(err instanceof MgoError, c.description);
      // An invalid URL (e.g. a malformed authMechanismProperties) may fail first.
      if (err.code === 'ERR_INVALID_OPTION' && !c.valid) return true;
      assert.equal(err.code, 'ERR_UNSUPPORTED_OPTION', `${c.description}: ${err.message}`);
      assert.ok(err.message.includes(mechanism), err.message);
      return true;
    });
  }
});

after(() => console.log(`auth spec connection-string tests: ${counts.passed} of ${counts.total} passed, ${counts.skipped} skipped`));
