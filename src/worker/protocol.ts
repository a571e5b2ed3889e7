// Everything that crosses the thread boundary between the main thread
// (WorkerRouter, WorkerHandle) and a worker (WorkerRuntime), in one file:
// every message and payload, and how bytes cross. Other files that send or
// receive them point here. A new crossing is added here first.
//
//   crossing                  direction       type (where declared)
//   ------------------------  --------------  -----------------------------------------
//   start task (piscina run)  main -> worker  WorkerInit: { port, control, config: WorkerConfig }
//                             worker -> main  WorkerStarted: { threadId }, when it serves
//   op port messages          main -> worker  ToWorker tuples (below)
//                             worker -> main  FromWorker tuples (below)
//   control plane (comlink)   main -> worker  calls of WorkerControl: stats, drain, close,
//                                             ping, setPoolLimit (the mechanics: control.ts)
//   topology checks           main -> worker  CheckBroadcast (src/cluster/topology-monitor.ts,
//                                             re-exported here): in TOPOLOGY messages and
//                                             WorkerConfig.checks
//   coordinator slots         main -> worker  SlotList: in SLOTS messages and WorkerConfig.slots
//   event mask                main -> worker  WANT_* bits (src/monitoring/events.ts): in EVENTS
//                                             messages and WorkerConfig.events
//   CMAP events               worker -> main  PoolEvent (src/pool/events.ts), in EVENT
//                                             messages: plain objects, cloned as they are
//   command events            worker -> main  CommandEventRecord (below), in EVENT messages:
//                                             the CommandEvent (src/connection/command-events.ts)
//                                             with its command or reply as BSON bytes (exact-size,
//                                             decoded on the main thread as a reply is: the
//                                             BSON types survive) and its failure as an
//                                             ErrorRecord. Timed in the worker. A command's
//                                             EVENTs go out before its REPLY or FAILED: the
//                                             connection publishes the outcome before the
//                                             operation continues, so the main thread emits
//                                             started, succeeded (or failed), then settles it
//   selection log records     worker -> main  SelectionLogRecord (src/cluster/selection-log.ts),
//                                             in LOG messages: plain objects, cloned as they are
//   pool statistics           worker -> main  StatsRow (below), in STATS messages; ServerStats
//                                             (src/pool/stats.ts) over the control plane
//   errors                    worker -> main  ErrorRecord (src/errors.ts, re-exported here),
//                                             in FAILED messages
//   SDAM error decisions      worker -> main  UnknownReport (src/cluster/sdam-errors.ts,
//                                             re-exported here), in UNKNOWN messages
//   documents                 both ways       BSON bytes, exact-size and transferred (below)
//   credentials               main -> worker  Credential (src/auth/credential.ts): the dial-time
//                                             one in WorkerConfig.options.credentials, those
//                                             numbered later (Session.login) in LOGIN messages
//                                             and, for a worker started after, WorkerConfig.identities
//   shared memory             both ways       the coordinator's SharedArrayBuffer, handed
//                                             over in WorkerConfig.buffer; its layout is
//                                             src/coordinator/layout.ts (the main thread
//                                             reads each worker's permits there to place
//                                             work: src/worker/placement.ts)
//
// The op protocol runs over the MessagePort handed to the worker by its
// first task; the control plane over a second one.
//
// Batches. Every postMessage carries an array of tuples, never a single one:
// the main thread queues its messages and posts them once per microtask
// (all the operations a burst of sessions issued in one synchronous run go
// in one message), the worker queues its replies and posts them once per
// event-loop turn (setImmediate: every reply that arrived in one poll phase,
// from every socket, goes in one message). A MessagePort round trip costs
// 22-34 µs here whatever it carries; coalescing makes that a per-batch cost.
// A batch is posted at once when it reaches MAX_BATCH (512) messages, 256
// replies in a worker: the receiver clones a message whole before it can
// handle any of it, so no message carries an unbounded burst.
// The worker's pool statistics ride along (STATS) in any batch sent after a
// pool changed, so the main thread's stats() needs no round trip.
//
// Handling. Neither side handles a batch in one go: each message goes into
// a FairDrain (fair-drain.ts), handled in slices of about 2 ms with the
// event loop free between them; on the main thread the slice's budget
// counts the continuations that resolving replies runs. Order is kept.
//
// Tuples. The first element is the kind, the second (for what expects an
// answer) an integer request id, unique among the requests in flight on
// that port; the main thread chose it and the worker echoes it.
//
//   main -> worker (ToWorker)
//     [RUN, id, flags, db, command, sequences, readPreference, reservation, address, decode, identity, deprioritized, poolLimit]
//         flags: WRITE | MORE_TO_COME; command: the command's BSON bytes;
//         sequences: [identifier, count, bytes][] or null (WireSequence:
//         the documents' BSON back to back); readPreference: null means
//         primary; reservation: the worker's reservation id, 0 for none;
//         address: run on that server (cursor follow-ups), or null;
//         decode: how to decode the reply (decodeFlagsOf(): 0 = send the
//         bytes, else DECODE_HERE | the BSON options that differ from js-bson's defaults);
//         identity: who the socket is authenticated as (src/auth/identities.ts);
//         deprioritized: servers the first attempt of a retried operation
//         failed on, or null (the worker's selection avoids them);
//         poolLimit: the session's own pool limit (Session.setPoolLimit),
//         0 for none: the worker's router gates the operation on the
//         server's operations in use, counted in the coordinator buffer.
//     [RESERVE, id, readPreference, identity, deprioritized, poolLimit, operation]
//         operation: the command the socket is reserved for (server
//         selection's log messages name it), or null
//     [LOGIN, identity, credential]                     a credential's number, before any RUN or
//                                                       RESERVE that uses it (no answer)
//     [RELEASE, reservation]                            (no answer)
//     [TOPOLOGY, CheckBroadcast]                        a check of the process's monitor, or
//                                                       another worker's pool clear (a failed check)
//     [SLOTS, [address, slot][]]                        coordinator slots of new servers
//     [EVENTS, mask]                                    the kinds of events someone observes now
//                                                       (WANT_* bits): the worker forwards those.
//                                                       The main thread compares its EventHub's
//                                                       wanted() with the last mask sent before each
//                                                       RUN and RESERVE, and sends a change first,
//                                                       in the same batch (diagnostics_channel has
//                                                       no subscribe hook to tell it sooner)
//   worker -> main (FromWorker)
//     [REPLY, id, address, body]      body: the reply's BSON bytes; null for moreToCome ({ ok: 1 })
//     [DECODED, id, address, clone]   clone: the reply decoded in the worker, a v8-serialized
//                                     TypedClone (typed-clone.ts)
//     [FAILED, id, ErrorRecord]
//     [RESERVED, id, reservation, address, writable]
//     [DEAD, reservation]             a reserved socket closed while held
//     [STATS, [address, ...PoolStats values in STAT_KEYS order][]]
//     [EVENT, WorkerEvent]            a PoolEvent or a CommandEventRecord, only of the
//                                     kinds the last mask asked for
//     [CLEARED, address, interruptInUse, message]   this worker cleared a pool (other than for UNKNOWN)
//     [CHECK, address]                this worker asks for an immediate check
//     [LOG, SelectionLogRecord]       a server selection log record (src/cluster/selection-log.ts),
//                                     only while the last EVENTS mask has WANT_SELECTION_LOG
//     [UNKNOWN, UnknownReport]        an application error made a server Unknown in this
//                                     worker (and cleared its pool if the report says so)
//
// Commands. The main thread serializes the command once (encodeRun); the
// worker reads it back with promoteValues off (PAYLOAD_DESERIALIZE), so that
// serializing it again for the wire, with $db and $readPreference added,
// gives the same bytes for what the caller wrote (an Int32 stays an Int32,
// a Double a Double). Documents of a write (insert, update and delete
// statements) are serialized once, by the session (src/session/validate.ts,
// src/wire/bson.ts), and their bytes cross and go to the socket unchanged:
// the worker never decodes them.
//
// Replies. A reply of WORKER_DECODE_MIN_BYTES (512) or more is decoded in
// the worker with the caller's options and crosses as a TypedClone: the
// structured clone of the decoded tree with its BSON types as markers plus
// their data (typed-clone.ts), v8-serialized into bytes so that the main
// thread pays for receiving it inside its slices rather than when the
// message arrives. The main thread's fromTypedClone() gives exactly what
// BSON.deserialize(body, options) gives. Smaller replies, replies asked for
// with options the worker does not carry (raw's fieldsAsRaw), and values
// the typed clone cannot carry cross as the server's bytes and are decoded
// on the main thread. Bytes that are not BSON never cross: the worker's
// decoding, or for the bytes it sends undecoded a check of their structure
// (checkBSON, src/wire/bson.ts), finds them before the socket goes back to
// its pool, and the connection is closed with ERR_PROTOCOL (what remains
// for the main thread's decoding to refuse, a malformed reply with
// ERR_PROTOCOL too, is a value js-bson cannot decode in BSON whose
// structure holds, such as a PCRE-only regex: the stream is intact). The
// worker reads the top-level `ok` field first (src/wire/reply-status.ts) to
// turn ok: 0 into a ServerError where the SDAM error rules run.
//
// Byte arrays are exact-size and transferred. BSON.serialize returns small
// results as a slice of Buffer's shared 8 KiB pool: posting one copies the
// whole slab, and listing its ArrayBuffer for transfer silently clones it on
// Node 20. exactBytes() copies such a view into an ArrayBuffer of its own,
// and leaves alone an array that already owns its whole buffer.
//
// Errors cross as ErrorRecords (MgoError.toRecord(): name, message, code,
// serverCode, codeName, errorLabels, address) and are rebuilt with
// fromErrorRecord(), which keeps the class for instanceof.
import type { MessagePort } from 'node:worker_threads';
import * as BSON from 'bson';
import type { DeserializeOptions, Document } from 'bson';
import { deserialize as v8Deserialize, serialize as v8Serialize } from 'node:v8';
import type { Credential } from '../auth/credential.js';
import type { CheckBroadcast } from '../cluster/topology-monitor.js';
import type { UnknownReport } from '../cluster/sdam-errors.js';
import type { SelectionLogRecord } from '../cluster/selection-log.js';
import { InvalidDocumentError, MgoError, fromErrorRecord, type ErrorRecord } from '../errors.js';
import type { PoolEvent } from '../pool/events.js';
import type { CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent } from '../connection/command-events.js';
import { COMMAND_EVENT_DESERIALIZE, documentForEvent } from '../connection/command-monitoring.js';
import type { DriverEvent } from '../monitoring/events.js';
import type { PoolStats, ServerStats } from '../pool/stats.js';
import type { ReadPreference } from '../read-preference.js';
import type { ResolvedOptions } from '../uri/resolve.js';
import { checkBSON, classifySerializeError, concatBytes, serializeRaw, type EncodedSequence } from '../wire/bson.js';
import type { OutgoingSequence } from '../wire/op-msg.js';
import { fromTypedClone, toTypedClone, type TypedClone } from './typed-clone.js';

