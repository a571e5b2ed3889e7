import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { ObjectId } from 'bson';
import { WANT_COMMAND, WANT_POOL, WANT_SELECTION_LOG, WANT_TOPOLOGY, type DriverEvent, type Published } from '../../../src/monitoring/events.js';
import { EventHub } from '../../../src/monitoring/event-hub.js';
import { Logger } from '../../../src/monitoring/logger.js';
import { truncatedJson, hostAndPort } from '../../../src/monitoring/log-messages.js';
import { checkLoggerOptions, parseSeverity, resolveLogSettings, type LogMessage } from '../../../src/monitoring/log-settings.js';
import { setDebug, setLogger } from '../../../src/session/logging.js';

const NO_GLOBAL = { lineSink: undefined, debug: false };

afterEach(() => {
  setLogger(null);
  setDebug(false);
});

function collecting(levels: Record<string, string> = { default: 'debug' }, extra: object = {}): { logger: Logger; messages: LogMessage[] } {
  const messages: LogMessage[] = [];
  const logger = new Logger({ destination: (m) => messages.push(m), levels: levels as never, ...extra }, {});
  return { logger, messages };
}

test('severities parse case-insensitively; anything else is unset', () => {
  assert.equal(parseSeverity('DEBUG'), 'debug');
  assert.equal(parseSeverity(' Warn '), 'warn');
  assert.equal(parseSeverity('warning'), undefined);
  assert.equal(parseSeverity(''), undefined);
  assert.equal(parseSeverity(undefined), undefined);
});

test('environment: MONGODB_LOG_ALL for every component, a component variable wins, invalid values count as unset', () => {
  const s = resolveLogSettings(undefined, NO_GLOBAL, { MONGODB_LOG_ALL: 'info', MONGODB_LOG_COMMAND: 'Debug', MONGODB_LOG_TOPOLOGY: 'loud' });
  assert.deepEqual(s.levels, { command: 'debug', topology: 'info', serverSelection: 'info', connection: 'info' });
  assert.deepEqual(resolveLogSettings(undefined, NO_GLOBAL, {}).levels, { command: 'off', topology: 'off', serverSelection: 'off', connection: 'off' });
  const each = resolveLogSettings(undefined, NO_GLOBAL, {
    MONGODB_LOG_SERVER_SELECTION: 'trace',
    MONGODB_LOG_CONNECTION: 'error',
    MONGODB_LOG_TOPOLOGY: 'notice',
  });
  assert.deepEqual(each.levels, { command: 'off', topology: 'notice', serverSelection: 'trace', connection: 'error' });
});

test('environment: MONGODB_LOG_PATH stdout/stderr in any case, else a file; MONGODB_LOG_MAX_DOCUMENT_LENGTH, 1000 by default', () => {
  assert.equal(resolveLogSettings(undefined, NO_GLOBAL, {}).destination, 'stderr');
  assert.equal(resolveLogSettings(undefined, NO_GLOBAL, { MONGODB_LOG_PATH: 'STDOUT' }).destination, 'stdout');
  assert.equal(resolveLogSettings(undefined, NO_GLOBAL, { MONGODB_LOG_PATH: 'StdErr' }).destination, 'stderr');
  assert.equal(resolveLogSettings(undefined, NO_GLOBAL, { MONGODB_LOG_PATH: '/tmp/x.log' }).destination, '/tmp/x.log');
  assert.equal(resolveLogSettings(undefined, NO_GLOBAL, {}).maxDocumentLength, 1000);
  assert.equal(resolveLogSettings(undefined, NO_GLOBAL, { MONGODB_LOG_MAX_DOCUMENT_LENGTH: '20' }).maxDocumentLength, 20);
  assert.equal(resolveLogSettings(undefined, NO_GLOBAL, { MONGODB_LOG_MAX_DOCUMENT_LENGTH: '-3' }).maxDocumentLength, 1000);
  assert.equal(resolveLogSettings(undefined, NO_GLOBAL, { MONGODB_LOG_MAX_DOCUMENT_LENGTH: 'x' }).maxDocumentLength, 1000);
});

