// Starts the canned-reply wire server (canned-server-child.ts) in a child
// process: fixed replies to hello, find and insert, so that a benchmark
// against it measures the driver's own cost, not a server's, and the
// server's CPU is not the measured main thread's.
import { fileURLToPath } from 'node:url';
import { startChildServer, type ChildServer } from './child-server.js';

export type CannedServer = ChildServer;

const CHILD = fileURLToPath(new URL('./canned-server-child.ts', import.meta.url));

/** `blackHole`: answer the handshake only, never an operation (canned-server-child.ts). */
export function startCannedServer(timeoutMS = 30_000, options: { blackHole?: boolean } = {}): Promise<CannedServer> {
  return startChildServer(CHILD, options.blackHole ? ['--black-hole'] : [], 'canned server', timeoutMS);
}
