// One socket to one server: dial, handshake, then commands matched to replies
// by responseTo. Several commands may be in flight at once (pipelining); the
// pool decides who may use a connection, not this class.
//
// States (exactly one at a time):
//   connecting -> handshaking -> ready -> closing -> closed
//        \______________\___________\________\____> closed   (error / destroy)
// Any network or protocol failure closes the connection and fails every
// pending request with the same error: once the byte stream is in doubt,
// nothing on it can be trusted (CMAP: a connection that errored is "perished").
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { BSON, type DeserializeOptions, type Document } from 'bson';
import { InvalidDocumentError, MgoError, NetworkError, ServerError } from '../errors.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from '../wire/constants.js';
import { MessageReader } from '../wire/message-reader.js';
import { isMainThread } from 'node:worker_threads';
import { FairDrain } from '../util/fair-drain.js';
import { DecodeError } from '../wire/decode-error.js';
import { compressors, isExemptFromCompression, negotiateCompressor, type CompressorName } from '../wire/compression.js';
import { EncodeError, decodeMessage, encodeOpMsg, sequenceCount, type OutgoingSequence, type ReplyMessage } from '../wire/op-msg.js';
import { replyIsOk } from '../wire/reply-status.js';
import { commandErrorOf, malformedReply, okOf } from '../wire/reply-shape.js';
import { checkBSON } from '../wire/bson.js';
import { serverApiFields, type ServerApi } from '../wire/server-api.js';
import { createAuthenticator } from '../auth/authenticate.js';
import type { Credential } from '../auth/credential.js';
import { helloCommand, parseHandshakeReply, type HandshakeResult } from './handshake.js';
import type { SocketTally } from './socket-tally.js';
import type { CommandEventOutlet } from './command-events.js';
import { commandAsSent, failureOf, isSensitiveCommand, redactedFailure, documentForEvent } from './command-monitoring.js';
import { connectTls, tlsFailure, type TlsOptions } from './tls.js';

/** A Connection's life: connecting -> handshaking -> ready -> closing -> closed (or straight to closed on an error). */
export type ConnectionState = 'connecting' | 'handshaking' | 'ready' | 'closing' | 'closed';

/** Where and how Connection.connect() opens one socket to one server. */
export interface ConnectionOptions {
  /** Pool-assigned id (CMAP: unique and increasing within a pool). */
  id: number;
  /** Pool generation at creation; a pool clear makes older connections stale. */
  generation: number;
  /** The server's host name or IP address. */
  host: string;
  /** The server's TCP port. */
  port: number;
  /** Unix domain socket path; when set, host/port only name the server in messages. */
  socketPath?: string;
  /** The server's name in the topology, when the caller has one ("host:port", "[v6]:port" or a socket path). */
  address?: string;
  /** Bounds TCP connect plus handshake; 0 = no limit of ours (the OS's applies). */
  connectTimeoutMS: number;
  /** Longest silence while a reply is awaited; 0 = wait forever. */
  socketTimeoutMS: number;
  /** Nagle off by default: small requests must not wait for an ACK. */
  noDelay?: boolean;
  /** TCP keep-alive (on unless false). */
  keepAlive?: boolean;
  /** Idle time before the first keep-alive probe. */
  keepAliveInitialDelayMS?: number;
  /** Sent in the handshake's client metadata (the server logs it). */
  appName?: string;
  /**
   * Compressors to offer in the handshake, by preference (compression
   * spec); one that cannot be loaded is left out with a warning. None by
   * default.
   */
  compressors?: readonly CompressorName[];
  /** zlib's level for requests compressed with zlib: -1 (zlib's default, 6) to 9. */
  zlibCompressionLevel?: number;
  /** TLS settings; a plain TCP socket unless `tls` is true. */
  tls?: TlsOptions;
  /** The API version the client declared (Stable API spec), sent with every command. */
  serverApi?: ServerApi;
  /** Authenticate as this user during the handshake (pool sockets; never monitoring ones). */
  credential?: Credential;
  /** Aborts connecting (the socket is destroyed and connect() rejects). */
  signal?: AbortSignal;
  /** Counts this socket from creation to its 'close' event (pool sockets; never monitoring ones). */
  tally?: SocketTally;
  /**
   * Where command events go (pool sockets; never monitoring ones, whose
   * heartbeats are SDAM's, nor the handshake's hello and authentication:
   * only commands sent once the connection is ready are monitored).
   */
  commandEvents?: CommandEventOutlet;
}