export type { CheckBroadcast, ErrorRecord, PoolEvent, UnknownReport };

// ------------------------------------------------------------- start task

/** Everything a worker is started with (structured-cloneable). */
export interface WorkerConfig {
  /** 0..workers-1; a replacement for a dead worker gets the same id. */
  workerId: number;
  options: ResolvedOptions;
  /** The coordinator's buffer (src/coordinator/layout.ts). */
  buffer: SharedArrayBuffer;
  /** Coordinator slot of every server known so far. */
  slots: SlotList;
  /** The last check of every known server, oldest first: the current topology, replayed. */
  checks: CheckBroadcast[];
  /** The kinds of events to forward to the main thread (WANT_* bits, src/monitoring/events.ts). */
  events: number;
  /** Credentials numbered by Session.login() so far (the dial-time one is in options.credentials). */
  identities: [identity: number, credential: Credential][];
}

/** The first (and only) piscina task of a worker: its two ports (transferred) and its configuration. */
export interface WorkerInit {
  /** The op port. */
  port: MessagePort;
  /** The control port. */
  control: MessagePort;
  config: WorkerConfig;
}

/** The task's result, once the worker serves both ports. */
export interface WorkerStarted {
  threadId: number;
}

/** Coordinator slots by server: the permit slot under the address, the dial slot under dialSlotKey(address). */
export type SlotList = [address: string, slot: number][];

