// The op protocol between the main thread and a worker: payloads,
// BSON types across a real MessagePort, error records, stats rows, and the
// coalescing of messages into one postMessage per microtask / turn.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import * as BSON from 'bson';
import { Binary, BSONRegExp, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID, type Document } from 'bson';
import { describeCheck, type CheckBroadcast } from '../../../src/cluster/topology-monitor.js';
import { serverDescriptionFromHello, serverDescriptionsEqual } from '../../../src/cluster/server-description.js';
import { MalformedBSONError, concatBytes, serializeRaw } from '../../../src/wire/bson.js';
import { sequenceDocuments } from '../../../src/wire/op-msg.js';
import { assertExact } from '../../fixtures/bson-exact.js';
import { AuthError, InvalidDocumentError, MgoError, NetworkError, PoolClearedError, ServerError, fromErrorRecord } from '../../../src/errors.js';
import {
  Outbox,
  PAYLOAD_DESERIALIZE,
  RUN,
  STAT_KEYS,
  DECODED,
  REPLY,
  WORKER_DECODE_MIN_BYTES,
  decodeFlagsOf,
  decodeReply,
  decodeRun,
  encodeReply,
  encodeRun,
  exactBytes,
  rowToStats,
  sameRows,
  statsToRow,
  toErrorRecord,
  toWorkerEvent,
  fromWorkerEvent,
  type PostTarget,
} from '../../../src/worker/protocol.js';

/** How the connection serializes a command (src/wire/op-msg.ts). */
const WIRE = { ignoreUndefined: true, checkKeys: false, serializeFunctions: false };

/** A command using every BSON type a driver user can send. */
function richCommand(): Document {
  return {
    insert: 'things',
    ordered: true,
    oid: new ObjectId('65a1b2c3d4e5f60718293a4b'),
    long: Long.fromString('9007199254740993'),
    bigint: 2n ** 60n,
    decimal: Decimal128.fromString('1234.5678901234567890123456789'),
    date: new Date('2024-02-29T12:34:56.789Z'),
    binary: new Binary(Buffer.from([1, 2, 3, 250]), 0x80),
    uuid: new UUID('0123456789abcdef0123456789abcdef'),
    buffer: Buffer.from('bytes'),
    int32: new Int32(7),
    plainInt: 7,
    double: new Double(7),
    fraction: 0.1,
    big: 2 ** 40,
    negZero: -0,
    timestamp: new Timestamp({ t: 1_700_000_000, i: 3 }),
    regex: /^a.c$/i,
    bsonRegex: new BSONRegExp('x+', 'm'),
    min: new MinKey(),
    max: new MaxKey(),
    nil: null,
    skipped: undefined,
    nested: { a: [1, 'two', { three: new Int32(3) }, [new Double(4.5)]], $weird: 'key', 'dotted.key': true },
    unicode: 'héllo wörld ✓',
  };
}

function cross<T>(value: T, transfer: ArrayBuffer[] = []): Promise<T> {
  const { port1, port2 } = new MessageChannel();
  return new Promise<T>((resolve) => {
    port2.once('message', (received: T) => {
      port1.close();
      resolve(received);
    });
    port1.postMessage(value, transfer);
  });
}

function owns(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}

