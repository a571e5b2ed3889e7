// The client side of SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677) as
// MongoDB runs them (auth spec, "SCRAM-SHA-1" and "SCRAM-SHA-256"): the
// messages, the checks on what the server sends, and the proofs. The
// commands that carry the messages are in authenticate.ts.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import saslprep from '@mongodb-js/saslprep';
import { Binary, type Document } from 'bson';
import type { ScramMechanism } from './credential.js';
import { hmac, type ScramHash, type ScramKeyCache, type ScramKeys } from './key-cache.js';

/** Auth spec: drivers MUST refuse fewer iterations (a man in the middle could ask for 1). */
export const MIN_ITERATIONS = 4096;

const HASH: Record<ScramMechanism, ScramHash> = { 'SCRAM-SHA-1': 'sha1', 'SCRAM-SHA-256': 'sha256' };

/** A failure of the conversation on the client's side; the message holds no secret. */
export class ScramFailure extends Error {}

/** 24 random bytes, base64: printable and without ',' as RFC 5802 asks. */
export function randomNonce(): string {
  return randomBytes(24).toString('base64');
}

/**
 * The password Hi() takes. SCRAM-SHA-1: MongoDB's HEX(MD5(user:mongo:pass)),
 * neither part SASLprep'd. SCRAM-SHA-256: the password SASLprep'd (RFC 4013),
 * the username never (auth spec).
 */
export function scramPassword(mechanism: ScramMechanism, username: string, password: string): string {
  if (mechanism === 'SCRAM-SHA-1') return createHash('md5').update(`${username}:mongo:${password}`, 'utf8').digest('hex');
  try {
    return saslprep(password);
  } catch {
    throw new ScramFailure('the password holds a character that SASLprep (RFC 4013) prohibits');
  }
}

/** RFC 5802 section 5.1: ',' and '=' in a saslname are escaped. */
function saslName(username: string): string {
  return username.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** The bytes of a payload field (BinData, or a Buffer when replies promote them). */
export function payloadBytes(reply: Document): Buffer {
  const payload: unknown = reply.payload;
  if (payload instanceof Binary) return Buffer.from(payload.value());
  if (payload instanceof Uint8Array) return Buffer.from(payload);
  throw new ScramFailure('the server sent a reply without a binary payload');
}

/**
 * RFC 5802 section 3: the client-final message (with the proof) and the
 * signature the server must answer with, from the derived keys.
 */
export function scramProof(
  hash: ScramHash,
  { clientKey, serverKey }: ScramKeys,
  clientFirstBare: string,
  serverFirst: string,
  combinedNonce: string,
): { clientFinal: string; serverSignature: Buffer } {
  // "biws" is base64("n,,"), the GS2 header without channel binding.
  const withoutProof = `c=biws,r=${combinedNonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const storedKey = createHash(hash).update(clientKey).digest();
  const clientSignature = hmac(hash, storedKey, authMessage);
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
  return { clientFinal: `${withoutProof},p=${proof.toString('base64')}`, serverSignature: hmac(hash, serverKey, authMessage) };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** "k=v,k=v" into a map; a value may hold '=' (base64), never ','. */
function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    if (part.length < 2 || part[1] !== '=') throw new ScramFailure('the server sent a malformed SCRAM message');
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/**
 * One SCRAM conversation: the client-first message at construction, the
 * client-final one from the server-first, then the check of the server's
 * signature. Single use.
 */
export class ScramConversation {
  readonly mechanism: ScramMechanism;
  private readonly hash: ScramHash;
  private readonly clientFirstBare: string;
  private expectedSignature: Buffer | undefined;

  constructor(
    mechanism: ScramMechanism,
    private readonly username: string,
    private readonly password: string,
    private readonly nonce: string,
    private readonly keyCache: ScramKeyCache,
  ) {
    this.mechanism = mechanism;
    this.hash = HASH[mechanism];
    this.clientFirstBare = `n=${saslName(username)},r=${nonce}`;
  }

  /**
   * The saslStart command. "n,," announces no channel binding (auth spec:
   * MUST NOT advertise it); skipEmptyExchange lets 4.4+ servers end the
   * conversation one round trip earlier.
   */
  saslStart(): Document {
    return {
      saslStart: 1,
      mechanism: this.mechanism,
      payload: new Binary(Buffer.from(`n,,${this.clientFirstBare}`, 'utf8')),
      autoAuthorize: 1,
      options: { skipEmptyExchange: true },
    };
  }

  /** Checks the server-first message and answers it with the client proof (RFC 5802 section 3). */
  async clientFinal(serverFirstBytes: Buffer): Promise<Buffer> {
    const serverFirst = serverFirstBytes.toString('utf8');
    const fields = attributes(serverFirst);
    if (fields.has('m')) throw new ScramFailure('the server asked for a SCRAM extension this client does not know');
    const combinedNonce = fields.get('r');
    const saltText = fields.get('s');
    const iterationText = fields.get('i');
    if (combinedNonce === undefined || saltText === undefined || iterationText === undefined) {
      throw new ScramFailure('the server-first message lacks its nonce, salt or iteration count');
    }
    if (!combinedNonce.startsWith(this.nonce) || combinedNonce.length === this.nonce.length) {
      throw new ScramFailure("the server's nonce does not extend the client's");
    }
    if (saltText === '' || !BASE64.test(saltText)) throw new ScramFailure('the server sent a malformed salt');
    const iterations = /^\d{1,10}$/.test(iterationText) ? Number(iterationText) : NaN;
    if (!(iterations <= 2 ** 31 - 1)) throw new ScramFailure('the server sent a malformed iteration count');
    if (iterations < MIN_ITERATIONS) {
      throw new ScramFailure(`the server asked for ${iterations} iterations, fewer than the minimum of ${MIN_ITERATIONS}`);
    }

    const keys = await this.keyCache.keys({
      hash: this.hash,
      password: scramPassword(this.mechanism, this.username, this.password),
      salt: Buffer.from(saltText, 'base64'),
      iterations,
    });
    const { clientFinal, serverSignature } = scramProof(this.hash, keys, this.clientFirstBare, serverFirst, combinedNonce);
    this.expectedSignature = serverSignature;
    return Buffer.from(clientFinal, 'utf8');
  }

  /** Checks the server-final message: the server proves it knows the password too. */
  verifyServerFinal(serverFinalBytes: Buffer): void {
    const expected = this.expectedSignature;
    if (expected === undefined) throw new ScramFailure('the server ended the conversation before the client sent its proof');
    const fields = attributes(serverFinalBytes.toString('utf8'));
    const error = fields.get('e');
    if (error !== undefined) throw new ScramFailure(`the server refused the proof: ${error.replace(/[^\x20-\x7e]/g, '?').slice(0, 100)}`);
    const signature = fields.get('v');
    if (signature === undefined || !BASE64.test(signature)) throw new ScramFailure('the server-final message lacks a valid signature');
    const actual = Buffer.from(signature, 'base64');
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      throw new ScramFailure("the server's signature is wrong: the server does not know this user's password");
    }
  }
}
