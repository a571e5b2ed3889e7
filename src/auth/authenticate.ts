// Authenticating a new general-use socket (auth spec, "Authentication
// Handshake"), in two halves around the handshake's hello: the fields the
// hello carries (saslSupportedMechs to negotiate the mechanism,
// speculativeAuthenticate to start the conversation in the same round
// trip: handshake spec, "Speculative Authentication"), then, with the
// hello's reply, the rest of the conversation.
//
// The connection (src/connection) calls this module, never the reverse:
// it sees the socket only as an AuthConnection.

import { Binary, type Document } from 'bson';
import { AuthError, ServerError } from '../errors.js';
import type { Credential, ScramCredential, ScramMechanism, X509Credential } from './credential.js';
import { scramKeyCache, type ScramKeyCache } from './key-cache.js';
import { ScramConversation, ScramFailure, payloadBytes, randomNonce } from './scram.js';
import { x509Command } from './x509.js';

/** The socket as authentication sees it. */
export interface AuthConnection {
  /** The server's address, for messages. */
  readonly address: string;
  /** Resolves with the reply when ok: 1; rejects with a ServerError otherwise, or a NetworkError. */
  command(db: string, command: Document): Promise<Document>;
}

export interface Authenticator {
  /** Fields the handshake's hello carries: saslSupportedMechs (when the mechanism is negotiated), speculativeAuthenticate. */
  readonly helloFields: Document;
  /** Completes authentication once the hello reply is in (continuing a speculative conversation when the reply has speculativeAuthenticate). */
  finish(connection: AuthConnection, helloReply: Document): Promise<void>;
}

/** For tests: a deterministic nonce, a cache of their own. */
export interface AuthDependencies {
  keyCache?: ScramKeyCache;
  nonce?: () => string;
}

/** One per handshake: the speculative conversation it starts belongs to that socket. */
export function createAuthenticator(credential: Credential, dependencies: AuthDependencies = {}): Authenticator {
  return credential.mechanism === 'MONGODB-X509' ? new X509Authenticator(credential) : new ScramAuthenticator(credential, dependencies);
}

function isDocument(value: unknown): value is Document {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array) && !(value instanceof Binary);
}

interface Attempt {
  mechanism: string;
  source: string;
  address: string;
  /** Strings that must not reach a message, even when a server echoes them. */
  secrets: readonly string[];
}

/** `text` with every occurrence of each secret replaced by <redacted>. */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('<redacted>');
  return out;
}

/**
 * Runs one step of a conversation. A server's refusal and a client-side
 * failure become an AuthError naming the mechanism, the database and the
 * server; a network error (the server closed or timed out mid-conversation)
 * passes as it is.
 */
async function step<T>(attempt: Attempt, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const where = `${attempt.mechanism} authentication on database '${attempt.source}' at ${attempt.address} failed`;
    if (err instanceof ServerError) {
      const codeName = err.codeName === undefined ? '' : ` ${err.codeName}`;
      throw new AuthError(`${where}: ${withoutSecrets(err.message, attempt.secrets)} (server code ${err.serverCode}${codeName})`, {
        address: attempt.address,
        errorLabels: err.errorLabels,
        serverCode: err.serverCode,
        codeName: err.codeName,
      });
    }
    if (err instanceof ScramFailure) throw new AuthError(`${where}: ${err.message}`, { address: attempt.address });
    throw err;
  }
}

// A username this short could be anywhere in a message; masking it would
// garble the message without protecting anything.
const MIN_MASKED_USERNAME = 3;

class X509Authenticator implements Authenticator {
  readonly helloFields: Document;

  constructor(private readonly credential: X509Credential) {
    this.helloFields = { speculativeAuthenticate: { ...x509Command(credential), db: credential.source } };
  }

  async finish(connection: AuthConnection, helloReply: Document): Promise<void> {
    // The reply's speculativeAuthenticate is the authenticate command's own
    // reply: the socket is authenticated already.
    if (isDocument(helloReply.speculativeAuthenticate)) return;
    const { username } = this.credential;
    const secrets = username !== undefined && username.length >= MIN_MASKED_USERNAME ? [username] : [];
    const attempt = { mechanism: 'MONGODB-X509', source: this.credential.source, address: connection.address, secrets };
    await step(attempt, () => connection.command(this.credential.source, x509Command(this.credential)));
  }
}