describe('RUN payloads', () => {
  test('a command crosses a MessagePort and serializes for the wire to the same bytes', async () => {
    const command = richCommand();
    const expected = BSON.serialize(command, WIRE);
    const encoded = encodeRun(command);
    assert.equal(encoded.sequences, null);
    assert.ok(owns(encoded.command), 'exact-size, owning its ArrayBuffer');
    const received = await cross(encoded.command, encoded.transfer);
    assert.equal(encoded.command.byteLength, 0, 'transferred, not copied');
    const decoded = decodeRun(received, null);
    assert.deepEqual(Buffer.from(BSON.serialize(decoded.command, WIRE)), Buffer.from(expected));
  });

  test('types are kept, not promoted: Int32 vs Double, Long, Decimal128, ObjectId, Binary, Date', () => {
    const { command } = decodeRun(encodeRun(richCommand()).command, null);
    assert.ok(command.oid instanceof ObjectId);
    assert.equal(command.oid.toHexString(), '65a1b2c3d4e5f60718293a4b');
    assert.ok(command.long instanceof Long);
    assert.equal(command.long.toString(), '9007199254740993');
    assert.ok(command.bigint instanceof Long);
    assert.ok(command.decimal instanceof Decimal128);
    assert.equal(command.decimal.toString(), '1234.5678901234567890123456789');
    assert.ok(command.date instanceof Date);
    assert.equal(command.date.toISOString(), '2024-02-29T12:34:56.789Z');
    assert.ok(command.binary instanceof Binary);
    assert.equal(command.binary.sub_type, 0x80);
    assert.ok(command.int32 instanceof Int32);
    assert.ok(command.plainInt instanceof Int32, 'a JS integer went out as int32');
    assert.ok(command.double instanceof Double, 'a Double stays a Double even when integral');
    assert.ok(command.big instanceof Double);
    assert.ok(command.timestamp instanceof Timestamp);
    assert.ok(command.bsonRegex instanceof BSONRegExp);
    assert.ok(!('skipped' in command), 'undefined is left out, as on the wire');
    assert.deepEqual(PAYLOAD_DESERIALIZE, { promoteValues: false, promoteBuffers: false, bsonRegExp: true });
  });

  test('encoded sequences cross as the same bytes, transferred, never deserialized in the worker', async () => {
    const documents = Array.from({ length: 50 }, (_, i) => ({ _id: new ObjectId(), i, when: new Date(i), n: Long.fromNumber(i), pad: 'x'.repeat(i * 10) }));
    const bytes = concatBytes(documents.map((d) => serializeRaw(d)));
    const expected = new Uint8Array(bytes);
    const encoded = encodeRun({ insert: 'things' }, [
      { identifier: 'documents', bytes, count: documents.length },
      { identifier: 'updates', documents: [{ q: { i: 1 }, u: { $set: { d: new Double(2) } } }] },
    ]);
    assert.equal(encoded.sequences![0]![2], bytes, 'the session\'s bytes themselves, no copy');
    assert.equal(encoded.transfer.length, 3);
    const received = await cross([encoded.command, encoded.sequences] as const, encoded.transfer);
    assert.equal(bytes.byteLength, 0, 'handed over (transferred)');
    const decoded = decodeRun(received[0], received[1]);
    assert.deepEqual(decoded.command, { insert: 'things' });
    assert.deepEqual(decoded.sequences![0]!.bytes, expected);
    assert.equal(decoded.sequences![0]!.count, 50);
    assert.deepEqual(sequenceDocuments(decoded.sequences![1]!)[0]!.u.$set.d, 2);
  });

  test('retained sequences (a retryable write) cross as a copy and can be sent again; a detached one is refused', async () => {
    const bytes = concatBytes([serializeRaw({ _id: 1 }), serializeRaw({ _id: 2 })]);
    const sequence = { identifier: 'documents', bytes, count: 2 };
    const size = bytes.byteLength;
    for (let attempt = 0; attempt < 2; attempt++) {
      const encoded = encodeRun({ insert: 'things' }, [sequence], true);
      assert.equal(encoded.transfer.length, 1, 'only the command is transferred');
      const received = await cross([encoded.command, encoded.sequences] as const, encoded.transfer);
      assert.deepEqual(sequenceDocuments(decodeRun(received[0], received[1]).sequences![0]!), [{ _id: 1 }, { _id: 2 }]);
      assert.equal(bytes.byteLength, size, 'still usable here');
    }
    const once = encodeRun({ insert: 'things' }, [sequence]);
    await cross([once.command, once.sequences] as const, once.transfer);
    assert.throws(() => encodeRun({ insert: 'things' }, [sequence]), (e: unknown) => e instanceof MgoError && e.code === 'ERR_INVALID_ARGUMENT' && /detached/.test(e.message));
  });

  test('a command that cannot be serialized fails as the connection would fail it', () => {
    const circular: Document = { find: 'x' };
    circular.self = circular;
    assert.throws(() => encodeRun(circular), (e: unknown) => e instanceof InvalidDocumentError && e.code === 'ERR_INVALID_DOCUMENT');
    assert.throws(
      () => encodeRun({ insert: 'x' }, [{ identifier: 'documents', documents: [circular] }]),
      (e: unknown) => e instanceof InvalidDocumentError && /document 0 of "documents"/.test(e.message),
    );
  });
});

