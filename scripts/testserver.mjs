#!/usr/bin/env node
// Builds (once, cached) and runs the embedded FerretDB test server of test/server.
//
//   node scripts/testserver.mjs --build-only     build if the cache is stale
//   node scripts/testserver.mjs [--port N]       run one until killed; prints its URI
//       [--tls-cert FILE --tls-key FILE [--tls-ca FILE]] [--user NAME --password PW]
//   node scripts/testserver.mjs gencerts --dir D write the TLS test certificates
//
// Arguments go to the binary as given (test/server/main.go lists its flags).
// The binary is cached in .cache/testserver keyed by a hash of the Go sources
// and the Go version, so a changed go.mod or toolchain rebuilds it
// (scripts/go-binary.mjs).
import { goBinary, isEntryPoint, runCommand } from './go-binary.mjs';

const testServer = goBinary({
  name: 'testserver',
  source: 'test/server',
  describe: 'FerretDB v1.24 test server (first use: downloads modules, ~2-3 min on 2 cores)',
});

export const { binaryPath, isBuilt, ensureBuilt } = testServer;

if (isEntryPoint(import.meta.url)) runCommand(testServer, process.argv.slice(2));
