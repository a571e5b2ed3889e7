// A scripted MongoDB wire server on 127.0.0.1 for tests that need replies a
// real server would never send (bad lengths, wrong responseTo, hangs, cut
// connections) or that record exactly what the driver sent. It also emulates
// the subset of mongod's `failCommand` fail point that the CMAP spec's
// integration files use (see configureFailPoint), and nothing more.
import * as net from 'node:net';
import { BSON, type Document } from 'bson';
import { MessageReader } from '../../src/wire/message-reader.js';
import { decodeMessage } from '../../src/wire/op-msg.js';
import { OpCode } from '../../src/wire/constants.js';

export interface ReceivedCommand {
  requestId: number;
  flags: number;
  command: Document;
  /** Kind-1 sections, deserialized. */
  sequences: Record<string, Document[]>;
  /** The name of the command: the first key of the body. */
  name: string;
  connection: FakeConnection;
}

export interface FakeConnection {
  readonly socket: net.Socket;
  readonly id: number;
  /** Replies with an OP_MSG whose responseTo is the request's id (unless overridden). */
  reply(to: ReceivedCommand, doc: Document, options?: { responseTo?: number; flags?: number }): void;
  /** Writes raw bytes. */
  writeRaw(bytes: Uint8Array): void;
}

export type CommandHandler = (cmd: ReceivedCommand) => void | Promise<void>;

/**
 * mongod's `failCommand` fail point, as the CMAP spec files configure it
 * (`{ configureFailPoint: 'failCommand', mode, data }`). Emulated: `mode`
 * 'alwaysOn', 'off' and { times }; `data.failCommands`, `appName` (matched
 * against the client metadata of the connection's handshake),
 * `blockConnection` + `blockTimeMS`, `closeConnection`, `errorCode` and
 * `errorLabels`. Not emulated: `skip`, `activationProbability`,
 * `writeConcernError`, `failInternalCommands`.
 */
export interface FailPoint {
  configureFailPoint: string;
  mode: 'alwaysOn' | 'off' | { times: number };
  data?: {
    failCommands?: string[];
    appName?: string;
    blockConnection?: boolean;
    blockTimeMS?: number;
    closeConnection?: boolean;
    errorCode?: number;
    errorLabels?: string[];
  };
}

export interface FakeServer {
  address: string;
  host: string;
  port: number;
  received: ReceivedCommand[];
  /** Accepted connections so far. */
  connections: FakeConnection[];
  /**
   * The MongoDB version the server claims to be, for spec files' runOn: 7.0,
   * the version of defaultHello's maxWireVersion 21. Only the commands this
   * file emulates are served, not 7.0's behaviour.
   */
  serverVersion: string;
  /** Installs (or, with mode 'off', removes) the failCommand fail point; throws on any other fail point. */
  configureFailPoint(failPoint: FailPoint): void;
  close(): Promise<void>;
}

export const defaultHello: Document = {
  helloOk: true,
  isWritablePrimary: true,
  maxBsonObjectSize: 16 * 1024 * 1024,
  maxMessageSizeBytes: 48_000_000,
  maxWriteBatchSize: 100_000,
  minWireVersion: 0,
  maxWireVersion: 21,
  ok: 1,
};

/** Resolves after `ms`, or as soon as `socket` closes (so a long block never outlives its connection). */
function blockConnection(socket: net.Socket, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      socket.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    socket.once('close', done);
  });
}

export function encodeReply(responseTo: number, doc: Document, flags = 0, requestId = 1): Buffer {
  const body = BSON.serialize(doc);
  const out = Buffer.alloc(21 + body.byteLength);
  out.writeInt32LE(out.byteLength, 0);
  out.writeInt32LE(requestId, 4);
  out.writeInt32LE(responseTo, 8);
  out.writeInt32LE(OpCode.OP_MSG, 12);
  out.writeUInt32LE(flags, 16);
  out[20] = 0;
  out.set(body, 21);
  return out;
}