describe('replies', () => {
  const reply = (n: number) => ({ cursor: { id: Long.fromNumber(0), ns: 'db.c', firstBatch: Array.from({ length: n }, (_, i) => ({ _id: new ObjectId(), n: Long.fromNumber(5), d: new Double(1), i })) }, ok: 1 });

  test('a small reply crosses as its bytes (a view into the frame copied exact-size) and decodes with the caller options', async () => {
    const body = BSON.serialize(reply(1));
    assert.ok(body.byteLength < WORKER_DECODE_MIN_BYTES);
    const frame = Buffer.concat([Buffer.alloc(21), body, Buffer.alloc(7)]);
    const [kind, bytes] = encodeReply(frame.subarray(21, 21 + body.byteLength), decodeFlagsOf(undefined));
    assert.equal(kind, REPLY);
    assert.ok(owns(bytes));
    const received = await cross(bytes, [bytes.buffer as ArrayBuffer]);
    assertExact(decodeReply(REPLY, received), BSON.deserialize(body));
    const typed = decodeReply(REPLY, received, { promoteLongs: false, promoteValues: false });
    assert.ok(typed.cursor.firstBatch[0].n instanceof Long);
    assert.ok(typed.cursor.firstBatch[0].d instanceof Double);
    assert.deepEqual(decodeReply(REPLY, null), { ok: 1 }, 'an unacknowledged write');
  });

  test('a larger reply is decoded in the worker with the caller options and comes back exactly as BSON.deserialize gives it', async () => {
    const body = BSON.serialize(reply(40));
    for (const options of [undefined, { promoteLongs: false }, { promoteValues: false }, { useBigInt64: true }, { promoteBuffers: true, bsonRegExp: true }]) {
      const [kind, bytes] = encodeReply(body, decodeFlagsOf(options));
      assert.equal(kind, DECODED);
      const received = await cross(bytes, [bytes.buffer as ArrayBuffer]);
      assertExact(decodeReply(DECODED, received, options), BSON.deserialize(body, options));
    }
  });

  test('options the worker does not carry (raw fields) leave the decoding to the main thread; bytes that are not BSON are refused in the worker', () => {
    const body = BSON.serialize(reply(40));
    const rawFields = { fieldsAsRaw: { firstBatch: true } };
    assert.equal(decodeFlagsOf(rawFields), 0);
    const [kind, bytes] = encodeReply(body, decodeFlagsOf(rawFields));
    assert.equal(kind, REPLY);
    assertExact(decodeReply(REPLY, bytes, rawFields), BSON.deserialize(body, rawFields));
    const broken = new Uint8Array(body);
    broken[broken.byteLength - 1] = 7;
    // The worker then closes the connection that brought them (LocalRouter.runRaw).
    assert.throws(() => encodeReply(broken, decodeFlagsOf(undefined)), 'decoded in the worker');
    assert.throws(() => encodeReply(broken, decodeFlagsOf(rawFields)), MalformedBSONError, 'checked, sent undecoded');
    const small = BSON.serialize({ ok: 1, s: 'x' });
    small[small.byteLength - 3] = 0xff; // the string's one byte: not UTF-8
    assert.throws(() => encodeReply(small, decodeFlagsOf(undefined)), MalformedBSONError, 'a small reply is checked, not decoded');
  });

  test('exactBytes copies pooled and partial views, and keeps an array that owns its buffer', () => {
    const pooled = BSON.serialize({ a: 1 });
    assert.ok(!owns(pooled), 'js-bson returns small documents from Buffer’s shared pool');
    const copy = exactBytes(pooled);
    assert.ok(owns(copy));
    assert.deepEqual(Buffer.from(copy), Buffer.from(pooled));
    const own = new Uint8Array(16);
    assert.equal(exactBytes(own), own);
  });
});

