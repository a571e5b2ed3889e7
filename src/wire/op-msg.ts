// OP_MSG encoding and decoding of whole frames (the framing itself is in
// message-reader.ts). Wire protocol reference, "OP_MSG":
//
//   header (16) | flagBits uint32 | sections... | [CRC-32C uint32]
//   section kind 0: one BSON document (the command body)
//   section kind 1: int32 size | cstring identifier | BSON documents...
//
// Decoding returns BSON bytes, not objects: where a reply is deserialized
// (socket thread or caller thread) is the caller's choice.
import { BSON, type DeserializeOptions, type Document } from 'bson';
import { SERIALIZE_OPTIONS, classifySerializeError, packedDocumentSizes, type EncodedSequence } from './bson.js';
import { compressors } from './compression.js';
import { COMMAND_OVERHEAD_BYTES, HEADER_SIZE, KNOWN_REQUIRED_FLAGS, OpCode, OpMsgFlags, SectionKind, type WireLimits } from './constants.js';
import { crc32c } from './crc32c.js';
import { DecodeError } from './decode-error.js';

export interface DocumentSequence {
  /** The command field the documents belong to, e.g. "documents" for insert. */
  identifier: string;
  documents: Document[];
}

/** A document sequence to send: documents to serialize, or already encoded ones. */
export type OutgoingSequence = DocumentSequence | EncodedSequence;

/** How many documents a sequence carries. */
export function sequenceCount(sequence: OutgoingSequence): number {
  return 'bytes' in sequence ? sequence.count : sequence.documents.length;
}

/** A sequence's documents as objects (decoding encoded ones): for events, logs and tests, never on the send path. */
export function sequenceDocuments(sequence: OutgoingSequence, options: DeserializeOptions = {}): Document[] {
  if (!('bytes' in sequence)) return sequence.documents;
  const documents: Document[] = [];
  BSON.deserializeStream(sequence.bytes, 0, sequence.count, documents, 0, options);
  return documents;
}

export interface OpMsgRequest {
  requestId: number;
  body: Document;
  /** Documents to serialize, or documents the caller already serialized (bson.ts): their bytes go out unchanged. */
  sequences?: readonly OutgoingSequence[];
  /** Unacknowledged (w:0) write: the server sends no reply. */
  moreToCome?: boolean;
  /** The sender takes a stream of replies (moreToCome on each but the last): streaming hello only. */
  exhaustAllowed?: boolean;
}

/** The limits a message is encoded under: the server's (its hello reply), or the defaults before a handshake. */
export type MessageLimits = Pick<WireLimits, 'maxBsonObjectSize' | 'maxMessageSizeBytes'>;

/** Why a request cannot be encoded; the connection turns it into an InvalidDocumentError. */
export class EncodeError extends Error {
  constructor(
    readonly reason: 'ERR_DOCUMENT_TOO_LARGE' | 'ERR_MESSAGE_TOO_LARGE' | 'ERR_INVALID_DOCUMENT',
    message: string,
  ) {
    super(message);
  }
}

function serializeDocument(doc: Document, what: string, maxSize: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = BSON.serialize(doc, SERIALIZE_OPTIONS);
  } catch (err) {
    const { reason, message } = classifySerializeError(err);
    throw new EncodeError(reason, reason === 'ERR_DOCUMENT_TOO_LARGE' ? `${what} is too large to serialize: ${message}` : `${what} cannot be serialized to BSON: ${message}`);
  }
  checkDocumentSize(bytes.byteLength, what, maxSize);
  return bytes;
}

function checkDocumentSize(size: number, what: string, maxSize: number): void {
  if (size > maxSize) {
    throw new EncodeError('ERR_DOCUMENT_TOO_LARGE', `${what} is ${size} bytes, over the server's limit of ${maxSize} bytes`);
  }
}

/** An encoded sequence's documents, each checked against the limit (their bytes are not parsed, only their lengths). */
function checkEncodedSequence(sequence: EncodedSequence, maxSize: number): void {
  const sizes = packedDocumentSizes(sequence.bytes, sequence.count);
  if (typeof sizes === 'string') throw new EncodeError('ERR_INVALID_DOCUMENT', `encoded sequence "${sequence.identifier}": ${sizes}`);
  sizes.forEach((size, i) => checkDocumentSize(size, `document ${i} of "${sequence.identifier}"`, maxSize));
}

/**
 * Serializes a request into one exact-size Buffer. Every size limit is
 * checked here, before a byte reaches the socket: a rejected request leaves
 * the connection untouched.
 */
