// Entry point of a worker thread, loaded by piscina (one Piscina per
// worker, one thread, atomics: 'disabled'). Its one task starts the worker:
// the op port and the control port arrive with the configuration, and the
// worker serves them until the main thread ends it. See src/worker/.
import { threadId } from 'node:worker_threads';
import { WorkerRuntime, type WorkerInit } from '../src/worker/worker-runtime.js';

let running: Promise<WorkerRuntime> | undefined;

/** Starts the worker; resolves (ending the task) once it serves its ports. */
export default async function startWorker(init: WorkerInit): Promise<{ threadId: number }> {
  if (running) throw new Error(`worker thread ${threadId} was started twice`);
  running = WorkerRuntime.start(init);
  await running;
  return { threadId };
}