describe('error records', () => {
  test('server errors keep class, codes and labels across a port', async () => {
    const error = new ServerError('not primary', 10107, 'NotWritablePrimary', { address: 'h:1', errorLabels: ['RetryableWriteError'] });
    const rebuilt = fromErrorRecord(await cross(toErrorRecord(error, 'worker 0')));
    assert.ok(rebuilt instanceof ServerError);
    assert.equal(rebuilt.code, 'ERR_SERVER');
    assert.equal((rebuilt as ServerError).serverCode, 10107);
    assert.equal((rebuilt as ServerError).codeName, 'NotWritablePrimary');
    assert.equal(rebuilt.address, 'h:1');
    assert.ok(rebuilt.hasErrorLabel('RetryableWriteError'));
    assert.equal(rebuilt.message, 'not primary');
  });

  test('authentication errors keep class and server code across a port, with or without one', async () => {
    const refused = new AuthError('SCRAM-SHA-256 authentication failed', { address: 'h:1', serverCode: 18, codeName: 'AuthenticationFailed' });
    const rebuilt = fromErrorRecord(await cross(toErrorRecord(refused, 'worker 0')));
    assert.ok(rebuilt instanceof AuthError);
    assert.equal(rebuilt.code, 'ERR_AUTH');
    assert.equal(rebuilt.serverCode, 18);
    assert.equal(rebuilt.codeName, 'AuthenticationFailed');
    assert.equal(rebuilt.address, 'h:1');
    const clientSide = fromErrorRecord(await cross(toErrorRecord(new AuthError('bad signature'), 'w')));
    assert.ok(clientSide instanceof AuthError);
    assert.equal(clientSide.serverCode, undefined);
    assert.equal('serverCode' in clientSide.toRecord(), false);
  });

  test('network, pool and document errors keep their class for instanceof', async () => {
    for (const error of [
      new NetworkError('ERR_NETWORK_TIMEOUT', 'timed out', { address: 'h:1' }),
      new PoolClearedError('cleared', { address: 'h:1' }),
      new InvalidDocumentError('ERR_DOCUMENT_TOO_LARGE', 'too big'),
    ]) {
      const rebuilt = fromErrorRecord(await cross(toErrorRecord(error, 'w')));
      assert.equal(Object.getPrototypeOf(rebuilt), Object.getPrototypeOf(error), error.name);
      assert.equal(rebuilt.code, error.code);
      assert.equal(rebuilt.name, error.name);
      assert.deepEqual([...rebuilt.errorLabels], [...error.errorLabels]);
    }
    const timeout = fromErrorRecord(toErrorRecord(new NetworkError('ERR_NETWORK_TIMEOUT', 't'), 'w'));
    assert.equal((timeout as NetworkError).isTimeout, true);
  });

  test('an error that is not ours becomes an MgoError naming where it happened', () => {
    const record = toErrorRecord(new TypeError('boom'), 'worker 3');
    const rebuilt = fromErrorRecord(record);
    assert.ok(rebuilt instanceof MgoError);
    assert.equal(rebuilt.code, 'ERR_PROTOCOL');
    assert.match(rebuilt.message, /worker 3.*TypeError: boom/);
  });
});