// ---------------------------------------------------------- control plane

/** What a worker exposes on its control port (comlink: control.ts). Never for operations. */
export interface WorkerControl {
  /** The worker's pool statistics now (the main thread otherwise sees the snapshots it pushes). */
  stats(): ServerStats[];
  /** Resolves once the operations the worker is running have finished. */
  drain(): Promise<void>;
  /** Drains, releases held sockets, closes every pool and socket; the thread may then be ended. */
  close(): Promise<void>;
  /** The worker's threadId: a liveness probe. */
  ping(): number;
  /**
   * setGlobalPoolLimit: the coordinator has the new limit already; the
   * worker's pools apply it (close idle sockets above it) and servers it
   * finds later start with it. Resolves once done.
   */
  setPoolLimit(limit: number): Promise<void>;
}

// ------------------------------------------------------------------ kinds

export const RUN = 0;
export const RESERVE = 1;
export const RELEASE = 2;
export const TOPOLOGY = 3;
export const SLOTS = 4;
export const EVENTS = 5;
export const LOGIN = 6;

export const REPLY = 0;
export const FAILED = 1;
export const RESERVED = 2;
export const DEAD = 3;
export const STATS = 4;
export const EVENT = 5;
export const CLEARED = 6;
export const CHECK = 7;
export const DECODED = 8;
export const UNKNOWN = 9;
export const LOG = 10;

