// The replica-set bridge (test/fixtures/bridge) in front of the FerretDB test
// server: a topology the driver discovers as a real replica set, mongos
// routers or a standalone, with elections, fail points, the retry table,
// down/up, partitions and the command capture. Every test starts its own
// bridge (about 10 ms) on the one FerretDB of this file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { BSON, Long, ObjectId, UUID, type Document } from 'bson';
import { MongoClient } from 'mongodb';
import { Connection } from '../../src/connection/connection.js';
import { dial } from '../../src/session/dial.js';
import { Mode } from '../../src/session/modes.js';
import { HEADER_SIZE, OpMsgFlags } from '../../src/wire/constants.js';
import { MessageReader } from '../../src/wire/message-reader.js';
import { decodeMessage, encodeOpMsg } from '../../src/wire/op-msg.js';
import { DEFAULT_WIRE_LIMITS } from '../../src/wire/constants.js';
import { startBridge, type Bridge, type BridgeMember, type BridgeOptions, type CommandRecord } from '../fixtures/bridge/index.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';
import { waitFor, withTimeout } from '../fixtures/wait.js';

let server: TestServer;
const dbName = `mgo_bridge_it_${process.pid}`;
const open: Bridge[] = [];
const connections: Connection[] = [];

before(async () => {
  server = await startTestServer();
});

after(async () => {
  for (const c of connections) c.destroy();
  await Promise.all(open.map((b) => b.close()));
  if (server) {
    const c = await Connection.connect({ id: 0, generation: 0, host: server.host, port: server.port, connectTimeoutMS: 5000, socketTimeoutMS: 5000 });
    await c.command(dbName, { dropDatabase: 1 }).catch(() => {});
    c.destroy();
    await server.stop();
  }
});

async function bridge(options: Partial<BridgeOptions> = {}): Promise<Bridge> {
  const b = await startBridge({ backend: server, ...options });
  open.push(b);
  return b;
}

let connectionIds = 0;
async function connect(member: BridgeMember, appName?: string): Promise<Connection> {
  const c = await Connection.connect({ id: ++connectionIds, generation: 0, host: '127.0.0.1', port: member.port, connectTimeoutMS: 5000, socketTimeoutMS: 10_000, appName });
  connections.push(c);
  return c;
}

/** The reply as it came, ok: 0 included (Connection.command would throw). */
async function run(c: Connection, command: Document, db = dbName): Promise<Document> {
  const reply = await c.commandRaw(db, command);
  return BSON.deserialize(reply!.body, { promoteLongs: false });
}

/** A hello through a fresh connection. */
async function hello(member: BridgeMember): Promise<Document> {
  const c = await connect(member);
  try {
    return await run(c, { hello: 1 }, 'admin');
  } finally {
    c.destroy();
  }
}

let collections = 0;
const freshCollection = (): string => `c${++collections}`;

const lsid = (): Document => ({ id: new UUID() });

async function countDocuments(c: Connection, collection: string): Promise<number> {
  const reply = await run(c, { count: collection });
  return Number(reply.n);
}