describe('stats rows', () => {
  test('round trip (a worker monitors nothing and its sockets are counted in the shared buffer: both 0), and change detection', () => {
    const stats = {
      ...{ address: 'h:1', maxOpen: 20, open: 3, inUse: 2, idle: 1, connecting: 0, waitCount: 4, waitDurationMS: 1.5, timeouts: 0 },
      ...{ idleClosed: 1, lifetimeClosed: 0, errorClosed: 2, monitoringConnections: 0, sockets: { open: 0, maxOpen: 0, opened: 0 } },
    };
    const row = statsToRow(stats);
    assert.equal(row.length, 1 + STAT_KEYS.length);
    assert.deepEqual(rowToStats(row), stats);
    assert.ok(sameRows([row], [statsToRow({ ...stats })]));
    assert.ok(!sameRows([row], [statsToRow({ ...stats, inUse: 3 })]));
    assert.ok(!sameRows([row], []));
  });
});

describe('monitor checks', () => {
  test('a hello crosses as BSON: ObjectIds and the topology version survive, the description is the same', async () => {
    const hello = {
      isWritablePrimary: true,
      setName: 'rs',
      hosts: ['a:1', 'b:2'],
      electionId: new ObjectId('7fffffff0000000000000001'),
      setVersion: 3,
      topologyVersion: { processId: new ObjectId(), counter: Long.fromNumber(4) },
      maxWireVersion: 21,
      minWireVersion: 0,
      ok: 1,
    };
    const time = performance.timeOrigin + performance.now();
    const check: CheckBroadcast = { address: 'a:1', time, hello: new Uint8Array(BSON.serialize(hello)), roundTripTimeMS: 2.5 };
    const received = await cross(check);
    const sd = describeCheck(received);
    assert.ok(sd.electionId instanceof ObjectId);
    assert.ok(sd.topologyVersion?.processId instanceof ObjectId);
    assert.equal(sd.topologyVersion?.counter, 4n);
    assert.ok(serverDescriptionsEqual(sd, serverDescriptionFromHello('a:1', hello, 2.5, time - performance.timeOrigin)));
    assert.ok(Math.abs(sd.lastUpdateTime - (time - performance.timeOrigin)) < 1e-6, 'on this thread’s clock');
    const failed = describeCheck(await cross({ address: 'a:1', time, error: 'connection refused' }));
    assert.equal(failed.type, 'Unknown');
    assert.equal(failed.error, 'connection refused');
  });
});

describe('coalescing', () => {
  class Target implements PostTarget {
    readonly posts: { value: unknown[]; transfer: readonly ArrayBuffer[] }[] = [];
    postMessage(value: unknown, transfer: readonly ArrayBuffer[] = []): void {
      this.posts.push({ value: value as unknown[], transfer });
    }
  }

  test('N messages queued in one synchronous run are one postMessage (per microtask)', async () => {
    const target = new Target();
    const outbox = new Outbox<[number, number]>(queueMicrotask, target);
    const buffers: ArrayBuffer[] = [];
    for (let i = 0; i < 100; i++) {
      const buffer = new ArrayBuffer(8);
      buffers.push(buffer);
      outbox.push([RUN, i], buffer);
    }
    assert.equal(target.posts.length, 0, 'nothing posted synchronously');
    await Promise.resolve();
    assert.equal(target.posts.length, 1);
    assert.equal(target.posts[0]!.value.length, 100);
    assert.deepEqual(target.posts[0]!.transfer, buffers, 'every payload listed for transfer');
    outbox.push([RUN, 100]);
    await Promise.resolve();
    assert.equal(target.posts.length, 2, 'a later burst is a new message');
  });

  test('per turn (setImmediate): replies settled in many microtasks and timers of one turn share a message', async () => {
    const target = new Target();
    const outbox = new Outbox<number>((flush) => setImmediate(flush), target);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        Promise.resolve()
          .then(() => Promise.resolve())
          .then(() => outbox.push(i)),
      ),
    );
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(target.posts.length, 1);
    assert.deepEqual(target.posts[0]!.value, Array.from({ length: 20 }, (_, i) => i));
  });

  test('a real MessagePort receives one message event for a burst', async () => {
    const { port1, port2 } = new MessageChannel();
    const received: unknown[][] = [];
    const done = new Promise<void>((resolve) =>
      (port2 as MessagePort).on('message', (batch: unknown[]) => {
        received.push(batch);
        if (received.flat().length === 500) resolve();
      }),
    );
    const outbox = new Outbox<[number, number]>(queueMicrotask, port1);
    for (let i = 0; i < 500; i++) outbox.push([RUN, i]);
    await done;
    port1.close();
    assert.equal(received.length, 1);
  });

  test('beforeFlush may add to the batch being flushed; messages wait for a target', async () => {
    const target = new Target();
    let extra = true;
    const outbox: Outbox<string> = new Outbox<string>(queueMicrotask, undefined, () => {
      if (extra) outbox.push('stats');
      extra = false;
    });
    outbox.push('reply');
    await Promise.resolve();
    assert.equal(target.posts.length, 0);
    outbox.attach(target);
    await Promise.resolve();
    assert.deepEqual(
      target.posts.map((p) => p.value),
      [['reply', 'stats']],
      'one message, not two',
    );
    assert.deepEqual(outbox.reset(), []);
  });
});

