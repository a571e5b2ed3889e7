// URI options spec tests (see test/fixtures/uri-spec-runner.ts). Options the driver does
// not implement yet are still parsed to the spec; resolveOptions refuses them. Cases with
// credentials, auth, TLS or compression options must also resolve, except this one.
import { asksForAuth, asksForTlsOrCompression, runUriSpecSuite } from '../fixtures/uri-spec-runner.js';

runUriSpecSuite('uri-options', {}, {
  select: (c) => asksForAuth(c) || asksForTlsOrCompression(c),
  skips: {
    'auth-options.json: Valid auth options are parsed correctly (GSSAPI)': 'authMechanism GSSAPI is refused (ERR_UNSUPPORTED_OPTION): not implemented',
  },
});
