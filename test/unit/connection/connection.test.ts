// Connection behaviour against a scripted fake server: what a hostile or
// broken server can do, and what must happen then.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { Connection, type ConnectionOptions } from '../../../src/connection/connection.js';
import { MgoError, NetworkError, ServerError } from '../../../src/errors.js';
import { encodeReply, startFakeServer, type FakeServer, type ReceivedCommand } from '../../fixtures/fake-server.js';
import { waitFor, withTimeout } from '../../fixtures/wait.js';

const servers: FakeServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function fake(...args: Parameters<typeof startFakeServer>): Promise<FakeServer> {
  const server = await startFakeServer(...args);
  servers.push(server);
  return server;
}

function options(server: { host: string; port: number }, extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  return { id: 1, generation: 0, host: server.host, port: server.port, connectTimeoutMS: 2000, socketTimeoutMS: 0, ...extra };
}

function isNetworkError(code: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof NetworkError, `expected NetworkError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  };
}

/** A handler that answers the handshake and hands every later command to `then`. */
function afterHello(then: (cmd: ReceivedCommand) => void) {
  return (cmd: ReceivedCommand) => {
    if (cmd.name !== 'hello') then(cmd);
  };
}

describe('Connection', () => {
  test('handshakes with hello and applies the server limits', async () => {
    const server = await fake(() => {}, { hello: { helloOk: true, isWritablePrimary: true, maxWireVersion: 17, maxWriteBatchSize: 3, maxBsonObjectSize: 2000, ok: 1 } });
    const conn = await Connection.connect(options(server, { appName: 'unit' }));
    assert.equal(conn.state, 'ready');
    assert.equal(conn.hello.maxWriteBatchSize, 3);
    assert.equal(conn.serverConnectionId, 1);
    const hello = server.received[0]!;
    assert.equal(hello.name, 'hello');
    assert.equal(hello.command.$db, 'admin');
    assert.equal(hello.command.client.application.name, 'unit');

    // Limits are enforced before sending: the server sees no insert.
    const seen = server.received.length;
    await assert.rejects(
      conn.command('db', { insert: 'c' }, { sequences: [{ identifier: 'documents', documents: [{}, {}, {}, {}] }] }),
      (err: unknown) => err instanceof MgoError && err.code === 'ERR_BATCH_TOO_LARGE' && /maxWriteBatchSize of 3/.test(err.message),
    );
    await assert.rejects(conn.command('db', { insert: 'c' }, { sequences: [{ identifier: 'documents', documents: [{ x: 'a'.repeat(3000) }] }] }), /over the server's limit of 2000 bytes/);
    assert.equal(server.received.length, seen);
    // ... and the connection is still usable.
    assert.deepEqual(await conn.command('db', { ping: 1 }), { ok: 1 });
    await conn.close();
  });

  test('falls back to isMaster when hello is unknown', async () => {
    const server = await fake((cmd) => {
      if (cmd.name === 'hello') cmd.connection.reply(cmd, { ok: 0, code: 59, codeName: 'CommandNotFound', errmsg: 'no such command: hello' });
    });
    const conn = await Connection.connect(options(server));
    assert.deepEqual(server.received.map((c) => c.name), ['hello', 'isMaster']);
    conn.destroy();
  });

  test('a declared API version goes with every command, getMore included, and rules out isMaster', async () => {
    const server = await fake((cmd) => {
      if (cmd.name === 'hello') cmd.connection.reply(cmd, { ok: 0, code: 59, codeName: 'CommandNotFound', errmsg: 'no such command: hello' });
    });
    await assert.rejects(Connection.connect(options(server, { serverApi: { version: '1', strict: true } })), { code: 'ERR_SERVER' });
    assert.deepEqual(server.received.map((c) => c.name), ['hello']);

    const api = await fake(() => {});
    const conn = await Connection.connect(options(api, { serverApi: { version: '1', strict: true, deprecationErrors: false } }));
    await conn.command('db', { find: 'c' });
    await conn.command('db', { getMore: 1n, collection: 'c' });
    for (const { command } of api.received) {
      assert.equal(command.apiVersion, '1');
      assert.equal(command.apiStrict, true);
      assert.equal(command.apiDeprecationErrors, false);
    }
    assert.deepEqual(api.received.map((c) => c.name), ['hello', 'find', 'getMore']);
    conn.destroy();

    const plain = await fake(() => {});
    const undeclared = await Connection.connect(options(plain));
    await undeclared.command('db', { ping: 1 });
    assert.ok(plain.received.every(({ command }) => !('apiVersion' in command) && !('apiStrict' in command)));
    undeclared.destroy();
  });

  test('matches pipelined replies answered out of order', async () => {
    const held: ReceivedCommand[] = [];
    const server = await fake(
      afterHello((cmd) => {
        held.push(cmd);
        if (held.length === 3) for (const c of held.reverse()) c.connection.reply(c, { ok: 1, n: c.command.n });
      }),
      { autoReply: 'hello' },
    );
    const conn = await Connection.connect(options(server));
    const replies = await Promise.all([1, 2, 3].map((n) => conn.command('db', { echo: 1, n })));
    assert.deepEqual(replies.map((r) => r.n), [1, 2, 3]);
    conn.destroy();
  });

  test('coalesces commands issued in one tick into one write', async () => {
    const server = await fake();
    const conn = await Connection.connect(options(server));
    const chunks: number[] = [];
    server.connections[0]!.socket.on('data', (chunk: Buffer) => chunks.push(chunk.byteLength));
    await Promise.all(Array.from({ length: 20 }, (_, i) => conn.command('db', { ping: 1, i })));
    assert.equal(chunks.length, 1, `20 commands arrived in ${chunks.length} chunks`);
    conn.destroy();
  });

  test('keeps server error code, codeName and labels', async () => {
    const server = await fake(afterHello((cmd) => cmd.connection.reply(cmd, { ok: 0, errmsg: 'E11000 dup', code: 11000, codeName: 'DuplicateKey', errorLabels: ['X'] })));
    const conn = await Connection.connect(options(server));
    await assert.rejects(conn.command('db', { insert: 'c' }), (err: unknown) => {
      assert.ok(err instanceof ServerError);
      assert.equal(err.code, 'ERR_SERVER');
      assert.equal(err.serverCode, 11000);
      assert.equal(err.codeName, 'DuplicateKey');
      assert.ok(err.hasErrorLabel('X'));
      return true;
    });
    assert.equal(conn.state, 'ready', 'a server error does not close the connection');
    conn.destroy();
  });

  test('a reply to an unknown request closes the connection and fails every pending request', async () => {
    const server = await fake(afterHello((cmd) => cmd.connection.reply(cmd, { ok: 1 }, { responseTo: cmd.requestId + 1000 })));
    const conn = await Connection.connect(options(server));
    const results = await Promise.allSettled([conn.command('db', { a: 1 }), conn.command('db', { b: 1 })]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      isNetworkError('ERR_PROTOCOL', /127\.0\.0\.1:\d+: reply answers request \d+, which is not pending/)(r.reason);
    }
    assert.equal(conn.state, 'closed');
    assert.equal(conn.isClosed, true);
    await assert.rejects(conn.command('db', { ping: 1 }), /not pending/, 'later commands fail with the cause');
  });

  for (const [name, length] of [['negative', -1], ['tiny', 3], ['oversized', 48_000_001]] as const) {
    test(`a ${name} length prefix fails the pending command, naming the server`, async () => {
      const server = await fake(afterHello((cmd) => {
        const bad = Buffer.alloc(16);
        bad.writeInt32LE(length, 0);
        cmd.connection.writeRaw(bad);
      }));
      const conn = await Connection.connect(options(server));
      await assert.rejects(conn.command('db', { ping: 1 }), isNetworkError('ERR_PROTOCOL', new RegExp(`${server.address}: invalid message length ${length}`)));
      assert.equal(conn.state, 'closed');
    });
  }

  test('truncated BSON in a reply fails with a protocol error', async () => {
    const server = await fake(afterHello((cmd) => {
      const frame = encodeReply(cmd.requestId, { ok: 1, s: 'hello' });
      frame.writeInt32LE(9999, 21);
      cmd.connection.writeRaw(frame);
    }));
    const conn = await Connection.connect(options(server));
    await assert.rejects(conn.command('db', { ping: 1 }), isNetworkError('ERR_PROTOCOL', /truncated BSON/));
  });

  test('a server that closes mid-message fails the command with the partial byte count', async () => {
    const server = await fake(afterHello((cmd) => {
      const frame = encodeReply(cmd.requestId, { ok: 1, s: 'x'.repeat(100) });
      cmd.connection.socket.end(frame.subarray(0, 50));
    }));
    const conn = await Connection.connect(options(server));
    await assert.rejects(conn.command('db', { ping: 1 }), isNetworkError('ERR_CONNECTION_CLOSED', /closed by the server in the middle of a reply \(50 bytes/));
  });

  test('a compressed reply with a reserved compressor id is a clear error', async () => {
    const server = await fake(afterHello((cmd) => {
      const out = Buffer.alloc(30);
      out.writeInt32LE(30, 0);
      out.writeInt32LE(cmd.requestId, 8);
      out.writeInt32LE(2012, 12);
      out.writeInt32LE(2013, 16);
      out.writeInt32LE(5, 20);
      out[24] = 9;
      cmd.connection.writeRaw(out);
    }));
    const conn = await Connection.connect(options(server));
    await assert.rejects(conn.command('db', { ping: 1 }), isNetworkError('ERR_COMPRESSION_UNSUPPORTED', /compressor unknown \(9\)/));
  });

  test('socketTimeoutMS fails a command whose reply never comes, and an idle connection does not time out', async () => {
    const server = await fake(() => {}, { autoReply: 'hello' });
    const conn = await Connection.connect(options(server, { socketTimeoutMS: 100 }));
    // Idle for at least 250 ms (a lower bound: a loaded machine only makes it longer).
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(conn.state, 'ready', 'idle for 250 ms with socketTimeoutMS 100');
    const started = performance.now();
    await withTimeout(
      assert.rejects(conn.command('db', { ping: 1 }), isNetworkError('ERR_NETWORK_TIMEOUT', /no reply within socketTimeoutMS \(100 ms\)/)),
      10_000,
      'the command timing out',
    );
    assert.ok(performance.now() - started >= 99, 'not before socketTimeoutMS');
    assert.equal(conn.state, 'closed');
  });

  test('connectTimeoutMS bounds a handshake that never answers', async () => {
    const server = await fake(() => {}, { autoReply: 'none' });
    await assert.rejects(Connection.connect(options(server, { connectTimeoutMS: 150 })), isNetworkError('ERR_NETWORK_TIMEOUT', /connectTimeoutMS \(150 ms\)/));
  });

  test('a refused connection names the address', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((r) => probe.close(r));
    await assert.rejects(Connection.connect(options({ host: '127.0.0.1', port })), isNetworkError('ERR_NETWORK', new RegExp(`127.0.0.1:${port}: connect ECONNREFUSED`)));
  });

  test('an aborted dial rejects and leaves no socket', async () => {
    const server = await fake(() => {}, { autoReply: 'none' });
    const controller = new AbortController();
    const pending = Connection.connect(options(server, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(pending, /connect aborted/);
  });

  test('w:0 (moreToCome) resolves once flushed and gets no reply', async () => {
    const server = await fake();
    const conn = await Connection.connect(options(server));
    const result = await conn.commandRaw('db', { insert: 'c' }, { moreToCome: true, sequences: [{ identifier: 'documents', documents: [{ a: 1 }] }] });
    assert.equal(result, undefined);
    assert.deepEqual(await conn.command('db', { ping: 1 }), { ok: 1 });
    const insert = server.received.find((c) => c.name === 'insert')!;
    assert.equal(insert.flags & 2, 2);
    assert.deepEqual(insert.sequences.documents, [{ a: 1 }]);
    conn.destroy();
  });

  test('a reply to an unacknowledged (moreToCome) request is dropped, not a protocol error', async () => {
    // FerretDB 1.24 answers w:0 writes, which the protocol forbids.
    const server = await fake((cmd) => {
      if (cmd.name === 'insert') cmd.connection.reply(cmd, { ok: 1, n: 1 });
    });
    const conn = await Connection.connect(options(server));
    await conn.commandRaw('db', { insert: 'c' }, { moreToCome: true, sequences: [{ identifier: 'documents', documents: [{ a: 1 }] }] });
    assert.deepEqual(await conn.command('db', { ping: 1 }), { ok: 1 });
    assert.equal(conn.state, 'ready');
    conn.destroy();
  });

  test('close() drains in-flight commands; destroy() aborts them; both idempotent', async () => {
    let hold: ReceivedCommand | undefined;
    const server = await fake(afterHello((cmd) => (hold = cmd)), { autoReply: 'hello' });
    const conn = await Connection.connect(options(server));
    const inflight = conn.command('db', { slow: 1 });
    // The server must hold the command before close(): wait for it to arrive.
    await waitFor('the command at the server', () => hold !== undefined, 10_000);
    const closing = conn.close();
    assert.equal(conn.isClosed, true);
    await assert.rejects(conn.command('db', { ping: 1 }), /is closing/);
    hold!.connection.reply(hold!, { ok: 1, done: true });
    assert.equal((await inflight).done, true);
    await closing;
    await conn.close();
    assert.equal(conn.state, 'closed');

    const conn2 = await Connection.connect(options(server));
    const aborted = conn2.command('db', { slow: 2 });
    conn2.destroy();
    conn2.destroy();
    await assert.rejects(aborted, isNetworkError('ERR_CONNECTION_CLOSED', /closed by the driver/));
  });

  describe('exhaust (a stream of replies to one request)', () => {
    test('every reply reaches onReply in order, each answering the previous one as mongod sends them; the connection then serves the next request', async () => {
      const server = await fake((cmd) => {
        if (cmd.name !== 'ping') return;
        cmd.connection.stream(cmd, { ok: 1, n: 1 }, true);
        cmd.connection.stream(cmd, { ok: 1, n: 2 }, true);
        setTimeout(() => cmd.connection.stream(cmd, { ok: 1, n: 3 }, false), 20);
      });
      const conn = await Connection.connect(options(server));
      const seen: number[] = [];
      await conn.exhaust('admin', { ping: 1 }, (reply) => seen.push(reply.n));
      assert.deepEqual(seen, [1, 2, 3]);
      const ping = server.received.find((c) => c.name === 'ping')!;
      assert.equal(ping.flags, 1 << 16, 'exhaustAllowed, and no other flag');
      assert.equal(conn.inFlight, 0);
      assert.deepEqual(await conn.command('db', { buildInfo: 1 }), { ok: 1 });
      conn.destroy();
    });

    test('replies that all answer the request itself are taken too', async () => {
      const server = await fake((cmd) => {
        if (cmd.name !== 'ping') return;
        cmd.connection.reply(cmd, { ok: 1, n: 1 }, { flags: 2 });
        cmd.connection.reply(cmd, { ok: 1, n: 2 }, { flags: 0 });
      });
      const conn = await Connection.connect(options(server));
      const seen: number[] = [];
      await conn.exhaust('admin', { ping: 1 }, (reply) => seen.push(reply.n));
      assert.deepEqual(seen, [1, 2]);
      conn.destroy();
    });

    test('a streamed reply to a request that did not allow it is a protocol error', async () => {
      const server = await fake((cmd) => {
        if (cmd.name === 'ping') cmd.connection.stream(cmd, { ok: 1 }, true);
      });
      const conn = await Connection.connect(options(server));
      await assert.rejects(conn.command('db', { ping: 1 }), isNetworkError('ERR_PROTOCOL', /streamed a reply \(moreToCome\) that was not asked for/));
      assert.equal(conn.state, 'closed');
    });

    test('a streamed ok: 0 (which servers must not send) destroys the connection; an ok: 0 that ends the stream is the server error', async () => {
      let streamedError = true;
      const server = await fake((cmd) => {
        if (cmd.name !== 'ping') return;
        cmd.connection.stream(cmd, { ok: 1, n: 1 }, true);
        cmd.connection.stream(cmd, { ok: 0, code: 91, errmsg: 'shutting down' }, streamedError);
      });
      const conn = await Connection.connect(options(server));
      const seen: number[] = [];
      await assert.rejects(conn.exhaust('admin', { ping: 1 }, (reply) => seen.push(reply.n)), isNetworkError('ERR_PROTOCOL', /streamed reply refused: shutting down/));
      assert.deepEqual(seen, [1]);
      assert.equal(conn.state, 'closed');

      streamedError = false;
      const conn2 = await Connection.connect(options(server));
      await assert.rejects(conn2.exhaust('admin', { ping: 1 }, () => {}), (err: unknown) => err instanceof ServerError && err.serverCode === 91);
      assert.equal(conn2.state, 'ready', 'an ok: 0 reply leaves the stream in order');
      conn2.destroy();
    });

    test('its own socket timeout bounds each silence between replies; one stream at a time', async () => {
      const server = await fake((cmd) => {
        if (cmd.name === 'ping') cmd.connection.stream(cmd, { ok: 1, n: 1 }, true);
      });
      const conn = await Connection.connect(options(server, { socketTimeoutMS: 0 }));
      const seen: number[] = [];
      const started = performance.now();
      const streaming = conn.exhaust('admin', { ping: 1 }, (reply) => seen.push(reply.n), { socketTimeoutMS: 150 });
      await assert.rejects(conn.exhaust('admin', { ping: 1 }, () => {}), /already streaming/);
      await withTimeout(
        assert.rejects(streaming, isNetworkError('ERR_NETWORK_TIMEOUT', /no reply within socketTimeoutMS \(150 ms\)/)),
        10_000,
        'the silent stream timing out',
      );
      assert.deepEqual(seen, [1]);
      assert.ok(performance.now() - started >= 149, 'not before the stream was silent for socketTimeoutMS');
    });
  });
});