describe('command events across the thread boundary', () => {
  const base = { commandName: 'insert', databaseName: 'db', requestId: 9, connectionId: 2, address: '127.0.0.1:1', serverConnectionId: 5 };

  test('documents cross as exact-size BSON and come back with their BSON types; a failure keeps its class', () => {
    const id = new ObjectId();
    const command = { insert: 'c', documents: [{ _id: id, big: Long.fromString('9007199254740993'), d: new Decimal128('1.5') }], $db: 'db' };
    const started = toWorkerEvent({ type: 'CommandStarted', ...base, command });
    assert.ok('command' in started && started.command instanceof Uint8Array);
    assert.equal((started.command as Uint8Array).byteLength, (started.command as Uint8Array).buffer.byteLength, 'exact-size');
    const back = fromWorkerEvent(structuredClone(started));
    assert.equal(back.type, 'CommandStarted');
    const doc = (back as { command: Document }).command.documents[0];
    assert.ok(doc._id instanceof ObjectId && doc._id.equals(id));
    assert.ok(doc.big instanceof Long && doc.big.toString() === '9007199254740993');
    assert.ok(doc.d instanceof Decimal128);
    assert.deepEqual({ ...back, command: undefined }, { type: 'CommandStarted', ...base, command: undefined });

    const succeeded = fromWorkerEvent(structuredClone(toWorkerEvent({ type: 'CommandSucceeded', ...base, duration: 1.5, reply: { ok: 1, n: 1 } })));
    assert.deepEqual(succeeded, { type: 'CommandSucceeded', ...base, duration: 1.5, reply: { ok: 1, n: 1 } });

    const failure = new ServerError('E11000 duplicate key', 11000, 'DuplicateKey', { errorLabels: ['x'], address: base.address });
    const failed = fromWorkerEvent(structuredClone(toWorkerEvent({ type: 'CommandFailed', ...base, duration: 2, failure })));
    assert.ok(failed.type === 'CommandFailed' && failed.failure instanceof ServerError);
    const error = (failed as { failure: Error }).failure as ServerError;
    assert.deepEqual([error.message, error.serverCode, error.codeName, [...error.errorLabels]], ['E11000 duplicate key', 11000, 'DuplicateKey', ['x']]);
  });

  test('a pool event crosses unchanged', () => {
    const event = { type: 'ConnectionCheckedIn', address: '127.0.0.1:1', connectionId: 3 } as const;
    assert.deepEqual(fromWorkerEvent(structuredClone(toWorkerEvent(event))), event);
  });
});
