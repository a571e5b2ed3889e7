// LocalRouter against the real test server: selection, reservations, the
// death of a reserved socket, recovery after a pool clear, draining close.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRouter } from '../../src/router/local-router.js';
import { PRIMARY } from '../../src/read-preference.js';
import type { Router } from '../../src/router/router.js';
import { resolveOptions } from '../../src/uri/resolve.js';
import { NetworkError } from '../../src/errors.js';
import type { PoolEvent } from '../../src/pool/events.js';
import { runChildScript } from '../fixtures/child-script.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { onPoolEvents } from '../fixtures/pool-events.js';

let server: TestServer;
const routers: Router[] = [];

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await Promise.all(routers.map((r) => r.destroy()));
  await server?.stop();
});

async function router(query = ''): Promise<LocalRouter> {
  const r = await LocalRouter.create(await resolveOptions(`${server.uri}?serverSelectionTimeoutMS=5000${query}`));
  routers.push(r);
  return r;
}

const ping = { db: 'admin', command: { ping: 1 }, readPreference: PRIMARY };

describe('LocalRouter against the test server', () => {
  test('selects the server, runs commands and reports it live', async () => {
    const r = await router();
    const { reply, address } = await r.run(ping);
    assert.equal(reply.ok, 1);
    assert.equal(address, server.address);
    assert.deepEqual(r.liveServers(), [server.address]);
    const [stats] = r.stats();
    assert.equal(stats!.address, server.address);
    assert.equal(stats!.inUse, 0);
    assert.ok(stats!.open >= 1);
  });

  test('concurrent unreserved operations spread over several sockets', async () => {
    const r = await router('&maxPoolSize=4');
    let maxInUse = 0;
    onPoolEvents(r.events, (e) => {
      if (e.type === 'ConnectionCheckedOut') maxInUse = Math.max(maxInUse, r.stats()[0]!.inUse);
    });
    await Promise.all(Array.from({ length: 40 }, () => r.run({ ...ping, command: { count: 'nothing' }, db: 'router_it' })));
    assert.ok(maxInUse > 1, `max in use ${maxInUse}`);
    assert.ok(r.stats()[0]!.open <= 4);
  });

  test('a reserved socket is kept across operations and returned on release', async () => {
    const r = await router();
    const reservation = await r.reserve(PRIMARY);
    assert.equal(reservation.writable, true);
    const a = await r.run({ db: 'admin', command: { whatsmyuri: 1 }, readPreference: PRIMARY, reservation });
    const b = await r.run({ db: 'admin', command: { whatsmyuri: 1 }, readPreference: PRIMARY, reservation });
    assert.equal(a.reply.you, b.reply.you, 'same client socket for both operations');
    assert.equal(r.stats()[0]!.inUse, 1);
    r.release(reservation);
    r.release(reservation);
    assert.equal(r.stats()[0]!.inUse, 0);
  });

  test('a reserved socket that dies is marked dead, its operation fails, and a new reservation works', async () => {
    const r = await router();
    const events: PoolEvent[] = [];
    onPoolEvents(r.events, (e) => events.push(e));
    const reservation = await r.reserve(PRIMARY);
    const before = (await r.run({ db: 'admin', command: { whatsmyuri: 1 }, readPreference: PRIMARY, reservation })).reply.you;
    // Kill the socket under the session, as a server restart or a firewall would.
    const connection = (r as unknown as { held: Map<number, { connection: { destroy(e?: Error): void } }> }).held.get(reservation.id)!.connection;
    connection.destroy(new NetworkError('ERR_NETWORK', 'socket killed by the test'));
    assert.equal(reservation.dead, true);
    await assert.rejects(r.run({ ...ping, reservation }), (err: unknown) => err instanceof NetworkError);
    r.release(reservation);
    const fresh = await r.reserve(PRIMARY);
    assert.equal(fresh.dead, false);
    const after = (await r.run({ db: 'admin', command: { whatsmyuri: 1 }, readPreference: PRIMARY, reservation: fresh })).reply.you;
    assert.notEqual(after, before, 'a new socket');
    r.release(fresh);
    assert.ok(events.some((e) => e.type === 'ConnectionClosed' && e.reason === 'error'), 'the dead socket was closed as an error');
  });

  test('a network error on a pooled socket clears the pool, and the next operation recovers', async () => {
    const r = await router();
    await r.run(ping);
    const cleared: PoolEvent[] = [];
    onPoolEvents(r.events, (e) => e.type === 'ConnectionPoolCleared' && cleared.push(e));
    const reservation = await r.reserve(PRIMARY);
    const held = (r as unknown as { held: Map<number, { connection: { command(db: string, c: object): Promise<unknown>; destroy(e?: Error): void } }> }).held.get(reservation.id)!;
    // A command in flight when the socket dies is an application network error (SDAM: clear the pool).
    const inflight = r.run({ db: 'admin', command: { ping: 1 }, readPreference: PRIMARY, reservation });
    held.connection.destroy(new NetworkError('ERR_NETWORK', 'socket killed by the test'));
    await assert.rejects(inflight);
    r.release(reservation);
    assert.equal(cleared.length, 1, 'pool cleared once');
    const { reply } = await r.run(ping);
    assert.equal(reply.ok, 1, 'recovered after the monitor re-checked the server');
  });

  test('close() drains operations in flight, then refuses new ones', async () => {
    const r = await router();
    const running = r.run({ db: 'router_it', command: { count: 'nothing' }, readPreference: PRIMARY });
    const closing = r.close();
    assert.equal((await running).reply.ok, 1);
    await closing;
    await r.close();
    await assert.rejects(r.run(ping), /closed/);
    assert.equal(r.stats()[0]!.open, 0);
  });

  test('a process that uses and closes a router exits by itself', async () => {
    const script = `
      import { LocalRouter } from './src/router/local-router.ts';
      import { resolveOptions } from './src/uri/resolve.ts';
      const r = await LocalRouter.create(await resolveOptions(${JSON.stringify(server.uri)}));
      await r.run({ db: 'admin', command: { ping: 1 }, readPreference: { mode: 'primary' } });
      await r.close();
    `;
    // Killed at 30 s (the default): a loaded machine can take seconds just to start a child with tsx.
    const { code, signal, stderr } = await runChildScript(script);
    assert.equal(signal, null, `child killed after 30 s: it did not exit by itself; stderr ${stderr}`);
    assert.equal(code, 0, `child failed: ${stderr}`);
  });
});
