// A worker entry for tests: the real one (workers/worker.ts), except
// that the first incarnation to find the marker file named by
// MGO_TEST_OOM_MARKER deletes it and, a moment after starting, allocates
// until its resourceLimits heap is exhausted. Its replacement finds no
// marker and serves normally.
import { existsSync, unlinkSync } from 'node:fs';
import startWorker from '../../../workers/worker.js';
import type { WorkerInit, WorkerStarted } from '../../../src/worker/protocol.js';

export default async function startLeakyWorker(init: WorkerInit): Promise<WorkerStarted> {
  const started = await startWorker(init);
  const marker = process.env.MGO_TEST_OOM_MARKER;
  if (marker && init.config.workerId === 0 && existsSync(marker)) {
    unlinkSync(marker);
    const hoard: number[][] = [];
    const leak = () => {
      for (let i = 0; i < 200; i++) hoard.push(new Array(10_000).fill(i));
      setImmediate(leak);
    };
    setTimeout(leak, Number(process.env.MGO_TEST_OOM_AFTER_MS ?? 300));
  }
  return started;
}
