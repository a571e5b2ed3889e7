import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import type { InvalidOptionError } from '../../../src/errors.js';
import { OPTION_NAMES, findOption, lowerKey, readObjectOptions, specOf } from '../../../src/uri/options.js';
import { resolveOptions } from '../../../src/uri/resolve.js';
import { invalidOption } from '../../fixtures/invalid-option.js';

function assertRejects(promise: Promise<unknown>, code: InvalidOptionError['code'], pattern: RegExp, absent?: string[]) {
  return assert.rejects(promise, invalidOption(code, pattern, absent));
}

describe('the table', () => {
  test('every key and alias has its own lowercase spelling', () => {
    const keys = OPTION_NAMES.flatMap((name) => [name, ...(specOf(name).aliases ?? []).map((a) => a.name)]);
    assert.equal(new Set(keys.map(lowerKey)).size, keys.length);
    for (const key of keys) assert.equal(findOption(key.toUpperCase())?.key, key);
  });

  test('every default is a valid value of its own type', () => {
    for (const name of OPTION_NAMES) {
      const { default: value, type } = specOf(name);
      if (value !== undefined) assert.deepEqual(type.fromValue(value), value, name);
    }
  });

  // Otherwise an option nobody set would make every dial fail.
  test('an option not supported yet has a reason, and its default is neutral', () => {
    for (const name of OPTION_NAMES) {
      const spec = specOf(name);
      if (spec.supported === true) continue;
      assert.ok(spec.supported.length > 10, name);
      if (spec.default !== undefined) assert.equal(spec.neutral?.(spec.default), true, name);
    }
  });

  test('URL text and JS values are validated alike', () => {
    const samples: [string, string, unknown][] = [
      ['maxPoolSize', '5', 5],
      ['journal', 'false', false],
      ['readPreference', 'secondaryPreferred', 'secondaryPreferred'],
      ['compressors', 'snappy,zstd', ['snappy', 'zstd']],
      ['readPreferenceTags', 'dc:ny', [{ dc: 'ny' }]],
      ['authMechanismProperties', 'SERVICE_NAME:mongo', { SERVICE_NAME: 'mongo' }],
      ['w', 'majority', 'majority'],
    ];
    for (const [name, text, value] of samples) {
      const { type } = specOf(findOption(name)!.name);
      assert.deepEqual(type.fromString(text), value, name);
      assert.deepEqual(type.fromValue(value), value, name);
    }
  });

  test('appName is at most 128 bytes of UTF-8', () => {
    const { type } = specOf('appName');
    assert.equal(type.fromValue('x'.repeat(128)), 'x'.repeat(128));
    assert.equal(type.fromValue('é'.repeat(65)), undefined); // 130 bytes
  });
});

describe('the options object', () => {
  test('takes canonical names and object aliases', () => {
    const { values, keys } = readObjectOptions({ poolLimit: 8, ssl: false, workers: 2, appName: undefined });
    assert.deepEqual(values, { maxPoolSize: 8, tls: false, workers: 2 });
    assert.equal(keys.get('maxPoolSize'), 'poolLimit');
  });

  test('an unknown key is an error naming it', () => {
    assert.throws(() => readObjectOptions({ poolLimt: 5 }), { code: 'ERR_INVALID_OPTION', message: "unknown option 'poolLimt' in the options object" });
    assert.throws(() => readObjectOptions({ maxpoolsize: 5 }), {
      message: "unknown option 'maxpoolsize' in the options object; did you mean 'maxPoolSize'?",
    });
  });

  test('a value of the wrong type is an error naming the option and what it accepts', () => {
    assert.throws(() => readObjectOptions({ maxPoolSize: '10' }), {
      code: 'ERR_INVALID_OPTION',
      message: "invalid value '10' for option 'maxPoolSize': expected an integer from 0 to 2147483647",
    });
    assert.throws(() => readObjectOptions({ poolLimit: 2.5 }), { message: /option 'poolLimit' \(alias of 'maxPoolSize'\)/ });
    assert.throws(() => readObjectOptions({ readPreferenceTags: { dc: 'ny' } }), { message: /option 'readPreferenceTags': expected tag sets/ });
    assert.throws(() => readObjectOptions({ authMechanismProperties: new Map([['A', 'x']]) }), { message: /option 'authMechanismProperties'/ });
    assert.throws(() => readObjectOptions({ tlsCertificateKeyFilePassword: 42 }), { message: /invalid value <redacted>/ });
  });

  test('two names of one option must agree', () => {
    assert.throws(() => readObjectOptions({ maxPoolSize: 5, poolLimit: 6 }), {
      message: "options 'maxPoolSize' and 'poolLimit' both set 'maxPoolSize' with different values",
    });
    assert.deepEqual(readObjectOptions({ tls: false, ssl: false }).values, { tls: false });
  });
});

