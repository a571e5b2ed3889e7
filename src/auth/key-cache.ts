// SCRAM's expensive step, Hi() = PBKDF2 (RFC 5802 section 2.2), done once per
// (mechanism, password, salt, iteration count) and thread: a burst of new
// sockets to one server authenticates the same user with the same salt, and
// each derivation takes 6.4 ms of CPU at MongoDB's default 15,000 SHA-256
// iterations (3.8 ms at SHA-1's 10,000; measured here on Node 20, one core),
// so 100 sockets would cost 0.6 s of the pool's CPU. The auth spec ("Caching credentials in SCRAM") asks for such a
// cache and lets it keep ClientKey and ServerKey instead of SaltedPassword.
//
// The derivation runs on libuv's thread pool (async crypto.pbkdf2), never on
// the thread that owns the sockets. Entries are keyed by an HMAC under a
// random per-process key, so the map holds no password, nor a plain hash of
// one that could be checked against a word list offline.

import { createHmac, pbkdf2, randomBytes } from 'node:crypto';

export type ScramHash = 'sha1' | 'sha256';

export interface KeyDerivation {
  readonly hash: ScramHash;
  /** The password as Hi() takes it: SASLprep'd (SHA-256) or mongo-hashed (SHA-1). */
  readonly password: string;
  readonly salt: Buffer;
  readonly iterations: number;
}

export interface ScramKeys {
  readonly clientKey: Buffer;
  readonly serverKey: Buffer;
}

/** PBKDF2 on the libuv pool: the SaltedPassword of RFC 5802. */
export type DeriveKey = (password: string, salt: Buffer, iterations: number, keyLength: number, hash: ScramHash) => Promise<Buffer>;

const KEY_LENGTH: Record<ScramHash, number> = { sha1: 20, sha256: 32 };

export const pbkdf2Async: DeriveKey = (password, salt, iterations, keyLength, hash) =>
  new Promise((resolve, reject) => pbkdf2(password, salt, iterations, keyLength, hash, (err, key) => (err ? reject(err) : resolve(key))));

export function hmac(hash: ScramHash, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(hash, key).update(data).digest();
}

/** Enough for every user a process authenticates as, times a few salts; old entries go first. */
const DEFAULT_MAX_ENTRIES = 64;

export class ScramKeyCache {
  private readonly entries = new Map<string, Promise<ScramKeys>>();
  private readonly keyOfKeys = randomBytes(32);
  /** Derivations started, for tests and stats. */
  derivations = 0;

  constructor(
    private readonly maxEntries = DEFAULT_MAX_ENTRIES,
    private readonly derive: DeriveKey = pbkdf2Async,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The keys for these inputs; concurrent calls for the same inputs share one derivation. */
  keys(input: KeyDerivation): Promise<ScramKeys> {
    // Fields before the password have no NUL, so the key is unambiguous.
    const id = createHmac('sha256', this.keyOfKeys)
      .update(`${input.hash}\0${input.iterations}\0${input.salt.toString('base64')}\0`)
      .update(input.password)
      .digest('base64');
    const cached = this.entries.get(id);
    if (cached !== undefined) {
      // Most recently used last, so that eviction takes the oldest.
      this.entries.delete(id);
      this.entries.set(id, cached);
      return cached;
    }
    const derived = this.compute(input);
    this.entries.set(id, derived);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    // A failed derivation is not remembered: the next handshake tries again.
    derived.catch(() => {
      if (this.entries.get(id) === derived) this.entries.delete(id);
    });
    return derived;
  }

  clear(): void {
    this.entries.clear();
  }

  private async compute({ hash, password, salt, iterations }: KeyDerivation): Promise<ScramKeys> {
    this.derivations++;
    const salted = await this.derive(password, salt, iterations, KEY_LENGTH[hash], hash);
    const keys = { clientKey: hmac(hash, salted, 'Client Key'), serverKey: hmac(hash, salted, 'Server Key') };
    salted.fill(0);
    return keys;
  }
}

/** One cache per thread: each worker authenticates its own sockets. */
export const scramKeyCache = new ScramKeyCache();