describe('replica set', () => {
  test('the driver discovers every member, writes on the primary and reads from a secondary', async () => {
    const b = await bridge();
    const records: CommandRecord[] = [];
    b.onCommand((r) => records.push(r));
    const session = await dial(`${b.uri}&serverSelectionTimeoutMS=5000`, { workers: 0 });
    try {
      await waitFor('all three members discovered', () => session.liveServers().length === 3, 10_000);
      assert.deepEqual(new Set(session.liveServers()), new Set(b.members.map((m) => m.address)));
      const collection = freshCollection();
      await session.db(dbName).c(collection).insert({ _id: 1, a: 'x' });
      const insert = records.find((r) => r.commandName === 'insert');
      assert.equal(insert?.member, b.primary()!.address);
      session.setMode(Mode.Secondary, true);
      assert.deepEqual(await session.db(dbName).c(collection).find({}).all(), [{ _id: 1, a: 'x' }]);
      const find = records.findLast((r) => r.commandName === 'find');
      assert.notEqual(find?.member, b.primary()!.address);
      assert.equal(find?.command.$readPreference?.mode, 'secondary');
    } finally {
      await session.close();
    }
  });

  test("a member's hello says what it is", async () => {
    const b = await bridge({ setName: 'rsX' });
    const [p, s] = [await hello(b.members[0]!), await hello(b.members[1]!)];
    const hosts = b.members.map((m) => m.address);
    assert.equal(p.isWritablePrimary, true);
    assert.equal(p.secondary, false);
    assert.equal(p.setName, 'rsX');
    assert.deepEqual(p.hosts, hosts);
    assert.equal(p.primary, hosts[0]);
    assert.equal(p.me, hosts[0]);
    assert.ok(p.electionId instanceof ObjectId);
    assert.equal(p.setVersion, 1);
    assert.equal(p.maxWireVersion, 21);
    assert.equal(p.logicalSessionTimeoutMinutes, 30);
    assert.ok(p.lastWrite.lastWriteDate instanceof Date);
    assert.ok(p.$clusterTime.clusterTime);
    assert.equal(s.isWritablePrimary, false);
    assert.equal(s.secondary, true);
    assert.equal(s.primary, hosts[0]);
    assert.equal(s.me, hosts[1]);
    assert.equal(s.electionId, undefined);
    assert.notEqual(p.topologyVersion.processId.toHexString(), s.topologyVersion.processId.toHexString());
    // The legacy command gets the legacy field name.
    const c = await connect(b.members[1]!);
    const legacy = await run(c, { isMaster: 1 }, 'admin');
    assert.equal(legacy.ismaster, false);
    assert.equal(legacy.isWritablePrimary, undefined);
  });

  test('a non-primary refuses writes and primary-only reads, and serves reads that allow a secondary', async () => {
    const b = await bridge();
    const secondary = await connect(b.members[1]!);
    const collection = freshCollection();
    const write = await run(secondary, { insert: collection, documents: [{ a: 1 }] });
    assert.equal(write.ok, 0);
    assert.equal(write.code, 10107);
    assert.equal(write.codeName, 'NotWritablePrimary');
    assert.equal(write.errorLabels, undefined);
    const retryable = await run(secondary, { insert: collection, documents: [{ a: 1 }], lsid: lsid(), txnNumber: Long.fromNumber(1) });
    assert.deepEqual(retryable.errorLabels, ['RetryableWriteError']);
    const read = await run(secondary, { find: collection });
    assert.equal(read.code, 13435);
    assert.equal(read.codeName, 'NotPrimaryNoSecondaryOk');
    assert.equal((await run(secondary, { find: collection, $readPreference: { mode: 'primary' } })).code, 13435);
    assert.equal((await run(secondary, { find: collection, $readPreference: { mode: 'secondaryPreferred' } })).ok, 1);
    assert.equal((await run(secondary, { aggregate: collection, pipeline: [{ $out: 'x' }], cursor: {}, $readPreference: { mode: 'secondary' } })).code, 10107);
    assert.equal((await run(secondary, { ping: 1 }, 'admin')).ok, 1);
    assert.equal(await countDocuments(await connect(b.members[0]!), collection), 0);
  });

  test('stepDown elects another member with a greater electionId and moves both topologyVersions on', async () => {
    const b = await bridge();
    const before0 = await hello(b.members[0]!);
    const before1 = await hello(b.members[1]!);
    await b.stepDown();
    assert.equal(b.primary(), b.members[1]);
    assert.equal(b.members[0]!.state, 'secondary');
    const after0 = await hello(b.members[0]!);
    const after1 = await hello(b.members[1]!);
    assert.equal(after1.isWritablePrimary, true);
    assert.equal(after0.primary, b.members[1]!.address);
    assert.ok(after1.electionId.toHexString() > before0.electionId.toHexString());
    assert.ok(Number(after0.topologyVersion.counter) > Number(before0.topologyVersion.counter));
    assert.ok(Number(after1.topologyVersion.counter) > Number(before1.topologyVersion.counter));
    assert.equal(after1.setVersion, before0.setVersion);

    // `to` picks the winner; a frozen member is not electable.
    await b.stepDown({ to: 2, freezeMS: 60_000 });
    assert.equal(b.primary(), b.members[2]);
    await assert.rejects(b.stepDown({ to: 1 }), /cannot be elected/);
    b.freeze(1, 0);
    await b.stepDown({ to: 1 });
    assert.equal(b.primary(), b.members[1]);

    // The replSetStepDown command does the same from a client, and refuses on a secondary.
    const primary = await connect(b.members[1]!);
    assert.equal((await run(primary, { replSetStepDown: 60 }, 'admin')).ok, 1);
    assert.notEqual(b.primary(), b.members[1]);
    assert.equal((await run(primary, { replSetStepDown: 60 }, 'admin')).code, 10107);
    // Connections survive a stepdown (4.2+).
    assert.equal((await run(primary, { ping: 1 }, 'admin')).ok, 1);
  });

  test('a frozen member is not elected; when the freeze ends a missing primary is elected', async () => {
    const b = await bridge();
    const second = await connect(b.members[1]!);
    assert.equal((await run(second, { replSetFreeze: 60 }, 'admin')).ok, 1);
    await b.stepDown();
    assert.equal(b.primary(), b.members[2], 'member 1, next in line, is frozen');
    assert.equal((await run(await connect(b.members[2]!), { replSetFreeze: 60 }, 'admin')).code, 95, 'a primary cannot be frozen');
    assert.equal((await run(second, { replSetFreeze: 0 }, 'admin')).ok, 1);
    await b.stepDown({ to: 1 });
    assert.equal(b.primary(), b.members[1]);

    b.freeze(0, 150);
    b.freeze(2, 150);
    await b.down(1);
    assert.equal(b.primary(), undefined, 'every survivor is frozen');
    await waitFor('a primary elected when the freezes end', () => b.primary() !== undefined, 10_000);
  });

  test('after a stepdown the old primary refuses writes with NotWritablePrimary and the new primary takes them', async () => {
    const b = await bridge();
    const old = await connect(b.members[0]!);
    const collection = freshCollection();
    assert.equal((await run(old, { insert: collection, documents: [{ a: 1 }] })).ok, 1);
    await b.stepDown();
    assert.equal((await run(old, { insert: collection, documents: [{ a: 2 }] })).code, 10107);
    const fresh = await connect(b.primary()!);
    assert.equal((await run(fresh, { insert: collection, documents: [{ a: 2 }] })).ok, 1);
    assert.equal(await countDocuments(fresh, collection), 2);
  });

  test('an awaitable hello answers at the change, not after maxAwaitTimeMS, and waits when nothing changes', async () => {
    const b = await bridge();
    const c = await connect(b.members[1]!);
    const current = (await run(c, { hello: 1 }, 'admin')).topologyVersion;

    const started = performance.now();
    const quiet = await run(c, { hello: 1, topologyVersion: current, maxAwaitTimeMS: 200 }, 'admin');
    assert.ok(performance.now() - started >= 150, 'an unchanged member waits maxAwaitTimeMS');
    assert.equal(Number(quiet.topologyVersion.counter), Number(current.counter));

    // maxAwaitTimeMS 30 s, deadlines 20 s: an answer within them came at
    // the change, not at the end of the wait (and its counter moved).
    const waiting = run(c, { hello: 1, topologyVersion: current, maxAwaitTimeMS: 30_000 }, 'admin');
    await waitFor('the awaitable hello is waiting', () => b.members[1]!.pendingCommands() === 1, 10_000);
    await b.stepDown();
    const changed = await withTimeout(waiting, 20_000, 'the awaitable hello answered at the change');
    assert.ok(Number(changed.topologyVersion.counter) > Number(current.counter));
    assert.equal(changed.isWritablePrimary, true);

    // A stale topologyVersion (or another processId) is answered at once.
    await withTimeout(run(c, { hello: 1, topologyVersion: current, maxAwaitTimeMS: 30_000 }, 'admin'), 20_000, 'a stale topologyVersion answered');
    await withTimeout(
      run(c, { hello: 1, topologyVersion: { processId: new ObjectId(), counter: Long.fromNumber(0) }, maxAwaitTimeMS: 30_000 }, 'admin'),
      20_000,
      'another processId answered',
    );
  });

  test('an exhaust hello streams a reply every maxAwaitTimeMS and at each change until the socket closes', async () => {
    const b = await bridge();
    const raw = await RawClient.connect(b.members[0]!.port);
    try {
      raw.send({ hello: 1, $db: 'admin' });
      const first = await raw.next();
      const topologyVersion = first.body.topologyVersion;
      const requestId = raw.send({ hello: 1, topologyVersion, maxAwaitTimeMS: 50, $db: 'admin' }, OpMsgFlags.exhaustAllowed);
      const replies = [await raw.next(), await raw.next(), await raw.next()];
      for (const r of replies) assert.ok(r.flags & OpMsgFlags.moreToCome, 'each streamed reply has moreToCome');
      assert.equal(replies[0]!.responseTo, requestId);
      // Each reply answers the previous one, as mongod's exhaust replies do.
      assert.equal(replies[1]!.responseTo, replies[0]!.requestId);
      assert.equal(replies[2]!.responseTo, replies[1]!.requestId);
      await b.stepDown();
      const changed = await raw.nextWhere((r) => r.body.isWritablePrimary === false);
      assert.ok(Number(changed.body.topologyVersion.counter) > Number(topologyVersion.counter));
    } finally {
      raw.close();
    }
    await waitFor('the streaming connection released', () => b.members[0]!.openConnections() === 0, 10_000);
  });

  test('down and up: a primary going down is replaced; it comes back as a secondary with a new processId', async () => {
    const b = await bridge();
    const before = await hello(b.members[0]!);
    const c = await connect(b.members[0]!);
    assert.equal(b.members[0]!.openConnections(), 1);
    const closed = new Promise((resolve) => c.once('close', resolve));
    await b.down(0);
    await closed;
    assert.equal(b.members[0]!.state, 'down');
    assert.equal(b.members[0]!.openConnections(), 0);
    assert.equal(b.primary(), b.members[1]);
    await assert.rejects(connect(b.members[0]!), /ECONNREFUSED|closed/);
    const survivor = await hello(b.members[1]!);
    assert.deepEqual(survivor.hosts, b.members.map((m) => m.address), 'hosts lists a member that is down');

    await b.up(0);
    const back = await hello(b.members[0]!);
    assert.equal(b.members[0]!.state, 'secondary');
    assert.equal(back.secondary, true);
    assert.equal(back.primary, b.members[1]!.address);
    assert.notEqual(back.topologyVersion.processId.toHexString(), before.topologyVersion.processId.toHexString());
  });

  test('without a majority there is no primary; with it back, one is elected', async () => {
    const b = await bridge();
    await b.down(1);
    assert.equal(b.primary(), b.members[0]);
    await b.down(0);
    assert.equal(b.primary(), undefined);
    assert.equal(b.members[2]!.state, 'secondary');
    assert.equal((await hello(b.members[2]!)).primary, undefined);
    await b.up(1);
    assert.ok(b.primary() === b.members[1] || b.primary() === b.members[2]);
  });

  test('partition and heal: the partitioned primary is replaced at once, its sockets get nothing until healed, then it is a secondary', async () => {
    const b = await bridge();
    const c = await connect(b.members[0]!);
    const records: CommandRecord[] = [];
    b.onCommand((r) => records.push(r));
    b.partition(0);
    assert.equal(b.members[0]!.state, 'partitioned');
    assert.equal(b.primary(), b.members[1]);
    const lost = c.command('admin', { ping: 1 });
    lost.catch(() => {});
    // A new connection is accepted but its handshake gets no answer.
    const stuck = Connection.connect({ id: 99, generation: 0, host: '127.0.0.1', port: b.members[0]!.port, connectTimeoutMS: 30_000, socketTimeoutMS: 0 });
    stuck.catch(() => {});
    await waitFor('the ping and the handshake reach the partitioned member', () => b.members[0]!.pendingCommands() === 2, 10_000);
    assert.equal(records.length, 0, 'nothing answered');
    b.heal(0);
    await assert.rejects(lost);
    await assert.rejects(stuck);
    await waitFor('records of the black-holed commands', () => records.filter((r) => r.failure === 'network').length === 2, 10_000);
    assert.deepEqual(records.map((r) => r.commandName).sort(), ['hello', 'ping']);
    assert.equal(b.members[0]!.state, 'secondary');
    assert.equal(b.primary(), b.members[1]);
    assert.equal((await hello(b.members[0]!)).secondary, true);
  });
});

