// Who a socket is authenticated as, by number. A MongoDB server
// authenticates a connection once, as one user, and cannot log it out, so
// every pooled socket belongs to one identity and serves only operations of
// that identity (src/pool/pool.ts). Numbers, not credentials, go with each
// operation and each pooled socket: 0 is "no credential", the dial-time
// credential and each one given later to Session.login() get the next
// free number, and the same credential given twice gets the same number.
//
// The main thread assigns the numbers (a router's Identities); a worker
// learns each number with its credential once, at start or in a LOGIN
// message (src/worker/protocol.ts), and keeps them in its own Identities.
import { createHash, randomBytes } from 'node:crypto';
import type { Credential } from './credential.js';

/** The identity of operations and sockets with no credential. */
export const UNAUTHENTICATED = 0;
/** The dial-time credential's number, on every thread (each numbers it first). */
export const DIAL_IDENTITY = 1;

// Credentials are told apart by a keyed hash, so the table does not keep a
// second copy of each password as a map key. The key is random per thread:
// fingerprints are never compared across threads (numbers are).
const fingerprintKey = randomBytes(32);

function fingerprint(credential: Credential): string {
  const { mechanism, source, username } = credential;
  const password = 'password' in credential ? credential.password : null;
  return createHash('sha256')
    .update(fingerprintKey)
    .update(JSON.stringify([mechanism ?? null, source, username ?? null, password]))
    .digest('base64');
}

export class Identities {
  private readonly credentials = new Map<number, Credential>();
  private readonly numbers = new Map<string, number>();
  private last = UNAUTHENTICATED;
  /** What operations run as unless a session logged in: DIAL_IDENTITY, or UNAUTHENTICATED without dial credentials. */
  readonly dialIdentity: number;

  constructor(dialCredential: Credential | undefined) {
    this.dialIdentity = dialCredential ? this.register(dialCredential) : UNAUTHENTICATED;
  }

  /** The number of a credential, assigned on first sight (main thread). */
  register(credential: Credential): number {
    const key = fingerprint(credential);
    let id = this.numbers.get(key);
    if (id === undefined) {
      id = ++this.last;
      this.numbers.set(key, id);
      this.credentials.set(id, credential);
    }
    return id;
  }

  /** Records a number the main thread assigned (worker side). */
  learn(id: number, credential: Credential): void {
    this.credentials.set(id, credential);
    if (id > this.last) this.last = id;
  }

  /** The credential of a number; undefined for UNAUTHENTICATED or a number never learned. */
  credential(id: number): Credential | undefined {
    return this.credentials.get(id);
  }

  /** Every numbered credential, for a worker that starts later. */
  entries(): [number, Credential][] {
    return [...this.credentials];
  }
}
