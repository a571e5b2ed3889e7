// The initial handshake (MongoDB Handshake spec; SDAM "Checking wire protocol
// compatibility"): what we send, and what we keep from the reply.
import type { Document } from 'bson';
import { IncompatibleServerError } from '../errors.js';
import {
  DEFAULT_MAX_BSON_OBJECT_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE_BYTES,
  DEFAULT_MAX_WRITE_BATCH_SIZE,
  MAX_SUPPORTED_WIRE_VERSION,
  MIN_SUPPORTED_WIRE_VERSION,
} from '../wire/constants.js';
import { clientMetadata } from './client-metadata.js';

export interface HandshakeResult {
  minWireVersion: number;
  maxWireVersion: number;
  maxBsonObjectSize: number;
  maxMessageSizeBytes: number;
  maxWriteBatchSize: number;
  /** The server answers the modern `hello` (so monitors need not use isMaster). */
  helloOk: boolean;
  isWritablePrimary: boolean;
  /** Server-side id of this connection, when the server reports one. */
  connectionId: number | undefined;
  /** The whole reply, for server discovery (setName, hosts, msg, ...). */
  reply: Document;
}

export function helloCommand(command: 'hello' | 'isMaster', appName?: string): Document {
  return { [command]: 1, helloOk: true, client: clientMetadata(appName) };
}

function positiveNumber(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Reads the limits and identity from a hello reply and checks wire version overlap. */
export function parseHandshakeReply(reply: Document, address: string): HandshakeResult {
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
    maxBsonObjectSize: positiveNumber(reply.maxBsonObjectSize, DEFAULT_MAX_BSON_OBJECT_SIZE),
    maxMessageSizeBytes: positiveNumber(reply.maxMessageSizeBytes, DEFAULT_MAX_MESSAGE_SIZE_BYTES),
    maxWriteBatchSize: positiveNumber(reply.maxWriteBatchSize, DEFAULT_MAX_WRITE_BATCH_SIZE),
    helloOk: reply.helloOk === true,
    isWritablePrimary: reply.isWritablePrimary === true || reply.ismaster === true,
    connectionId: typeof connectionId === 'number' ? connectionId : typeof connectionId === 'object' && connectionId !== null ? Number(connectionId) : undefined,
    reply,
  };
}
