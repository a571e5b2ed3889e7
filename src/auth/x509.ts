// MONGODB-X509 (auth spec, "MONGODB-X509"): one `authenticate` command on
// $external; the TLS client certificate is the proof. The username, when the
// user gave one, must be the certificate's subject; without one the server
// takes the subject itself (MongoDB 3.4+).
import type { Document } from 'bson';
import type { X509Credential } from './credential.js';

export function x509Command(credential: X509Credential): Document {
  const command: Document = { authenticate: 1, mechanism: 'MONGODB-X509' };
  if (credential.username !== undefined) command.user = credential.username;
  return command;
}