class ScramAuthenticator implements Authenticator {
  readonly helloFields: Document;
  private readonly speculative: ScramConversation;
  private readonly keyCache: ScramKeyCache;
  private readonly nonce: () => string;
  private readonly secrets: string[];

  constructor(
    private readonly credential: ScramCredential,
    dependencies: AuthDependencies,
  ) {
    this.keyCache = dependencies.keyCache ?? scramKeyCache;
    this.nonce = dependencies.nonce ?? randomNonce;
    const { username, password, source } = credential;
    this.secrets = [password, ...(username.length >= MIN_MASKED_USERNAME ? [username] : [])].filter((s) => s !== '');
    // Handshake spec: when negotiating, speculate with SCRAM-SHA-256 and ask
    // for the user's mechanisms; the username is sent as given (auth spec).
    this.speculative = this.conversation(credential.mechanism ?? 'SCRAM-SHA-256');
    this.helloFields = {
      ...(credential.mechanism === undefined ? { saslSupportedMechs: `${source}.${username}` } : {}),
      speculativeAuthenticate: { ...this.speculative.saslStart(), db: source },
    };
  }

  async finish(connection: AuthConnection, helloReply: Document): Promise<void> {
    // A speculativeAuthenticate reply is the saslStart reply of the
    // conversation the hello started: go on with it. Without one (an older
    // server, or the speculative mechanism is not the user's), start over.
    if (isDocument(helloReply.speculativeAuthenticate)) {
      return this.converse(connection, this.speculative, helloReply.speculativeAuthenticate);
    }
    const conversation = this.conversation(this.credential.mechanism ?? negotiatedMechanism(helloReply));
    const started = await step(this.attempt(connection, conversation), () => connection.command(this.credential.source, conversation.saslStart()));
    return this.converse(connection, conversation, started);
  }

  private conversation(mechanism: ScramMechanism): ScramConversation {
    return new ScramConversation(mechanism, this.credential.username, this.credential.password, this.nonce(), this.keyCache);
  }

  private attempt(connection: AuthConnection, conversation: ScramConversation): Attempt {
    return { mechanism: conversation.mechanism, source: this.credential.source, address: connection.address, secrets: this.secrets };
  }

  private async converse(connection: AuthConnection, conversation: ScramConversation, started: Document): Promise<void> {
    const attempt = this.attempt(connection, conversation);
    const send = (payload: Buffer) =>
      step(attempt, () =>
        connection.command(this.credential.source, { saslContinue: 1, conversationId: started.conversationId, payload: new Binary(payload) }),
      );
    const clientFinal = await step(attempt, async () => {
      if (started.done === true) throw new ScramFailure('the server ended the conversation before the client sent its proof');
      if (started.conversationId === undefined || started.conversationId === null) {
        throw new ScramFailure('the server sent no conversationId');
      }
      return conversation.clientFinal(payloadBytes(started));
    });
    const final = await send(clientFinal);
    await step(attempt, async () => conversation.verifyServerFinal(payloadBytes(final)));
    if (final.done === true) return;
    // Servers before 4.4 wait for one empty message more (auth spec,
    // "Backwards Compatibility"); skipEmptyExchange spares it on later ones.
    const last = await send(Buffer.alloc(0));
    if (last.done !== true) {
      await step(attempt, async () => {
        throw new ScramFailure('the server did not end the conversation after proving it knows the password');
      });
    }
  }
}

/** Auth spec, "Default Authentication Methods": SCRAM-SHA-256 when the server lists it for the user, else SCRAM-SHA-1. */
export function negotiatedMechanism(helloReply: Document): ScramMechanism {
  const offered: unknown = helloReply.saslSupportedMechs;
  return Array.isArray(offered) && offered.includes('SCRAM-SHA-256') ? 'SCRAM-SHA-256' : 'SCRAM-SHA-1';
}
