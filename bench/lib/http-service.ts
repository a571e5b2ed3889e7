// Runs the HTTP service example (examples/http-service/service.ts) in a
// child process, as its users would run it, with an IPC channel to ask it
// for its own measurements (service-monitor.ts): the HTTP scenario
// (scenarios/http.ts) and its test drive it from here.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { MonitorReply, MonitorRequest, ServiceReport } from '../../examples/http-service/service-monitor.js';

const SERVICE = fileURLToPath(new URL('../../examples/http-service/service.ts', import.meta.url));

export interface ServiceProcess {
  port: number;
  /** http://127.0.0.1:port */
  url: string;
  pid: number;
  /** What the service printed on stdout so far. */
  stdout(): string;
  /** Starts a measurement window in the service. */
  measure(): void;
  /** The service's measurements since measure(). */
  report(): Promise<ServiceReport>;
  /** Resolves once the service handles no /page request (those a finished load run left behind). */
  drained(): Promise<void>;
  /** SIGTERM, then its exit code (SIGKILL and null after `timeoutMS`). */
  stop(timeoutMS?: number): Promise<number | null>;
}

export async function startService(args: string[], timeoutMS = 60_000): Promise<ServiceProcess> {
  const child = fork(SERVICE, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (out += text));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the HTTP service (${args.join(' ')}) did not listen within ${timeoutMS} ms`));
    }, timeoutMS);
    const onMessage = (message: { type?: string; port?: number }) => {
      if (message?.type !== 'listening') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message.port!);
    };
    child.on('message', onMessage);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the HTTP service (${args.join(' ')}) exited with code ${code} before listening`));
    });
  });
  const send = (request: MonitorRequest): void => {
    child.send(request);
  };
  /** Sends `request` and resolves with the first reply of type `type`. */
  const ask = <T extends MonitorReply['type']>(request: MonitorRequest, type: T): Promise<Extract<MonitorReply, { type: T }>> =>
    new Promise((resolve, reject) => {
      const onMessage = (message: MonitorReply) => {
        if (message?.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message as Extract<MonitorReply, { type: T }>);
      };
      const onExit = () => {
        child.off('message', onMessage);
        reject(new Error(`the HTTP service exited before it answered ${request.type}`));
      };
      if (child.exitCode !== null || child.signalCode !== null) return onExit();
      child.on('message', onMessage);
      child.once('exit', onExit);
      send(request);
    });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stdout: () => out,
    measure: () => send({ type: 'measure' }),
    report: async () => (await ask({ type: 'report' }, 'report')).report,
    drained: async () => {
      await ask({ type: 'drain' }, 'drained');
    },
    stop: async (stopTimeoutMS = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMS);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