describe('fail points', () => {
  test('times, skip, alwaysOn and off', async () => {
    const b = await bridge();
    const c = await connect(b.members[0]!);
    const collection = freshCollection();
    const code = async () => (await run(c, { find: collection })).code as number | undefined;

    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: { times: 2 }, data: { failCommands: ['find'], errorCode: 2 } });
    assert.deepEqual([await code(), await code(), await code()], [2, 2, undefined]);

    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: { skip: 1 }, data: { failCommands: ['find'], errorCode: 3 } });
    assert.deepEqual([await code(), await code(), await code()], [undefined, 3, 3]);

    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['find'], errorCode: 4 } });
    assert.deepEqual([await code(), await code()], [4, 4]);
    assert.equal((await run(c, { count: collection })).ok, 1, 'commands not listed run');

    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'off' });
    assert.equal(await code(), undefined);

    // Per member: the secondary's find is not failed by the primary's fail point.
    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['find'], errorCode: 4 } });
    const secondary = await connect(b.members[1]!);
    assert.equal((await run(secondary, { find: collection, $readPreference: { mode: 'secondary' } })).ok, 1);
  });

  test('the configureFailPoint command: admin only, returns the count, refuses unknown fail points', async () => {
    const b = await bridge();
    const c = await connect(b.members[2]!);
    const set = { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['ping'], errorCode: 8 } };
    assert.equal((await run(c, set, dbName)).code, 13);
    assert.equal((await run(c, set, 'admin')).ok, 1);
    assert.equal((await run(c, { ping: 1 }, 'admin')).code, 8);
    assert.equal((await run(c, { ping: 1 }, 'admin')).code, 8);
    const off = await run(c, { configureFailPoint: 'failCommand', mode: 'off' }, 'admin');
    assert.equal(off.count, 2);
    const unknown = await run(c, { configureFailPoint: 'noSuchFailPoint', mode: 'alwaysOn' }, 'admin');
    assert.equal(unknown.ok, 0);
    assert.equal((await run(c, { configureFailPoint: 'failCommand', mode: 'sometimes' }, 'admin')).ok, 0);
    assert.throws(() => b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: 'find' } }));
  });

  test('closeConnection closes without running the command; blockConnection delays it', async () => {
    const b = await bridge();
    const collection = freshCollection();
    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: { times: 1 }, data: { failCommands: ['insert'], closeConnection: true } });
    const c = await connect(b.members[0]!);
    await assert.rejects(c.command(dbName, { insert: collection, documents: [{ a: 1 }] }), (err: Error) => (err as { code?: string }).code?.startsWith('ERR_NETWORK') || /closed/.test(err.message));
    const d = await connect(b.members[0]!);
    assert.equal(await countDocuments(d, collection), 0);

    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: { times: 1 }, data: { failCommands: ['insert'], blockConnection: true, blockTimeMS: 300 } });
    const started = performance.now();
    assert.equal((await run(d, { insert: collection, documents: [{ a: 1 }] })).ok, 1);
    assert.ok(performance.now() - started >= 250);
    assert.equal(await countDocuments(d, collection), 1);
  });

  test('error labels: given ones replace the automatic RetryableWriteError, which a txnNumber brings', async () => {
    const b = await bridge();
    const c = await connect(b.members[0]!);
    const collection = freshCollection();
    const insert = () => ({ insert: collection, documents: [{ a: 1 }], lsid: lsid(), txnNumber: Long.fromNumber(1) });
    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['insert'], errorCode: 91 } });
    assert.deepEqual((await run(c, insert())).errorLabels, ['RetryableWriteError']);
    assert.equal((await run(c, { insert: collection, documents: [{ a: 1 }] })).errorLabels, undefined, 'no txnNumber, no label');
    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['insert'], errorCode: 91, errorLabels: [] } });
    assert.equal((await run(c, insert())).errorLabels, undefined);
    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['insert'], errorCode: 112, errorLabels: ['RetryableWriteError', 'Other'] } });
    const labelled = await run(c, insert());
    assert.equal(labelled.code, 112);
    assert.deepEqual(labelled.errorLabels, ['RetryableWriteError', 'Other']);
    assert.equal(await countDocuments(c, collection), 0);
  });

  test('writeConcernError: the command runs, the reply carries the error', async () => {
    const b = await bridge();
    const c = await connect(b.members[0]!);
    const collection = freshCollection();
    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: { times: 2 }, data: { failCommands: ['insert'], writeConcernError: { code: 91, errmsg: 'Replication is being shut down' } } });
    const plain = await run(c, { insert: collection, documents: [{ a: 1 }] });
    assert.equal(plain.ok, 1);
    assert.equal(plain.n, 1);
    assert.deepEqual(plain.writeConcernError, { code: 91, errmsg: 'Replication is being shut down' });
    assert.equal(plain.errorLabels, undefined);
    const retryable = await run(c, { insert: collection, documents: [{ a: 2 }], lsid: lsid(), txnNumber: Long.fromNumber(1) });
    assert.deepEqual(retryable.errorLabels, ['RetryableWriteError']);
    assert.equal(await countDocuments(c, collection), 2);
  });

  test('appName: only connections whose handshake named that application are failed, hello included', async () => {
    const b = await bridge();
    b.configureFailPoint(1, { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['ping', 'hello'], errorCode: 9, appName: 'victim' } });
    const other = await connect(b.members[1]!, 'bystander');
    assert.equal((await run(other, { ping: 1 }, 'admin')).ok, 1);
    await assert.rejects(connect(b.members[1]!, 'victim'), (err: { serverCode?: number }) => err.serverCode === 9);
    b.configureFailPoint(1, { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { failCommands: ['ping'], errorCode: 9, appName: 'victim' } });
    const victim = await connect(b.members[1]!, 'victim');
    assert.equal((await run(victim, { ping: 1 }, 'admin')).code, 9);
  });
});