test('the logger option takes precedence over the environment; then setLogger/setDebug; then the environment', () => {
  const env = { MONGODB_LOG_ALL: 'debug', MONGODB_LOG_PATH: 'stdout', MONGODB_LOG_MAX_DOCUMENT_LENGTH: '5' };
  const s = resolveLogSettings({ levels: { connection: 'off', default: 'info' }, maxDocumentLength: 50, destination: 'stderr' }, NO_GLOBAL, env);
  assert.deepEqual(s.levels, { command: 'info', topology: 'info', serverSelection: 'info', connection: 'off' });
  assert.equal(s.destination, 'stderr');
  assert.equal(s.maxDocumentLength, 50);
  const lines = (): void => {};
  const global = resolveLogSettings(undefined, { lineSink: lines, debug: false }, { MONGODB_LOG_COMMAND: 'trace' });
  assert.equal(global.levels.command, 'info', 'setLogger logs info and more severe, over the environment');
  assert.deepEqual(global.destination, { lines });
  assert.equal(resolveLogSettings(undefined, { lineSink: undefined, debug: true }, {}).levels.topology, 'debug');
  assert.equal(resolveLogSettings({ levels: { command: 'warn' } }, { lineSink: undefined, debug: true }, {}).levels.command, 'warn');
});

test('the logger option is checked: unknown keys, components and levels, bad destinations and lengths are refused', () => {
  assert.ok(checkLoggerOptions({}));
  assert.ok(checkLoggerOptions({ destination: 'stdout', levels: { command: 'debug', default: 'off' }, maxDocumentLength: 0 }));
  assert.ok(checkLoggerOptions({ destination: () => {} }));
  assert.ok(checkLoggerOptions({ destination: { write() {} } }));
  for (const bad of [null, 'debug', [], { level: 'debug' }, { levels: { commands: 'debug' } }, { levels: { command: 'loud' } }, { destination: 3 }, { destination: '' }, { maxDocumentLength: -1 }, { maxDocumentLength: 1.5 }]) {
    assert.equal(checkLoggerOptions(bad), undefined, JSON.stringify(bad));
  }
});

test('truncation: cut at the max length with "..." appended (not counted), never inside a surrogate pair; 0 never cuts', () => {
  const doc = { a: 'x'.repeat(50) };
  const full = '{"a":"' + 'x'.repeat(50) + '"}';
  assert.equal(truncatedJson(doc, 1000), full);
  assert.equal(truncatedJson(doc, 10), full.slice(0, 10) + '...');
  assert.equal(truncatedJson(doc, 0), full);
  assert.equal(truncatedJson(doc, full.length), full);
  const emoji = { e: '😀' }; // {"e":"😀"}: the pair is at 6..7
  assert.equal(truncatedJson(emoji, 7), '{"e":"...');
  assert.equal(truncatedJson(emoji, 8), '{"e":"😀...');
  // Relaxed extended JSON: numbers stay numbers, ObjectIds are $oid.
  assert.equal(truncatedJson({ n: 1, id: new ObjectId('64b7c0a1e4b0a1a2b3c4d5e6') }, 1000), '{"n":1,"id":{"$oid":"64b7c0a1e4b0a1a2b3c4d5e6"}}');
});

test('addresses split into serverHost and serverPort', () => {
  assert.deepEqual(hostAndPort('127.0.0.1:27018'), { serverHost: '127.0.0.1', serverPort: 27018 });
  assert.deepEqual(hostAndPort('[::1]:27019'), { serverHost: '::1', serverPort: 27019 });
  assert.deepEqual(hostAndPort('localhost'), { serverHost: 'localhost', serverPort: 27017 });
  // CMAP "Logging": serverPort is "not present for Unix domain sockets"; the address is the socket's path.
  assert.deepEqual(hostAndPort('/tmp/mongodb-27017.sock'), { serverHost: '/tmp/mongodb-27017.sock' });
});

const command = { commandName: 'find', databaseName: 'db', requestId: 7, connectionId: 3, address: '127.0.0.1:27017' };

