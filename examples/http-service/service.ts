// A small HTTP service on node:http in the style of a CPU-heavy Node
// service: every /page request reads documents by _id, sometimes writes
// one, then renders and hashes a page (handler.ts). It runs on mgo-threads
// (workers 0, 1, 2, ...) or on the official driver with the same handler
// and the same connection limit (store.ts). See README.md.
//
//   node --import tsx examples/http-service/service.ts \
//     [--driver official|mgo] [--workers N] [--pool-limit L] [--port P] [--host H] \
//     [--uri URI] [--db NAME] [--app-us 200] [--write-ratio 0.1] [--reads 2] [--docs 100] [--seed] [--slow-ms MS]
//
// It prints "listening on http://HOST:PORT" once it serves (and, when
// forked with an IPC channel, sends { type: 'listening', port }), and stops
// cleanly on SIGTERM or SIGINT: no new connections, the database client
// closed, exit code 0.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { PAGES, createHandler, type HandlerOptions } from './handler.js';
import { ServiceMonitor } from './service-monitor.js';
import { openStore, type DriverName, type Store } from './store.js';

const USAGE = 'usage: service.ts [--driver official|mgo] [--workers N] [--pool-limit L] [--port P] [--host H] [--uri URI] [--db NAME] [--app-us US] [--write-ratio R] [--reads N] [--docs N] [--seed] [--slow-ms MS]';

function number(name: string, text: string, min: number, max = Infinity, integer = true): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min}${max === Infinity ? '' : ` to ${max}`}, got ${text}\n${USAGE}`);
  }
  return value;
}

function parseServiceArgs(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      driver: { type: 'string', default: 'mgo' },
      workers: { type: 'string', default: '2' },
      'pool-limit': { type: 'string', default: '8' },
      port: { type: 'string', default: '3000' },
      host: { type: 'string', default: '127.0.0.1' },
      uri: { type: 'string', default: process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/' },
      db: { type: 'string', default: 'http_service' },
      'app-us': { type: 'string', default: '200' },
      'write-ratio': { type: 'string', default: '0.1' },
      reads: { type: 'string', default: '2' },
      docs: { type: 'string', default: '100' },
      seed: { type: 'boolean', default: false },
      'slow-ms': { type: 'string' },
    },
  });
  if (values.driver !== 'official' && values.driver !== 'mgo') throw new Error(`--driver must be official or mgo, got ${values.driver}\n${USAGE}`);
  const handler: HandlerOptions = {
    appMicros: number('app-us', values['app-us'], 0),
    writeRatio: number('write-ratio', values['write-ratio'], 0, 1, false),
    reads: number('reads', values.reads, 1, 100),
    docs: number('docs', values.docs, 1),
  };
  return {
    driver: values.driver as DriverName,
    workers: number('workers', values.workers, 0),
    poolLimit: number('pool-limit', values['pool-limit'], 1),
    port: number('port', values.port, 0, 65_535),
    host: values.host,
    uri: values.uri,
    db: values.db,
    seed: values.seed,
    slowMS: values['slow-ms'] === undefined ? undefined : number('slow-ms', values['slow-ms'], 0, Infinity, false),
    handler,
  };
}

/** Inserts documents 0 .. docs - 1 unless the first is there already. */
async function seed(store: Store, docs: number): Promise<void> {
  if ((await store.findById(PAGES, 0)) !== null) return;
  for (let id = 0; id < docs; id++) {
    await store.insert(PAGES, {
      _id: id,
      title: `Page ${id}`,
      author: { name: `author ${id % 7}`, since: new Date(Date.UTC(2020, id % 12, 1)) },
      tags: ['news', 'sport', 'weather', 'science'].slice(0, 1 + (id % 4)),
      body: `Paragraph ${id}. `.repeat(60),
      views: id * 3,
    });
  }
}

async function main(): Promise<void> {
  const options = parseServiceArgs(process.argv.slice(2));
  const store = await openStore(options);
  if (options.seed) await seed(store, options.handler.docs);
  const { handler, counters, whenIdle } = createHandler(store, options.handler);
  const monitor = new ServiceMonitor(counters, whenIdle);
  monitor.serveIpc();
  const server = createServer({ keepAlive: true }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const workers = options.driver === 'mgo' ? `, workers ${options.workers}` : '';
  console.log(`listening on http://${options.host}:${port} (driver ${options.driver}${workers}, pool limit ${options.poolLimit})`);
  process.send?.({ type: 'listening', port });

  let stopping = false;
  const stop = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`stopping (${why})`);
    monitor.stop();
    // Idle keep-alive connections would hold close() open until they time out.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
    await store.close();
    if (process.connected) process.disconnect();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    stop(signal).catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // A parent that forked the service and went away: stop as on a signal.
  process.once('disconnect', () => onSignal('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
