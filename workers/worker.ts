// Entry point of a worker thread, loaded by piscina (one Piscina per
// worker, one thread, atomics: 'disabled'). Its one task starts the worker:
// the op port and the control port arrive with the configuration, and the
// worker serves them until the main thread ends it. What the task carries is
// specified in src/worker/protocol.ts.
import { threadId } from 'node:worker_threads';
import type { WorkerInit, WorkerStarted } from '../src/worker/protocol.js';
import { WorkerRuntime } from '../src/worker/worker-runtime.js';

let running: Promise<WorkerRuntime> | undefined;

/** Starts the worker; resolves (ending the task) once it serves its ports. */
export default async function startWorker(init: WorkerInit): Promise<WorkerStarted> {
  if (running) throw new Error(`worker thread ${threadId} was started twice`);
  running = WorkerRuntime.start(init);
  await running;
  return { threadId };
}
