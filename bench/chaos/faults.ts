// The faults of the chaos scenarios (issue 13, item 1): Toxiproxy's toxics
// between the driver and FerretDB, and FerretDB killed with SIGKILL and
// started again on the same port and data directory. Each is applied while
// the load runs and removed again; the attributes are chosen against the
// driver timeouts of scenario.ts (socketTimeoutMS 3 s): latency, bandwidth,
// slicer and slow_close slow the traffic without failing it, the others
// break connections.
import type { TestServer } from '../../test/fixtures/server.js';
import type { ToxicSpec, ToxiproxyProxy } from '../../test/fixtures/toxiproxy.js';

export interface FaultTarget {
  /** The Toxiproxy proxy every connection of the run goes through. */
  proxy: ToxiproxyProxy;
  /** The FerretDB behind it (started with a data directory, so it can restart). */
  server: TestServer;
}

export interface Fault {
  name: string;
  /** What the fault does, for the report. */
  description: string;
  apply(target: FaultTarget): Promise<void>;
  /** Resolves once the fault is gone (toxics removed, the server accepting again). */
  remove(target: FaultTarget): Promise<void>;
}

/** A fault made of toxics, added together and removed together. */
function toxics(name: string, description: string, specs: ToxicSpec[]): Fault {
  return {
    name,
    description,
    async apply({ proxy }) {
      for (const spec of specs) await proxy.addToxic(spec);
    },
    remove: ({ proxy }) => proxy.removeToxics(),
  };
}

export const NETWORK_FAULTS: readonly Fault[] = [
  toxics('latency', '150 ms ± 100 ms of latency each way', [
    { type: 'latency', stream: 'upstream', attributes: { latency: 150, jitter: 100 } },
    { type: 'latency', stream: 'downstream', attributes: { latency: 150, jitter: 100 } },
  ]),
  toxics('bandwidth', '4 KB/s each way, per connection', [
    { type: 'bandwidth', stream: 'upstream', attributes: { rate: 4 } },
    { type: 'bandwidth', stream: 'downstream', attributes: { rate: 4 } },
  ]),
  // timeout 0: nothing passes and the connections stay open until the toxic
  // is removed; only the driver's timeouts end its operations.
  toxics('black hole', 'nothing gets through to the server, connections stay open (timeout toxic, 0 ms)', [
    { type: 'timeout', stream: 'upstream', attributes: { timeout: 0 } },
  ]),
  toxics('reset peer', 'every connection reset (TCP RST) as soon as the driver sends on it (reset_peer, 0 ms)', [
    { type: 'reset_peer', stream: 'upstream', attributes: { timeout: 0 } },
  ]),
  toxics('slow close', 'the server side of a closed connection lingers 2 s (slow_close)', [
    { type: 'slow_close', stream: 'upstream', attributes: { delay: 2_000 } },
    { type: 'slow_close', stream: 'downstream', attributes: { delay: 2_000 } },
  ]),
  toxics('slicer', 'every chunk cut into pieces of 1-15 bytes, 100 µs apart, each way', [
    { type: 'slicer', stream: 'upstream', attributes: { average_size: 8, size_variation: 7, delay: 100 } },
    { type: 'slicer', stream: 'downstream', attributes: { average_size: 8, size_variation: 7, delay: 100 } },
  ]),
  // A reply cut short is a partial message followed by EOF.
  toxics('limit data', 'each connection closed after 2,000 bytes from the server, mid-reply (limit_data)', [
    { type: 'limit_data', stream: 'downstream', attributes: { bytes: 2_000 } },
  ]),
];

export const SERVER_RESTART: Fault = {
  name: 'server restart',
  description: 'FerretDB killed with SIGKILL, started again on the same port and data directory',
  apply: ({ server }) => server.kill(),
  remove: ({ server }) => server.restart(),
};

/** The control of the report: the same load and phases with nothing applied (what the load costs without a fault). */
export const NO_FAULT: Fault = {
  name: 'none',
  description: 'no fault: the same load and phases, nothing applied (the control)',
  apply: async () => {},
  remove: async () => {},
};

export const ALL_FAULTS: readonly Fault[] = [NO_FAULT, ...NETWORK_FAULTS, SERVER_RESTART];
