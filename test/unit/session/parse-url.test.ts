import { strict as assert } from 'node:assert';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { MgoError } from '../../../src/errors.js';
import { fromDialInfo, sessionOptionsOf } from '../../../src/session/dial-info.js';
import { Mode } from '../../../src/session/modes.js';
import { OPTION_WARNING_CODE } from '../../../src/session/option-warnings.js';
import { parseURL } from '../../../src/session/parse-url.js';
import { resolveOptions } from '../../../src/uri/resolve.js';
import { invalidOption } from '../../fixtures/invalid-option.js';

/** Warnings emitted during a test, by message. */
let emitted: { message: string; code: string | undefined }[] = [];
const onWarning = (warning: Error & { code?: string }) => emitted.push({ message: warning.message, code: warning.code });

describe('parseURL', () => {
  beforeEach(() => {
    emitted = [];
    process.on('warning', onWarning);
  });
  afterEach(() => {
    process.off('warning', onWarning);
  });

  /** process.emitWarning delivers on the next tick. */
  const warnings = () => new Promise<string[]>((resolve) => setImmediate(() => resolve(emitted.map((w) => w.message))));

  test("mgo's URL keys become DialInfo fields", async () => {
    const info = parseURL(
      'mongodb://alice:s%40cret@127.0.0.1:27018,[::1],%2Ftmp%2Fm.sock/app?replicaSet=rs0&authSource=admin&authMechanism=SCRAM-SHA-256' +
        '&maxPoolSize=12&minPoolSize=2&maxIdleTimeMS=500&appName=billing&readPreference=secondaryPreferred' +
        '&readPreferenceTags=dc:ny,rack:1&readPreferenceTags=&w=majority&j=true&wtimeoutMS=250&ssl=true&waitQueueTimeoutMS=900',
    );
    assert.deepEqual(info, {
      addrs: ['127.0.0.1:27018', '[::1]', '/tmp/m.sock'],
      database: 'app',
      username: 'alice',
      password: 's@cret',
      source: 'admin',
      mechanism: 'SCRAM-SHA-256',
      replicaSetName: 'rs0',
      tls: true,
      poolLimit: 12,
      poolTimeoutMS: 900,
      appName: 'billing',
      readPreference: { mode: Mode.SecondaryPreferred, tagSets: [{ dc: 'ny', rack: '1' }, {}] },
      safe: { wMode: 'majority', j: true, wTimeout: 250 },
      minPoolSize: 2,
      maxIdleTimeMS: 500,
    });
    assert.deepEqual(await warnings(), []);
  });

  test('connect=direct is direct; poolLimit is maxPoolSize; other options go to DialInfo.options', () => {
    assert.deepEqual(parseURL('mongodb://h:1/?connect=direct&poolLimit=7&socketTimeoutMS=60000&compressors=zlib'), {
      addrs: ['h:1'],
      direct: true,
      poolLimit: 7,
      options: { socketTimeoutMS: 60000, compressors: ['zlib'] },
    });
    assert.deepEqual(parseURL('mongodb://h/?connect=replicaSet'), { addrs: ['h'], direct: false });
  });

  test('w=0 is unacknowledged writes (safe: null)', () => {
    assert.equal(parseURL('mongodb://h/?w=0').safe, null);
  });

  test('dialWithInfo(parseURL(url)) resolves to what dial(url) does', async () => {
    const url =
      'mongodb://bob:pw@h1:27017,h2:27018/db?replicaSet=rs&maxPoolSize=9&readPreference=nearest&readPreferenceTags=dc:ny' +
      '&heartbeatFrequencyMS=700&authSource=other&appName=a&minPoolSize=1&maxIdleTimeMS=5&waitQueueTimeoutMS=10';
    const { url: rebuilt, options, overrides } = fromDialInfo(parseURL(url));
    const viaInfo = await resolveOptions(rebuilt, options);
    const direct = await resolveOptions(url);
    // The read preference is the first session's (DialInfo.readPreference), not the router's.
    const strip = ({ credentials, warnings, readPreference, readPreferenceTags, ...rest }: typeof direct) => ({ ...rest, credentials: { ...credentials } });
    assert.deepEqual(strip(viaInfo), strip(direct));
    assert.deepEqual(sessionOptionsOf(viaInfo, overrides), sessionOptionsOf(direct));
  });

  test('unknown and ignored keys are each reported through process.emitWarning, never dropped silently', async () => {
    const info = parseURL('mongodb://h/?connectMS=5&workers=2&maxPoolSize=3');
    assert.deepEqual(info, { addrs: ['h'], poolLimit: 3 });
    await warnings();
    assert.deepEqual(emitted, [
      { message: "parseURL: unknown option 'connectMS' ignored", code: OPTION_WARNING_CODE },
      { message: "parseURL: option 'workers' can only be set in the options object; ignored in the URL", code: OPTION_WARNING_CODE },
    ]);
  });

  test('invalid values and rules fail as dial() does, without the credentials', () => {
    assert.throws(() => parseURL('mongodb://alice:hunter2@h/?maxPoolSize=-1'), invalidOption('ERR_INVALID_OPTION', /'maxPoolSize'/, ['hunter2', 'alice']));
    assert.throws(() => parseURL('mongodb://alice:hunter2@h/?connect=sometimes'), invalidOption('ERR_INVALID_OPTION', /'connect' \(alias of 'directConnection'\)/, ['hunter2']));
    assert.throws(
      () => parseURL('mongodb://alice:hunter2@h/?readPreferenceTags=dc:ny'),
      invalidOption('ERR_INVALID_OPTION', /readPreferenceTags cannot be used with readPreference 'primary'/, ['hunter2']),
    );
    assert.throws(() => parseURL('mongodb://alice:hunter2@h1,h2/?connect=direct'), invalidOption('ERR_INVALID_OPTION', /exactly one host/, ['hunter2']));
    // Spec-valid values mgo-threads refuses (the option table's refuse rules): dial() throws, so parseURL() does.
    assert.throws(() => parseURL('mongodb://alice:hunter2@h/?maxPoolSize=0'), invalidOption('ERR_INVALID_OPTION', /'maxPoolSize'.*exact connection limit/, ['hunter2']));
    assert.throws(() => parseURL('mongodb://alice:hunter2@h/?poolLimit=0'), invalidOption('ERR_INVALID_OPTION', /'maxPoolSize'/, ['hunter2']));
    assert.throws(() => parseURL('mongodb://alice:hunter2@h/?waitQueueTimeoutMS=0'), invalidOption('ERR_INVALID_OPTION', /'waitQueueTimeoutMS'/, ['hunter2']));
  });

  test('gssapiServiceName is refused: GSSAPI is not implemented', () => {
    assert.throws(() => parseURL('mongodb://u:hunter2@h/?gssapiServiceName=mongodb'), invalidOption('ERR_UNSUPPORTED_OPTION', /'gssapiServiceName'.*GSSAPI/, ['hunter2']));
  });

  test('mongodb+srv:// is refused, without the credentials', () => {
    assert.throws(
      () => parseURL('mongodb+srv://alice:hunter2@cluster.example.com/'),
      (error: unknown) => error instanceof MgoError && error.code === 'ERR_INVALID_ARGUMENT' && /dial\(\)/.test(error.message) && !error.message.includes('hunter2'),
    );
  });
});
