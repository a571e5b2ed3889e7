// Wire protocol constants (MongoDB Wire Protocol reference: "Standard Message
// Header", "OP_MSG", "OP_COMPRESSED").

export const OpCode = {
  OP_REPLY: 1,
  OP_QUERY: 2004,
  OP_COMPRESSED: 2012,
  OP_MSG: 2013,
} as const;

/** messageLength, requestID, responseTo, opCode: four int32s. */
export const HEADER_SIZE = 16;
/** header + flagBits + section kind byte + the smallest BSON document (5 bytes). */
export const MIN_OP_MSG_SIZE = HEADER_SIZE + 4 + 1 + 5;
/** header + originalOpcode + uncompressedSize + compressorId. */
export const MIN_OP_COMPRESSED_SIZE = HEADER_SIZE + 4 + 4 + 1;

export const OpMsgFlags = {
  /** A CRC-32C of the message follows the last section. */
  checksumPresent: 1 << 0,
  /** The sender will send another message without waiting for a reply (w:0 writes, exhaust). */
  moreToCome: 1 << 1,
  exhaustAllowed: 1 << 16,
} as const;

/** Flag bits 0-15 are "required": a receiver must fail on any it does not know. */
export const KNOWN_REQUIRED_FLAGS = OpMsgFlags.checksumPresent | OpMsgFlags.moreToCome;

export const SectionKind = {
  body: 0,
  documentSequence: 1,
} as const;

/**
 * Wire versions this driver speaks. OP_MSG appeared with wire version 6
 * (MongoDB 3.6); the handshake fails with a clear error outside this range
 * (server-discovery-and-monitoring: "Checking wire protocol compatibility").
 */
export const MIN_SUPPORTED_WIRE_VERSION = 6;
export const MAX_SUPPORTED_WIRE_VERSION = 25;

/**
 * Limits assumed until a handshake reports the server's own (the values every
 * MongoDB server since 2.6 reports). Their one home: the connection, the
 * server descriptions and the session's batching take them from here.
 */
export const DEFAULT_WIRE_LIMITS: WireLimits = Object.freeze({
  maxBsonObjectSize: 16 * 1024 * 1024,
  maxMessageSizeBytes: 48_000_000,
  maxWriteBatchSize: 100_000,
});

/** The size and count limits a server reports in its hello reply. */
export interface WireLimits {
  /** Largest BSON document (a command body may exceed it by COMMAND_OVERHEAD_BYTES). */
  readonly maxBsonObjectSize: number;
  /** Largest message, header included. */
  readonly maxMessageSizeBytes: number;
  /** Most documents in one write command's sequence. */
  readonly maxWriteBatchSize: number;
}

/**
 * A command body may exceed maxBsonObjectSize by this much: the server allows
 * room for the command's own fields around a maximum-size document.
 */
export const COMMAND_OVERHEAD_BYTES = 16 * 1024;