test('command events become the spec messages with its field names', () => {
  const { logger, messages } = collecting({ command: 'debug' });
  logger.log({ type: 'CommandStarted', ...command, serverConnectionId: 42, command: { find: 'c', filter: { a: 1 } } });
  logger.log({ type: 'CommandSucceeded', ...command, duration: 1.5, reply: { ok: 1 } });
  logger.log({ type: 'CommandFailed', ...command, duration: 2, failure: Object.assign(new Error('boom'), { code: 'ERR_SERVER' }), workerId: 1 } as Published);
  const strip = ({ time, ...rest }: LogMessage) => (assert.ok(time instanceof Date), rest);
  assert.deepEqual(messages.map(strip), [
    {
      component: 'command',
      severity: 'debug',
      message: 'Command started',
      commandName: 'find',
      databaseName: 'db',
      requestId: 7,
      driverConnectionId: 3,
      serverHost: '127.0.0.1',
      serverPort: 27017,
      serverConnectionId: 42,
      command: '{"find":"c","filter":{"a":1}}',
    },
    {
      component: 'command',
      severity: 'debug',
      message: 'Command succeeded',
      commandName: 'find',
      databaseName: 'db',
      requestId: 7,
      driverConnectionId: 3,
      serverHost: '127.0.0.1',
      serverPort: 27017,
      durationMS: 1.5,
      reply: '{"ok":1}',
    },
    {
      component: 'command',
      severity: 'debug',
      message: 'Command failed',
      commandName: 'find',
      databaseName: 'db',
      requestId: 7,
      driverConnectionId: 3,
      serverHost: '127.0.0.1',
      serverPort: 27017,
      durationMS: 2,
      failure: { name: 'Error', code: 'ERR_SERVER', message: 'boom' },
      workerId: 1,
    },
  ]);
});

test('CMAP events become the spec messages: reasons as its sentences, pool options only when set', () => {
  const { logger, messages } = collecting({ connection: 'debug' });
  const address = '127.0.0.1:27017';
  const events: DriverEvent[] = [
    { type: 'ConnectionPoolCreated', address, options: { minPoolSize: 1, maxPoolSize: 5 } },
    { type: 'ConnectionPoolReady', address },
    { type: 'ConnectionCheckOutStarted', address },
    { type: 'ConnectionCreated', address, connectionId: 1 },
    { type: 'ConnectionReady', address, connectionId: 1, durationMS: 3 },
    { type: 'ConnectionCheckedOut', address, connectionId: 1, durationMS: 4 },
    { type: 'ConnectionCheckedIn', address, connectionId: 1 },
    { type: 'ConnectionCheckOutFailed', address, reason: 'timeout', durationMS: 5 },
    { type: 'ConnectionPoolCleared', address, interruptInUseConnections: false },
    { type: 'ConnectionClosed', address, connectionId: 1, reason: 'poolClosed' },
    { type: 'ConnectionClosed', address, connectionId: 2, reason: 'idle' },
    { type: 'ConnectionPoolClosed', address },
  ];
  for (const event of events) logger.log(event);
  const summary = messages.map(({ time: _t, component: _c, severity: _s, serverHost, serverPort, ...rest }) => (assert.equal(serverHost, '127.0.0.1'), assert.equal(serverPort, 27017), rest));
  assert.deepEqual(summary, [
    { message: 'Connection pool created', minPoolSize: 1, maxPoolSize: 5 },
    { message: 'Connection pool ready' },
    { message: 'Connection checkout started' },
    { message: 'Connection created', driverConnectionId: 1 },
    { message: 'Connection ready', driverConnectionId: 1, durationMS: 3 },
    { message: 'Connection checked out', driverConnectionId: 1, durationMS: 4 },
    { message: 'Connection checked in', driverConnectionId: 1 },
    { message: 'Connection checkout failed', reason: 'Wait queue timeout elapsed without a connection becoming available', durationMS: 5 },
    { message: 'Connection pool cleared' },
    { message: 'Connection closed', driverConnectionId: 1, reason: 'Connection pool was closed' },
    { message: 'Connection closed', driverConnectionId: 2, reason: 'Connection has been available but unused for longer than the configured max idle time' },
    { message: 'Connection pool closed' },
  ]);
});

