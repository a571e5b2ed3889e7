// A scripted MongoDB wire server on 127.0.0.1 for tests that need replies a
// real server would never send (bad lengths, wrong responseTo, hangs, cut
// connections) or that record exactly what the driver sent.
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

export interface FakeServer {
  address: string;
  host: string;
  port: number;
  received: ReceivedCommand[];
  /** Accepted connections so far. */
  connections: FakeConnection[];
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

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const reader = new MessageReader(48_000_000);
    let replied = false;
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
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
