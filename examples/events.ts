// Listening to the driver: command events (commandStarted/Succeeded/Failed),
// pool events (connectionCheckedOut, ...) and topology events on
// session.events, and the same events on diagnostics_channel, where an APM
// tool subscribes without a reference to the session.
//
//   node --import tsx examples/events.ts [mongodb://127.0.0.1:27017/]
//
// The server comes from the first argument, else MONGODB_URI, else
// mongodb://127.0.0.1:27017/. In your application, import from
// 'mgo-threads' instead of '../src/index.js'.
import diagnosticsChannel from 'node:diagnostics_channel';
import { dial, type CommandStartedEvent, type CommandSucceededEvent } from '../src/index.js';

const uri = process.argv[2] ?? process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/';
const dbName = process.env.EXAMPLE_DB ?? 'examples';

// diagnostics_channel: the channels are named mgo-threads:command:<started|
// succeeded|failed>, mgo-threads:pool:<event> and mgo-threads:topology:<event>;
// a message has the event's fields. Subscribing is all it takes, for every
// dial of the process.
const onSucceeded = (message: unknown) => {
  const event = message as CommandSucceededEvent & { workerId?: number };
  if (event.databaseName === dbName) console.log(`[channel] ${event.commandName} succeeded in ${event.duration.toFixed(2)} ms`);
};
diagnosticsChannel.subscribe('mgo-threads:command:succeeded', onSucceeded);

// workers: 2: the sockets live in two worker threads, which time each
// command there; the events reach this thread's listeners with the
// worker's timing and its workerId.
const session = await dial(uri, { workers: 2 });
try {
  // session.events is a typed EventEmitter shared by every session of this
  // dial (copy(), clone(), new()), with the official driver's event names.
  const onStarted = (event: CommandStartedEvent & { workerId?: number }) => {
    if (event.databaseName !== dbName) return; // e.g. endSessions on admin at close
    console.log(`[events] ${event.commandName} started on ${event.address} (request ${event.requestId}, worker ${event.workerId ?? 'main'})`);
  };
  session.events.on('commandStarted', onStarted);
  session.events.on('commandFailed', (event) => console.log(`[events] ${event.commandName} failed: ${event.failure.message}`));
  // A Strong session (the default) reserves its socket: one checkout, kept until close().
  session.events.on('connectionCheckedOut', (event) => console.log(`[events] connection ${event.connectionId} checked out from ${event.address}`));

  const c = session.db(dbName).c('events_example');
  await c.insert({ _id: 1, n: 1 });
  await c.find({ _id: 1 }).one();
  // A write error comes in an ok: 1 reply, so it is a commandSucceeded (as
  // the spec says) and a LastError for the caller; a command the server
  // refuses with ok: 0 is a commandFailed.
  await c.update({ _id: 1 }, { $nope: { n: 2 } }).catch((err) => console.log(`update: ${err.code}`));
  await session.db(dbName).run({ noSuchCommand: 1 }).catch((err) => console.log(`noSuchCommand: ${err.code}`));
  await c.dropCollection();

  // Events are built only while someone listens: with no listener and no
  // subscriber left, the driver publishes nothing and pays nothing for it.
  session.events.removeAllListeners();
  diagnosticsChannel.unsubscribe('mgo-threads:command:succeeded', onSucceeded);
  await c.find().count();
  console.log('(no more events)');
} finally {
  await session.close();
}
console.log('done');
