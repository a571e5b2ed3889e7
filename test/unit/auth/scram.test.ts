// SCRAM against published conversations: RFC 5802 section 5 (SHA-1, on the
// plain password), RFC 7677 section 3 (SHA-256), and the auth spec's MongoDB
// SCRAM-SHA-1 example (on the mongo-hashed password). The client nonce is
// fixed to the vectors'; everything else is computed.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { Binary } from 'bson';
import { ScramKeyCache } from '../../../src/auth/key-cache.js';
import { MIN_ITERATIONS, ScramConversation, ScramFailure, payloadBytes, randomNonce, scramPassword, scramProof } from '../../../src/auth/scram.js';

const utf8 = (text: string) => Buffer.from(text, 'utf8');

describe('SCRAM test vectors', () => {
  test('RFC 5802: SCRAM-SHA-1 on the plain password', async () => {
    const cache = new ScramKeyCache();
    const keys = await cache.keys({ hash: 'sha1', password: 'pencil', salt: Buffer.from('QSXCR+Q6sek8bf92', 'base64'), iterations: 4096 });
    const serverFirst = 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096';
    const { clientFinal, serverSignature } = scramProof('sha1', keys, 'n=user,r=fyko+d2lbbFgONRv9qkxdawL', serverFirst, 'fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j');
    assert.equal(clientFinal, 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
    assert.equal(serverSignature.toString('base64'), 'rmF9pqV8S7suAoZWja4dJRkFsKQ=');
  });

  test('RFC 7677: SCRAM-SHA-256, the whole client side', async () => {
    const conversation = new ScramConversation('SCRAM-SHA-256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO', new ScramKeyCache());
    const start = conversation.saslStart();
    assert.equal(Buffer.from((start.payload as Binary).value()).toString(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    assert.deepEqual({ ...start, payload: undefined }, {
      saslStart: 1,
      mechanism: 'SCRAM-SHA-256',
      payload: undefined,
      autoAuthorize: 1,
      options: { skipEmptyExchange: true },
    });
    const clientFinal = await conversation.clientFinal(utf8('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'));
    assert.equal(clientFinal.toString(), 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    conversation.verifyServerFinal(utf8('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='));
    assert.throws(() => conversation.verifyServerFinal(utf8('v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')), ScramFailure);
  });

  test("auth spec: MongoDB's SCRAM-SHA-1 on HEX(MD5(user:mongo:pencil))", async () => {
    const conversation = new ScramConversation('SCRAM-SHA-1', 'user', 'pencil', 'fyko+d2lbbFgONRv9qkxdawL', new ScramKeyCache());
    assert.equal(Buffer.from((conversation.saslStart().payload as Binary).value()).toString('base64'), 'biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM');
    const clientFinal = await conversation.clientFinal(
      Buffer.from('cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0xIbytWZ2s3cXZVT0tVd3VXTElXZzRsLzlTcmFHTUhFRSxzPXJROVpZM01udEJldVAzRTFURFZDNHc9PSxpPTEwMDAw', 'base64'),
    );
    assert.equal(
      clientFinal.toString('base64'),
      'Yz1iaXdzLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdMSG8rVmdrN3F2VU9LVXd1V0xJV2c0bC85U3JhR01IRUUscD1NQzJUOEJ2Ym1XUmNrRHc4b1dsNUlWZ2h3Q1k9',
    );
    conversation.verifyServerFinal(Buffer.from('dj1VTVdlSTI1SkQxeU5ZWlJNcFo0Vkh2aFo5ZTA9', 'base64'));
  });
});

describe('SCRAM checks on what the server sends', () => {
  const nonce = 'clientnonce';
  const conversation = () => new ScramConversation('SCRAM-SHA-256', 'user', 'pencil', nonce, new ScramKeyCache());
  const cases: [string, string, RegExp][] = [
    ['a nonce that does not extend the client one', 'r=othernonceXYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', /nonce does not extend/],
    ['the client nonce unextended', `r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`, /nonce does not extend/],
    ['too few iterations', `r=${nonce}XYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095`, /4095 iterations, fewer than the minimum of 4096/],
    ['a non-numeric iteration count', `r=${nonce}XYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x`, /malformed iteration count/],
    ['an iteration count over int32', `r=${nonce}XYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=9999999999`, /malformed iteration count/],
    ['a salt that is not base64', `r=${nonce}XYZ,s=***,i=4096`, /malformed salt/],
    ['an empty salt', `r=${nonce}XYZ,s=,i=4096`, /malformed salt/],
    ['no salt', `r=${nonce}XYZ,i=4096`, /lacks its nonce, salt or iteration count/],
    ['a mandatory extension', `m=ext,r=${nonce}XYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`, /extension/],
    ['garbage', 'garbage', /malformed SCRAM message/],
  ];
  for (const [what, serverFirst, pattern] of cases) {
    test(`refuses ${what}`, async () => {
      await assert.rejects(conversation().clientFinal(utf8(serverFirst)), (err: Error) => err instanceof ScramFailure && pattern.test(err.message));
    });
  }

  test(`the minimum is ${MIN_ITERATIONS}, accepted`, async () => {
    await conversation().clientFinal(utf8(`r=${nonce}XYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`));
  });

  test('server-final: an e= error, a missing signature, a premature end', async () => {
    const c = conversation();
    assert.throws(() => c.verifyServerFinal(utf8('v=abcd')), /before the client sent its proof/);
    await c.clientFinal(utf8(`r=${nonce}XYZ,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`));
    assert.throws(() => c.verifyServerFinal(utf8('e=invalid-proof')), /the server refused the proof: invalid-proof/);
    assert.throws(() => c.verifyServerFinal(utf8('x=1')), /lacks a valid signature/);
    assert.throws(() => c.verifyServerFinal(utf8('v=AAAA')), /signature is wrong/);
  });

  test('usernames are sent as given, with , and = escaped (no SASLprep)', () => {
    const c = new ScramConversation('SCRAM-SHA-256', 'a,b=c\u2168', 'pw', 'n', new ScramKeyCache());
    assert.equal(Buffer.from((c.saslStart().payload as Binary).value()).toString(), 'n,,n=a=2Cb=3Dc\u2168,r=n');
  });

  test('payloads: BinData or a Buffer, nothing else', () => {
    assert.equal(payloadBytes({ payload: new Binary(utf8('x')) }).toString(), 'x');
    assert.equal(payloadBytes({ payload: utf8('y') }).toString(), 'y');
    assert.throws(() => payloadBytes({ payload: 'eA==' }), ScramFailure);
    assert.throws(() => payloadBytes({}), ScramFailure);
  });

  test('nonces are random, printable and comma-free', () => {
    const a = randomNonce();
    assert.notEqual(a, randomNonce());
    assert.match(a, /^[A-Za-z0-9+/=]{32}$/);
  });
});

describe('password preparation', () => {
  // Auth spec test plan, step 4, and RFC 4013 section 3's examples.
  const prepared: [string, string][] = [
    ['IX', 'IX'],
    ['I\u00ADX', 'IX'],
    ['IV', 'IV'],
    ['I\u00ADV', 'IV'],
    ['\u2163', 'IV'],
    ['\u2168', 'IX'],
    ['user', 'user'],
    ['USER', 'USER'],
    ['\u00AA', 'a'],
    ['a\u00A0b', 'a b'],
  ];
  for (const [input, output] of prepared) {
    test(`SCRAM-SHA-256 SASLprep's ${JSON.stringify(input)} to ${JSON.stringify(output)}`, () => {
      assert.equal(scramPassword('SCRAM-SHA-256', 'user', input), output);
    });
  }

  for (const [what, password] of [
    ['a control character (prohibited)', 'pass\u0007word'],
    ['RandALCat then a digit (bidi rule)', '\u0627\u0031'],
  ] as const) {
    test(`SCRAM-SHA-256 refuses ${what}, without echoing it`, () => {
      assert.throws(
        () => scramPassword('SCRAM-SHA-256', 'user', password),
        (err: Error) => err instanceof ScramFailure && /SASLprep/.test(err.message) && !err.message.includes(password),
      );
    });
  }

  test('SCRAM-SHA-1 digests user:mongo:password, neither part prepared', () => {
    assert.equal(scramPassword('SCRAM-SHA-1', 'user', 'pencil'), '1c33006ec1ffd90f9cadcbcc0e118200');
    assert.notEqual(scramPassword('SCRAM-SHA-1', 'IX', 'I\u00ADX'), scramPassword('SCRAM-SHA-1', 'IX', 'IX'));
  });
});
