// Starts a TypeScript file as a worker thread under test: Node 20 resolves a
// worker's entry before an --import'ed loader (tsx) has registered its hooks,
// so the entry is a line of JavaScript that registers tsx, then imports it.
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function tsWorker(file: URL, options: WorkerOptions = {}): Worker {
  const source = `
    const { register } = await import('tsx/esm/api');
    register();
    await import(${JSON.stringify(file.href)});
  `;
  return new Worker(source, { ...options, eval: true, type: 'module' } as WorkerOptions);
}
