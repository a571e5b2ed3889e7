// TLS and SCRAM authentication, two ways: dial() with a URL and an options
// object (the password in the object, never in a URL that may be logged),
// and mgo's ParseURL + DialInfo + DialWithInfo. Then a wrong password, to
// show the error: a coded AuthError that never contains the password.
//
//   MONGODB_USERNAME=ada MONGODB_PASSWORD=secret MONGODB_TLS_CA_FILE=ca.pem \
//     node --import tsx examples/tls-scram.ts [mongodb://127.0.0.1:27017/?authSource=admin]
//
// The server comes from the first argument, else MONGODB_URI, else
// mongodb://127.0.0.1:27017/?authSource=admin. MONGODB_TLS_CA_FILE is the
// PEM file of the CA that signed the server's certificate (left out, Node's
// default CAs are trusted). In your application, import from 'mgo-threads'
// instead of '../src/index.js'.
import { AuthError, dial, dialWithInfo, parseURL, type Session } from '../src/index.js';

const uri = process.argv[2] ?? process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/?authSource=admin';
const username = process.env.MONGODB_USERNAME ?? 'ada';
const password = process.env.MONGODB_PASSWORD ?? '';
const caFile = process.env.MONGODB_TLS_CA_FILE;
const dbName = process.env.EXAMPLE_DB ?? 'examples';

/** Who the server says this session's socket is authenticated as. */
async function whoAmI(session: Session): Promise<string> {
  const status = await session.run({ connectionStatus: 1 });
  const users: { user: string; db: string }[] = status.authInfo?.authenticatedUsers ?? [];
  return users.map((u) => `${u.user}@${u.db}`).join(', ') || '(nobody)';
}

// 1. dial(url, options): every connection option can go in either; the
// object wins. authMechanism left out negotiates SCRAM-SHA-256 (else
// SCRAM-SHA-1) with the server. workers: 2 authenticates each worker's
// sockets with the same credential.
const first = await dial(uri, {
  workers: 2,
  tls: true,
  ...(caFile ? { tlsCAFile: caFile } : {}),
  auth: { username, password },
});
try {
  console.log('dial(): authenticated as', await whoAmI(first));
  const notes = first.db(dbName).c('notes');
  await notes.insert({ text: 'written over TLS' });
  console.log('dial(): found', (await notes.find().one()).text);
  await notes.dropCollection();
} finally {
  await first.close();
}

// 2. mgo style: ParseURL, then fill in the DialInfo. tls takes an object of
// the TLS settings (mgo had only a DialServer hook for TLS).
const info = parseURL(uri);
const second = await dialWithInfo({
  ...info,
  username,
  password,
  mechanism: 'SCRAM-SHA-256',
  tls: caFile ? { caFile } : true,
  timeoutMS: 10_000,
});
try {
  console.log('dialWithInfo(): authenticated as', await whoAmI(second));
} finally {
  await second.close();
}

// 3. A wrong password: dial() rejects with an AuthError (code ERR_AUTH, the
// server's code 18, AuthenticationFailed); the message names the server,
// never the password.
const wrong = 'not-' + password;
try {
  const session = await dial(uri, { tls: true, ...(caFile ? { tlsCAFile: caFile } : {}), auth: { username, password: wrong }, serverSelectionTimeoutMS: 5_000 });
  await session.close();
  console.log('unexpected: the wrong password was accepted');
  process.exitCode = 1;
} catch (err) {
  if (!(err instanceof AuthError)) throw err;
  console.log('wrong password:', err.code, err.serverCode, err.message.includes(wrong) ? 'PASSWORD SHOWN' : 'password not shown');
}
console.log('done');
