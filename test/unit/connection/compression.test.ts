// Wire compression on a Connection, against a scripted server: negotiation,
// what goes compressed and what never does, replies compressed any way the
// server likes, and the replies that must close the connection.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON } from 'bson';
import { Connection, type ConnectionOptions } from '../../../src/connection/connection.js';
import { NetworkError } from '../../../src/errors.js';
import { COMPRESSOR_IDS, compressors } from '../../../src/wire/compression.js';
import { compressedMessages, startCompressingProxy, type CompressingProxy } from '../../fixtures/compressing-proxy.js';
import { haveCompressors } from '../../fixtures/compressors.js';
import { defaultHello, encodeReply, startFakeServer, type FakeServer, type ReceivedCommand } from '../../fixtures/fake-server.js';

const closers: { close(): Promise<void> }[] = [];
after(() => Promise.all(closers.map((s) => s.close())));

async function fake(handler: (cmd: ReceivedCommand) => void, compression?: string[]): Promise<FakeServer> {
  const server = await startFakeServer(handler, { hello: compression ? { ...defaultHello, compression } : defaultHello });
  closers.push(server);
  return server;
}

function options(server: { host: string; port: number }, extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return { id: 1, generation: 0, host: server.host, port: server.port, connectTimeoutMS: 2000, socketTimeoutMS: 0, ...extra };
}

const afterHello = (then: (cmd: ReceivedCommand) => void) => (cmd: ReceivedCommand) => {
  if (cmd.name !== 'hello') then(cmd);
};

/** Waits for the connection's close event (with a deadline), resolving with its error. */
function closeOf(conn: Connection): Promise<unknown> {
  if (conn.isClosed) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connection did not close within 5 s')), 5000);
    conn.once('close', (error) => {
      clearTimeout(timer);
      resolve(error);
    });
  });
}

function networkError(code: string, pattern: RegExp) {
  return (err: unknown) => err instanceof NetworkError && err.code === code && pattern.test(err.message);
}