/** RUN flags. */
export const WRITE = 1;
export const MORE_TO_COME = 2;

/** A document sequence as it crosses: its documents' BSON back to back, exact-size, transferred. */
export type WireSequence = [identifier: string, count: number, bytes: Uint8Array];

export type RunMessage = [
  kind: typeof RUN,
  id: number,
  flags: number,
  db: string,
  command: Uint8Array,
  sequences: WireSequence[] | null,
  readPreference: ReadPreference | null,
  reservation: number,
  address: string | null,
  decode: number,
  identity: number,
  deprioritized: readonly string[] | null,
  poolLimit: number,
];
export type ReserveMessage = [
  kind: typeof RESERVE,
  id: number,
  readPreference: ReadPreference,
  identity: number,
  deprioritized: readonly string[] | null,
  poolLimit: number,
  operation: string | null,
];
export type LoginMessage = [kind: typeof LOGIN, identity: number, credential: Credential];
export type ReleaseMessage = [kind: typeof RELEASE, reservation: number];
export type TopologyMessage = [kind: typeof TOPOLOGY, check: CheckBroadcast];
export type SlotsMessage = [kind: typeof SLOTS, slots: SlotList];
export type EventsMessage = [kind: typeof EVENTS, mask: number];
export type ToWorker = RunMessage | ReserveMessage | ReleaseMessage | TopologyMessage | SlotsMessage | EventsMessage | LoginMessage;