/**
 * Starts a fake server. `handler` sees every command; when it returns without
 * replying, the server answers by itself according to `autoReply`:
 * 'all' (default): hello/isMaster get `hello` (a standalone primary unless
 * given) and anything else { ok: 1 }; 'hello': only the handshake is
 * answered; 'none': nothing is.
 */
export async function startFakeServer(
  handler: CommandHandler = () => {},
  options: { hello?: Document; autoReply?: 'all' | 'hello' | 'none' } = {},
): Promise<FakeServer> {
  const autoReply = options.autoReply ?? 'all';
  const received: ReceivedCommand[] = [];
  const connections: FakeConnection[] = [];
  const sockets = new Set<net.Socket>();
  const hello = options.hello ?? defaultHello;
  let nextId = 0;
  let failPoint: { data: NonNullable<FailPoint['data']>; timesLeft: number } | undefined;

  /**
   * Applies the fail point to `cmd` (received on a connection whose handshake
   * gave `appName`). Resolves true when it answered the command or closed the
   * connection; false when the command is to be served as usual, after a
   * block if the fail point blocks.
   */
  const failCommand = async (cmd: ReceivedCommand, appName: string | undefined): Promise<boolean> => {
    const fp = failPoint;
    if (fp === undefined || !(fp.data.failCommands ?? []).includes(cmd.name)) return false;
    if (fp.data.appName !== undefined && fp.data.appName !== appName) return false;
    if (--fp.timesLeft <= 0) failPoint = undefined;
    const { socket } = cmd.connection;
    if (fp.data.blockConnection) await blockConnection(socket, fp.data.blockTimeMS ?? 0);
    if (socket.destroyed) return true;
    if (fp.data.closeConnection) {
      socket.destroy();
      return true;
    }
    if (fp.data.errorCode === undefined) return false;
    cmd.connection.reply(cmd, {
      ok: 0,
      errmsg: "Failing command via 'failCommand' failpoint",
      code: fp.data.errorCode,
      ...(fp.data.errorLabels ? { errorLabels: fp.data.errorLabels } : {}),
    });
    return true;
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const reader = new MessageReader(48_000_000);
    let replied = false;
    /** From the first command carrying client metadata (the handshake), as mongod keeps it per connection. */
    let appName: string | undefined;
    const connection: FakeConnection = {
      socket,
      id: ++nextId,
      reply(to, doc, replyOptions = {}) {
        replied = true;
        if (!socket.destroyed) socket.write(encodeReply(replyOptions.responseTo ?? to.requestId, doc, replyOptions.flags ?? 0));
      },
      writeRaw(bytes) {
        replied = true;
        if (!socket.destroyed) socket.write(bytes);
      },
    };
    connections.push(connection);
    socket.on('data', async (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        const message = decodeMessage(frame);
        const command = BSON.deserialize(message.body);
        const sequences: Record<string, Document[]> = {};
        for (const s of message.sequences) sequences[s.identifier] = s.documents.map((d) => BSON.deserialize(d));
        const cmd: ReceivedCommand = {
          requestId: message.requestId,
          flags: message.flags,
          command,
          sequences,
          name: Object.keys(command)[0]!,
          connection,
        };
        received.push(cmd);
        appName ??= command.client?.application?.name;
        if (await failCommand(cmd, appName)) continue;
        replied = false;
        await handler(cmd);
        if (replied || message.moreToCome || autoReply === 'none') continue;
        const isHello = cmd.name === 'hello' || cmd.name === 'isMaster' || cmd.name === 'ismaster';
        if (isHello) connection.reply(cmd, { ...hello, connectionId: connection.id });
        else if (autoReply === 'all') connection.reply(cmd, { ok: 1 });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    received,
    connections,
    serverVersion: '7.0.0',
    configureFailPoint(fp) {
      if (fp.configureFailPoint !== 'failCommand') throw new Error(`fake server: fail point ${fp.configureFailPoint} is not emulated`);
      const times = fp.mode === 'alwaysOn' ? Infinity : fp.mode === 'off' ? 0 : fp.mode.times;
      failPoint = times > 0 ? { data: fp.data ?? {}, timesLeft: times } : undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
