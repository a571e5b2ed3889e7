// The credential a client authenticates every general-use socket with, built
// from what the user gave (auth spec, "MongoCredential" and "Connection String
// Options"): the URL's userinfo or the options object's `auth`, the URL's
// database, authSource, authMechanism and authMechanismProperties.
//
// Where credentials come from (one route for all three ways of dialing):
// - the URL's userinfo, percent-decoded by src/uri/connection-string.ts;
// - the options object's `auth: { username?, password? }` (the official Node
//   driver's name), each field given overriding the URL's, so that a password
//   can stay out of a URL that ends up in configuration and logs:
//   dial('mongodb://alice@host/app', { auth: { password } });
// - DialInfo's username/password (mgo), which src/session/dial-info.ts turns
//   into that same `auth` object, and its source/mechanism into authSource
//   and authMechanism.
// resolveOptions (src/uri/resolve.ts) merges them and calls resolveCredential.

import { InvalidOptionError } from '../errors.js';

/** The SCRAM mechanisms. */
export type ScramMechanism = 'SCRAM-SHA-1' | 'SCRAM-SHA-256';
export type ImplementedMechanism = ScramMechanism | 'MONGODB-X509';
/** Every mechanism the auth spec names: the values of the authMechanism option. */
export type AuthMechanism = ImplementedMechanism | 'MONGODB-AWS' | 'MONGODB-OIDC' | 'GSSAPI' | 'PLAIN';

export const IMPLEMENTED_MECHANISMS: readonly ImplementedMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'MONGODB-X509'];

/** Why authMechanism=<one of the others> is refused (the option table and resolveCredential both say it). */
export const UNIMPLEMENTED_MECHANISMS =
  'mgo-threads implements SCRAM-SHA-256, SCRAM-SHA-1 and MONGODB-X509; MONGODB-AWS, MONGODB-OIDC, GSSAPI (Kerberos) and PLAIN (LDAP) are not implemented';

export function isImplementedMechanism(mechanism: string): mechanism is ImplementedMechanism {
  return (IMPLEMENTED_MECHANISMS as readonly string[]).includes(mechanism);
}

/** A username and password for SCRAM; no mechanism means "negotiate" (SCRAM-SHA-256 if the server offers it, else SCRAM-SHA-1). */
export interface ScramCredential {
  /** SCRAM-SHA-256 or SCRAM-SHA-1; undefined: negotiated with the server. */
  readonly mechanism: ScramMechanism | undefined;
  /** The user's name. */
  readonly username: string;
  /** The user's password (never shown in errors, logs or events). */
  readonly password: string;
  /** The auth database: authSource, else the URL's database, else 'admin'. */
  readonly source: string;
}

/** The TLS client certificate is the credential; the username (its subject) is optional. */
export interface X509Credential {
  /** Always MONGODB-X509. */
  readonly mechanism: 'MONGODB-X509';
  /** The certificate's subject, when given; else the server takes it from the certificate. */
  readonly username: string | undefined;
  /** X.509 users live in the $external database. */
  readonly source: '$external';
}

/** Plain data: it crosses to the workers by structured clone. */
export type Credential = ScramCredential | X509Credential;

export interface CredentialInput {
  /** null or undefined: not given (no userinfo); '' is refused. */
  username?: string | null;
  password?: string | null;
  /** The URL's path database. */
  database?: string | null;
  authSource?: string;
  authMechanism?: AuthMechanism;
  authMechanismProperties?: Readonly<Record<string, string>>;
}

function invalid(message: string): never {
  throw new InvalidOptionError('ERR_INVALID_OPTION', message);
}

/**
 * The credential to authenticate with, or undefined when none is asked for.
 * Auth spec: a username (even one with an empty password) or an
 * authMechanism asks for authentication; a database or an authSource alone
 * does not. Messages name the rule, never the username or the password.
 */
export function resolveCredential(input: CredentialInput): Credential | undefined {
  const { username, password, authSource, authMechanism: mechanism } = input;
  const hasUsername = username !== null && username !== undefined;
  const hasPassword = password !== null && password !== undefined;
  const properties = input.authMechanismProperties && Object.keys(input.authMechanismProperties).length > 0;

  if (!hasUsername && mechanism === undefined) {
    if (hasPassword) invalid('a password is given without a username');
    if (properties) invalid("'authMechanismProperties' is set, but neither credentials nor 'authMechanism' are");
    return undefined;
  }
  if (mechanism !== undefined && !isImplementedMechanism(mechanism)) {
    throw new InvalidOptionError('ERR_UNSUPPORTED_OPTION', `authMechanism ${mechanism} is not supported: ${UNIMPLEMENTED_MECHANISMS}`);
  }
  const name = mechanism ?? 'SCRAM (SCRAM-SHA-256 or SCRAM-SHA-1, negotiated)';
  if (username === '') invalid(`${name} needs a username, and the one given is empty`);
  // Auth spec, every implemented mechanism: "mechanism_properties MUST NOT be specified".
  if (properties) invalid(`${name} takes no mechanism properties: remove 'authMechanismProperties'`);

  if (mechanism === 'MONGODB-X509') {
    if (hasPassword) invalid('MONGODB-X509 takes no password: the TLS client certificate is the credential');
    if (authSource !== undefined && authSource !== '$external') {
      invalid(`MONGODB-X509 authenticates against '$external', so authSource cannot be '${authSource}'`);
    }
    return { mechanism, username: username ?? undefined, source: '$external' };
  }
  if (!hasUsername) invalid(`${name} needs a username`);
  if (!hasPassword) invalid(`${name} needs a password`);
  return { mechanism, username, password, source: authSource ?? (input.database || 'admin') };
}