export type ReplyMessage = [kind: typeof REPLY | typeof DECODED, id: number, address: string, body: Uint8Array | null];
export type FailedMessage = [kind: typeof FAILED, id: number, error: ErrorRecord];
export type ReservedMessage = [kind: typeof RESERVED, id: number, reservation: number, address: string, writable: boolean];
export type DeadMessage = [kind: typeof DEAD, reservation: number];
export type StatsMessage = [kind: typeof STATS, stats: StatsRow[]];
/** What a worker forwards in EVENT messages. */
export type WorkerEvent = PoolEvent | CommandEventRecord;

/** A command event as it crosses: documents as BSON bytes, the failure as a record. */
export type CommandEventRecord =
  | (Omit<CommandStartedEvent, 'command'> & { readonly command: Uint8Array })
  | (Omit<CommandSucceededEvent, 'reply'> & { readonly reply: Uint8Array })
  | (Omit<CommandFailedEvent, 'failure'> & { readonly failure: ErrorRecord });
export type EventMessage = [kind: typeof EVENT, event: WorkerEvent];
export type ClearedMessage = [kind: typeof CLEARED, address: string, interruptInUse: boolean, message: string];
export type CheckMessage = [kind: typeof CHECK, address: string];
export type UnknownMessage = [kind: typeof UNKNOWN, report: UnknownReport];
export type LogMessage = [kind: typeof LOG, record: SelectionLogRecord];
export type FromWorker = ReplyMessage | FailedMessage | ReservedMessage | DeadMessage | StatsMessage | EventMessage | ClearedMessage | CheckMessage | UnknownMessage | LogMessage;

// ---------------------------------------------------------------- batches

/** Messages per postMessage at most (Outbox). */
export const MAX_BATCH = 512;

/** The part of a MessagePort an Outbox uses. */
export interface PostTarget {
  postMessage(value: unknown, transferList?: readonly ArrayBuffer[]): void;
}

/**
 * Collects messages and posts them as one array per scheduled flush. The
 * scheduler decides the coalescing window (queueMicrotask on the main
 * thread, setImmediate in a worker). Without a target (a worker still
 * starting) messages wait, and go out once one is attached.
 */
export class Outbox<T> {
  private batch: T[] = [];
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;
  private target: PostTarget | undefined;

  constructor(
    private readonly schedule: (flush: () => void) => void,
    target?: PostTarget,
    /** Runs just before each flush: a last chance to add messages (the worker's stats). */
    private readonly beforeFlush?: () => void,
    /**
     * A batch this long is posted at once, without waiting for the flush: a
     * receiver clones each message whole before it can slice its handling,
     * so no message may carry an unbounded burst (200,000 requests issued
     * in one synchronous run).
     */
    private readonly maxBatch = MAX_BATCH,
  ) {
    this.target = target;
  }

  get size(): number {
    return this.batch.length;
  }

  push(message: T, transfer?: ArrayBuffer | readonly ArrayBuffer[]): void {
    this.batch.push(message);
    if (transfer !== undefined) {
      if (transfer instanceof ArrayBuffer) this.transfer.push(transfer);
      else for (const buffer of transfer) this.transfer.push(buffer);
    }
    if (this.batch.length >= this.maxBatch && this.target !== undefined) this.post(this.target);
    else this.requestFlush();
  }

  /** Schedules a flush even with nothing queued (beforeFlush may add something). */
  requestFlush(): void {
    if (this.scheduled || this.target === undefined) return;
    this.scheduled = true;
    this.schedule(this.flush);
  }

  attach(target: PostTarget): void {
    this.target = target;
    if (this.batch.length > 0) this.requestFlush();
  }

  /** Stops posting: messages queue until attach() (the worker is gone, or not there yet). */
  detach(): void {
    this.target = undefined;
  }

  /** Forgets the target and everything queued (the worker died: nothing queued for it is sent). */
  reset(): T[] {
    const dropped = this.batch;
    this.target = undefined;
    this.batch = [];
    this.transfer = [];
    return dropped;
  }