describe('retry table', () => {
  test('a retried (lsid, txnNumber) insert is answered from the table, on any member, without inserting twice', async () => {
    const b = await bridge();
    const collection = freshCollection();
    const session = lsid();
    const statement = { insert: collection, documents: [{ _id: 7 }], lsid: session, txnNumber: Long.fromNumber(5) };
    const first = await run(await connect(b.members[0]!), statement);
    assert.equal(first.n, 1);
    await b.stepDown();
    const retried = await run(await connect(b.primary()!), statement);
    assert.equal(retried.ok, 1);
    assert.equal(retried.n, 1);
    assert.equal(b.retryTableHits(), 1);
    const c = await connect(b.primary()!);
    assert.equal(await countDocuments(c, collection), 1);
    // The next txnNumber is a new statement: it runs (and fails on the duplicate _id).
    const next = await run(c, { ...statement, txnNumber: Long.fromNumber(6) });
    assert.equal(next.writeErrors?.[0]?.code, 11000);
    assert.equal(b.retryTableHits(), 1);
  });

  test('a write running when its primary steps down is interrupted (11602) though it ran; its retry is answered from the table', async () => {
    const b = await bridge();
    const collection = freshCollection();
    const statement = { insert: collection, lsid: lsid(), txnNumber: Long.fromNumber(1) };
    // 20,000 documents keep FerretDB busy for about 300 ms: the stepdown lands while the insert runs.
    const sequences = [{ identifier: 'documents', documents: Array.from({ length: 20_000 }, (_, i) => ({ i })) }];
    const c = await connect(b.members[0]!);
    const running = c.commandRaw(dbName, statement, { sequences });
    await waitFor('the insert reached FerretDB', () => b.members[0]!.pendingCommands() === 1, 10_000);
    await b.stepDown();
    const interrupted = BSON.deserialize((await running)!.body);
    assert.equal(interrupted.code, 11602);
    assert.equal(interrupted.codeName, 'InterruptedDueToReplStateChange');
    assert.deepEqual(interrupted.errorLabels, ['RetryableWriteError']);
    const primary = await connect(b.primary()!);
    const retried = BSON.deserialize((await primary.commandRaw(dbName, statement, { sequences }))!.body);
    assert.equal(retried.n, 20_000);
    assert.equal(b.retryTableHits(), 1);
    assert.equal(await countDocuments(primary, collection), 20_000);
  });

  test('a statement failed by closeConnection never ran, so its retry runs it once', async () => {
    const b = await bridge();
    const collection = freshCollection();
    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: { times: 1 }, data: { failCommands: ['insert'], closeConnection: true } });
    const statement = { insert: collection, documents: [{ a: 1 }], lsid: lsid(), txnNumber: Long.fromNumber(1) };
    await assert.rejects(run(await connect(b.members[0]!), statement));
    const c = await connect(b.members[0]!);
    assert.equal((await run(c, statement)).n, 1);
    assert.equal(b.retryTableHits(), 0);
    assert.equal((await run(c, statement)).n, 1);
    assert.equal(b.retryTableHits(), 1);
    assert.equal(await countDocuments(c, collection), 1);
  });
});

