// Runs a loopback server script (TypeScript, under tsx) in a child process,
// so that its CPU is not the measured main thread's. The script listens on
// 127.0.0.1, sends { port } over IPC, and exits when its parent disconnects.
import { fork } from 'node:child_process';

export interface ChildServer {
  uri: string;
  host: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function startChildServer(script: string, args: string[], what: string, timeoutMS = 30_000): Promise<ChildServer> {
  const child = fork(script, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not start within ${timeoutMS} ms`));
    }, timeoutMS);
    child.once('message', (message: { port: number }) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with code ${code} before listening`));
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