test('SDAM events become the spec messages; a heartbeat reply is cut to the max document length', () => {
  const { logger, messages } = collecting({ topology: 'debug' }, { maxDocumentLength: 12 });
  logger.log({ type: 'TopologyOpening', topologyId: 1 });
  logger.log({ type: 'ServerOpening', topologyId: 1, address: 'h:1' });
  logger.log({ type: 'ServerHeartbeatStarted', connectionId: 'h:1', awaited: false });
  logger.log({ type: 'ServerHeartbeatSucceeded', connectionId: 'h:1', awaited: true, duration: 2, reply: { ok: 1, connectionId: 9, isWritablePrimary: true } });
  logger.log({ type: 'ServerHeartbeatFailed', connectionId: 'h:1', awaited: false, duration: 3, failure: new Error('down') });
  logger.log({ type: 'ServerClosed', topologyId: 1, address: 'h:1' });
  logger.log({ type: 'TopologyClosed', topologyId: 1 });
  assert.deepEqual(
    messages.map((m) => m.message),
    ['Starting topology monitoring', 'Starting server monitoring', 'Server heartbeat started', 'Server heartbeat succeeded', 'Server heartbeat failed', 'Stopped server monitoring', 'Stopped topology monitoring'],
  );
  assert.equal(messages[3]!.reply, '{"ok":1,"con...');
  assert.equal(messages[3]!.serverConnectionId, 9);
  assert.equal(messages[3]!.serverHost, 'h');
  assert.equal(messages[3]!.serverPort, 1);
  assert.deepEqual(messages[4]!.failure, { name: 'Error', message: 'down' });
});

test('wanted() is the kinds of the components logged at debug; an off logger wants nothing and writes nothing', () => {
  assert.equal(collecting({ default: 'off' }).logger.wanted(), 0);
  assert.equal(collecting({ default: 'info' }).logger.wanted(), WANT_SELECTION_LOG, 'every event message is at debug; "Waiting for suitable server" at info');
  assert.equal(collecting({ default: 'warn' }).logger.wanted(), 0);
  assert.equal(collecting({ command: 'debug' }).logger.wanted(), WANT_COMMAND);
  assert.equal(collecting({ connection: 'trace', topology: 'debug' }).logger.wanted(), WANT_POOL | WANT_TOPOLOGY);
  const off = collecting({ default: 'info' });
  off.logger.log({ type: 'ConnectionCheckedIn', address: 'h:1', connectionId: 1 });
  assert.equal(off.messages.length, 0);
  const selection = collecting({ serverSelection: 'info' });
  assert.equal(selection.logger.willLog('serverSelection', 'info'), true);
  assert.equal(selection.logger.willLog('serverSelection', 'debug'), false);
  assert.equal(selection.logger.willLog('serverSelection', 'off'), false);
});

test('the hub asks its logger: its kinds are wanted and its events logged', () => {
  const { logger, messages } = collecting({ connection: 'debug' });
  const hub = new EventHub({ logger });
  assert.equal(hub.wanted(), WANT_POOL);
  hub.publish({ type: 'ConnectionCheckedIn', address: 'h:1', connectionId: 4 }, 2);
  assert.equal(messages.length, 1);
  assert.equal(messages[0]!.message, 'Connection checked in');
  assert.equal(messages[0]!.workerId, 2);
});

test('a destination object gets write(message); a throwing sink does not throw into the producer: it is rethrown on the next tick', (t) => {
  const got: LogMessage[] = [];
  new Logger({ destination: { write: (m: LogMessage) => got.push(m) }, levels: { default: 'debug' } }, {}).log({ type: 'ConnectionPoolReady', address: 'h:1' });
  assert.equal(got.length, 1);
  const deferred: (() => void)[] = [];
  t.mock.method(process, 'nextTick', (callback: () => void) => void deferred.push(callback));
  const throwing = new Logger({ destination: () => { throw new Error('sink broke'); }, levels: { default: 'debug' } }, {});
  throwing.log({ type: 'ConnectionPoolReady', address: 'h:1' });
  t.mock.restoreAll();
  assert.equal(deferred.length, 1);
  assert.throws(() => deferred[0]!(), /sink broke/);
});

test('a file path is appended to, one JSON line per message; an unopenable path falls back to stderr with a warning', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mgo-log-'));
  try {
    const path = join(dir, 'driver.log');
    writeFileSync(path, 'existing\n');
    const logger = new Logger(undefined, { MONGODB_LOG_CONNECTION: 'debug', MONGODB_LOG_PATH: path });
    logger.log({ type: 'ConnectionCheckedOut', address: '127.0.0.1:5', connectionId: 2, durationMS: 1 });
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], 'existing');
    const parsed = JSON.parse(lines[1]!);
    assert.equal(parsed.message, 'Connection checked out');
    assert.equal(parsed.component, 'connection');
    assert.equal(parsed.severity, 'debug');
    assert.equal(parsed.serverPort, 5);
    assert.ok(!Number.isNaN(Date.parse(parsed.time)));
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    const fallback = new Logger(undefined, { MONGODB_LOG_CONNECTION: 'debug', MONGODB_LOG_PATH: join(dir, 'missing', 'x.log') });
    assert.equal(fallback.wanted(), WANT_POOL);
    assert.equal(((await warned) as Error & { code?: string }).code, 'MGO_LOG_PATH');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a MONGODB_LOG_PATH that cannot be opened: one warning per path for the process, naming the variable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mgo-log-'));
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    const env = { MONGODB_LOG_CONNECTION: 'debug', MONGODB_LOG_PATH: join(dir, 'missing', 'x.log') };
    const first = new Logger(undefined, env);
    new Logger(undefined, env);
    setDebug(true);
    first.wanted();
    // process.emitWarning emits on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(warnings.length, 1, warnings.map((w) => w.message).join('\n'));
  assert.match(warnings[0]!.message, /MONGODB_LOG_PATH/);
  assert.match(warnings[0]!.message, /missing/);
});

