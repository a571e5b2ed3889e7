// The initial handshake (MongoDB Handshake spec; SDAM "Checking wire protocol
// compatibility"): what we send, and what we keep from the reply.
import type { Document } from 'bson';
import { IncompatibleServerError } from '../errors.js';
import { DEFAULT_WIRE_LIMITS, MAX_SUPPORTED_WIRE_VERSION, MIN_SUPPORTED_WIRE_VERSION, type WireLimits } from '../wire/constants.js';
import { checkHello } from '../wire/reply-shape.js';
import { clientMetadata } from './client-metadata.js';

/** What a connection keeps of the server's handshake reply (Connection.hello). */
export interface HandshakeResult extends WireLimits {
  /** The oldest wire protocol version the server speaks. */
  minWireVersion: number;
  /** The newest wire protocol version the server speaks. */
  maxWireVersion: number;
  /** The server answers the modern `hello` (so monitors need not use isMaster). */
  helloOk: boolean;
  /** The server accepts writes (a primary, a mongos or a standalone). */
  isWritablePrimary: boolean;
  /** Server-side id of this connection, when the server reports one. */
  connectionId: number | undefined;
  /** The whole reply, for server discovery (setName, hosts, msg, ...). */
  reply: Document;
}

/**
 * `compression` lists the compressors offered, in order of preference; the
 * compression spec asks for an empty list when there are none.
 */
export function helloCommand(command: 'hello' | 'isMaster', appName?: string, compression: readonly string[] = []): Document {
  return { [command]: 1, helloOk: true, client: clientMetadata(appName), compression: [...compression] };
}

function positiveNumber(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * The size limits a hello reply reports, each defaulted when the reply
 * leaves it out: what a connection encodes under, and what a server
 * description records (src/cluster/server-description.ts).
 */
export function wireLimitsOf(reply: Document): WireLimits {
  return {
    maxBsonObjectSize: positiveNumber(reply.maxBsonObjectSize, DEFAULT_WIRE_LIMITS.maxBsonObjectSize),
    maxMessageSizeBytes: positiveNumber(reply.maxMessageSizeBytes, DEFAULT_WIRE_LIMITS.maxMessageSizeBytes),
    maxWriteBatchSize: positiveNumber(reply.maxWriteBatchSize, DEFAULT_WIRE_LIMITS.maxWriteBatchSize),
  };
}

/**
 * Reads the limits and identity from a hello reply, after checking its
 * fields' types (checkHello: ERR_PROTOCOL, the handshake fails), and
 * checks wire version overlap.
 */
export function parseHandshakeReply(reply: Document, address: string): HandshakeResult {
  checkHello(reply, address);
  const minWireVersion = typeof reply.minWireVersion === 'number' ? reply.minWireVersion : 0;
  const maxWireVersion = typeof reply.maxWireVersion === 'number' ? reply.maxWireVersion : 0;
  if (minWireVersion > MAX_SUPPORTED_WIRE_VERSION) {
    throw new IncompatibleServerError(
      `server at ${address} requires wire version ${minWireVersion}, but this driver only supports up to ${MAX_SUPPORTED_WIRE_VERSION}`,
      { address },
    );
  }
  if (maxWireVersion < MIN_SUPPORTED_WIRE_VERSION) {
    throw new IncompatibleServerError(
      `server at ${address} reports max wire version ${maxWireVersion}, but this driver requires at least ${MIN_SUPPORTED_WIRE_VERSION} (MongoDB 3.6)`,
      { address },
    );
  }
  const connectionId = reply.connectionId;
  return {
    minWireVersion,
    maxWireVersion,
    ...wireLimitsOf(reply),
    helloOk: reply.helloOk === true,
    isWritablePrimary: reply.isWritablePrimary === true || reply.ismaster === true,
    connectionId: typeof connectionId === 'number' ? connectionId : typeof connectionId === 'object' && connectionId !== null ? Number(connectionId) : undefined,
    reply,
  };
}