  readonly flush = (): void => {
    // Still marked scheduled while beforeFlush runs: what it adds joins this batch.
    this.beforeFlush?.();
    this.scheduled = false;
    const target = this.target;
    if (target === undefined || this.batch.length === 0) return;
    this.post(target);
  };

  private post(target: PostTarget): void {
    const batch = this.batch;
    const transfer = this.transfer;
    this.batch = [];
    this.transfer = [];
    target.postMessage(batch, transfer);
  }
}

// ------------------------------------------------------------------ bytes

/** `bytes` as an exact-size array owning its ArrayBuffer (copied unless it already is one). */
export function exactBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !(bytes.buffer instanceof SharedArrayBuffer)) {
    return bytes;
  }
  return new Uint8Array(bytes);
}

/** How a worker reads a RUN's command: no promotion, so that serializing it again for the wire gives the same bytes. */
export const PAYLOAD_DESERIALIZE: DeserializeOptions = { promoteValues: false, promoteBuffers: false, bsonRegExp: true };

function commandError(err: unknown): InvalidDocumentError {
  const { reason, message } = classifySerializeError(err);
  return new InvalidDocumentError(reason, reason === 'ERR_DOCUMENT_TOO_LARGE' ? `command document is too large to serialize: ${message}` : `command document cannot be serialized to BSON: ${message}`);
}

/** A RUN's command and sequences as exact-size bytes, and what to list for transfer. */
export interface EncodedRun {
  command: Uint8Array;
  sequences: WireSequence[] | null;
  transfer: ArrayBuffer[];
}

/**
 * Main thread: the command serialized once, and the sequences as the
 * session encoded them (their bytes are handed over: transferred, so
 * detached here). Sequences given as documents (no caller of the session
 * API does) are serialized here.
 */
/**
 * `retain`: the caller may send the same sequences again (a retryable
 * write's retry), so their bytes are copied across rather than transferred
 * (a transferred buffer is detached on this side).
 */
export function encodeRun(command: Document, sequences?: readonly OutgoingSequence[], retain = false): EncodedRun {
  let bytes: Uint8Array;
  try {
    bytes = exactBytes(serializeRaw(command));
  } catch (err) {
    throw commandError(err);
  }
  const transfer: ArrayBuffer[] = [bytes.buffer as ArrayBuffer];
  if (!sequences || sequences.length === 0) return { command: bytes, sequences: null, transfer };
  const wire: WireSequence[] = [];
  for (const sequence of sequences) {
    let packed: Uint8Array;
    let count: number;
    if ('bytes' in sequence) {
      if (sequence.bytes.byteLength === 0 && sequence.count > 0) {
        // Sent once already and transferred: sending it again would send nothing.
        throw new MgoError('ERR_INVALID_ARGUMENT', `the "${sequence.identifier}" sequence was handed to a worker already (its bytes are detached here)`);
      }
      packed = exactBytes(sequence.bytes);
      count = sequence.count;
    } else {
      packed = concatBytes(
        sequence.documents.map((doc, i) => {
          try {
            return serializeRaw(doc);
          } catch (err) {
            const { reason, message } = classifySerializeError(err);
            throw new InvalidDocumentError(reason, `document ${i} of "${sequence.identifier}" cannot be serialized to BSON: ${message}`);
          }
        }),
      );
      count = sequence.documents.length;
    }
    wire.push([sequence.identifier, count, packed]);
    if (!retain) transfer.push(packed.buffer as ArrayBuffer);
  }
  return { command: bytes, sequences: wire, transfer };
}

/** Worker: the command as an object (the worker adds $db and $readPreference) and the sequences' bytes, unchanged. */
export function decodeRun(command: Uint8Array, sequences: WireSequence[] | null): { command: Document; sequences?: EncodedSequence[] } {
  const decoded = BSON.deserialize(command, PAYLOAD_DESERIALIZE);
  if (sequences === null) return { command: decoded };
  return { command: decoded, sequences: sequences.map(([identifier, count, bytes]) => ({ identifier, count, bytes })) };
}