test('a log file that fails on write (/dev/full: ENOSPC) goes on to stderr with one warning; nothing is thrown', { skip: !existsSync('/dev/full') && 'no /dev/full here' }, (t) => {
  const deferred: (() => void)[] = [];
  const stderr: string[] = [];
  t.mock.method(process, 'nextTick', (callback: (...args: unknown[]) => void, ...args: unknown[]) => void deferred.push(() => callback(...args)));
  t.mock.method(process.stderr, 'write', (chunk: string) => stderr.push(chunk) > 0);
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    const logger = new Logger(undefined, { MONGODB_LOG_CONNECTION: 'debug', MONGODB_LOG_PATH: '/dev/full' });
    logger.log({ type: 'ConnectionPoolReady', address: 'h:1' });
    logger.log({ type: 'ConnectionPoolClosed', address: 'h:1' });
    // Another dial logging there, and this one after a setDebug() change: stderr at once, no second warning.
    new Logger(undefined, { MONGODB_LOG_CONNECTION: 'debug', MONGODB_LOG_PATH: '/dev/full' }).log({ type: 'ConnectionPoolReady', address: 'h:2' });
    setDebug(true);
    logger.log({ type: 'ConnectionPoolReady', address: 'h:3' });
    t.mock.restoreAll();
    // process.emitWarning defers its 'warning' event with nextTick: run what was deferred, none may throw.
    for (const callback of deferred) assert.doesNotThrow(callback);
  } finally {
    t.mock.restoreAll();
    process.off('warning', onWarning);
  }
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /\/dev\/full/);
  assert.deepEqual(
    stderr.map((line) => `${JSON.parse(line).message} ${JSON.parse(line).serverHost}`),
    ['Connection pool ready h', 'Connection pool closed h', 'Connection pool ready h', 'Connection pool ready h'],
  );
});

test("setLogger: mgo's Output(calldepth, s) gets text lines, info level and up; setDebug(true) adds debug, live for existing loggers", () => {
  const lines: [number, string][] = [];
  const logger = new Logger(undefined, {});
  assert.equal(logger.wanted(), 0);
  setLogger({ Output: (calldepth: number, s: string) => lines.push([calldepth, s]) });
  assert.equal(logger.willLog('serverSelection', 'info'), true);
  assert.equal(logger.wanted(), WANT_SELECTION_LOG, 'no event kind without setDebug: their messages are at debug');
  setDebug(true);
  assert.equal(logger.wanted(), WANT_COMMAND | WANT_POOL | WANT_TOPOLOGY | WANT_SELECTION_LOG);
  logger.log({ type: 'ConnectionCheckedIn', address: 'h:1', connectionId: 4 });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]![0], 2);
  assert.match(lines[0]![1], /^debug connection: Connection checked in \{.*"driverConnectionId":4/);
  setDebug(false);
  assert.equal(logger.wanted(), WANT_SELECTION_LOG);
  setLogger(null);
  assert.equal(logger.wanted(), 0);
  assert.equal(logger.willLog('serverSelection', 'info'), false);
  const plain: string[] = [];
  setLogger((line) => plain.push(line));
  setDebug(true);
  logger.log({ type: 'ConnectionPoolReady', address: 'h:1' });
  assert.equal(plain.length, 1);
  assert.throws(() => setLogger({} as never), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => setDebug('yes' as never), { code: 'ERR_INVALID_ARGUMENT' });
});

