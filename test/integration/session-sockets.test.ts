// mgo's socket behaviour, seen from the server: which client socket ran
// each operation (whatsmyuri names the client's address:port) and the pool
// statistics of the session's cluster.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dial, Mode, type Session } from '../../src/index.js';
import { startTestServer, type TestServer } from '../fixtures/server.js';

let server: TestServer;
let root: Session;

before(async () => {
  server = await startTestServer();
  root = await dial(`${server.uri}?maxPoolSize=8`);
});

after(async () => {
  await root?.close();
  await server?.stop();
});

/** The client socket ("127.0.0.1:port") the server saw this session's operation on. */
async function socketOf(session: Session): Promise<string> {
  const reply = await session.run({ whatsmyuri: 1 });
  return String(reply.you);
}

function inUse(session: Session): number {
  return session.stats().reduce((sum, s) => sum + s.inUse, 0);
}

describe('mgo socket semantics against the server', () => {
  test('a Strong session keeps one socket; clone() shares it, copy() and new() do not', async () => {
    const session = root.copy();
    const mine = await socketOf(session);
    // mgo: Clone() shares the socket the parent holds at that moment.
    const clone = session.clone();
    const copy = session.copy();
    const fresh = session.new();
    try {
      assert.equal(await socketOf(session), mine, 'the same socket for every operation');
      assert.equal(await socketOf(clone), mine, 'clone shares the reservation');
      assert.notEqual(await socketOf(copy), mine, 'copy reserves its own');
      assert.notEqual(await socketOf(fresh), mine, 'new reserves its own');
      assert.notEqual(await socketOf(copy), await socketOf(fresh));
    } finally {
      await Promise.all([session.close(), clone.close(), copy.close(), fresh.close()]);
    }
  });

  test('close() gives the reserved socket back; a clone keeps it until the last sharer closes', async () => {
    const before = inUse(root);
    const session = root.copy();
    await session.ping();
    assert.equal(inUse(root), before + 1);
    const clone = session.clone();
    await session.close();
    assert.equal(inUse(root), before + 1, 'the clone still holds it');
    await clone.ping();
    await clone.close();
    assert.equal(inUse(root), before, 'released with the last sharer');
  });

  test('refresh() releases the socket and the next operation takes a new one from the pool', async () => {
    const session = root.copy();
    try {
      await session.ping();
      const held = inUse(root);
      session.refresh();
      assert.equal(inUse(root), held - 1);
      await session.ping();
      assert.equal(inUse(root), held);
    } finally {
      await session.close();
    }
  });

  test('an Eventual session reserves nothing and spreads concurrent operations over several sockets', async () => {
    const session = root.copy();
    try {
      session.setMode(Mode.Eventual, true);
      const before = inUse(root);
      const sockets = new Set(await Promise.all(Array.from({ length: 24 }, () => socketOf(session))));
      assert.ok(sockets.size > 1, `24 concurrent operations ran on ${sockets.size} socket(s)`);
      assert.equal(inUse(root), before, 'nothing stays checked out');
    } finally {
      await session.close();
    }
  });

  test('a Strong session runs concurrent operations on its one socket', async () => {
    const session = root.copy();
    try {
      const sockets = new Set(await Promise.all(Array.from({ length: 12 }, () => socketOf(session))));
      assert.equal(sockets.size, 1);
    } finally {
      await session.close();
    }
  });
});