describe('onPrimaryTransactionalWrite', () => {
  const failPoint = (mode: unknown, data?: Document) => ({ configureFailPoint: 'onPrimaryTransactionalWrite', mode, ...(data ? { data } : {}) });

  test('a batch cut after its first statement committed: the retry runs only the rest', async () => {
    const b = await bridge();
    const collection = freshCollection();
    b.configureFailPoint(0, failPoint({ times: 1 }));
    const statement = { insert: collection, documents: [{ _id: 1 }, { _id: 2 }], lsid: lsid(), txnNumber: Long.fromNumber(1) };
    await assert.rejects(run(await connect(b.members[0]!), statement));
    const c = await connect(b.members[0]!);
    assert.equal(await countDocuments(c, collection), 1, 'the first statement committed before the connection closed');
    const retried = await run(c, statement);
    assert.equal(retried.n, 2);
    assert.equal(retried.writeErrors, undefined);
    assert.equal(await countDocuments(c, collection), 2);
    assert.equal(b.retryTableHits(), 1);
    // Without a txnNumber it is not a retryable write: the fail point does not apply.
    b.configureFailPoint(0, failPoint('alwaysOn'));
    assert.equal((await run(c, { insert: collection, documents: [{ _id: 3 }] })).n, 1);
  });

  test('failBeforeCommitExceptionCode: nothing commits; with closeConnection false the statement fails instead', async () => {
    const b = await bridge();
    const collection = freshCollection();
    b.configureFailPoint(0, failPoint('alwaysOn', { failBeforeCommitExceptionCode: 1 }));
    const statement = { insert: collection, documents: [{ _id: 1 }, { _id: 2 }], lsid: lsid(), txnNumber: Long.fromNumber(1) };
    await assert.rejects(run(await connect(b.members[0]!), statement));
    const c = await connect(b.members[0]!);
    assert.equal(await countDocuments(c, collection), 0);
    b.configureFailPoint(0, failPoint({ skip: 1 }, { failBeforeCommitExceptionCode: 1, closeConnection: false }));
    const reply = await run(c, statement);
    assert.equal(reply.n, 1);
    assert.equal(reply.writeErrors?.[0]?.index, 1);
    assert.equal(reply.writeErrors?.[0]?.code, 1);
    assert.equal(await countDocuments(c, collection), 1);
  });

  test('findAndModify and an upsert committed on the first attempt: the retry gets the first reply', async () => {
    const b = await bridge();
    const collection = freshCollection();
    const c = await connect(b.members[0]!);
    await run(c, { insert: collection, documents: [{ _id: 1, x: 11 }] });
    b.configureFailPoint(0, failPoint({ times: 2 }));
    const findAndModify = { findAndModify: collection, query: { _id: 1 }, update: { $inc: { x: 1 } }, lsid: lsid(), txnNumber: Long.fromNumber(1) };
    await assert.rejects(run(await connect(b.members[0]!), findAndModify));
    const upsert = { update: collection, updates: [{ q: { _id: 2 }, u: { $inc: { x: 1 } }, upsert: true }], lsid: lsid(), txnNumber: Long.fromNumber(1) };
    await assert.rejects(run(await connect(b.members[0]!), upsert));
    const d = await connect(b.members[0]!);
    assert.deepEqual((await run(d, findAndModify)).value, { _id: 1, x: 11 }, 'the pre-image of the first attempt');
    const upserted = await run(d, upsert);
    assert.equal(upserted.n, 1);
    assert.deepEqual(upserted.upserted, [{ index: 0, _id: 2 }]);
    assert.equal(b.retryTableHits(), 2);
    const docs = await run(d, { find: collection, sort: { _id: 1 } });
    assert.deepEqual(docs.cursor.firstBatch, [{ _id: 1, x: 12 }, { _id: 2, x: 1 }]);
  });
});

