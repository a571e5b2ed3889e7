// Runs an ES module script in a child Node process (tsx loader, project
// root as cwd), for tests that a process using the driver exits by itself.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ChildRun {
  code: number | null;
  /** Set when the child had to be killed: it did not exit by itself within the timeout. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From the child's first output to its exit: how long it lingered after reporting. */
  lingerMS: number;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

export async function runChildScript(script: string, options: { env?: Record<string, string>; timeoutMS?: number } = {}): Promise<ChildRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let reportedAt = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    reportedAt ||= performance.now();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMS ?? 30_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  clearTimeout(killer);
  return { code, signal, stdout, stderr, lingerMS: performance.now() - (reportedAt || performance.now()) };
}
