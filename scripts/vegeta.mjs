#!/usr/bin/env node
// Builds (once, cached) vegeta v12.13.0, the HTTP load generator of the
// benchmark's open-loop runs (`npm run bench -- --only http`): a constant
// arrival rate that does not wait for the service's answers. bench/vegeta's
// go.mod pins it as a `tool` (Go 1.24+); nothing of ours is compiled in.
//
//   node scripts/vegeta.mjs --build-only     build if the cache is stale
//   node scripts/vegeta.mjs ARGS...          run vegeta with ARGS (e.g. attack -h)
//
// The binary is cached in .cache/vegeta (scripts/go-binary.mjs).
import { goBinary, isEntryPoint, runCommand } from './go-binary.mjs';

const vegeta = goBinary({
  name: 'vegeta',
  source: 'bench/vegeta',
  pkg: 'github.com/tsenart/vegeta/v12',
  describe: 'vegeta v12.13.0 (first use: downloads modules; ~30 s with an empty Go build cache)',
});

export const { binaryPath, isBuilt, ensureBuilt } = vegeta;

if (isEntryPoint(import.meta.url)) runCommand(vegeta, process.argv.slice(2));
