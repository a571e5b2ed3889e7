#!/usr/bin/env node
// Builds (once, cached) and runs Toxiproxy v2.5.0's API server, wrapped by
// test/toxiproxy (a loopback port of its own, printed on stdout), for the
// network-fault tests and `npm run chaos`.
//
//   node scripts/toxiproxy.mjs --build-only     build if the cache is stale
//   node scripts/toxiproxy.mjs [--port N]       run one until killed; prints its API URL
//
// The binary is cached in .cache/toxiproxy (scripts/go-binary.mjs).
import { goBinary, isEntryPoint, runCommand } from './go-binary.mjs';

const toxiproxy = goBinary({
  name: 'toxiproxy',
  source: 'test/toxiproxy',
  describe: 'Toxiproxy v2.5.0 (first use: downloads modules, ~30 s)',
});

export const { binaryPath, isBuilt, ensureBuilt } = toxiproxy;

if (isEntryPoint(import.meta.url)) runCommand(toxiproxy, process.argv.slice(2));