/** How Connection.command() and its siblings send a command. */
export interface CommandOptions {
  /** OP_MSG kind-1 sections, e.g. { identifier: 'documents', documents } for insert (or their encoded bytes). */
  sequences?: readonly OutgoingSequence[];
  /** Unacknowledged (w:0): sent with moreToCome, resolved once flushed, no reply read. */
  moreToCome?: boolean;
}

export interface ExhaustOptions {
  /**
   * The longest silence before a reply while this request is in flight,
   * instead of the connection's socketTimeoutMS (0 = wait forever). An
   * awaitable hello waits up to maxAwaitTimeMS by design (server monitoring
   * spec, "Socket timeout": connectTimeoutMS + heartbeatFrequencyMS).
   */
  socketTimeoutMS?: number;
}

interface PendingRequest {
  resolve(reply: ReplyMessage): void;
  reject(error: MgoError): void;
  /** Set for an exhaust request: each reply flagged moreToCome, in order; the last one (without) goes to resolve. */
  more?(reply: ReplyMessage): void;
}

/** The exhaust request in flight on a connection (at most one). */
interface Stream {
  requestId: number;
  /** The id of the last streamed reply: mongod answers each later reply "to" the previous one. */
  lastReplyId: number;
}

/**
 * Replies are settled through one queue per thread, in time-bounded slices
 * (src/util/fair-drain.ts), not from the socket's data callback: one poll
 * phase can bring a reply on every socket of every pool (100 by default),
 * and each resolution runs the caller's continuation. Settled in slices,
 * timers and other sockets run in between, as they do for replies from
 * worker threads. Order per connection is kept (one queue, in arrival order).
 * On the main thread only: in a worker, whose own inbound requests are
 * already taken in slices, a second queue put every reply behind a 2 ms
 * slice of starting requests, and 200,000 finds at pool limit 4 with two
 * workers took 28-37 s instead of 21-23 s (some outlived the 30 s
 * wait-queue timeout).
 */
const replies = new FairDrain<[PendingRequest, ReplyMessage]>(([request, reply]) => request.resolve(reply));

// Request ids only need to be unique per connection; one counter per thread
// keeps them unique per thread too, which makes packet captures readable.
let lastRequestId = 0;
function nextRequestId(): number {
  lastRequestId = lastRequestId >= 0x7fffffff ? 1 : lastRequestId + 1;
  return lastRequestId;
}

const DEFAULT_KEEPALIVE_DELAY_MS = 120_000;

/** Errors raised by the authentication step of a handshake (see failedInAuthentication). */
const authenticationFailures = new WeakSet<object>();

/**
 * Whether a dial failed in its authentication step rather than in the
 * connection or its hello: SDAM "Network error when reading or writing"
 * treats the two apart (a network error authenticating marks the server
 * Unknown, one connecting or in the hello does not).
 */
export function failedInAuthentication(error: unknown): boolean {
  return typeof error === 'object' && error !== null && authenticationFailures.has(error);
}

/**
 * How many ids of unacknowledged (moreToCome) requests a connection
 * remembers. MongoDB never answers them; FerretDB 1.24 does, against the
 * protocol, and such a reply must be dropped rather than close the
 * connection. A bound keeps the memory constant with servers that behave.
 */
const REMEMBERED_UNACKNOWLEDGED = 256;

export interface ConnectionEvents {
  close: [error: MgoError | undefined];
}

