// SDAM at run time through both routers (workers 0 and 2), against scripted
// servers: the monitoring sockets stats() reports, and what an application
// error does to the topology, the pools and the monitor (SDAM "Error
// handling"), in the thread it happened in and, with workers, in the
// process's monitor and every worker.
//
// The replica set is two fake members that stream (topologyVersion in every
// hello) and hold every awaitable hello, so that nothing but the errors
// under test changes a description, until a test has a member stream a
// reply. heartbeatFrequencyMS is 60 s: no periodic check interferes.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Long, ObjectId, type Document } from 'bson';
import { AuthError, NetworkError, ServerError } from '../../../src/errors.js';
import { PRIMARY } from '../../../src/read-preference.js';
import { LocalRouter } from '../../../src/router/local-router.js';
import type { Router } from '../../../src/router/router.js';
import { resolveOptions } from '../../../src/uri/resolve.js';
import { WorkerRouter } from '../../../src/worker/worker-router.js';
import { defaultHello, startFakeServer, type FakeConnection, type FakeServer, type ReceivedCommand } from '../../fixtures/fake-server.js';
import { ScramServer, startScramFakeServer } from '../../fixtures/scram-server.js';
import { waitFor } from '../../fixtures/wait.js';
import { onPoolEvents } from '../../fixtures/pool-events.js';

const servers: FakeServer[] = [];
const routers: Router[] = [];
after(async () => {
  await Promise.all(routers.map((r) => r.destroy()));
  await Promise.all(servers.map((s) => s.close()));
});

/** What a member answers to a command other than hello: a reply, 'drop' (close the socket), or undefined ({ ok: 1 }). */
type Rule = (cmd: ReceivedCommand) => Document | 'drop' | undefined;

interface Member {
  server: FakeServer;
  hello: Document;
  processId: ObjectId;
  counter: number;
  /** Awaitable hellos received (held: the member streams only when a test says). */
  awaiting: ReceivedCommand[];
  rule: Rule | undefined;
  /** Open application (pool) connections: those that ran more than a hello (monitoring ones never do). */
  appConnections(): FakeConnection[];
  /** Streams the current hello (after a change of `hello` or `counter`) on its monitor's awaitable hello. */
  stream(): void;
}

/** A primary and a secondary that stream; `maxWireVersion` 21 (7.0) unless given. */
async function replicaSet(maxWireVersion = 21): Promise<{ primary: Member; secondary: Member; uri: string }> {
  const make = async (): Promise<Member> => {
    const member: Member = {
      server: undefined as unknown as FakeServer,
      hello: {},
      processId: new ObjectId(),
      counter: 1,
      awaiting: [],
      rule: undefined,
      appConnections: () => {
        const used = new Set(member.server.received.filter((c) => c.name !== 'hello').map((c) => c.connection));
        return member.server.connections.filter((c) => used.has(c) && !c.socket.destroyed);
      },
      stream: () => {
        const request = member.awaiting.at(-1);
        if (request) request.connection.stream(request, helloOf(member), true);
      },
    };
    member.server = await startFakeServer((cmd) => {
      if (cmd.command.maxAwaitTimeMS !== undefined) {
        member.awaiting.push(cmd);
        return;
      }
      if (cmd.name === 'hello' || cmd.name === 'isMaster') {
        cmd.connection.reply(cmd, { ...helloOf(member), connectionId: cmd.connection.id });
        return;
      }
      const answer = member.rule?.(cmd);
      if (answer === 'drop') cmd.connection.socket.destroy();
      else if (answer) cmd.connection.reply(cmd, answer);
    });
    servers.push(member.server);
    return member;
  };
  const primary = await make();
  const secondary = await make();
  const hosts = [primary.server.address, secondary.server.address];
  const base = { ...defaultHello, maxWireVersion, setName: 'rs', hosts, setVersion: 1 };
  primary.hello = { ...base, isWritablePrimary: true, secondary: false, me: hosts[0], primary: hosts[0], electionId: new ObjectId('7fffffff0000000000000001') };
  secondary.hello = { ...base, isWritablePrimary: false, secondary: true, me: hosts[1], primary: hosts[0] };
  return { primary, secondary, uri: `mongodb://${hosts.join(',')}/?replicaSet=rs&heartbeatFrequencyMS=60000&appName=sdam-monitor` };
}