export function encodeOpMsg(request: OpMsgRequest, limits: MessageLimits): Buffer {
  const body = serializeDocument(request.body, 'command document', limits.maxBsonObjectSize + COMMAND_OVERHEAD_BYTES);
  let total = HEADER_SIZE + 4 + 1 + body.byteLength;

  const sequences: { identifier: Buffer; size: number; docs: Uint8Array[] }[] = [];
  for (const sequence of request.sequences ?? []) {
    const identifier = Buffer.from(`${sequence.identifier}\0`, 'utf8');
    const docs: Uint8Array[] = [];
    let size = 4 + identifier.byteLength;
    if ('bytes' in sequence) {
      checkEncodedSequence(sequence, limits.maxBsonObjectSize);
      docs.push(sequence.bytes);
      size += sequence.bytes.byteLength;
    } else {
      sequence.documents.forEach((doc, i) => {
        const bytes = serializeDocument(doc, `document ${i} of "${sequence.identifier}"`, limits.maxBsonObjectSize);
        docs.push(bytes);
        size += bytes.byteLength;
      });
    }
    sequences.push({ identifier, size, docs });
    total += 1 + size;
  }
  if (total > limits.maxMessageSizeBytes) {
    throw new EncodeError(
      'ERR_MESSAGE_TOO_LARGE',
      `message is ${total} bytes, over the server's maxMessageSizeBytes of ${limits.maxMessageSizeBytes}`,
    );
  }

  const out = Buffer.allocUnsafe(total);
  out.writeInt32LE(total, 0);
  out.writeInt32LE(request.requestId, 4);
  out.writeInt32LE(0, 8);
  out.writeInt32LE(OpCode.OP_MSG, 12);
  out.writeUInt32LE((request.moreToCome ? OpMsgFlags.moreToCome : 0) | (request.exhaustAllowed ? OpMsgFlags.exhaustAllowed : 0), 16);
  out[20] = SectionKind.body;
  let offset = 21;
  out.set(body, offset);
  offset += body.byteLength;
  for (const sequence of sequences) {
    out[offset++] = SectionKind.documentSequence;
    out.writeInt32LE(sequence.size, offset);
    offset += 4;
    out.set(sequence.identifier, offset);
    offset += sequence.identifier.byteLength;
    for (const doc of sequence.docs) {
      out.set(doc, offset);
      offset += doc.byteLength;
    }
  }
  return out;
}

export interface ReplySequence {
  identifier: string;
  documents: Uint8Array[];
}

export interface ReplyMessage {
  requestId: number;
  responseTo: number;
  flags: number;
  /** BSON bytes of the kind-0 section (a view into the frame). */
  body: Uint8Array;
  sequences: ReplySequence[];
  moreToCome: boolean;
}

/** Reads the int32 length of a BSON document at `offset` and checks it fits before `end`. */
function bsonDocumentAt(frame: Buffer, offset: number, end: number, what: string): Uint8Array {
  if (end - offset < 5) throw new DecodeError('ERR_PROTOCOL', `truncated BSON in ${what}: ${end - offset} bytes left`);
  const length = frame.readInt32LE(offset);
  if (length < 5 || length > end - offset) {
    throw new DecodeError('ERR_PROTOCOL', `truncated BSON in ${what}: document claims ${length} bytes, ${end - offset} left`);
  }
  if (frame[offset + length - 1] !== 0) {
    throw new DecodeError('ERR_PROTOCOL', `malformed BSON in ${what}: document does not end with a NUL byte`);
  }
  return frame.subarray(offset, offset + length);
}

/**
 * Decodes one complete frame (its length prefix already validated by the
 * reader): OP_MSG, or OP_MSG inside OP_COMPRESSED with any compressor the
 * frame names (compression.ts), whose uncompressed size must also stay
 * within maxMessageSizeBytes.
 */