/**
 * One socket to one server, outside any pool: connect() dials and
 * handshakes (authenticating when given a credential), command() runs a
 * command. Several commands may be in flight at once. No mgo counterpart:
 * mgo's mongoSocket was internal; sessions (dial()) are the usual way in.
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  /** The id the pool gave it (ConnectionOptions.id). */
  readonly id: number;
  /** The pool generation it was created in. */
  readonly generation: number;
  /** The server's name, "host:port" or a socket path. */
  readonly address: string;
  private currentState: ConnectionState = 'connecting';
  private readonly socket: net.Socket;
  private readonly reader = new MessageReader(DEFAULT_WIRE_LIMITS.maxMessageSizeBytes);
  private readonly pending = new Map<number, PendingRequest>();
  private readonly unacknowledged: number[] = [];
  private readonly socketTimeoutMS: number;
  /** The timeout armed while requests are in flight: socketTimeoutMS, or the first request's own (ExhaustOptions). */
  private armedTimeoutMS = 0;
  /** The exhaust request whose replies are streaming, if any. */
  private stream: Stream | undefined;
  /** apiVersion and friends, added to every command body (empty without a declared API). */
  private readonly apiFields: Readonly<Document>;
  private readonly serverApi: ServerApi | undefined;
  /** 'secureConnect' for TLS: the socket is usable once the handshake and its checks passed. */
  private readonly connectEvent: 'connect' | 'secureConnect';
  private corked = false;
  private closeError: MgoError | undefined;
  private readonly closed: Promise<void>;
  /** True once the socket's 'close' event ran: its descriptor is closed, the FIN or RST sent. */
  private socketClosed = false;
  private readonly afterCloseCallbacks: (() => void)[] = [];
  /** Filled in by the handshake. */
  private handshakeResult: HandshakeResult | undefined;
  private readonly offeredCompressors: readonly CompressorName[];
  private readonly zlibCompressionLevel: number;
  /** Negotiated in the handshake: requests other than the exempt commands go compressed with it. */
  private compressorInUse: CompressorName | undefined;
  /** The server's, from the handshake; the defaults until then. */
  private limits: WireLimits = DEFAULT_WIRE_LIMITS;
  private readonly commandEvents: CommandEventOutlet | undefined;

  private constructor(socket: net.Socket, options: ConnectionOptions) {
    super();
    this.id = options.id;
    this.generation = options.generation;
    this.address = options.address ?? options.socketPath ?? `${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
    this.socketTimeoutMS = options.socketTimeoutMS;
    this.serverApi = options.serverApi;
    this.apiFields = serverApiFields(options.serverApi);
    this.connectEvent = options.tls?.tls ? 'secureConnect' : 'connect';
    this.offeredCompressors = compressors.usable(options.compressors ?? []);
    this.zlibCompressionLevel = options.zlibCompressionLevel ?? -1;
    this.commandEvents = options.commandEvents;
    this.socket = socket;
    const tally = options.tally;
    tally?.opened();
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.socketClosed = true;
        tally?.closed();
        resolve();
        for (const callback of this.afterCloseCallbacks.splice(0)) callback();
      }),
    );
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) =>
      this.fail(
        tlsFailure(err, this.describe(), this.address) ??
          new NetworkError('ERR_NETWORK', `${this.describe()}: ${err.message}`, { cause: err, address: this.address }),
      ),
    );
    socket.on('timeout', () => this.onSocketTimeout());
    socket.on('close', () => this.onSocketClose());
  }

  /** Dials, handshakes, and resolves with a ready connection (or rejects, leaving no socket behind). */
  static async connect(options: ConnectionOptions): Promise<Connection> {
    const socket = options.socketPath
      ? net.connect({ path: options.socketPath })
      : options.tls?.tls
        ? connectTls(options.host, options.port, options.tls)
        : net.connect({ host: options.host, port: options.port, noDelay: options.noDelay ?? true });
    const connection = new Connection(socket, options);
    const abort = () => connection.destroy(new NetworkError('ERR_NETWORK', `${connection.describe()}: connect aborted`, { address: connection.address }));
    options.signal?.addEventListener('abort', abort, { once: true });
    const timer =
      options.connectTimeoutMS > 0
        ? setTimeout(() => {
            connection.destroy(
              new NetworkError(
                'ERR_NETWORK_TIMEOUT',
                `${connection.describe()}: connect and handshake took longer than connectTimeoutMS (${options.connectTimeoutMS} ms)`,
                { address: connection.address },
              ),
            );
          }, options.connectTimeoutMS)
        : undefined;
    try {
      if (options.signal?.aborted) abort();
      await connection.waitForConnect();
      if (options.keepAlive ?? true) socket.setKeepAlive(true, options.keepAliveInitialDelayMS ?? DEFAULT_KEEPALIVE_DELAY_MS);
      await connection.handshake(options.appName, options.credential);
      return connection;
    } catch (err) {
      connection.destroy(err instanceof MgoError ? err : undefined);
      // Settle only once the socket is gone: the pool releases the dial's
      // permit when this promise settles, and a permit must not outlive
      // its socket's close (see afterClose).
      await connection.closed;
      throw err;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', abort);
    }
  }

  /** Where the connection is in its life. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** True once the connection failed or was closed: it must never be used again. */
  get isClosed(): boolean {
    return this.currentState === 'closing' || this.currentState === 'closed';
  }

  /** Requests awaiting a reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** What the handshake's hello reply said; throws before the handshake completed. */
  get hello(): HandshakeResult {
    if (!this.handshakeResult) throw new Error('connection has not completed its handshake');
    return this.handshakeResult;
  }

  /** The compressor requests go with (replies may come with any, or none); undefined when none was negotiated. */
  get compressor(): CompressorName | undefined {
    return this.compressorInUse;
  }

  /** Server-side connection id from the handshake, when the server reports one. */
  get serverConnectionId(): number | undefined {
    return this.handshakeResult?.connectionId;
  }

  /** Lets the process exit while this socket is open (monitoring connections). */
  unref(): void {
    this.socket.unref();
  }

  /**
   * Runs a command and returns the deserialized reply, held to
   * checkedReply()'s rules; { ok: 1 } for a moreToCome request.
   */
  async command(db: string, command: Document, options: CommandOptions & { deserialize?: DeserializeOptions } = {}): Promise<Document> {
    const outlet = this.monitoringOutlet();
    if (outlet !== undefined) return this.monitored(outlet, db, command, options, (reply) => (reply ? this.checkedReply(reply.body, options.deserialize) : { ok: 1 }));
    const reply = await this.commandRaw(db, command, options);
    if (!reply) return { ok: 1 };
    return this.checkedReply(reply.body, options.deserialize);
  }

  /**
   * command(), with the reply left as its BSON bytes (a view into the
   * received frame) after the same checks, its `ok` read in place; undefined
   * for a moreToCome request. A worker hands such bytes to the main thread.
   */
  async commandBytes(db: string, command: Document, options: CommandOptions = {}): Promise<Uint8Array | undefined> {
    const outlet = this.monitoringOutlet();
    if (outlet !== undefined) {
      return this.monitored(outlet, db, command, options, (reply) => {
        if (!reply) return undefined;
        this.checkedReply(reply.body, false);
        return reply.body;
      });
    }
    const reply = await this.commandRaw(db, command, options);
    if (!reply) return undefined;
    this.checkedReply(reply.body, false);
    return reply.body;
  }

  /**
   * Runs a command with the OP_MSG exhaustAllowed flag (OP_MSG spec,
   * "exhaustAllowed"), for the streaming hello of server monitoring: the
   * server may answer with several replies, each but the last flagged
   * moreToCome, without further requests. `onReply` gets every reply,
   * decoded and held to checkedReply()'s rules, in arrival order, the last
   * one included; the promise resolves once a reply comes without
   * moreToCome (the connection is then free for the next request) and
   * rejects with whatever ended the stream. A stream is not cancelled but
   * by destroying the connection (server monitoring spec, "hello
   * Cancellation"); a streamed ok: 0 (which the server must not send)
   * destroys it too. One stream per connection at a time, and nothing else
   * should be sent while it runs: replies to it arrive unasked.
   */
  exhaust(db: string, command: Document, onReply: (reply: Document) => void, options: ExhaustOptions = {}): Promise<void> {
    if (this.stream) {
      return Promise.reject(new MgoError('ERR_PROTOCOL', `${this.describe()} is already streaming replies to request ${this.stream.requestId}`, { address: this.address }));
    }
    const deliver = (reply: ReplyMessage): void => {
      try {
        onReply(this.checkedReply(reply.body, undefined));
      } catch (err) {
        const cause = err instanceof MgoError ? err.message : String(err);
        this.destroy(new NetworkError('ERR_PROTOCOL', `${this.describe()}: streamed reply refused: ${cause}`, { cause: err, address: this.address }));
      }
    };
    return this.send(db, command, { exhaustAllowed: true, socketTimeoutMS: options.socketTimeoutMS, more: deliver }).then((last) => {
      // The last reply: an ok: 0 here is the server's answer, thrown as a ServerError.
      onReply(this.checkedReply(last!.body, undefined));
    });
  }

  /** The outlet to publish this command's events to, when someone listens now and the handshake is over. */
  private monitoringOutlet(): CommandEventOutlet | undefined {
    const outlet = this.commandEvents;
    return outlet !== undefined && this.currentState === 'ready' && outlet.wanted() ? outlet : undefined;
  }

  /**
   * Sends a command between its CommandStarted and its CommandSucceeded or
   * CommandFailed (spec: every started event has one of the two, with its
   * requestId). `finish` makes the caller's result of the reply and throws
   * for an ok: 0 (checkedReply): a failed event then, and the error goes
   * on. The outcome's event is published before the caller continues, so
   * that a listener sees it before the operation resolves (and, in a
   * worker, the EVENT goes out before the REPLY). Duration: from just
   * before the command is encoded to the reply checked, in ms of the
   * monotonic clock (the spec lets it include BSON work).
   */
  private async monitored<T>(
    outlet: CommandEventOutlet,
    db: string,
    command: Document,
    options: CommandOptions,
    finish: (reply: ReplyMessage | undefined) => T,
  ): Promise<T> {
    const requestId = nextRequestId();
    const commandName = Object.keys(command)[0] ?? '';
    const sensitive = isSensitiveCommand(commandName, command);
    const base = {
      commandName,
      databaseName: db,
      requestId,
      connectionId: this.id,
      address: this.address,
      ...(this.serverConnectionId !== undefined ? { serverConnectionId: this.serverConnectionId } : {}),
    };
    const sent = sensitive ? {} : commandAsSent({ ...command, $db: db, ...this.apiFields }, options.sequences);
    outlet.publish({ type: 'CommandStarted', ...base, command: sent });
    const started = performance.now();
    let result: T;
    let reply: Document;
    try {
      const message = await this.send(db, command, { ...options, requestId });
      result = finish(message);
      // Spec, "Unacknowledged/Acknowledged Writes": { ok: 1 } for a moreToCome request.
      reply = sensitive ? {} : message === undefined ? { ok: 1 } : documentForEvent(message.body);
    } catch (error) {
      const failure = failureOf(sensitive ? redactedFailure(error) : error);
      outlet.publish({ type: 'CommandFailed', ...base, duration: performance.now() - started, failure });
      throw error;
    }
    outlet.publish({ type: 'CommandSucceeded', ...base, duration: performance.now() - started, reply });
    return result;
  }

  /**
   * The rules every reply is held to, in this one place. A well-framed
   * reply whose BSON is not valid puts the stream in doubt: ERR_PROTOCOL,
   * and the connection is destroyed (undecodable()). A reply without a usable `ok` is
   * malformed (ERR_PROTOCOL, reply-shape.ts) but the stream is intact: the
   * connection stays. A reply that says ok: 0 (or another number) is the
   * server's error: a ServerError (ERR_PROTOCOL if its error fields have
   * the wrong types). `decode` false reads only the top-level `ok` from the
   * bytes (reply-status.ts) and returns nothing; otherwise the reply is
   * deserialized with those options and returned.
   */
  private checkedReply(body: Uint8Array, decode: false): undefined;
  private checkedReply(body: Uint8Array, decode: DeserializeOptions | undefined): Document;
  private checkedReply(body: Uint8Array, decode: DeserializeOptions | undefined | false): Document | undefined {
    let doc: Document;
    try {
      if (decode === false) {
        if (replyIsOk(body) === true) return undefined;
        // Rare: a refusal (or a malformed status), decoded for its error.
        doc = BSON.deserialize(body);
      } else {
        doc = BSON.deserialize(body, decode);
      }
    } catch (err) {
      throw this.undecodable(body, err);
    }
    if (!okOf(doc, this.address)) throw commandErrorOf(doc, this.address);
    return decode === false ? undefined : doc;
  }

  /**
   * The error of a reply that did not decode. Bytes that are not BSON
   * (checkBSON finds where) put the stream in doubt: the connection is
   * refused. BSON whose structure holds but holding a value js-bson cannot
   * make a JavaScript value of (a regex that is valid PCRE but no JS
   * RegExp, with bsonRegExp off) is only that reply's content: malformed
   * for this operation (reply-shape.ts), and the connection stays.
   */
  private undecodable(body: Uint8Array, err: unknown): MgoError {
    const reason = err instanceof Error ? err.message : String(err);
    try {
      checkBSON(body);
    } catch {
      return this.refuse(`invalid BSON in reply: ${reason}`, err);
    }
    return malformedReply(this.address, `a value cannot be decoded: ${reason}`);
  }

  /**
   * Destroys the connection because a reply it delivered is not what the
   * wire protocol allows, and returns the error (ERR_PROTOCOL, naming the
   * connection and its server) that every request on it failed with: the
   * byte stream is in doubt. For checkedReply(), and for a worker that
   * finds the BSON of a reply from commandBytes() invalid before it gives
   * the socket back (LocalRouter.runRaw).
   */
  refuse(problem: string, cause?: unknown): NetworkError {
    const error = new NetworkError('ERR_PROTOCOL', `${this.describe()}: ${problem}`, { cause, address: this.address });
    this.destroy(error);
    return error;
  }

  /**
   * Sends a command and resolves with the raw reply (BSON bytes), or with
   * undefined for a moreToCome (unacknowledged) request once it is flushed.
   * Size and batch limits are checked before anything is written, so a
   * rejected request leaves the connection usable.
   */
  commandRaw(db: string, command: Document, options: CommandOptions = {}): Promise<ReplyMessage | undefined> {
    return this.send(db, command, options);
  }

  /** commandRaw(), and the exhaust request's extras (its flag, its timeout, where streamed replies go). */
  private send(
    db: string,
    command: Document,
    options: CommandOptions & ExhaustOptions & { exhaustAllowed?: boolean; more?: (reply: ReplyMessage) => void; requestId?: number },
  ): Promise<ReplyMessage | undefined> {
    if (this.currentState !== 'ready' && this.currentState !== 'handshaking') {
      return Promise.reject(this.closeError ?? new NetworkError('ERR_CONNECTION_CLOSED', `${this.describe()} is ${this.currentState}`, { address: this.address }));
    }
    for (const sequence of options.sequences ?? []) {
      const count = sequenceCount(sequence);
      if (count > this.limits.maxWriteBatchSize) {
        return Promise.reject(
          new InvalidDocumentError(
            'ERR_BATCH_TOO_LARGE',
            `batch of ${count} "${sequence.identifier}" is over the server's maxWriteBatchSize of ${this.limits.maxWriteBatchSize}`,
          ),
        );
      }
    }
    const requestId = options.requestId ?? nextRequestId();
    let message: Buffer;
    try {
      message = encodeOpMsg(
        { requestId, body: { ...command, $db: db, ...this.apiFields }, sequences: options.sequences, moreToCome: options.moreToCome, exhaustAllowed: options.exhaustAllowed },
        this.limits,
      );
      if (this.compressorInUse && !isExemptFromCompression(Object.keys(command)[0] ?? '')) {
        message = compressors.compressMessage(message, this.compressorInUse, this.zlibCompressionLevel);
      }
    } catch (err) {
      if (err instanceof EncodeError) return Promise.reject(new InvalidDocumentError(err.reason, err.message));
      throw err;
    }
    if (options.moreToCome) {
      this.unacknowledged.push(requestId);
      if (this.unacknowledged.length > REMEMBERED_UNACKNOWLEDGED) this.unacknowledged.shift();
      return new Promise((resolve, reject) => {
        this.write(message, (err) => (err ? reject(this.closeError ?? new NetworkError('ERR_NETWORK', `${this.describe()}: ${err.message}`, { address: this.address })) : resolve(undefined)));
      });
    }
    return new Promise((resolve, reject) => {
      const more = options.more;
      this.pending.set(requestId, more ? { resolve, reject, more } : { resolve, reject });
      if (more) this.stream = { requestId, lastReplyId: requestId };
      // socketTimeoutMS applies only while a reply is awaited: an idle pooled
      // connection must not time out.
      if (this.pending.size === 1) {
        this.armedTimeoutMS = options.socketTimeoutMS ?? this.socketTimeoutMS;
        if (this.armedTimeoutMS > 0) this.socket.setTimeout(this.armedTimeoutMS);
      }
      this.write(message);
    });
  }

  /** Drains: refuses new commands, waits for in-flight replies, then ends the socket. Idempotent. */
  close(): Promise<void> {
    if (this.currentState === 'closed' || this.currentState === 'closing') return this.closed;
    this.currentState = 'closing';
    if (this.pending.size === 0) this.socket.end();
    return this.closed;
  }

  /**
   * Runs `callback` once the socket's 'close' event has run, i.e. once its
   * descriptor is closed and the server has been sent a FIN or RST; at once
   * if that already happened. destroy() issues the close but the event comes
   * a turn later: a pool releases the socket's permit here, never before, so
   * the server cannot see the socket that replaces this one while this one
   * is still open.
   */
  afterClose(callback: () => void): void {
    if (this.socketClosed) callback();
    else this.afterCloseCallbacks.push(callback);
  }

  /** Aborts now: every pending request fails with `error` (or a "destroyed" error). Idempotent. */
  destroy(error?: MgoError): void {
    if (this.currentState === 'closed') return;
    this.fail(error ?? new NetworkError('ERR_CONNECTION_CLOSED', `${this.describe()} was closed by the driver`, { address: this.address }));
  }

  private describe(): string {
    return `connection ${this.id} to ${this.address}`;
  }

  private waitForConnect(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.currentState === 'closed') return reject(this.closeError);
      const onConnect = () => {
        this.off('close', onClose);
        this.currentState = 'handshaking';
        resolve();
      };
      const onClose = (error: MgoError | undefined) => {
        this.socket.off(this.connectEvent, onConnect);
        reject(error ?? new NetworkError('ERR_CONNECTION_CLOSED', `${this.describe()}: closed while connecting`, { address: this.address }));
      };
      this.socket.once(this.connectEvent, onConnect);
      this.once('close', onClose);
    });
  }

  // Handshake spec: send `hello` with helloOk; a server that does not know
  // it (CommandNotFound, code 59) gets the legacy `isMaster`, unless an API
  // version was declared (Stable API spec: `hello` only, servers with the
  // Stable API all have it).
  //
  // Auth spec: the hello carries saslSupportedMechs and the first step of
  // the conversation (speculativeAuthenticate); the authenticator finishes
  // it once the reply is in, before the connection is handed out (CMAP:
  // establishment includes authentication).
  private async handshake(appName: string | undefined, credential: Credential | undefined): Promise<void> {
    const authenticator = credential ? createAuthenticator(credential) : undefined;
    const hello = (command: 'hello' | 'isMaster') => ({ ...helloCommand(command, appName, this.offeredCompressors), ...authenticator?.helloFields });
    let reply: Document;
    try {
      reply = await this.command('admin', hello('hello'));
    } catch (err) {
      if (!(err instanceof ServerError && err.serverCode === 59) || this.serverApi) throw err;
      reply = await this.command('admin', hello('isMaster'));
    }
    const result = parseHandshakeReply(reply, this.address);
    this.handshakeResult = result;
    this.limits = result;
    this.compressorInUse = negotiateCompressor(this.offeredCompressors, reply.compression);
    this.reader.maxMessageSizeBytes = result.maxMessageSizeBytes;
    if (authenticator) {
      try {
        await authenticator.finish(this, reply);
      } catch (err) {
        if (typeof err === 'object' && err !== null) authenticationFailures.add(err);
        throw err;
      }
    }
    if (this.currentState === 'handshaking') this.currentState = 'ready';
  }

  // Coalesce every write issued in the same tick into one writev: one
  // syscall per message caps pipelined loopback TCP near 258k ops/s, corked
  // writes ~2M (measured on a 2-vCPU machine, Node 20).
  private write(message: Buffer, callback?: (err?: Error | null) => void): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(message, callback);
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      return this.failDecode(err);
    }
    for (const frame of frames) {
      let reply: ReplyMessage;
      try {
        reply = decodeMessage(frame, this.reader.maxMessageSizeBytes);
      } catch (err) {
        return this.failDecode(err);
      }
      // A streamed reply answers the previous reply (mongod) or the request itself.
      const stream = this.stream;
      const requestId = stream !== undefined && reply.responseTo === stream.lastReplyId ? stream.requestId : reply.responseTo;
      const request = this.pending.get(requestId);
      if (!request) {
        const unasked = this.unacknowledged.indexOf(reply.responseTo);
        if (unasked >= 0) {
          this.unacknowledged.splice(unasked, 1);
          continue;
        }
        return this.fail(new NetworkError('ERR_PROTOCOL', `${this.describe()}: reply answers request ${reply.responseTo}, which is not pending`, { address: this.address }));
      }
      if (reply.moreToCome) {
        // Only an exhaust request allows a streamed reply (OP_MSG spec, "exhaustAllowed").
        if (!request.more || stream === undefined) {
          return this.fail(new NetworkError('ERR_PROTOCOL', `${this.describe()}: server streamed a reply (moreToCome) that was not asked for`, { address: this.address }));
        }
        stream.lastReplyId = reply.requestId;
        if (isMainThread) replies.push([{ resolve: request.more, reject: request.reject }, reply]);
        else request.more(reply);
        continue;
      }
      this.pending.delete(requestId);
      if (requestId === stream?.requestId) this.stream = undefined;
      if (this.pending.size === 0) {
        if (this.armedTimeoutMS > 0) this.socket.setTimeout(0);
        if (this.currentState === 'closing') this.socket.end();
      }
      if (isMainThread) replies.push([request, reply]);
      else request.resolve(reply);
    }
  }

  private failDecode(err: unknown): void {
    const code = err instanceof DecodeError ? err.reason : 'ERR_PROTOCOL';
    this.fail(new NetworkError(code, `${this.describe()}: ${(err as Error).message}`, { address: this.address }));
  }

  private onSocketTimeout(): void {
    if (this.pending.size === 0) return;
    this.fail(
      new NetworkError('ERR_NETWORK_TIMEOUT', `${this.describe()}: no reply within socketTimeoutMS (${this.armedTimeoutMS} ms)`, { address: this.address }),
    );
  }

  private onSocketClose(): void {
    if (this.currentState === 'closed') return;
    const partial = this.reader.pendingBytes;
    const detail = partial > 0 ? ` in the middle of a reply (${partial} bytes of an incomplete message received)` : '';
    const expected = this.currentState === 'closing' && this.pending.size === 0;
    this.fail(expected ? undefined : new NetworkError('ERR_CONNECTION_CLOSED', `${this.describe()} was closed by the server${detail}`, { address: this.address }));
  }

  /** The single exit to `closed`: records the cause, fails pending requests, destroys the socket. */
  private fail(error: MgoError | undefined): void {
    if (this.currentState === 'closed') return;
    this.currentState = 'closed';
    this.closeError = error ?? new NetworkError('ERR_CONNECTION_CLOSED', `${this.describe()} is closed`, { address: this.address });
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.stream = undefined;
    this.socket.destroy();
    for (const request of pending) request.reject(this.closeError);
    this.emit('close', error);
  }
}
