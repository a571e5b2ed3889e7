// Entry point of a shard worker thread, loaded by piscina (one Piscina per
// shard, one thread, atomics: 'disabled'). Its one task starts the shard:
// the op port and the control port arrive with the configuration, and the
// worker serves them until the main thread ends it. See src/worker/.
import { threadId } from 'node:worker_threads';
import { ShardRuntime, type ShardInit } from '../src/worker/shard-runtime.js';

let running: Promise<ShardRuntime> | undefined;

/** Starts the shard; resolves (ending the task) once it serves its ports. */
export default async function startShard(init: ShardInit): Promise<{ threadId: number }> {
  if (running) throw new Error(`shard worker thread ${threadId} was started twice`);
  running = ShardRuntime.start(init);
  await running;
  return { threadId };
}
