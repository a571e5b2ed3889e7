// Starts the canned-reply wire server (canned-server-child.ts) in a child
// process: fixed replies to hello, find and insert, so that a benchmark
// against it measures the driver's own cost, not a server's, and the
// server's CPU is not the measured main thread's.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface CannedServer {
  uri: string;
  host: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./canned-server-child.ts', import.meta.url));

/** `blackHole`: answer the handshake only, never an operation (canned-server-child.ts). */
export async function startCannedServer(timeoutMS = 30_000, options: { blackHole?: boolean } = {}): Promise<CannedServer> {
  const child = fork(CHILD, options.blackHole ? ['--black-hole'] : [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`canned server did not start within ${timeoutMS} ms`));
    }, timeoutMS);
    child.once('message', (message: { port: number }) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`canned server exited with code ${code} before listening`));
    });
  });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.disconnect();
    });
  return { uri: `mongodb://127.0.0.1:${port}/`, host: '127.0.0.1', port, pid: child.pid!, stop };
}