describe('Connection compression', () => {
  test('offers its list in the handshake (an empty one without compressors), and compresses nothing when the server lists none', async (t) => {
    if (!haveCompressors(t, 'zstd')) return;
    const server = await fake(() => {});
    const plain = await Connection.connect(options(server));
    const offering = await Connection.connect(options(server, { compressors: ['zstd', 'zlib'] }));
    await plain.command('db', { ping: 1 });
    await offering.command('db', { ping: 1 });
    const hellos = server.received.filter((c) => c.name === 'hello');
    assert.deepEqual(hellos.map((c) => c.command.compression), [[], ['zstd', 'zlib']]);
    assert.equal(offering.compressor, undefined);
    assert.deepEqual(server.received.map((c) => c.compressorId), [undefined, undefined, undefined, undefined]);
    await Promise.all([plain.close(), offering.close()]);
  });

  for (const [client, serverList, expected] of [
    [['zstd', 'snappy', 'zlib'], ['zlib', 'snappy'], 'snappy'],
    [['zlib', 'zstd'], ['zstd', 'zlib'], 'zlib'],
    [['zstd'], ['zstd', 'snappy', 'zlib'], 'zstd'],
  ] as const) {
    test(`client [${client}] and server [${serverList}] use ${expected}, both ways`, async (t) => {
      if (!haveCompressors(t, 'snappy', 'zstd')) return;
      const server = await fake(
        afterHello((cmd) => cmd.connection.reply(cmd, { ok: 1, echo: cmd.command.find }, { compressor: expected })),
        [...serverList],
      );
      const conn = await Connection.connect(options(server, { compressors: client }));
      assert.equal(conn.compressor, expected);
      const reply = await conn.command('db', { find: 'c', filter: { x: 'y'.repeat(500) } });
      assert.equal(reply.echo, 'c');
      const find = server.received.find((c) => c.name === 'find')!;
      assert.equal(find.compressorId, COMPRESSOR_IDS[expected]);
      assert.equal(find.command.filter.x, 'y'.repeat(500));
      await conn.close();
    });
  }

  test('the handshake and authentication commands go plain after negotiation; other commands compressed', async () => {
    const server = await fake(() => {}, ['zlib']);
    const conn = await Connection.connect(options(server, { compressors: ['zlib'] }));
    const exempt = ['hello', 'isMaster', 'saslStart', 'saslContinue', 'getnonce', 'authenticate', 'createUser', 'updateUser', 'copydbSaslStart', 'copydbgetnonce', 'copydb'];
    for (const name of [...exempt, 'ping', 'find', 'dropUser']) await conn.command('admin', { [name]: 1 });
    const sent = server.received.slice(1).map((c) => [c.name, c.compressorId]);
    assert.deepEqual(sent, [...exempt.map((n) => [n, undefined]), ['ping', 2], ['find', 2], ['dropUser', 2]]);
    assert.equal(server.received[0]!.compressorId, undefined, 'the handshake itself went plain');
    await conn.close();
  });

  test('zlibCompressionLevel reaches the requests', async () => {
    const server = await fake(() => {}, ['zlib']);
    const filter = { text: 'the quick brown fox jumps over the lazy dog '.repeat(200) };
    const sizes: number[] = [];
    for (const level of [0, 9]) {
      const conn = await Connection.connect(options(server, { compressors: ['zlib'], zlibCompressionLevel: level }));
      await conn.command('db', { find: 'c', filter });
      sizes.push(server.received.at(-1)!.wireBytes);
      await conn.close();
    }
    assert.ok(sizes[0]! > BSON.calculateObjectSize(filter), `level 0 stores (${sizes[0]} bytes)`);
    assert.ok(sizes[1]! < sizes[0]! / 10, `level 9 compresses (${sizes[1]} against ${sizes[0]} bytes)`);
  });

  test('replies are read whatever compressor they use, even one not negotiated or for a plain request', async (t) => {
    if (!haveCompressors(t, 'snappy', 'zstd')) return;
    let n = 0;
    const server = await fake((cmd) => {
      const compressor = (['zstd', 'snappy', 'zlib'] as const)[n++ % 3];
      const doc = cmd.name === 'hello' ? { ...defaultHello, compression: ['zlib'] } : { ok: 1, n };
      cmd.connection.reply(cmd, doc, { compressor });
    });
    const conn = await Connection.connect(options(server, { compressors: ['zlib'] }));
    assert.equal(conn.compressor, 'zlib', 'the handshake reply came compressed with zstd and was read');
    assert.equal((await conn.command('db', { ping: 1 })).n, 2);
    assert.equal((await conn.command('db', { ping: 1 })).n, 3);
    const unoffered = await Connection.connect(options(server));
    assert.equal((await unoffered.command('db', { ping: 1 })).n, 5, 'a client that offered nothing still reads a compressed reply');
    await Promise.all([conn.close(), unoffered.close()]);
  });

  for (const [what, corrupt, code, pattern] of [
    ['corrupt compressed data', (f: Buffer) => f.fill(0x5a, 30), 'ERR_PROTOCOL', /does not decompress with zlib/],
    ['a reserved compressor id', (f: Buffer) => (f[24] = 7), 'ERR_COMPRESSION_UNSUPPORTED', /compressor unknown \(7\)/],
    ['an uncompressedSize one byte short', (f: Buffer) => f.writeInt32LE(f.readInt32LE(20) - 1, 20), 'ERR_PROTOCOL', /to the announced \d+ bytes/],
    ['an uncompressedSize over maxMessageSizeBytes', (f: Buffer) => f.writeInt32LE(48_000_000, 20), 'ERR_PROTOCOL', /outside 0 to maxMessageSizeBytes \(48000000\)/],
  ] as const) {
    test(`a reply with ${what} fails the command with ${code} and closes the connection`, async () => {
      const server = await fake(
        afterHello((cmd) => {
          const frame = compressors.compressMessage(encodeReply(cmd.requestId, { ok: 1, s: 'z'.repeat(300) }), 'zlib');
          corrupt(frame);
          cmd.connection.writeRaw(frame);
        }),
        ['zlib'],
      );
      const conn = await Connection.connect(options(server, { compressors: ['zlib'] }));
      const closed = closeOf(conn);
      const inFlight = conn.command('db', { ping: 2 });
      await assert.rejects(conn.command('db', { ping: 1 }), networkError(code, pattern));
      await assert.rejects(inFlight, networkError(code, pattern), 'every pending request fails with the same error');
      assert.ok(networkError(code, pattern)(await closed));
      assert.equal(conn.isClosed, true);
    });
  }
});

describe('the compressing proxy (test fixture)', () => {
  test('decompresses requests for a server without compression, advertises its list, and compresses replies as the request came', async () => {
    const server = await fake(afterHello((cmd) => cmd.connection.reply(cmd, { ok: 1, got: cmd.command.filter })));
    const proxy: CompressingProxy = await startCompressingProxy(server, ['zstd', 'zlib']);
    closers.unshift(proxy);
    const compressed = await Connection.connect(options(proxy, { compressors: ['zlib', 'zstd'] }));
    const plain = await Connection.connect(options(proxy));
    assert.equal(compressed.compressor, 'zlib');
    assert.equal(plain.compressor, undefined);
    assert.deepEqual((await compressed.command('db', { find: 'c', filter: { a: 1 } })).got, { a: 1 });
    assert.deepEqual((await plain.command('db', { find: 'c', filter: { b: 2 } })).got, { b: 2 });
    assert.ok(server.received.every((c) => c.compressorId === undefined), 'the server saw plain requests only');
    assert.deepEqual(
      [proxy.counts.requests.zlib.messages, proxy.counts.replies.zlib.messages, proxy.counts.requests.plain.messages, proxy.counts.replies.plain.messages],
      [1, 1, 3, 3],
    );
    assert.equal(compressedMessages(proxy.counts.requests), 1);
    assert.equal(proxy.connections, 2);
    await Promise.all([compressed.close(), plain.close()]);
  });
});
