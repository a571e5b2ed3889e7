// Connection-string spec tests (see test/fixtures/uri-spec-runner.ts). No case is skipped;
// those with credentials or auth options must also resolve, except these.
import { asksForAuth, runUriSpecSuite } from '../fixtures/uri-spec-runner.js';

const SCRAM_NEEDS_PASSWORD = 'no password: SCRAM, the default mechanism, requires one (auth spec, SCRAM credential properties)';
const refused = (mechanism: string) => `authMechanism ${mechanism} is refused (ERR_UNSUPPORTED_OPTION): not implemented`;

runUriSpecSuite('connection-string', {}, {
  select: asksForAuth,
  skips: {
    'valid-auth.json: Username without password': SCRAM_NEEDS_PASSWORD,
    'valid-auth.json: Escaped username and database without password': SCRAM_NEEDS_PASSWORD,
    "valid-auth.json: Subdelimiters in user/pass don't need escaping (PLAIN)": refused('PLAIN'),
    'valid-auth.json: Escaped username (GSSAPI)': refused('GSSAPI'),
    'valid-options.json: Option names are normalized to lowercase': refused('PLAIN'),
    'valid-options.json: Colon in a key value pair': refused('MONGODB-OIDC'),
    'valid-warnings.json: Comma in a key value pair causes a warning':
      `${refused('MONGODB-OIDC')}; and resolveOptions fails on the authMechanismProperties value the parse only warns about`,
  },
});
