import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import type { InvalidOptionError } from '../../../src/errors.js';
import { parseConnectionString, redactUri } from '../../../src/uri/connection-string.js';
import { invalidOption } from '../../fixtures/invalid-option.js';

/** Asserts that parsing fails with `code`, a message matching `pattern`, and none of `absent`. */
function assertFails(uri: string, code: InvalidOptionError['code'], pattern: RegExp, absent: readonly string[] = []): void {
  assert.throws(() => parseConnectionString(uri), invalidOption(code, pattern, absent));
}

describe('hosts', () => {
  test('a port is null unless given; IPv6 loses its brackets; types are told apart', () => {
    const { hosts } = parseConnectionString('mongodb://db1.example.com,10.0.0.7:27018,[fe80::1]:27019,[::1]');
    assert.deepEqual(hosts, [
      { type: 'hostname', host: 'db1.example.com', port: null },
      { type: 'ipv4', host: '10.0.0.7', port: 27018 },
      { type: 'ip_literal', host: 'fe80::1', port: 27019 },
      { type: 'ip_literal', host: '::1', port: null },
    ]);
  });

  test('Unix domain sockets are percent-encoded paths ending in .sock', () => {
    const { hosts, database } = parseConnectionString('mongodb://%2Fvar%2Frun%2Fmongodb-27017.sock,rel%2Fm.sock/app');
    assert.deepEqual(hosts, [
      { type: 'unix', host: '/var/run/mongodb-27017.sock', port: null },
      { type: 'unix', host: 'rel/m.sock', port: null },
    ]);
    assert.equal(database, 'app');
  });

  test('the slash before the options is optional', () => {
    const parsed = parseConnectionString('mongodb://h1,h2:2?replicaSet=rs0');
    assert.equal(parsed.hosts.length, 2);
    assert.equal(parsed.options.replicaSet, 'rs0');
    assert.equal(parsed.database, null);
  });

  const malformed: [string, RegExp][] = [
    ['mongodb://a:99999', /^invalid port '99999' in host 'a:99999': expected an integer from 1 to 65535$/],
    ['mongodb://a:0', /invalid port '0' in host 'a:0'/],
    ['mongodb://a:', /invalid port '' in host 'a:'/],
    ['mongodb://[::1]:http', /invalid port 'http' in host '\[::1\]:http'/],
    ['mongodb://localhost::27017', /invalid host 'localhost::27017': more than one ':' \(an IPv6 address goes in brackets/],
    ['mongodb://::1', /invalid host '::1'/],
    ['mongodb://[::1', /invalid IPv6 literal in host '\[::1'/],
    ['mongodb://[zz::1]:27017', /invalid IPv6 literal in host '\[zz::1\]:27017'/],
    ['mongodb://[::1]x', /unexpected text after '\]' in host '\[::1\]x'/],
    ['mongodb://a,,b', /empty entry/],
    ['mongodb://a,', /empty entry/],
    ['mongodb://', /no host$/],
    ['mongodb://?w=1', /no host$/],
    ['mongodb:///tmp/mongodb-27017.sock', /no host \(a Unix domain socket path must be percent-encoded/],
    ['mongodb://%2Ftmp%2Fmongodb', /Unix domain socket path '\/tmp\/mongodb' must end in '.sock'/],
    ['mongodb://%2Ftmp%2Fm.sock:27017', /Unix domain socket '\/tmp\/m.sock' cannot have a port/],
    ['mongodb://ex%ZZample.com', /invalid percent-encoding in host 'ex%ZZample.com'/],
    ['mongodb://ex ample.com', /invalid host name in host 'ex ample.com'/],
    ['mongodb://ex%3Aample.com', /invalid host name in host 'ex%3Aample.com'/],
  ];
  for (const [uri, pattern] of malformed) {
    test(`names the malformed part: ${uri}`, () => {
      assertFails(uri, 'ERR_INVALID_URI', pattern);
    });
  }
});

describe('scheme and path', () => {
  test('the scheme is named when it is wrong', () => {
    assertFails('mongo://localhost', 'ERR_INVALID_URI', /invalid scheme 'mongo': a connection string starts with 'mongodb:\/\/'/);
    assertFails('localhost:27017', 'ERR_INVALID_URI', /^invalid scheme: /);
    assertFails('', 'ERR_INVALID_URI', /non-empty string/);
  });

  test('the scheme is case-insensitive', () => {
    assert.equal(parseConnectionString('MongoDB://h').hosts[0]!.host, 'h');
  });

  test('the database is decoded and checked', () => {
    assert.equal(parseConnectionString('mongodb://h/my%3Fdb?w=1').database, 'my?db');
    assert.equal(parseConnectionString('mongodb://h/db.coll').database, 'db.coll');
    assertFails('mongodb://h/a%24b', 'ERR_INVALID_URI', /invalid database name 'a\$b': it may not contain/);
    assertFails('mongodb://h/a/b', 'ERR_INVALID_URI', /invalid database name 'a\/b'/);
  });
});

describe('userinfo', () => {
  test('username and password are percent-decoded', () => {
    const parsed = parseConnectionString('mongodb://us%40er:p%3Ass%2Fw@h/admin');
    assert.equal(parsed.username, 'us@er');
    assert.equal(parsed.password, 'p:ss/w');
    assert.equal(parsed.database, 'admin');
  });

  test('no colon means no password; a trailing colon an empty one', () => {
    assert.equal(parseConnectionString('mongodb://alice@h').password, null);
    assert.equal(parseConnectionString('mongodb://alice:@h').password, '');
  });

  // Every shape a password can break the URL in; none may leak it.
  const password = 'Tr0ub4dor';
  const broken: [string, RegExp][] = [
    [`mongodb://alice:${password}:x@h`, /more than one ':'/],
    [`mongodb://alice:${password}@x@h`, /unescaped '@'/],
    [`mongodb://alice:${password}%@h`, /'%' that does not start a valid escape/],
    [`mongodb://alice:${password}%zz@h`, /'%' that does not start a valid escape/],
    [`mongodb://alice:${password}#1@h`, /RFC 3986/],
    [`mongodb://alice:${password} 1@h`, /RFC 3986/],
    [`mongodb://alice:${password}/1@h/db`, /invalid port <withheld> in host <withheld>/],
    [`mongodb://alice:1/${password}@h/db`, /an '@' follows the host list/],
    [`mongodb://alice:${password}?1@h`, /invalid port <withheld>/],
    [`mongodb://alice:12?${password}@h`, /an '@' follows the host list/],
    [`mongodb://alice:12?${password}=1@h`, /an '@' follows the host list/],
    [`mongodb://alice:12?${password}=1@h:99999`, /an '@' follows the host list/],
    [`mongodb://alice:${password}@h:99999`, /invalid port '99999' in host 'h:99999'/],
    [`mongodb://alice:${password}@h/?w`, /option 'w' has no value/],
    [`mongodb+srv://alice:${password}@a,b`, /exactly one host name/],
  ];
  for (const [uri, pattern] of broken) {
    test(`the password stays out of the error: ${uri.replace(password, '<password>')}`, () => {
      assertFails(uri, 'ERR_INVALID_URI', pattern, [password, 'alice']);
    });
  }

  test('the password stays out of warnings', () => {
    const { warnings } = parseConnectionString(`mongodb://alice:${password}@h/?foo=1&maxPoolSize=x&w=1&w=2`);
    assert.equal(warnings.length, 3);
    assert.ok(warnings.every((w) => !w.includes(password)));
  });

  test("an '@' in a known option's value is plain text", () => {
    const parsed = parseConnectionString('mongodb://h/?appName=me@corp&replicaSet=rs@1');
    assert.equal(parsed.options.appName, 'me@corp');
    assert.equal(parsed.options.replicaSet, 'rs@1');
  });

  test('secret option values are never echoed', () => {
    const secret = 'hunter2xyz';
    assertFails(
      `mongodb://h/?proxyHost=p&proxyUsername=u&proxyPassword=${secret}&proxyPassword=${secret}`,
      'ERR_INVALID_OPTION',
      /'proxyPassword' may be given only once/,
      [secret],
    );
    const { warnings } = parseConnectionString(`mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN${secret}`);
    assert.deepEqual(warnings, [
      "invalid value <redacted> for option 'authMechanismProperties': expected comma-separated key:value pairs, e.g. 'A:x,B:y'; ignored",
    ]);
  });
});

describe('options', () => {
  test('keys are case-insensitive and values typed', () => {
    const { options, warnings } = parseConnectionString(
      'mongodb://h/?MAXPOOLSIZE=7&journal=true&w=majority&readpreference=SECONDARY&compressors=zstd,zlib&appname=svc',
    );
    assert.deepEqual(options, {
      maxPoolSize: 7,
      journal: true,
      w: 'majority',
      readPreference: 'secondary',
      compressors: ['zstd', 'zlib'],
      appName: 'svc',
    });
    assert.deepEqual(warnings, []);
  });

  test('w is a number when it looks like one', () => {
    assert.equal(parseConnectionString('mongodb://h/?w=2').options.w, 2);
  });

  test('readPreferenceTags accumulate in order; an empty one matches any server', () => {
    const { options, warnings } = parseConnectionString(
      'mongodb://h/?readPreference=nearest&readPreferenceTags=dc:ny,rack:1&readPreferenceTags=dc:sf&readPreferenceTags=',
    );
    assert.deepEqual(options.readPreferenceTags, [{ dc: 'ny', rack: '1' }, { dc: 'sf' }, {}]);
    assert.deepEqual(warnings, []);
  });

  test('key:value lists split each pair on its first colon', () => {
    const { options } = parseConnectionString('mongodb://h/?authMechanismProperties=TOKEN_RESOURCE:api://x:1,ENVIRONMENT:azure');
    assert.deepEqual(options.authMechanismProperties, { TOKEN_RESOURCE: 'api://x:1', ENVIRONMENT: 'azure' });
  });

  test('a repeated key warns and the last one wins', () => {
    const { options, warnings } = parseConnectionString('mongodb://h/?maxPoolSize=5&maxpoolsize=9');
    assert.equal(options.maxPoolSize, 9);
    assert.deepEqual(warnings, ["option 'maxPoolSize' is given 2 times; the last one is used"]);
  });

  test('tls and its alias ssl must agree', () => {
    assert.equal(parseConnectionString('mongodb://h/?ssl=false&tls=false').options.tls, false);
    assertFails('mongodb://h/?ssl=true&tls=false', 'ERR_INVALID_OPTION', /^option 'tls' is given different values \(as 'ssl' and 'tls'\); they must agree$/);
    assertFails('mongodb://h/?tls=true&tls=false', 'ERR_INVALID_OPTION', /option 'tls' is given different values \(as 'tls'\)/);
  });

  test('a deprecated key applies, with a warning, unless its replacement is present', () => {
    const alone = parseConnectionString('mongodb://h/?wtimeout=5');
    assert.equal(alone.options.wTimeoutMS, 5);
    assert.deepEqual(alone.warnings, ["option 'wtimeout' is deprecated; use 'wTimeoutMS'"]);
    const both = parseConnectionString('mongodb://h/?wtimeout=5&wTimeoutMS=10');
    assert.equal(both.options.wTimeoutMS, 10);
    assert.deepEqual(both.warnings, ["option 'wtimeout' ignored: 'wTimeoutMS' is also set"]);
  });

  test('unknown keys are warnings, never errors, never silent', () => {
    const { options, warnings } = parseConnectionString('mongodb://h/?connectMS=5&maxPoolSize=3');
    assert.deepEqual(options, { maxPoolSize: 3 });
    assert.deepEqual(warnings, ["unknown option 'connectMS' ignored"]);
  });

  test('object-only options are ignored in the URL with a warning; mgo keys are aliases', () => {
    const { options, warnings } = parseConnectionString('mongodb://h/?workers=4&poolLimit=3&connect=direct&j=true');
    assert.deepEqual(options, { maxPoolSize: 3, directConnection: true, journal: true });
    assert.deepEqual(warnings, ["option 'workers' can only be set in the options object; ignored in the URL"]);
  });

  test("mgo's connect key takes mgo's values only", () => {
    assert.deepEqual(parseConnectionString('mongodb://h/?connect=replicaSet').options, { directConnection: false });
    const { options, warnings } = parseConnectionString('mongodb://h/?connect=true');
    assert.deepEqual(options, {});
    assert.deepEqual(warnings, ["invalid value 'true' for option 'connect' (alias of 'directConnection'): expected 'direct' or 'replicaSet'; ignored"]);
  });

  test('an invalid value is ignored with a warning naming the option and what it accepts', () => {
    const { options, warnings, invalid } = parseConnectionString('mongodb://h/?maxIdleTimeMS=-1&journal=&heartbeatFrequencyMS=100');
    assert.deepEqual(options, {});
    assert.deepEqual(warnings, [
      "invalid value '-1' for option 'maxIdleTimeMS': expected a whole number of milliseconds from 0 to 2147483647; ignored",
      "invalid value '' for option 'journal': expected 'true' or 'false'; ignored",
      "invalid value '100' for option 'heartbeatFrequencyMS': expected a whole number of milliseconds from 500 to 2147483647; ignored",
    ]);
    assert.equal(invalid.length, 3);
    assert.ok(invalid.every((e) => e.code === 'ERR_INVALID_OPTION'));
  });

  test('an option needs a value', () => {
    assertFails('mongodb://h/?w', 'ERR_INVALID_URI', /^option 'w' has no value: expected key=value$/);
    assertFails('mongodb://h/?w=%E0%A4%A', 'ERR_INVALID_URI', /invalid percent-encoding in the value of option 'w'/);
  });

  test('the spec value of maxPoolSize=0 parses (resolveOptions refuses it)', () => {
    const parsed = parseConnectionString('mongodb://h/?maxPoolSize=0');
    assert.equal(parsed.options.maxPoolSize, 0);
    assert.deepEqual(parsed.warnings, []);
  });
});

describe('rules checked while parsing', () => {
  const cases: [string, RegExp][] = [
    ['mongodb://h/?tlsInsecure=true&tlsAllowInvalidHostnames=false', /'tlsInsecure' and 'tlsAllowInvalidHostnames' cannot both be set/],
    ['mongodb://h/?tlsDisableOCSPEndpointCheck=true&tlsDisableCertificateRevocationCheck=true', /cannot both be set/],
    ['mongodb://a,b/?directConnection=true', /directConnection=true needs exactly one host, not 2/],
    ['mongodb://a,b/?loadBalanced=true', /loadBalanced=true needs exactly one host/],
    ['mongodb://a/?loadBalanced=true&replicaSet=rs', /loadBalanced=true cannot be combined with 'replicaSet'/],
    ['mongodb://a/?srvMaxHosts=2', /'srvMaxHosts' requires a mongodb\+srv:\/\/ connection string/],
    ['mongodb://a/?proxyUsername=u&proxyPassword=p', /'proxyUsername' requires 'proxyHost'/],
    ['mongodb://a/?proxyHost=p&proxyUsername=u', /'proxyUsername' and 'proxyPassword' must be set together/],
    ['mongodb://a/?minPoolSize=10&maxPoolSize=5', /minPoolSize \(10\) cannot be greater than maxPoolSize \(5\)/],
    ['mongodb://a/?readPreferenceTags=dc:ny', /readPreferenceTags cannot be used with readPreference 'primary'/],
    ['mongodb://a/?maxStalenessSeconds=120', /maxStalenessSeconds cannot be used with readPreference 'primary'/],
  ];
  for (const [uri, pattern] of cases) {
    test(uri, () => {
      assertFails(uri, 'ERR_INVALID_OPTION', pattern);
    });
  }

  test('maxPoolSize=0 (no maximum) puts no bound on minPoolSize', () => {
    assert.equal(parseConnectionString('mongodb://a/?maxPoolSize=0&minPoolSize=500').options.minPoolSize, 500);
  });
});

describe('mongodb+srv://', () => {
  test('one host name, no port', () => {
    const parsed = parseConnectionString('mongodb+srv://cluster0.example.net/app?srvMaxHosts=3');
    assert.equal(parsed.srv, true);
    assert.deepEqual(parsed.hosts, [{ type: 'hostname', host: 'cluster0.example.net', port: null }]);
    assert.equal(parsed.options.srvMaxHosts, 3);
  });

  test('fewer than three labels are allowed (seedlist spec prose test 1)', () => {
    assert.equal(parseConnectionString('mongodb+srv://localhost').hosts[0]!.host, 'localhost');
    assert.equal(parseConnectionString('mongodb+srv://mongo.local').hosts[0]!.host, 'mongo.local');
  });

  const invalid: [string, InvalidOptionError['code'], RegExp][] = [
    ['mongodb+srv://a.example.com,b.example.com', 'ERR_INVALID_URI', /exactly one host name, not 2/],
    ['mongodb+srv://a.example.com:27017', 'ERR_INVALID_URI', /takes no port/],
    ['mongodb+srv://10.1.2.3', 'ERR_INVALID_URI', /needs a host name, not an IP address/],
    ['mongodb+srv://%2Ftmp%2Fm.sock', 'ERR_INVALID_URI', /needs a host name/],
    ['mongodb+srv://a.example.com/?directConnection=true', 'ERR_INVALID_OPTION', /directConnection=true cannot be used with mongodb\+srv/],
    ['mongodb+srv://a.example.com/?srvMaxHosts=1&replicaSet=rs', 'ERR_INVALID_OPTION', /'srvMaxHosts' cannot be combined with 'replicaSet'/],
  ];
  for (const [uri, code, pattern] of invalid) {
    test(uri, () => {
      assertFails(uri, code, pattern);
    });
  }

  test('srvServiceName must be an RFC 6335 service name', () => {
    const { options, warnings } = parseConnectionString('mongodb+srv://a.example.com/?srvServiceName=_bad');
    assert.equal(options.srvServiceName, undefined);
    assert.match(warnings[0]!, /invalid value '_bad' for option 'srvServiceName': expected an SRV service name/);
  });
});

describe('redactUri', () => {
  const cases: [string, string][] = [
    ['mongodb://alice:pw@h1,h2/db?w=1', 'mongodb://<credentials>@h1,h2/db?w=1'],
    ['mongodb://h1/db?w=1', 'mongodb://h1/db?w=1'],
    ['mongodb+srv://alice@c.example.com', 'mongodb+srv://<credentials>@c.example.com'],
    ['mongodb://h/?proxyHost=p&proxyPassword=pw&w=1', 'mongodb://h/?proxyHost=p&proxyPassword=<redacted>&w=1'],
    ['mongodb://h/?TLSCERTIFICATEKEYFILEPASSWORD=pw', 'mongodb://h/?TLSCERTIFICATEKEYFILEPASSWORD=<redacted>'],
    ['mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN:pw', 'mongodb://h/?authMechanismProperties=<redacted>'],
    // Malformed: everything up to the last '@' goes.
    ['mongodb://alice:p/w@h/db', 'mongodb://<credentials>@h/db'],
    ['mongodb://alice:p?w@h', 'mongodb://<credentials>@h'],
    ['alice:pw@h', '<credentials>@h'],
    ['mongodb://al&proxyPassword=ice:pw@h/?w=1', 'mongodb://<credentials>@h/?w=1'],
    // Over-redacts when an option value holds an '@'; secrets still go first.
    ['mongodb://alice:pw@h/?replicaSet=a@b&proxyPassword=pw', 'mongodb://<credentials>@b&proxyPassword=<redacted>'],
  ];
  for (const [uri, expected] of cases) test(uri, () => assert.equal(redactUri(uri), expected));
});