describe('resolveOptions', () => {
  test('defaults', async () => {
    const o = await resolveOptions('mongodb://localhost');
    assert.deepEqual(o.hosts, [{ type: 'hostname', host: 'localhost', port: 27017, address: 'localhost:27017' }]);
    const expected = {
      workers: 0,
      maxPoolSize: 100,
      minPoolSize: 0,
      maxConnecting: 2,
      maxIdleTimeMS: 0,
      maxLifetimeMS: 0,
      waitQueueTimeoutMS: 30_000,
      socketTimeoutMS: 0,
      connectTimeoutMS: 10_000,
      serverSelectionTimeoutMS: 30_000,
      heartbeatFrequencyMS: 10_000,
      localThresholdMS: 15,
      readPreference: 'primary',
      tls: false,
      appName: undefined,
      srvHost: undefined,
      credentials: undefined,
    };
    assert.deepEqual(Object.fromEntries(Object.keys(expected).map((k) => [k, o[k as keyof typeof o]])), expected);
    assert.deepEqual(o.warnings, []);
  });

  test('object values win over URL values', async () => {
    const o = await resolveOptions('mongodb://a,B:27018,[::1],%2Ftmp%2Fm.sock/app?maxPoolSize=5&appName=url&replicaSet=rs', {
      poolLimit: 50,
      appName: 'code',
      workers: 2,
    });
    assert.equal(o.maxPoolSize, 50);
    assert.equal(o.appName, 'code');
    assert.equal(o.replicaSet, 'rs');
    assert.equal(o.workers, 2);
    assert.equal(o.database, 'app');
    assert.deepEqual(
      o.hosts.map((h) => h.address),
      ['a:27017', 'b:27018', '[::1]:27017', '/tmp/m.sock'],
    );
  });

  test('warnings are carried through', async () => {
    const o = await resolveOptions('mongodb://h/?foo=1&w=1&w=2');
    assert.deepEqual(o.warnings, ["unknown option 'foo' ignored", "option 'w' is given 2 times; the last one is used"]);
    assert.equal(o.w, 2);
  });

  test('an invalid URL value fails here, though the parse only warns', async () => {
    await assertRejects(resolveOptions('mongodb://h/?maxPoolSize=ten'), 'ERR_INVALID_OPTION', /invalid value 'ten' for option 'maxPoolSize'/);
    await assertRejects(resolveOptions('mongodb://h/?maxPoolSize='), 'ERR_INVALID_OPTION', /invalid value '' for option 'maxPoolSize'/);
  });

  describe('our bounds, naming the option', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['mongodb://h/?maxPoolSize=0', {}, /^invalid value 0 for option 'maxPoolSize': 0 means 'no limit' .* mgo-threads promises an exact connection limit/],
      ['mongodb://h', { poolLimit: 0 }, /option 'poolLimit' \(alias of 'maxPoolSize'\): 0 means 'no limit'/],
      ['mongodb://h/?waitQueueTimeoutMS=0', {}, /option 'waitQueueTimeoutMS': 0 would mean 'wait forever'.*finite wait/],
      ['mongodb://h', { waitQueueTimeoutMS: 0 }, /option 'waitQueueTimeoutMS': 0 would mean 'wait forever'/],
      ['mongodb://h/?minPoolSize=150', {}, /^minPoolSize \(150\) cannot be greater than maxPoolSize \(100\)$/],
      ['mongodb://h/?minPoolSize=5', { poolLimit: 4 }, /^minPoolSize \(5\) cannot be greater than maxPoolSize \(4\)$/],
      ['mongodb://h/?maxConnecting=0', {}, /invalid value '0' for option 'maxConnecting': expected an integer from 1/],
      ['mongodb://h', { maxConnecting: 0 }, /invalid value 0 for option 'maxConnecting': expected an integer from 1/],
      ['mongodb://h', { maxIdleTimeMS: -1 }, /invalid value -1 for option 'maxIdleTimeMS': expected a whole number of milliseconds from 0/],
      ['mongodb://h/?maxLifetimeMS=-5', {}, /invalid value '-5' for option 'maxLifetimeMS'/],
      ['mongodb://h', { socketTimeoutMS: -1 }, /option 'socketTimeoutMS'/],
      ['mongodb://h', { workers: -1 }, /invalid value -1 for option 'workers': expected an integer from 0/],
      ['mongodb://h', { minPoolSize: -2 }, /option 'minPoolSize'/],
      ['mongodb://h', { heartbeatFrequencyMS: 499 }, /option 'heartbeatFrequencyMS': expected a whole number of milliseconds from 500/],
      ['mongodb://h', { connectTimeoutMS: Infinity }, /option 'connectTimeoutMS'/],
    ];
    for (const [uri, options, pattern] of cases) {
      test(`${uri} ${JSON.stringify(options)}`, async () => {
        await assertRejects(resolveOptions(uri, options), 'ERR_INVALID_OPTION', pattern);
      });
    }

    test('the largest values pass', async () => {
      const o = await resolveOptions('mongodb://h/?maxPoolSize=4096&minPoolSize=4096', { waitQueueTimeoutMS: 1, maxConnecting: 1 });
      assert.equal(o.maxPoolSize, 4096);
      assert.equal(o.waitQueueTimeoutMS, 1);
    });
  });

  describe('TLS and the Stable API', () => {
    test('TLS options resolve from the URL and the options object', async () => {
      const o = await resolveOptions('mongodb://h/?ssl=true&tlsCAFile=ca.pem&tlsCertificateKeyFile=client.pem&tlsAllowInvalidHostnames=true', {
        tlsCertificateKeyFilePassword: 'hunter2xyz',
      });
      assert.equal(o.tls, true);
      assert.equal(o.tlsCAFile, 'ca.pem');
      assert.equal(o.tlsCertificateKeyFile, 'client.pem');
      assert.equal(o.tlsCertificateKeyFilePassword, 'hunter2xyz');
      assert.equal(o.tlsAllowInvalidHostnames, true);
      assert.equal(o.tlsAllowInvalidCertificates, false);
      assert.equal((await resolveOptions('mongodb://h', { tls: true, tlsInsecure: true })).tlsInsecure, true);
    });

    test('serverApi: the options object only, checked', async () => {
      assert.deepEqual((await resolveOptions('mongodb://h', { serverApi: '1' })).serverApi, { version: '1' });
      assert.deepEqual((await resolveOptions('mongodb://h', { serverApi: { version: '1', strict: true } })).serverApi, { version: '1', strict: true });
      assert.equal((await resolveOptions('mongodb://h')).serverApi, undefined);
      await assertRejects(resolveOptions('mongodb://h', { serverApi: { version: '2' } }), 'ERR_INVALID_OPTION', /option 'serverApi': expected '1' or \{ version/);
      await assertRejects(resolveOptions('mongodb://h', { serverApi: { version: '1', strict: 'yes' } }), 'ERR_INVALID_OPTION', /'serverApi'/);
      await assertRejects(resolveOptions('mongodb://h', { serverApi: { version: '1', stict: true } }), 'ERR_INVALID_OPTION', /'serverApi'/);
      const o = await resolveOptions('mongodb://h/?serverApi=1');
      assert.equal(o.serverApi, undefined);
      assert.ok(o.warnings.some((w) => /serverApi/.test(w)), JSON.stringify(o.warnings));
    });
  });

  describe('compression', () => {
    test('compressors and zlibCompressionLevel resolve, from the URL and the options object', async () => {
      const fromUrl = await resolveOptions('mongodb://h/?compressors=zstd,zlib&zlibCompressionLevel=4');
      assert.deepEqual([fromUrl.compressors, fromUrl.zlibCompressionLevel], [['zstd', 'zlib'], 4]);
      const fromObject = await resolveOptions('mongodb://h/', { compressors: ['snappy'], zlibCompressionLevel: 9 });
      assert.deepEqual([fromObject.compressors, fromObject.zlibCompressionLevel], [['snappy'], 9]);
      const unset = await resolveOptions('mongodb://h/');
      assert.deepEqual([unset.compressors, unset.zlibCompressionLevel], [[], -1]);
    });
  });

  describe('options not implemented yet', () => {
    const refused: [string, Record<string, unknown>, RegExp][] = [
      ['mongodb://h/?loadBalanced=true', {}, /option 'loadBalanced' set to true is not supported: load-balanced mode/],
      ['mongodb://u@h/?authMechanism=GSSAPI', {}, /^option 'authMechanism' set to 'GSSAPI' is not supported: mgo-threads implements SCRAM-SHA-256/],
      ['mongodb://h/?timeoutMS=500', {}, /option 'timeoutMS' .* \(CSOT\)/],
      ['mongodb://h/?proxyHost=socks', {}, /option 'proxyHost' .* SOCKS5/],
      ['mongodb://h/?serverSelectionTryOnce=true', {}, /single-threaded/],
      ['mongodb://h/?proxyHost=p&proxyUsername=u&proxyPassword=hunter2xyz', {}, /option 'proxyHost'/],
    ];
    for (const [uri, options, pattern] of refused) {
      test(`refuses ${uri} ${JSON.stringify(options)}`, async () => {
        await assertRejects(resolveOptions(uri, options), 'ERR_UNSUPPORTED_OPTION', pattern, ['hunter2xyz']);
      });
    }

    test('accepts their neutral values', async () => {
      const o = await resolveOptions(
        'mongodb://h/?tls=false&ssl=false&loadBalanced=false&retryWrites=true&retryReads=false&serverMonitoringMode=poll&zlibCompressionLevel=6&authSource=admin',
        { compressors: [], tlsInsecure: false },
      );
      assert.equal(o.tls, false);
      assert.equal(o.retryReads, false);
      assert.equal(o.serverMonitoringMode, 'poll');
      assert.deepEqual(o.warnings, []);
    });

    test('credentials resolve (src/auth/credential.ts; more in test/unit/auth)', async () => {
      const o = await resolveOptions('mongodb://alice:Tr0ub4dor@h/admin');
      assert.deepEqual(o.credentials, { mechanism: undefined, username: 'alice', password: 'Tr0ub4dor', source: 'admin' });
    });
  });

  test('rules see the URL and the object together', async () => {
    await assertRejects(
      resolveOptions('mongodb://h/?tlsInsecure=false', { tlsAllowInvalidCertificates: false }),
      'ERR_INVALID_OPTION',
      /'tlsInsecure' and 'tlsAllowInvalidCertificates' cannot both be set/,
    );
    await assertRejects(resolveOptions('mongodb://a,b', { directConnection: true }), 'ERR_INVALID_OPTION', /directConnection=true needs exactly one host/);
    await assertRejects(resolveOptions('mongodb://a', { srvServiceName: 'db' }), 'ERR_INVALID_OPTION', /'srvServiceName' requires a mongodb\+srv/);
    await assertRejects(resolveOptions('mongodb://a/?readPreference=secondary', { readPreference: 'primary', maxStalenessSeconds: 90 }), 'ERR_INVALID_OPTION', /maxStalenessSeconds/);
  });

  test('the options argument must be an object', async () => {
    await assertRejects(resolveOptions('mongodb://h', 'poolLimit=5' as never), 'ERR_INVALID_OPTION', /must be an object/);
  });
});
