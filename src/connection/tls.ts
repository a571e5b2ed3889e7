// TLS for pool and monitoring sockets (URI options spec, "TLS options"):
// the secure context built from the option files, how a socket is opened
// over it, and what a failed handshake is called.
//
// The files are read once per thread and the context reused by every
// socket: building a context parses the CA bundle and the key (a few ms),
// and a pool warm-up opens up to maxPoolSize sockets at once. In worker
// mode each worker builds its own (contexts cannot cross threads); dial()
// builds one on the main thread first, so an unreadable file or a wrong key
// password fails the dial instead of every connection attempt.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { InvalidOptionError, NetworkError } from '../errors.js';

/** The TLS options as resolved (src/uri/options.ts names and documents each). */
export interface TlsOptions {
  tls: boolean;
  tlsInsecure: boolean;
  tlsAllowInvalidCertificates: boolean;
  tlsAllowInvalidHostnames: boolean;
  tlsCAFile: string | undefined;
  tlsCertificateKeyFile: string | undefined;
  tlsCertificateKeyFilePassword: string | undefined;
}

const contexts = new Map<string, tls.SecureContext>();

// The password is part of what makes a context, but is kept out of the key
// in clear (a heap snapshot should not show it twice).
function contextKey(options: TlsOptions): string {
  const password = options.tlsCertificateKeyFilePassword;
  const secret = password === undefined ? '' : createHash('sha256').update(password).digest('base64');
  return JSON.stringify([options.tlsCAFile ?? null, options.tlsCertificateKeyFile ?? null, secret]);
}

function readOptionFile(option: 'tlsCAFile' | 'tlsCertificateKeyFile', path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new InvalidOptionError('ERR_INVALID_OPTION', `option '${option}': cannot read '${path}' (${reason})`);
  }
}

/**
 * This thread's secure context for the options, built on first use. Without
 * tlsCAFile the system's root certificates apply (Node's default), as with
 * the official driver.
 */
export function secureContextFor(options: TlsOptions): tls.SecureContext {
  const key = contextKey(options);
  let context = contexts.get(key);
  if (context) return context;
  const settings: tls.SecureContextOptions = {};
  if (options.tlsCAFile !== undefined) settings.ca = readOptionFile('tlsCAFile', options.tlsCAFile);
  if (options.tlsCertificateKeyFile !== undefined) {
    // One PEM file with the certificate and its private key, as mongod's
    // --tlsCertificateKeyFile; OpenSSL picks each block out of it.
    const pem = readOptionFile('tlsCertificateKeyFile', options.tlsCertificateKeyFile);
    settings.cert = pem;
    settings.key = pem;
    if (options.tlsCertificateKeyFilePassword !== undefined) settings.passphrase = options.tlsCertificateKeyFilePassword;
  }
  try {
    context = tls.createSecureContext(settings);
  } catch (err) {
    // OpenSSL's reason ("bad decrypt", "no start line") names the problem
    // and never echoes the passphrase.
    const option = options.tlsCertificateKeyFile !== undefined ? 'tlsCertificateKeyFile' : 'tlsCAFile';
    throw new InvalidOptionError('ERR_INVALID_OPTION', `option '${option}': cannot use the file: ${(err as Error).message}`);
  }
  contexts.set(key, context);
  return context;
}

/** Starts a TLS connection; 'secureConnect' says the handshake and the checks passed. */
export function connectTls(host: string, port: number, options: TlsOptions): tls.TLSSocket {
  // tlsInsecure relaxes both checks (URI options spec).
  const allowInvalidCertificates = options.tlsAllowInvalidCertificates || options.tlsInsecure;
  const allowInvalidHostnames = options.tlsAllowInvalidHostnames || options.tlsInsecure;
  const socket = tls.connect({
    host,
    port,
    secureContext: secureContextFor(options),
    // RFC 6066: SNI carries a DNS name, never an IP literal.
    servername: isIP(host) === 0 ? host : undefined,
    rejectUnauthorized: !allowInvalidCertificates,
    checkServerIdentity: allowInvalidHostnames ? () => undefined : tls.checkServerIdentity,
  });
  socket.setNoDelay(true);
  return socket;
}

// Node reports a failed verification with OpenSSL's X509_V_ERR names, less
// the prefix (node: src/crypto/crypto_common.cc).
const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

/**
 * A socket error during or after a TLS handshake, named for what failed:
 * ERR_TLS_HOSTNAME when the certificate is valid but for another host,
 * ERR_TLS_CERTIFICATE when it cannot be trusted (or the server refused
 * ours: a TLS alert about a certificate), undefined for anything else (the
 * caller's network error).
 */
export function tlsFailure(err: NodeJS.ErrnoException, where: string, address: string): NetworkError | undefined {
  const code = err.code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new NetworkError('ERR_TLS_HOSTNAME', `${where}: TLS: the server's certificate is not valid for this host name: ${err.message}`, {
      cause: err,
      address,
    });
  }
  if (CERTIFICATE_ERRORS.has(code)) {
    return new NetworkError('ERR_TLS_CERTIFICATE', `${where}: TLS: the server's certificate is not trusted: ${err.message} (${code})`, {
      cause: err,
      address,
    });
  }
  // e.g. ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED, ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE:
  // the server's side of mutual TLS said no.
  if (code.startsWith('ERR_SSL_') && code.includes('CERTIFICATE')) {
    return new NetworkError('ERR_TLS_CERTIFICATE', `${where}: TLS: the server refused the client certificate: ${err.message} (${code})`, {
      cause: err,
      address,
    });
  }
  return undefined;
}
