// Samples the sockets a server holds, from the server's side, by scanning
// /proc/net/tcp while a load runs. Tests no longer use it: they count
// exactly, the server's side at a counting proxy
// (test/fixtures/counting-proxy.ts) and the client's at the connector
// (stats().sockets, LocalSocketTally). The pool benchmark
// (bench/pool-ferretdb.ts) keeps it because it reports the sampler itself:
// the most sockets seen, the sampling pace and what a sample costs, with and
// without it running, against the server directly (no proxy hop in the
// measured path).
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { delay } from '../../test/fixtures/pool-load.js';
import type { TestServer } from '../../test/fixtures/server.js';

// How sockets are counted. The server's side of every connection to it is a
// TCP socket whose *local* port is the server port, so the ESTABLISHED
// entries (state 01) with that local port in /proc/net/tcp (or tcp6 for an
// IPv6 server) are the connections the server holds, whoever opened them:
// client-side sockets have an ephemeral local port, the listener is state
// 0A, and a socket the client has closed is CLOSE_WAIT on the server side.
// It is what `ss -Htn state established '( sport = :PORT )'` prints.
//
// Why /proc and not `ss`, measured on this 2-vCPU VM: neither is cheap. A
// read of /proc/net/tcp costs ~3.3 ms of kernel time whatever it holds (the
// walk over every bucket of the established-socket hash table, sized from
// the 23 GB of RAM), tcp6 as much again even when empty; `ss` costs ~3.7 ms
// a run, nearly all of it process creation (its netlink dump is a fraction
// of a millisecond). /proc needs no child process per sample and can be read
// from a worker thread, so that is what the sampler does, reading only the
// table of the server's address family. It owns no socket, so it may block
// in Atomics.wait between samples; it aims at one sample every 5 ms, start
// to start, and reports its own time (busyMS) since that CPU is taken from
// the load it measures.
//
// A scan is not a snapshot. The table is read a page (27 sockets) at a time,
// the kernel resuming each page by position, and a scan takes milliseconds
// (more when the thread is preempted), so while sockets are being closed and
// opened one scan can list a socket twice, and list a socket closed during
// the scan together with its replacement opened later in the same scan.
// Measured with maxLifetimeMS 50 at maxPoolSize 20: single scans of up to 47
// lines and 30 distinct sockets, back-to-back `ss` runs up to 22-23, while
// the client never held more than 20 sockets (counted at the connector). So a sample is the intersection of two
// consecutive scans A and B, by 4-tuple: a socket seen in both was
// established throughout the interval from the end of A to the start of B
// (a socket never comes back), so all of them were open at one instant.
// That count never exceeds the true number at that instant; it can miss a
// socket that lived for less than one scan interval.

type SocketTarget = Pick<TestServer, 'host' | 'port'>;

/** The /proc tables that list the server's side of its connections: its address family's. */
function tablesFor(host: string): string[] {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return ['/proc/net/tcp'];
  if (host.includes(':')) return ['/proc/net/tcp6'];
  return ['/proc/net/tcp', '/proc/net/tcp6']; // a name: either family
}

/**
 * Server-side ESTABLISHED TCP connections of `server`, from one scan of
 * /proc/net/tcp{,6}: exact when no socket opens or closes meanwhile (see above).
 */
export function countServerSockets(server: SocketTarget): number {
  const keys = new Set<string>();
  for (const file of tablesFor(server.host)) addServerSockets(readFileSync(file, 'latin1'), server.port, keys);
  return keys.size;
}

// Also evaluated as source text by the sampler worker (an eval worker cannot
// import a .ts module), hence self-contained.
/** Adds "localaddr:port remoteaddr:port" of every ESTABLISHED socket whose local port is `port`. */
function addServerSockets(table: string, port: number, keys: Set<string>): void {
  // Line: "  sl: LOCALIP:PORT REMIP:PORT ST ...", hex fields.
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4 || fields[3] !== '01') continue;
    const local = fields[1]!;
    if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) keys.add(`${local} ${fields[2]}`);
  }
}

// Int32 slots shared with the sampler worker.
const STOP = 0;
const CURRENT = 1;
const MAX = 2;
const SCAN_MAX = 3;
const SAMPLES = 4;
const BUSY_US = 5;
const SLOTS = 6;