// ----------------------------------------------------------------- replies

/**
 * How a reply is decoded, as RUN's `decode` field: 0 leaves the bytes to
 * the main thread (options the worker does not carry, such as raw's
 * fieldsAsRaw); otherwise DECODE_HERE plus the options that differ from
 * js-bson's defaults.
 */
export const DECODE_HERE = 1;
const NO_PROMOTE_LONGS = 2;
const NO_PROMOTE_VALUES = 4;
const PROMOTE_BUFFERS = 8;
const USE_BIGINT64 = 16;
const BSON_REGEXP = 32;

const CARRIED = new Set(['promoteLongs', 'promoteValues', 'promoteBuffers', 'useBigInt64', 'bsonRegExp']);

export function decodeFlagsOf(options: DeserializeOptions | undefined): number {
  if (options === undefined) return DECODE_HERE;
  for (const key of Object.keys(options)) if (!CARRIED.has(key)) return 0;
  let flags = DECODE_HERE;
  if (options.promoteLongs === false) flags |= NO_PROMOTE_LONGS;
  if (options.promoteValues === false) flags |= NO_PROMOTE_VALUES;
  if (options.promoteBuffers === true) flags |= PROMOTE_BUFFERS;
  if (options.useBigInt64 === true) flags |= USE_BIGINT64;
  if (options.bsonRegExp === true) flags |= BSON_REGEXP;
  return flags;
}

/** One options object per flag combination (the worker decodes with it). */
const decodeOptionsCache = new Map<number, DeserializeOptions>();

export function decodeOptionsOf(flags: number): DeserializeOptions {
  let options = decodeOptionsCache.get(flags);
  if (options === undefined) {
    options = {};
    if (flags & NO_PROMOTE_LONGS) options.promoteLongs = false;
    if (flags & NO_PROMOTE_VALUES) options.promoteValues = false;
    if (flags & PROMOTE_BUFFERS) options.promoteBuffers = true;
    if (flags & USE_BIGINT64) options.useBigInt64 = true;
    if (flags & BSON_REGEXP) options.bsonRegExp = true;
    decodeOptionsCache.set(flags, options);
  }
  return options;
}

/**
 * Replies smaller than this are sent as BSON bytes and decoded on the main
 * thread: there BSON.deserialize costs about what receiving the decoded
 * form does (small_doc, 321 bytes: 3.1 vs 2.9 µs), while from a tweet up
 * decoding in the worker saves most of it (1.6 KB: 13 vs 5 µs; 16 KB of
 * tweets: 126 vs 38 µs; measured on this machine, see the README).
 */
export const WORKER_DECODE_MIN_BYTES = 512;

/**
 * Worker: a reply ready to post, as [kind, bytes]: decoded here (DECODED)
 * when asked and worth it, else the BSON bytes (REPLY), checked first
 * (checkBSON: the structure, without decoding). Throws when the bytes are
 * not a BSON document: it runs before the socket goes back to its pool
 * (LocalRouter.runRaw), which then closes that connection, as
 * Connection.command() does when a reply does not decode (the decoding
 * here, or the check, is that decoding's stand-in).
 */
export function encodeReply(body: Uint8Array, decode: number): [kind: typeof REPLY | typeof DECODED, bytes: Uint8Array] {
  if (decode & DECODE_HERE && body.byteLength >= WORKER_DECODE_MIN_BYTES) {
    let doc: Document;
    try {
      doc = BSON.deserialize(body, decodeOptionsOf(decode));
    } catch {
      // Not BSON: refused here. BSON holding a value js-bson cannot decode (a
      // PCRE-only regex): the main thread decodes it and reports the reply as malformed.
      checkBSON(body);
      return [REPLY, new Uint8Array(body)];
    }
    try {
      return [DECODED, exactBytes(v8Serialize(toTypedClone(doc)))];
    } catch {
      // A value the typed clone cannot carry: the main thread decodes the bytes.
    }
  } else {
    checkBSON(body);
  }
  return [REPLY, new Uint8Array(body)];
}