describe('sessions and capture', () => {
  test('every command is captured with its reply; endSessions is answered and shows its lsids', async () => {
    const b = await bridge();
    const records: CommandRecord[] = [];
    const stop = b.onCommand((r) => records.push(r));
    const c = await connect(b.members[0]!, 'capture-app');
    const id = lsid();
    await run(c, { insert: 'capture', documents: [{ a: 1 }, { a: 2 }], lsid: id, txnNumber: Long.fromNumber(3) });
    await run(c, { endSessions: [id] }, 'admin');
    stop();
    await run(c, { ping: 1 }, 'admin');
    assert.deepEqual(records.map((r) => r.commandName), ['hello', 'insert', 'endSessions']);
    const [handshake, insert, end] = records as [CommandRecord, CommandRecord, CommandRecord];
    assert.equal(handshake.appName, 'capture-app');
    assert.equal(handshake.reply?.isWritablePrimary, true);
    assert.equal(insert.member, b.members[0]!.address);
    assert.equal(insert.connectionId, handshake.connectionId);
    assert.equal(insert.databaseName, dbName);
    assert.deepEqual(insert.command.txnNumber, Long.fromNumber(3));
    assert.equal(insert.reply?.n, 2);
    assert.ok(insert.finishedAt! >= insert.startedAt);
    assert.equal(end.reply?.ok, 1);
    assert.deepEqual(end.command.endSessions, [id]);
  });

  test('document sequences are folded back into the captured command', async () => {
    const b = await bridge();
    const records: CommandRecord[] = [];
    b.onCommand((r) => records.push(r));
    const c = await connect(b.members[0]!);
    const collection = freshCollection();
    await c.commandRaw(dbName, { insert: collection }, { sequences: [{ identifier: 'documents', documents: [{ _id: 1 }, { _id: 2 }] }] });
    const insert = records.find((r) => r.commandName === 'insert');
    assert.deepEqual(insert?.command.documents, [{ _id: 1 }, { _id: 2 }]);
    assert.equal(insert?.reply?.n, 2);
  });

  test('an unacknowledged (moreToCome) request gets no reply, whoever answers it, and still runs', async () => {
    const b = await bridge();
    const records: CommandRecord[] = [];
    b.onCommand((r) => records.push(r));
    const collection = freshCollection();
    const raw = await RawClient.connect(b.members[0]!.port);
    try {
      raw.send({ insert: collection, documents: [{ a: 1 }], writeConcern: { w: 0 }, $db: dbName }, OpMsgFlags.moreToCome);
      raw.send({ endSessions: [lsid()], $db: 'admin' }, OpMsgFlags.moreToCome);
      // Same connection, same FerretDB connection: the count runs after the insert.
      const count = raw.send({ count: collection, $db: dbName });
      const reply = await raw.next();
      assert.equal(reply.responseTo, count, 'the first reply answers the count');
      assert.equal(reply.body.n, 1);
    } finally {
      raw.close();
    }
    assert.deepEqual(records.map((r) => r.commandName).sort(), ['count', 'endSessions', 'insert']);
  });

  test('connection counts per member', async () => {
    const b = await bridge();
    const member = b.members[1]!;
    const a = await connect(member);
    const c = await connect(member);
    assert.equal(member.openConnections(), 2);
    c.destroy();
    await waitFor('one connection left', () => member.openConnections() === 1, 10_000);
    assert.equal(member.maxOpenConnections(), 2);
    member.resetMaxOpen();
    assert.equal(member.maxOpenConnections(), 1);
    a.destroy();
  });
});

