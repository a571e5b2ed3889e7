// Starts the embedded FerretDB test server for one integration test file, on
// a port the OS picks on 127.0.0.1, and stops it afterwards. MONGODB_URI
// points the tests at another server instead (it must be on loopback).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
// @ts-expect-error: plain ESM script without type declarations
import { ensureBuilt } from '../../scripts/testserver.mjs';

export interface TestServer {
  /** mongodb:// URI of the server, without options. */
  uri: string;
  /** host:port */
  address: string;
  host: string;
  port: number;
  /** Server-side TCP port, for counting established sockets with `ss`. */
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 60_000;

export async function startTestServer(): Promise<TestServer> {
  const external = process.env.MONGODB_URI;
  if (external) return externalServer(external);

  const binary: string = await ensureBuilt();
  const child = spawn(binary, ['--port', '0', '--exit-on-stdin-eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const uri = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`test server did not start within ${STARTUP_TIMEOUT_MS} ms: ${stderr}`));
    }, STARTUP_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      lines.close();
      resolve(line.trim());
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`test server exited with code ${code} before starting: ${stderr}`));
    });
  });
  const { host, port } = parseHostPort(uri);
  return { uri, address: `${host}:${port}`, host, port, stop: () => stopChild(child) };
}

function externalServer(uri: string): TestServer {
  const { host, port } = parseHostPort(uri);
  if (!/^127\.|^localhost$|^\[::1\]$|^::1$/.test(host)) {
    throw new Error(`MONGODB_URI must point at a loopback address, got host ${host}`);
  }
  return { uri, address: `${host}:${port}`, host, port, stop: async () => {} };
}

function parseHostPort(uri: string): { host: string; port: number } {
  const match = /^mongodb:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/,?]+)(?::(\d+))?/.exec(uri);
  if (!match) throw new Error(`cannot read host and port from test server URI`);
  return { host: match[1]!, port: Number(match[2] ?? 27017) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
    child.stdin?.end();
  });
}