test("a dial's logger option wins over setLogger for that dial", () => {
  const mine: LogMessage[] = [];
  const global: string[] = [];
  setLogger((line) => global.push(line));
  setDebug(true);
  const logger = new Logger({ destination: (m) => mine.push(m), levels: { connection: 'debug', default: 'off' } }, {});
  logger.log({ type: 'ConnectionPoolReady', address: 'h:1' });
  logger.log({ type: 'TopologyOpening', topologyId: 1 });
  assert.equal(mine.length, 1);
  assert.equal(global.length, 0);
});

test('the logger dial option goes through the option table: the options object only, checked', async () => {
  const { resolveOptions } = await import('../../../src/uri/resolve.js');
  const destination = (): void => {};
  assert.equal((await resolveOptions('mongodb://h', { logger: { destination, levels: { command: 'debug' } } })).logger?.destination, destination);
  assert.equal((await resolveOptions('mongodb://h')).logger, undefined);
  await assert.rejects(resolveOptions('mongodb://h', { logger: { levels: { command: 'loud' } } } as never), { code: 'ERR_INVALID_OPTION', message: /'logger'/ });
  const fromUrl = await resolveOptions('mongodb://h/?logger=debug');
  assert.equal(fromUrl.logger, undefined);
});

test('selection records become the spec messages: documents as extended JSON, the server as serverHost/serverPort', async () => {
  const { SelectionTrace } = await import('../../../src/cluster/selection-log.js');
  const { seedTopology } = await import('../../../src/cluster/topology-description.js');
  const { resolveOptions } = await import('../../../src/uri/resolve.js');
  const { description } = seedTopology(await resolveOptions('mongodb://127.0.0.1:27017'));
  const { logger, messages } = collecting({ serverSelection: 'debug' });
  const trace = new SelectionTrace(logger.selectionLog, { operation: 'insert', readPreference: { mode: 'primary' }, forWrite: true }, 5);
  trace.started(description);
  trace.waiting(description, 1999.6);
  trace.waiting(description, 1500);
  trace.succeeded(description, '127.0.0.1:27017');
  trace.failed(description, Object.assign(new Error('no server'), { code: 'ERR_SERVER_SELECTION' }));
  assert.deepEqual(messages.map((m) => [m.message, m.severity]), [
    ['Server selection started', 'debug'],
    ['Waiting for suitable server to become available', 'info'],
    ['Server selection succeeded', 'debug'],
    ['Server selection failed', 'debug'],
  ]);
  for (const m of messages) {
    assert.equal(m.component, 'serverSelection');
    assert.equal(m.operation, 'insert');
    assert.equal(m.operationId, 5);
    assert.equal(m.selector, '{"writable":true}');
    assert.match(m.topologyDescription as string, /^\{"type":"(Unknown|Single)","servers":\[\{"address":"127\.0\.0\.1:27017","type":"Unknown"/);
  }
  assert.equal(messages[1]!.remainingTimeMS, 2000);
  assert.equal(messages[2]!.serverHost, '127.0.0.1');
  assert.equal(messages[2]!.serverPort, 27017);
  assert.deepEqual(messages[3]!.failure, { name: 'Error', code: 'ERR_SERVER_SELECTION', message: 'no server' });
  const infoOnly = collecting({ serverSelection: 'info' });
  assert.equal(infoOnly.logger.logsSelection(), true);
  const quiet = new SelectionTrace(infoOnly.logger.selectionLog, { operation: 'find', readPreference: { mode: 'nearest' } }, 1);
  quiet.started(description);
  quiet.waiting(description, 10);
  assert.deepEqual(infoOnly.messages.map((m) => [m.message, m.selector]), [['Waiting for suitable server to become available', '{"readPreference":{"mode":"nearest"}}']]);
  assert.equal(collecting({ serverSelection: 'warn' }).logger.logsSelection(), false);
});

test("the README's pattern for an environment override of a programmatic level: parseSeverity from the package entry, any case, invalid values falling back", async () => {
  const entry = await import('../../../src/index.js');
  for (const [env, expected] of [['DEBUG', 'debug'], ['trace', 'trace'], ['loud', 'debug'], [undefined, 'debug']] as const) {
    const levels = { command: entry.parseSeverity(env) ?? 'debug' };
    assert.deepEqual(checkLoggerOptions({ levels }), { levels: { command: expected } }, `MONGODB_LOG_COMMAND=${env}`);
  }
});
