// A worker thread for the coordinator tests: runs `chains` concurrent
// acquire -> hold -> release loops on one server slot, and records in a
// shared counter block how many permits each worker holds, so that every
// acquirer can check the sum against the limit.
//
// counters: [0..maxWorkers) permits held per worker, then MAX_SEEN, COMPLETED.
import { parentPort, workerData } from 'node:worker_threads';
import { WorkerCoordinator } from '../../src/coordinator/worker-coordinator.js';

interface Job {
  buffer: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  workerId: number;
  maxWorkers: number;
  slot: number;
  chains: number;
  cycles: number;
  /** Hold each permit this long (ms); Infinity: acquire once per chain and never release. */
  holdMS: number;
}

const job = workerData as Job;
const counters = new Int32Array(job.counters);
const MAX_SEEN = job.maxWorkers;
const COMPLETED = job.maxWorkers + 1;
const workerSide = new WorkerCoordinator(job.buffer, job.workerId);
const permits = workerSide.permits(job.slot, () => false);
let remaining = job.cycles;
let running = job.chains;

function held(): number {
  let sum = 0;
  for (let w = 0; w < job.maxWorkers; w++) sum += Atomics.load(counters, w);
  return sum;
}

function cycle(): void {
  // Each chain claims a cycle before requesting, so exactly `cycles` run.
  if (remaining <= 0) {
    if (--running === 0) {
      workerSide.close();
      parentPort!.postMessage({ type: 'done' });
    }
    return;
  }
  remaining--;
  permits.request(() => {
    Atomics.add(counters, job.workerId, 1);
    const now = held();
    for (let max = Atomics.load(counters, MAX_SEEN); now > max; max = Atomics.load(counters, MAX_SEEN)) {
      if (Atomics.compareExchange(counters, MAX_SEEN, max, now) === max) break;
    }
    parentPort!.postMessage({ type: 'acquired', at: performance.timeOrigin + performance.now() });
    if (job.holdMS === Infinity) return;
    setTimeout(() => {
      Atomics.sub(counters, job.workerId, 1);
      permits.release();
      Atomics.add(counters, COMPLETED, 1);
      cycle();
    }, Math.random() * job.holdMS);
  });
}

for (let i = 0; i < job.chains; i++) cycle();