const SAMPLER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
${addServerSockets.toString()}
const shared = new Int32Array(workerData.buffer);
const { port, files, intervalMS } = workerData;
function raise(slot, n) {
  for (let m = Atomics.load(shared, slot); n > m; m = Atomics.load(shared, slot)) {
    if (Atomics.compareExchange(shared, slot, m, n) === m) break;
  }
}
let previous = new Set();
for (;;) {
  const t0 = performance.now();
  const keys = new Set();
  for (const file of files) addServerSockets(readFileSync(file, 'latin1'), port, keys);
  let both = 0;
  for (const key of keys) if (previous.has(key)) both++;
  previous = keys;
  Atomics.store(shared, ${CURRENT}, both);
  raise(${MAX}, both);
  raise(${SCAN_MAX}, keys.size);
  Atomics.add(shared, ${SAMPLES}, 1);
  const spent = performance.now() - t0;
  Atomics.add(shared, ${BUSY_US}, Math.round(spent * 1000));
  if (Atomics.wait(shared, ${STOP}, 0, Math.max(0, intervalMS - spent)) !== 'timed-out') break;
}
`;

/**
 * Samples the server-side sockets of `server` every `intervalMS` in a worker
 * thread until stop(). A sample counts the sockets seen in two consecutive
 * scans (see above): never more than were open at once.
 */
export class ServerSocketSampler {
  readonly #shared = new Int32Array(new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT));
  readonly #worker: Worker;
  readonly #exited: Promise<void>;

  private constructor(server: SocketTarget, intervalMS: number) {
    const workerData = { buffer: this.#shared.buffer, port: server.port, files: tablesFor(server.host), intervalMS };
    this.#worker = new Worker(SAMPLER_SOURCE, { eval: true, workerData });
    this.#exited = new Promise((resolve, reject) => {
      this.#worker.once('error', reject);
      this.#worker.once('exit', () => resolve());
    });
  }

  /** Resolves once the first sample (two scans) was taken. */
  static async start(server: SocketTarget, intervalMS = 5): Promise<ServerSocketSampler> {
    const sampler = new ServerSocketSampler(server, intervalMS);
    const deadline = performance.now() + 10_000;
    while (sampler.samples < 2) {
      await Promise.race([sampler.#exited.then(() => Promise.reject(new Error('socket sampler exited'))), delay(2)]);
      if (performance.now() > deadline) throw new Error('socket sampler took no sample within 10 s');
    }
    return sampler;
  }

  /** The most sockets open at once according to the samples since start() or the last reset(). */
  get max(): number {
    return Atomics.load(this.#shared, MAX);
  }

  /**
   * The most distinct sockets listed by a single scan: an upper figure that
   * can exceed the true count while sockets are replaced (see above).
   */
  get scanMax(): number {
    return Atomics.load(this.#shared, SCAN_MAX);
  }

  /** The latest sample. */
  get current(): number {
    return Atomics.load(this.#shared, CURRENT);
  }

  /** Samples taken since start() or the last reset(). */
  get samples(): number {
    return Atomics.load(this.#shared, SAMPLES);
  }

  /** Time spent reading and counting since start() or the last reset(), in ms. */
  get busyMS(): number {
    return Atomics.load(this.#shared, BUSY_US) / 1000;
  }

  /** Starts a new measurement window: max, scanMax, samples and busyMS from zero. */
  reset(): void {
    for (const slot of [MAX, SCAN_MAX, SAMPLES, BUSY_US]) Atomics.store(this.#shared, slot, 0);
  }

  async stop(): Promise<void> {
    Atomics.store(this.#shared, STOP, 1);
    Atomics.notify(this.#shared, STOP);
    await this.#exited;
  }
}

/** Polls countServerSockets(server) every 5 ms until `accept(count)`; returns the ms it took, or throws after `timeoutMS`. */
export async function waitForServerSockets(server: SocketTarget, accept: (count: number) => boolean, timeoutMS: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const count = countServerSockets(server);
    if (accept(count)) return performance.now() - started;
    if (performance.now() - started > timeoutMS) {
      throw new Error(`server-side socket count on port ${server.port} still ${count} after ${timeoutMS} ms`);
    }
    await delay(5);
  }
}

