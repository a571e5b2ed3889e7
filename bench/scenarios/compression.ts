// Scenario 7: wire compression off and on. Every variant reaches the
// canned-reply server through the compressing proxy (a child process,
// test/fixtures/compressing-proxy.ts), with compression off as with it on,
// so the proxy's hop is in every figure and only what the driver does
// differs (with compression on, the proxy also compresses the replies, as a
// server would). `concurrency` loops find one 16 KB document (its reply
// comes compressed) and insert one (the request goes compressed). Reported
// per variant and compressor: ops/s, the main thread's time per operation,
// and p99 event-loop delay; with workers the compressing is the workers'.
import { fileURLToPath } from 'node:url';
import { ObjectId } from 'bson';
import { EVENT_LOOP_DELAY_P99, MAIN_CPU_US_PER_OP, MAIN_US_PER_OP, OPS_PER_SECOND, runCells, type Cell } from '../lib/cells.js';
import { startChildServer } from '../lib/child-server.js';
import { openClient, type BenchClient, type Variant } from '../lib/clients.js';
import { benchDocs } from '../lib/docs.js';
import type { Results } from '../lib/results.js';

export type CompressionSetting = 'off' | 'snappy' | 'zlib' | 'zstd';

export interface CompressionConfig {
  reps: number;
  durationMS: number;
  warmupMS: number;
  concurrency: number;
  settings: CompressionSetting[];
}

export const compressionScenario = (op: 'find' | 'insert', setting: CompressionSetting): string => `compression ${setting}: ${op} 16kb via proxy`;

const PROXY_CHILD = fileURLToPath(new URL('../lib/compressing-proxy-child.ts', import.meta.url));

export async function runCompression(
  variants: Variant[],
  upstream: { host: string; port: number },
  poolLimit: number,
  config: CompressionConfig,
  results: Results,
): Promise<void> {
  const proxy = await startChildServer(PROXY_CHILD, [upstream.host, String(upstream.port)], 'compressing proxy');
  const doc = { _id: new ObjectId(), ...benchDocs()['16kb'] };
  const window = { concurrency: config.concurrency, durationMS: config.durationMS };
  try {
    for (const setting of config.settings) {
      // The official driver takes zstd from @mongodb-js/zstd, which downloads its binary from GitHub on install and so is not installed here.
      const eligible = variants.filter((v) => v.workers !== null || setting !== 'zstd');
      const clients: BenchClient[] = [];
      try {
        for (const v of eligible) clients.push(await openClient(v, proxy.uri, { poolLimit, ...(setting === 'off' ? {} : { compressors: [setting] }) }));
        const cells: Cell[] = [
          { scenario: compressionScenario('find', setting), op: (c) => () => c.findOne('bench', '16kb', {}), window },
          { scenario: compressionScenario('insert', setting), op: (c) => () => c.insertOne('bench', '16kb', doc), window },
        ];
        await runCells(clients, cells, config.reps, config.warmupMS, [OPS_PER_SECOND, MAIN_US_PER_OP, MAIN_CPU_US_PER_OP, EVENT_LOOP_DELAY_P99], results);
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
    }
  } finally {
    await proxy.stop();
  }
}