describe('other topologies', () => {
  test('sharded: routers say isdbgrid, each takes writes and reads, the retry table is shared', async () => {
    const b = await bridge({ topology: 'sharded', members: 2 });
    assert.equal(b.uri, `mongodb://${b.members[0]!.address},${b.members[1]!.address}/`);
    const h = await hello(b.members[1]!);
    assert.equal(h.msg, 'isdbgrid');
    assert.equal(h.setName, undefined);
    assert.equal(h.isWritablePrimary, true);
    assert.equal(b.members[0]!.state, 'mongos');
    assert.equal(b.primary(), undefined);
    await assert.rejects(b.stepDown(), /replica set/);
    const collection = freshCollection();
    const statement = { insert: collection, documents: [{ a: 1 }], lsid: lsid(), txnNumber: Long.fromNumber(1) };
    assert.equal((await run(await connect(b.members[0]!), statement)).n, 1);
    assert.equal((await run(await connect(b.members[1]!), statement)).n, 1);
    assert.equal(b.retryTableHits(), 1);
    assert.equal(await countDocuments(await connect(b.members[1]!), collection), 1);
    const session = await dial(`${b.uri}?serverSelectionTimeoutMS=5000`, { workers: 0 });
    try {
      await waitFor('both routers discovered', () => session.liveServers().length === 2, 10_000);
      assert.equal(await session.db(dbName).c(collection).count(), 1);
    } finally {
      await session.close();
    }
  });

  test('standalone: a plain server that refuses txnNumber', async () => {
    const b = await bridge({ topology: 'standalone', members: 3 });
    assert.equal(b.members.length, 1);
    assert.equal(b.members[0]!.state, 'standalone');
    const h = await hello(b.members[0]!);
    assert.equal(h.setName, undefined);
    assert.equal(h.msg, undefined);
    assert.equal(h.isWritablePrimary, true);
    assert.equal(h.$clusterTime, undefined);
    const c = await connect(b.members[0]!);
    const refused = await run(c, { insert: freshCollection(), documents: [{ a: 1 }], lsid: lsid(), txnNumber: Long.fromNumber(1) });
    assert.equal(refused.code, 20);
    assert.equal(refused.codeName, 'IllegalOperation');
    b.configureFailPoint(0, { configureFailPoint: 'failCommand', mode: { times: 1 }, data: { failCommands: ['ping'], errorCode: 5 } });
    assert.equal((await run(c, { ping: 1 }, 'admin')).code, 5);
  });
});

