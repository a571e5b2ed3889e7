// session.events and the diagnostics_channel publication of the pools'
// events, for workers 0 and 2 (issue 15 items 3 and 4): one hub per dial,
// shared by every session made from it; a worker's events reach it with
// the worker's id; and nobody observing costs no EVENT message from a worker.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { dial, EventHub, Mode, openSession, type ConnectionCheckedOutEvent, type Published } from '../../src/index.js';
import { resolveOptions } from '../../src/uri/resolve.js';
import { WorkerRouter } from '../../src/worker/worker-router.js';
import { testServerForFile } from '../fixtures/file-server.js';
import { waitFor } from '../fixtures/wait.js';

const DB = `mgo_session_events_${process.pid}`;
const server = testServerForFile(DB);

/** One operation that checks a socket out and back in (Eventual mode reserves none). */
async function oneOperation(session: Awaited<ReturnType<typeof dial>>): Promise<void> {
  const s = session.copy();
  s.setMode(Mode.Eventual);
  try {
    await s.ping();
  } finally {
    await s.close();
  }
}

function checkWorkerId(event: Published, workers: number): void {
  if (workers === 0) assert.equal(event.workerId, undefined, 'no workerId on the main thread');
  else assert.ok(Number.isInteger(event.workerId) && event.workerId! >= 0 && event.workerId! < workers, `workerId ${event.workerId}`);
}

describe('session.events', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: one hub for every session of a dial; it gets the pools' checkouts with their fields`, { timeout: 60_000 }, async () => {
      const session = await dial(server.uri, { workers });
      try {
        const events = session.events;
        assert.ok(events instanceof EventHub);
        const copy = session.copy();
        const clone = session.clone();
        const fresh = session.new();
        assert.equal(copy.events, events);
        assert.equal(clone.events, events);
        assert.equal(fresh.events, events);
        await Promise.all([copy.close(), clone.close(), fresh.close()]);
        const other = await dial(server.uri, { workers });
        assert.notEqual(other.events, events, 'another dial, another hub');
        await other.close();

        const checkedOut: Published<ConnectionCheckedOutEvent>[] = [];
        let checkedIn = 0;
        events.on('connectionCheckedOut', (event) => checkedOut.push(event));
        events.on('connectionCheckedIn', () => checkedIn++);
        await oneOperation(session);
        await waitFor('the check-in', () => checkedIn >= 1, 10_000);
        const [first] = checkedOut;
        assert.ok(first, 'a connectionCheckedOut event');
        assert.equal(first.type, 'ConnectionCheckedOut');
        assert.equal(first.address, server.address);
        assert.ok(Number.isInteger(first.connectionId));
        assert.ok(first.durationMS >= 0);
        checkWorkerId(first, workers);
      } finally {
        await session.close();
      }
    });

    test(`workers ${workers}: the diagnostics_channel mgo-threads:pool:connectionCheckedOut gets them too, without any listener`, { timeout: 60_000 }, async () => {
      const session = await dial(server.uri, { workers });
      const messages: Published<ConnectionCheckedOutEvent>[] = [];
      const onMessage = (message: unknown) => messages.push(message as Published<ConnectionCheckedOutEvent>);
      diagnosticsChannel.subscribe('mgo-threads:pool:connectionCheckedOut', onMessage);
      try {
        assert.equal(session.events.listenerCount('connectionCheckedOut'), 0);
        await oneOperation(session);
        await waitFor('a message on the channel', () => messages.some((m) => m.address === server.address), 10_000);
        const message = messages.find((m) => m.address === server.address)!;
        assert.equal(message.type, 'ConnectionCheckedOut');
        checkWorkerId(message, workers);
      } finally {
        diagnosticsChannel.unsubscribe('mgo-threads:pool:connectionCheckedOut', onMessage);
        await session.close();
      }
    });
  }

  test('workers 2: no EVENT message from a worker while nobody observes; listening turns them on from the next operation, and off again', { timeout: 60_000 }, async () => {
    const events = new EventHub();
    const router = await WorkerRouter.create(await resolveOptions(server.uri, { workers: 2 }), {}, events);
    const session = openSession(router, { mode: Mode.Eventual, database: DB }, events);
    try {
      for (let i = 0; i < 4; i++) await session.ping();
      assert.equal(router.eventMessages, 0, 'nobody observes: the workers sent no event');

      let checkedIn = 0;
      const listener = () => checkedIn++;
      events.on('connectionCheckedIn', listener);
      // The mask goes out before the operation, on the same port: its own events are forwarded.
      await session.ping();
      await waitFor('the check-in event', () => checkedIn >= 1, 10_000);
      assert.ok(router.eventMessages > 0);

      events.off('connectionCheckedIn', listener);
      // Each operation's events precede its reply: none is still on its way.
      const before = router.eventMessages;
      // The first tells the workers nobody observes any more, before itself.
      for (let i = 0; i < 4; i++) await session.ping();
      assert.equal(router.eventMessages, before, 'no EVENT message once nobody observes');
    } finally {
      await session.close();
    }
  });
});

describe('the events dial option: a hub made before dial()', () => {
  for (const workers of [0, 2]) {
    test(`workers ${workers}: its listeners see the dial's own first events, and it becomes session.events`, { timeout: 60_000 }, async () => {
      const events = new EventHub();
      const seen: string[] = [];
      events.on('topologyOpening', () => seen.push('topologyOpening'));
      events.on('serverOpening', () => seen.push('serverOpening'));
      events.on('commandSucceeded', (e) => seen.push(`commandSucceeded ${e.commandName}`));
      const session = await dial(server.uri, { workers, events });
      try {
        assert.equal(session.events, events);
        // The dial's first ping (before dial() returned) is in, and the topology opened before it.
        assert.deepEqual(seen.slice(0, 3), ['topologyOpening', 'serverOpening', 'commandSucceeded ping']);
        await assert.rejects(dial(server.uri, { workers, events }), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'ERR_INVALID_ARGUMENT');
          assert.match(err.message, /one dial per hub/);
          return true;
        });
      } finally {
        await session.close();
      }
    });
  }

  test('a dial that fails gives the hub back to the next dial', { timeout: 60_000 }, async () => {
    const events = new EventHub();
    // Nothing listens on port 1 of the loopback address: the first ping times out.
    await assert.rejects(dial('mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300', { events }));
    const session = await dial(server.uri, { events });
    assert.equal(session.events, events);
    await session.close();
  });

  test('anything but an EventHub is refused, naming the option', async () => {
    await assert.rejects(dial(server.uri, { events: {} as EventHub }), /events/);
  });
});
