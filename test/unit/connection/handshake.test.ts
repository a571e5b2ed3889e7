import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BSON } from 'bson';
import { parseHandshakeReply, helloCommand } from '../../../src/connection/handshake.js';
import { clientMetadata, faasName, MAX_CLIENT_METADATA_BYTES } from '../../../src/connection/client-metadata.js';
import { IncompatibleServerError, MgoError } from '../../../src/errors.js';
import { DRIVER_NAME, DRIVER_VERSION } from '../../../src/version.js';

describe('parseHandshakeReply', () => {
  test('keeps the server limits and identity', () => {
    const result = parseHandshakeReply(
      { isWritablePrimary: true, helloOk: true, maxBsonObjectSize: 1000, maxMessageSizeBytes: 5000, maxWriteBatchSize: 10, minWireVersion: 0, maxWireVersion: 17, connectionId: 12, ok: 1 },
      'h:1',
    );
    assert.equal(result.maxBsonObjectSize, 1000);
    assert.equal(result.maxMessageSizeBytes, 5000);
    assert.equal(result.maxWriteBatchSize, 10);
    assert.equal(result.maxWireVersion, 17);
    assert.equal(result.helloOk, true);
    assert.equal(result.isWritablePrimary, true);
    assert.equal(result.connectionId, 12);
  });

  test('refuses nonsense limits as a malformed reply naming the server', () => {
    for (const limits of [{ maxBsonObjectSize: -1 }, { maxMessageSizeBytes: 'x' }, { maxWriteBatchSize: 0.5 }, { maxMessageSizeBytes: 2 ** 40 }]) {
      assert.throws(
        () => parseHandshakeReply({ ismaster: true, maxWireVersion: 8, ...limits }, 'h:1'),
        (err: unknown) => err instanceof MgoError && err.code === 'ERR_PROTOCOL' && err.address === 'h:1' && err.message.includes(Object.keys(limits)[0]!),
      );
    }
  });

  test('falls back to MongoDB defaults for missing limits', () => {
    const result = parseHandshakeReply({ ismaster: true, maxWireVersion: 8 }, 'h:1');
    assert.equal(result.maxBsonObjectSize, 16 * 1024 * 1024);
    assert.equal(result.maxMessageSizeBytes, 48_000_000);
    assert.equal(result.maxWriteBatchSize, 100_000);
    assert.equal(result.isWritablePrimary, true);
    assert.equal(result.helloOk, false);
  });

  test('rejects a server too old for OP_MSG, naming it and the versions', () => {
    assert.throws(
      () => parseHandshakeReply({ maxWireVersion: 5, minWireVersion: 0 }, 'old:27017'),
      (err: unknown) => err instanceof IncompatibleServerError && err.code === 'ERR_INCOMPATIBLE_SERVER' && /old:27017.*max wire version 5.*at least 6/.test(err.message),
    );
  });

  test('rejects a server too new for us', () => {
    assert.throws(() => parseHandshakeReply({ maxWireVersion: 99, minWireVersion: 90 }, 'new:1'), /requires wire version 90/);
  });
});

describe('client metadata', () => {
  test('names the driver, os, platform and application', () => {
    const cmd = helloCommand('hello', 'my-app');
    assert.equal(cmd.hello, 1);
    assert.equal(cmd.helloOk, true);
    assert.deepEqual(cmd.client.driver, { name: DRIVER_NAME, version: DRIVER_VERSION });
    assert.equal(cmd.client.application.name, 'my-app');
    assert.equal(cmd.client.os.name, process.platform);
    assert.match(cmd.client.platform, /^Node\.js v\d+/);
  });

  test('stays within 512 bytes with a 128-byte appName', () => {
    const metadata = clientMetadata('é'.repeat(64));
    assert.ok(BSON.calculateObjectSize(metadata) <= MAX_CLIENT_METADATA_BYTES);
    assert.equal(metadata.driver.name, DRIVER_NAME);
  });

  test('driver version equals package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    assert.equal(DRIVER_VERSION, pkg.version);
    assert.equal(DRIVER_NAME, pkg.name);
  });
});

describe('faasName (handshake spec, client.env; it turns streaming monitoring off under serverMonitoringMode=auto)', () => {
  const cases: [NodeJS.ProcessEnv, ReturnType<typeof faasName>][] = [
    [{}, undefined],
    [{ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x' }, 'aws.lambda'],
    [{ AWS_EXECUTION_ENV: 'EC2' }, undefined],
    [{ AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' }, 'aws.lambda'],
    [{ FUNCTIONS_WORKER_RUNTIME: 'node' }, 'azure.func'],
    [{ K_SERVICE: 'svc' }, 'gcp.func'],
    [{ FUNCTION_NAME: 'fn' }, 'gcp.func'],
    [{ VERCEL: '1' }, 'vercel'],
    [{ VERCEL: '1', AWS_LAMBDA_RUNTIME_API: 'x' }, 'vercel'],
    [{ FUNCTIONS_WORKER_RUNTIME: 'node', K_SERVICE: 'svc' }, undefined],
  ];
  for (const [env, expected] of cases) {
    test(`${JSON.stringify(env)} -> ${expected}`, () => assert.equal(faasName(env), expected));
  }
});