function helloOf(member: Member): Document {
  return { ...member.hello, topologyVersion: { processId: member.processId, counter: Long.fromNumber(member.counter) } };
}

/** A state change error as MongoDB 4.4+ sends it, with the member's topologyVersion at `counter`. */
function stateChange(member: Member, code: number, counter: number): Document {
  return { ok: 0, code, errmsg: `state change ${code}`, topologyVersion: { processId: member.processId, counter: Long.fromNumber(counter) } };
}

async function routerFor(uri: string, workers: number, extra: Record<string, unknown> = {}): Promise<Router> {
  const options = await resolveOptions(uri, { workers, ...extra });
  const router = workers === 0 ? await LocalRouter.create(options) : await WorkerRouter.create(options);
  routers.push(router);
  return router;
}

const insert = (router: Router) => router.run({ db: 'db', command: { insert: 'c', documents: [{ a: 1 }] }, readPreference: PRIMARY, write: true });
const ping = (router: Router) => router.run({ db: 'admin', command: { ping: 1 }, readPreference: PRIMARY });

/** The pool's open sockets for `address`, in each worker (one figure with workers 0). */
async function openPerWorker(router: Router, address: string): Promise<number[]> {
  if (router instanceof WorkerRouter) return (await router.workerStatsNow()).map((w) => w.servers.find((s) => s.address === address)?.open ?? 0);
  return [router.stats().find((s) => s.address === address)?.open ?? 0];
}

/**
 * Both members known, both monitors streaming, and `sockets` pool sockets
 * to the primary, each used once: reserved at once, so that with two
 * workers each dials one (placement goes to the least-loaded worker).
 */
async function ready(router: Router, primary: Member, secondary: Member, sockets = 1): Promise<void> {
  await waitFor('both members known', () => router.liveServers().length === 2, 10_000);
  await waitFor('both monitors streaming', () => primary.awaiting.length > 0 && secondary.awaiting.length > 0, 10_000);
  const reservations = await Promise.all(Array.from({ length: sockets }, () => router.reserve(PRIMARY)));
  await Promise.all(reservations.map((reservation) => router.run({ db: 'admin', command: { ping: 1 }, readPreference: PRIMARY, reservation })));
  for (const reservation of reservations) router.release(reservation);
  assert.equal(primary.appConnections().length, sockets);
}

describe('stats(): the monitoring sockets per server', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: 2 for a server that streams (its RTT monitor's too), 1 for one that is polled; a worker's own rows 0`, { timeout: 30_000 }, async () => {
      const streaming = await startFakeServer(() => {}, { hello: { ...defaultHello, topologyVersion: { processId: new ObjectId(), counter: Long.fromNumber(1) } } });
      const polled = await startFakeServer();
      servers.push(streaming, polled);
      for (const [server, expected] of [[streaming, 2], [polled, 1]] as const) {
        const router = await routerFor(`mongodb://${server.address}/?directConnection=true&heartbeatFrequencyMS=60000`, workers);
        await ping(router);
        await waitFor(`${expected} monitoring sockets reported`, () => router.stats()[0]?.monitoringConnections === expected, 10_000);
        assert.equal(server.connections.filter((c) => !c.socket.destroyed).length, expected + 1, 'the server sees them, and one pool socket');
        if (router instanceof WorkerRouter) {
          const rows = router.workerStats().flatMap((w) => w.servers);
          assert.ok(rows.length > 0 && rows.every((s) => s.monitoringConnections === 0));
        }
        await router.close();
        assert.equal(router.stats()[0]?.monitoringConnections ?? 0, 0, 'closed: none');
      }
    });
  }
});