test('authentication passes through to FerretDB: hello reports the user\'s mechanisms, SCRAM runs on the connection\'s own socket', async () => {
  const secured = await startTestServer({ user: { name: 'bridge-user', password: 'bridge-pw' } });
  try {
    const b = await startBridge({ backend: secured });
    open.push(b);
    const records: CommandRecord[] = [];
    b.onCommand((r) => records.push(r));
    const session = await dial(`mongodb://bridge-user:bridge-pw@${b.members.map((m) => m.address).join(',')}/?replicaSet=rs0&authSource=admin&serverSelectionTimeoutMS=5000`, { workers: 0 });
    try {
      await session.db(dbName).c('auth').insert({ a: 1 });
      assert.equal(await session.db(dbName).c('auth').count(), 1);
      await session.db(dbName).dropDatabase();
    } finally {
      await session.close();
    }
    const handshake = records.find((r) => r.command.saslSupportedMechs !== undefined);
    assert.deepEqual(handshake?.reply?.saslSupportedMechs, ['SCRAM-SHA-1', 'SCRAM-SHA-256']);
    assert.ok(records.some((r) => r.commandName === 'saslContinue' && r.reply?.ok === 1));
  } finally {
    await secured.stop();
  }
});

test('the official driver (OP_QUERY handshake, streaming monitor) rides out a stepdown', async () => {
  const b = await bridge();
  const client = new MongoClient(b.uri, { serverSelectionTimeoutMS: 5000, heartbeatFrequencyMS: 500 });
  try {
    const collection = client.db(dbName).collection(freshCollection());
    await collection.insertOne({ a: 1 });
    await b.stepDown();
    await collection.insertOne({ a: 2 });
    assert.equal(await collection.countDocuments(), 2);
  } finally {
    await client.close();
  }
});

/** A bare socket speaking OP_MSG, for what Connection does not do: exhaust replies. */
class RawClient {
  #frames: ReturnType<typeof decodeMessage>[] = [];
  #waiting: (() => void) | undefined;
  #requestId = 0;
  private constructor(private readonly socket: net.Socket) {
    const reader = new MessageReader(48_000_000);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) this.#frames.push(decodeMessage(frame, 48_000_000));
      this.#waiting?.();
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(body: Document, flags = 0): number {
    const requestId = ++this.#requestId;
    const frame = encodeOpMsg({ requestId, body }, DEFAULT_WIRE_LIMITS);
    frame.writeUInt32LE(flags, HEADER_SIZE);
    this.socket.write(frame);
    return requestId;
  }

  async next(timeoutMS = 10_000): Promise<{ flags: number; requestId: number; responseTo: number; body: Document }> {
    const deadline = performance.now() + timeoutMS;
    while (this.#frames.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const frame = this.#frames.shift()!;
    return { flags: frame.flags, requestId: frame.requestId, responseTo: frame.responseTo, body: BSON.deserialize(frame.body) };
  }

  async nextWhere(predicate: (reply: { body: Document }) => boolean, count = 100): Promise<{ body: Document }> {
    for (let i = 0; i < count; i++) {
      const reply = await this.next();
      if (predicate(reply)) return reply;
    }
    throw new Error(`no matching reply in ${count}`);
  }

  close(): void {
    this.socket.destroy();
  }
}