/** Main thread: the reply document from a REPLY's bytes (decoded as the caller asked) or a DECODED's typed clone. */
export function decodeReply(kind: typeof REPLY | typeof DECODED, bytes: Uint8Array | null, options?: DeserializeOptions): Document {
  if (bytes === null) return { ok: 1 };
  return kind === DECODED ? fromTypedClone(v8Deserialize(bytes) as TypedClone) : BSON.deserialize(bytes, options);
}

// ----------------------------------------------------------------- events

/**
 * Worker: an event of its router as it crosses (only the kinds a worker
 * produces: pool and command events; SDAM events are the main thread's).
 */
export function toWorkerEvent(event: DriverEvent): WorkerEvent {
  switch (event.type) {
    case 'CommandStarted':
      return { ...event, command: eventBytes(event.command) };
    case 'CommandSucceeded':
      return { ...event, reply: eventBytes(event.reply) };
    case 'CommandFailed':
      return { ...event, failure: toErrorRecord(event.failure, 'a command event') };
    default:
      return event as PoolEvent;
  }
}

/** Main thread: the event a worker sent, as its listeners get it. */
export function fromWorkerEvent(event: WorkerEvent): DriverEvent {
  switch (event.type) {
    case 'CommandStarted':
      return { ...event, command: documentForEvent(event.command, COMMAND_EVENT_DESERIALIZE) };
    case 'CommandSucceeded':
      return { ...event, reply: documentForEvent(event.reply) };
    case 'CommandFailed':
      return { ...event, failure: fromErrorRecord(event.failure) };
    default:
      return event;
  }
}

/**
 * A command or reply of an event as exact-size BSON. A document js-bson
 * cannot serialize (a command whose document sequences, folded in, pass
 * its 17 MB buffer) crosses as {}: the event must not fail the command.
 */
function eventBytes(document: Document): Uint8Array {
  try {
    return exactBytes(serializeRaw(document));
  } catch {
    return exactBytes(serializeRaw({}));
  }
}

// ----------------------------------------------------------------- errors

/** Any error as a record; errors that are not ours become an MgoError naming the worker. */
export function toErrorRecord(error: unknown, where: string): ErrorRecord {
  if (error instanceof MgoError) return error.toRecord();
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { name: 'MgoError', message: `internal error in ${where}: ${message}`, code: 'ERR_PROTOCOL' };
}

export { fromErrorRecord };

// ------------------------------------------------------------------ stats

/** PoolStats fields, in the order a StatsRow carries them. */
export const STAT_KEYS = [
  'maxOpen',
  'open',
  'inUse',
  'idle',
  'connecting',
  'waitCount',
  'waitDurationMS',
  'timeouts',
  'idleClosed',
  'lifetimeClosed',
  'errorClosed',
] as const satisfies readonly (keyof PoolStats)[];

/** Stats of one server as a flat row: [address, ...values in STAT_KEYS order]. */
export type StatsRow = [address: string, ...values: number[]];

export function statsToRow(stats: ServerStats): StatsRow {
  const row: StatsRow = [stats.address];
  for (const key of STAT_KEYS) row.push(stats[key]);
  return row;
}

/**
 * A worker's row: its monitoring is the main thread's, and its sockets are
 * counted with every worker's in the coordinator's buffer (both 0 here;
 * WorkerRouter.stats() fills them in).
 */
export function rowToStats(row: StatsRow): ServerStats {
  const stats = { address: row[0], monitoringConnections: 0, sockets: { open: 0, maxOpen: 0, opened: 0 } } as ServerStats;
  STAT_KEYS.forEach((key, i) => (stats[key] = row[i + 1] as number));
  return stats;
}

export function sameRows(a: readonly StatsRow[], b: readonly StatsRow[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.length !== y.length) return false;
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return false;
  }
  return true;
}