export function decodeMessage(frame: Buffer, maxMessageSizeBytes: number): ReplyMessage {
  const requestId = frame.readInt32LE(4);
  const responseTo = frame.readInt32LE(8);
  const opCode = frame.readInt32LE(12);

  if (opCode === OpCode.OP_COMPRESSED) {
    const { originalOpcode, message } = compressors.decompressMessage(frame, maxMessageSizeBytes);
    if (originalOpcode !== OpCode.OP_MSG) {
      throw new DecodeError('ERR_PROTOCOL', `OP_COMPRESSED wraps opCode ${originalOpcode}, expected OP_MSG`);
    }
    // A checksum covers the OP_MSG as it was before compression, header included: rebuilt here.
    const header = Buffer.allocUnsafe(HEADER_SIZE);
    header.writeInt32LE(HEADER_SIZE + message.byteLength, 0);
    header.writeInt32LE(requestId, 4);
    header.writeInt32LE(responseTo, 8);
    header.writeInt32LE(OpCode.OP_MSG, 12);
    return decodeOpMsgSections(message, 0, message.byteLength, requestId, responseTo, header);
  }
  if (opCode !== OpCode.OP_MSG) {
    throw new DecodeError('ERR_PROTOCOL', `unexpected opCode ${opCode} in reply (only OP_MSG and OP_COMPRESSED are accepted)`);
  }
  return decodeOpMsgSections(frame, HEADER_SIZE, frame.byteLength, requestId, responseTo);
}

/** `header`: the message's header when it is not `frame`'s first bytes (a decompressed OP_MSG), for the checksum. */
function decodeOpMsgSections(frame: Buffer, start: number, end: number, requestId: number, responseTo: number, header?: Uint8Array): ReplyMessage {
  if (end - start < 4 + 1 + 5) throw new DecodeError('ERR_PROTOCOL', `OP_MSG of ${end - start + HEADER_SIZE} bytes is too short`);
  const flags = frame.readUInt32LE(start);
  // OP_MSG: "the first 16 bits are required and parsers MUST error if an unknown bit is set".
  const unknownRequired = flags & 0xffff & ~KNOWN_REQUIRED_FLAGS;
  if (unknownRequired !== 0) {
    throw new DecodeError('ERR_PROTOCOL', `OP_MSG has unknown required flag bits 0x${unknownRequired.toString(16)}`);
  }
  // A checksum is verified (crc32c.ts) and stripped: a flipped flag bit or
  // a corrupted message is refused rather than read four bytes short.
  if (flags & OpMsgFlags.checksumPresent) {
    end -= 4;
    if (end - start < 4 + 1 + 5) throw new DecodeError('ERR_PROTOCOL', 'OP_MSG with checksum is too short');
    const carried = frame.readUInt32LE(end);
    const computed = header ? crc32c(header, frame.subarray(start, end)) : crc32c(frame.subarray(0, end));
    if (carried !== computed) {
      throw new DecodeError('ERR_PROTOCOL', `OP_MSG checksum mismatch: the message carries 0x${carried.toString(16)}, its bytes give 0x${computed.toString(16)}`);
    }
  }

  let offset = start + 4;
  let body: Uint8Array | undefined;
  const sequences: ReplySequence[] = [];
  while (offset < end) {
    const kind = frame[offset++];
    if (kind === SectionKind.body) {
      if (body) throw new DecodeError('ERR_PROTOCOL', 'OP_MSG has more than one body section');
      body = bsonDocumentAt(frame, offset, end, 'OP_MSG body');
      offset += body.byteLength;
    } else if (kind === SectionKind.documentSequence) {
      if (end - offset < 4) throw new DecodeError('ERR_PROTOCOL', 'truncated OP_MSG document sequence header');
      const size = frame.readInt32LE(offset);
      if (size < 5 || size > end - offset) {
        throw new DecodeError('ERR_PROTOCOL', `OP_MSG document sequence claims ${size} bytes, ${end - offset} left`);
      }
      const sequenceEnd = offset + size;
      const nul = frame.indexOf(0, offset + 4);
      if (nul < 0 || nul >= sequenceEnd) throw new DecodeError('ERR_PROTOCOL', 'OP_MSG document sequence identifier is not terminated');
      const identifier = frame.toString('utf8', offset + 4, nul);
      const documents: Uint8Array[] = [];
      let docOffset = nul + 1;
      while (docOffset < sequenceEnd) {
        const doc = bsonDocumentAt(frame, docOffset, sequenceEnd, `document sequence "${identifier}"`);
        documents.push(doc);
        docOffset += doc.byteLength;
      }
      sequences.push({ identifier, documents });
      offset = sequenceEnd;
    } else {
      throw new DecodeError('ERR_PROTOCOL', `OP_MSG has unknown section kind ${kind}`);
    }
  }
  if (!body) throw new DecodeError('ERR_PROTOCOL', 'OP_MSG has no body section');
  return { requestId, responseTo, flags, body, sequences, moreToCome: (flags & OpMsgFlags.moreToCome) !== 0 };
}
