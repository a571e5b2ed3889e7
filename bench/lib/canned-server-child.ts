// The canned-reply wire server, run as a child process by canned-server.ts so
// that its CPU is not the main thread's the benchmarks measure. It answers:
//   hello / isMaster (OP_MSG or the legacy OP_QUERY handshake): a standalone
//     primary, wire version 21;
//   find on collection C: one document, C's if C names a bench document
//     (small_doc, tweet, 16kb, large_doc; docs.ts), else the tweet;
//   insert: { n: <documents sent>, ok: 1 };
//   getMore: an empty, exhausted batch; anything else: { ok: 1 }.
// Reply bodies are serialized once and cached; per request only the header
// is written, so the server's cost is a few µs whatever the document size.
// Requests are parsed just enough for that: the first element of the command
// (name, and the collection when it is a string) and the count of documents
// in kind-1 sections. It prints {port} over IPC and exits when the parent does.
// With the argument --black-hole it answers the handshake, the monitor's
// hello and ping (so that dial() succeeds), and nothing else: operations
// wait forever (overload and timeout tests).
import * as net from 'node:net';
import { BSON, Long, type Document } from 'bson';
import { benchDocs, type DocName } from './docs.js';

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;

const HELLO: Document = {
  helloOk: true,
  isWritablePrimary: true,
  ismaster: true,
  maxBsonObjectSize: 16 * 1024 * 1024,
  maxMessageSizeBytes: 48_000_000,
  maxWriteBatchSize: 100_000,
  logicalSessionTimeoutMinutes: 30,
  minWireVersion: 0,
  maxWireVersion: 21,
  ok: 1,
};

const docs = benchDocs();
const bodies = new Map<string, Buffer>();

function cached(key: string, make: () => Document): Buffer {
  let body = bodies.get(key);
  if (!body) {
    body = Buffer.from(BSON.serialize(make()));
    bodies.set(key, body);
  }
  return body;
}

function findReply(collection: string): Buffer {
  return cached(`find:${collection}`, () => {
    const doc = (docs as Record<string, Document>)[collection as DocName] ?? docs.tweet;
    return { cursor: { firstBatch: [{ _id: 1, ...doc }], id: Long.ZERO, ns: `bench.${collection}` }, ok: 1 };
  });
}

/** Name and string value of the first element of the BSON document at `at`. */
function firstElement(buf: Buffer, at: number): { name: string; value: string } {
  const type = buf[at + 4]!;
  const nameEnd = buf.indexOf(0, at + 5);
  const name = buf.toString('latin1', at + 5, nameEnd);
  if (type !== 0x02) return { name, value: '' };
  const length = buf.readInt32LE(nameEnd + 1);
  return { name, value: buf.toString('utf8', nameEnd + 5, nameEnd + 4 + length) };
}

const BLACK_HOLE = process.argv.includes('--black-hole');

/** The reply body to an OP_MSG frame; undefined: no reply at all (black hole). */
function answerMsg(frame: Buffer): Buffer | undefined {
  let command = { name: '', value: '' };
  let documents = 0;
  for (let at = 20; at < frame.length; ) {
    const kind = frame[at++]!;
    const size = frame.readInt32LE(at);
    if (kind === 0) command = firstElement(frame, at);
    else for (let d = frame.indexOf(0, at + 4) + 1; d < at + size; d += frame.readInt32LE(d)) documents++;
    at += size;
  }
  switch (command.name) {
    case 'hello':
    case 'isMaster':
    case 'ismaster':
      return cached('hello', () => HELLO);
    case 'ping':
      return cached('ok', () => ({ ok: 1 }));
    default:
      if (BLACK_HOLE) return undefined;
  }
  switch (command.name) {
    case 'find':
      return findReply(command.value);
    case 'insert':
      return cached(`insert:${documents}`, () => ({ n: documents, ok: 1 }));
    case 'getMore':
      return cached('getMore', () => ({ cursor: { nextBatch: [], id: Long.ZERO, ns: 'bench.getMore' }, ok: 1 }));
    default:
      return cached('ok', () => ({ ok: 1 }));
  }
}

function header(length: number, responseTo: number, opCode: number): Buffer {
  const out = Buffer.allocUnsafe(16);
  out.writeInt32LE(length, 0);
  out.writeInt32LE(0, 4);
  out.writeInt32LE(responseTo, 8);
  out.writeInt32LE(opCode, 12);
  return out;
}

function reply(socket: net.Socket, frame: Buffer): void {
  const requestId = frame.readInt32LE(4);
  const opCode = frame.readInt32LE(12);
  if (opCode === OP_MSG) {
    if (frame.readUInt32LE(16) & 2) return; // moreToCome: no reply
    const body = answerMsg(frame);
    if (body === undefined) return;
    const head = header(21 + body.length, requestId, OP_MSG);
    socket.write(Buffer.concat([head, Buffer.from([0, 0, 0, 0, 0])]));
    socket.write(body);
  } else if (opCode === OP_QUERY) {
    // The legacy handshake: OP_REPLY with the hello document.
    const body = cached('hello', () => HELLO);
    const head = header(36 + body.length, requestId, OP_REPLY);
    const fields = Buffer.alloc(20);
    fields.writeInt32LE(1, 16); // numberReturned
    socket.write(Buffer.concat([head, fields]));
    socket.write(body);
  } else {
    socket.destroy();
  }
}

const server = net.createServer({ noDelay: true }, (socket) => {
  // Chunks are joined once a whole frame is in, not on every chunk: a 2.5 MB
  // insert arrives in dozens of chunks.
  let chunks: Buffer[] = [];
  let buffered = 0;
  /** Length of the frame at the head of the buffer; 0 while fewer than 4 bytes are in. */
  let needed = 0;
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    buffered += chunk.length;
    if (needed === 0 && buffered >= 4) {
      chunks = [chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)];
      needed = chunks[0]!.readInt32LE(0);
    }
    if (needed === 0 || buffered < needed) return;
    let pending = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    socket.cork();
    while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
      const length = pending.readInt32LE(0);
      reply(socket, pending.subarray(0, length));
      pending = pending.subarray(length);
    }
    chunks = pending.length ? [pending] : [];
    buffered = pending.length;
    needed = buffered >= 4 ? pending.readInt32LE(0) : 0;
    process.nextTick(() => socket.uncork());
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as net.AddressInfo;
  process.send?.({ port });
});
process.on('disconnect', () => process.exit(0));