describe('application errors at run time (SDAM "Error handling")', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: "not writable primary" from a 4.2+ server marks it Unknown in the process and keeps every pool; the same sockets serve once it is known again`, { timeout: 30_000 }, async () => {
      const { primary, secondary, uri } = await replicaSet();
      const router = await routerFor(uri, workers);
      await ready(router, primary, secondary, 2);
      const sockets = primary.appConnections();
      assert.deepEqual(await openPerWorker(router, primary.server.address), workers === 0 ? [2] : [1, 1]);

      primary.rule = (cmd) => (cmd.name === 'insert' ? stateChange(primary, 10107, 2) : undefined);
      await assert.rejects(insert(router), (err: unknown) => err instanceof ServerError && err.serverCode === 10107);
      assert.deepEqual(router.liveServers(), [secondary.server.address], 'the process marked the primary Unknown');
      assert.deepEqual(await openPerWorker(router, primary.server.address), workers === 0 ? [2] : [1, 1], 'no pool was cleared');
      assert.ok(sockets.every((c) => !c.socket.destroyed), 'connections survive a stepdown');

      // The member streams its state (still primary, topologyVersion 2): known again, on the same sockets.
      primary.rule = undefined;
      primary.counter = 2;
      primary.stream();
      await waitFor('the primary known again', () => router.liveServers().length === 2, 10_000);
      await insert(router);
      assert.deepEqual(primary.appConnections(), sockets, 'no socket dialed');
    });

    test(`workers ${workers}: a shutdown error (91) on 4.2+, and "not writable primary" from a pre-4.2 server, clear the pool in every worker`, { timeout: 30_000 }, async () => {
      for (const [maxWireVersion, code] of [[21, 91], [7, 10107]] as const) {
        const { primary, secondary, uri } = await replicaSet(maxWireVersion);
        const router = await routerFor(uri, workers);
        await ready(router, primary, secondary, 2);
        assert.deepEqual(await openPerWorker(router, primary.server.address), workers === 0 ? [2] : [1, 1]);
        primary.rule = (cmd) => (cmd.name === 'insert' ? stateChange(primary, code, 2) : undefined);
        await assert.rejects(insert(router), (err: unknown) => err instanceof ServerError && err.serverCode === code);
        assert.deepEqual(router.liveServers(), [secondary.server.address]);
        await waitFor(`wire ${maxWireVersion}, code ${code}: every pool cleared`, () => primary.appConnections().length === 0, 10_000);
        assert.deepEqual(await openPerWorker(router, primary.server.address), workers === 0 ? [0] : [0, 0]);
        await router.close();
      }
    });

    test(`workers ${workers}: a state change error no newer than the server's topologyVersion is stale: nothing changes`, { timeout: 30_000 }, async () => {
      const { primary, secondary, uri } = await replicaSet();
      const router = await routerFor(uri, workers);
      await ready(router, primary, secondary);
      primary.rule = (cmd) => (cmd.name === 'insert' ? stateChange(primary, 91, 1) : undefined);
      await assert.rejects(insert(router), (err: unknown) => err instanceof ServerError && err.serverCode === 91);
      assert.equal(router.liveServers().length, 2);
      assert.equal(primary.appConnections().length, 1, 'its socket kept');
      primary.rule = undefined;
      await insert(router);
    });

    test(`workers ${workers}: a writeConcernError "not writable primary" in an ok: 1 reply marks the server Unknown too`, { timeout: 30_000 }, async () => {
      const { primary, secondary, uri } = await replicaSet();
      const router = await routerFor(uri, workers);
      await ready(router, primary, secondary);
      primary.rule = (cmd) =>
        cmd.name === 'insert'
          ? { ok: 1, n: 1, writeConcernError: { code: 10107, errmsg: 'not primary while waiting for replication' }, topologyVersion: { processId: primary.processId, counter: Long.fromNumber(2) } }
          : undefined;
      const { reply } = await insert(router);
      assert.equal(reply.writeConcernError.code, 10107, 'the reply itself is the caller’s');
      assert.deepEqual(router.liveServers(), [secondary.server.address]);
      assert.equal(primary.appConnections().length, 1, 'its socket kept (4.2+)');
    });

    test(`workers ${workers}: a network error on an established connection: Unknown, pool cleared, the monitor's stream cancelled, no immediate check`, { timeout: 30_000 }, async () => {
      const { primary, secondary, uri } = await replicaSet();
      const router = await routerFor(uri, workers);
      await ready(router, primary, secondary);
      const stream = primary.awaiting.at(-1)!.connection;
      const checks = () => primary.server.received.filter((c) => c.name === 'hello').length;
      primary.rule = (cmd) => (cmd.name === 'insert' ? 'drop' : undefined);
      await assert.rejects(insert(router), (err: unknown) => err instanceof NetworkError);
      assert.deepEqual(router.liveServers(), [secondary.server.address]);
      await waitFor('the monitoring connection closed', () => stream.socket.destroyed || stream.socket.readyState !== 'open', 10_000);
      const before = checks();
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(checks(), before, 'no check requested (SDAM: the server has likely gone)');
      // An operation's selection asks for one.
      primary.rule = undefined;
      await insert(router);
      assert.equal(router.liveServers().length, 2);
    });

    test(`workers ${workers}: handshake errors of an application socket: a command error in its hello marks the server Unknown; a network error there changes nothing`, { timeout: 30_000 }, async () => {
      for (const failure of ['command', 'network'] as const) {
        let refuse = false;
        // A polled standalone: the monitor's socket is the first; every later one is the pool's.
        const server = await startFakeServer((cmd) => {
          if (!refuse || cmd.name !== 'hello' || cmd.connection.id === 1) return;
          if (failure === 'network') cmd.connection.socket.destroy();
          else cmd.connection.reply(cmd, { ok: 0, code: 8000, errmsg: 'refused in the handshake' });
        });
        servers.push(server);
        const router = await routerFor(`mongodb://${server.address}/?directConnection=true&heartbeatFrequencyMS=60000&serverSelectionTimeoutMS=2000`, workers);
        await waitFor('known', () => router.liveServers().length === 1, 10_000);
        refuse = true;
        await assert.rejects(ping(router), failure === 'network' ? NetworkError : ServerError);
        assert.deepEqual(router.liveServers(), failure === 'network' ? [server.address] : [], failure);
        refuse = false;
        await ping(router);
        await router.close();
      }
    });

    test(`workers ${workers}: a background (minPoolSize) dial whose handshake loses its socket clears no pool and leaves the server known`, { timeout: 30_000 }, async () => {
      let refused = 0;
      // The monitor's socket is the first; every pool socket's hello is cut until 3 have been.
      const server = await startFakeServer((cmd) => {
        if (cmd.name !== 'hello' || cmd.connection.id === 1 || refused >= 3) return;
        refused++;
        cmd.connection.socket.destroy();
      });
      servers.push(server);
      const router = await routerFor(`mongodb://${server.address}/?directConnection=true&heartbeatFrequencyMS=60000&minPoolSize=2&maxConnecting=1`, workers);
      const cleared: string[] = [];
      onPoolEvents(router.events, (event) => {
        if (event.type === 'ConnectionPoolCleared') cleared.push(event.address);
      });
      await waitFor('the handshakes cut', () => refused >= 3, 10_000);
      await waitFor('minPoolSize reached once the server lets handshakes through', () => router.stats().reduce((n, s) => n + s.open, 0) >= 2, 10_000);
      assert.deepEqual(cleared, []);
      assert.deepEqual(router.liveServers(), [server.address]);
      await router.close();
    });

    test(`workers ${workers}: errors authenticating as the dial-time user mark the server Unknown; a session's own login() with a wrong password does not`, { timeout: 30_000 }, async () => {
      let dropSasl = false;
      const server = await startScramFakeServer(new ScramServer({ users: [{ username: 'alice', password: 'right' }] }), {
        onCommand: (name, socket) => {
          if (!dropSasl || name !== 'saslContinue') return false;
          socket.destroy();
          return true;
        },
      });
      servers.push(server);
      const base = `${server.address}/?directConnection=true&heartbeatFrequencyMS=60000&serverSelectionTimeoutMS=3000&authMechanism=SCRAM-SHA-256`;
      const router = await routerFor(`mongodb://alice:right@${base}`, workers);
      await waitFor('known', () => router.liveServers().length === 1, 10_000);

      // Someone else's login() with a wrong password: that user's error, the server stays known.
      const impostor = (await resolveOptions(`mongodb://alice:wrong@${base}`)).credentials!;
      const identity = router.login(impostor);
      await assert.rejects(router.run({ db: 'admin', command: { ping: 1 }, readPreference: PRIMARY, identity }), AuthError);
      assert.deepEqual(router.liveServers(), [server.address]);

      // The dial-time user's socket loses its connection while authenticating: Unknown (SDAM "Network error when reading or writing").
      dropSasl = true;
      await assert.rejects(ping(router), NetworkError);
      assert.deepEqual(router.liveServers(), []);
      dropSasl = false;
      await ping(router);
      assert.deepEqual(router.liveServers(), [server.address]);

      // The dial-time credential itself refused (a wrong password in the URL): Unknown too.
      const wrong = await routerFor(`mongodb://alice:wrong@${base}`, workers);
      await waitFor('known', () => wrong.liveServers().length === 1, 10_000);
      await assert.rejects(ping(wrong), AuthError);
      assert.deepEqual(wrong.liveServers(), []);
    });
  }
});
