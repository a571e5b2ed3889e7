// The HTTP scenario's closed-loop load generator, run as a child process by
// http-load.ts so that its CPU is not the service's or the benchmark's:
// autocannon against one URL per run, each connection sending its next
// request when the last is answered: the service's maximum throughput. (The
// open loop is vegeta's, vegeta.ts: autocannon's overallRate caps each
// connection per one-second window, so a run at 0.8x capacity is bursts at
// full speed, then idle, and a connection still waits for each answer.)
// Besides autocannon's figures it reports its own CPU (process.cpuUsage()
// over the run): it competes with the service for the same cores.
//   parent -> child: { type: 'run', request: LoadRequest }
//   child -> parent: { type: 'ready' } once, then { type: 'result', result: LoadResult } per run.
import autocannon from 'autocannon';

export interface LoadRequest {
  url: string;
  connections: number;
  durationS: number;
  /** Requests per second, a constant arrival rate (vegeta, not this process); absent: closed loop. */
  overallRate?: number;
}

export interface LoadResult {
  /** Successful (2xx) responses per second of the run: a service that answers 500s fast is not fast. */
  requestsPerSecond: number;
  /** The run's length, s. */
  durationS: number;
  responses: number;
  /** Latencies of the 2xx responses (autocannon records no other; vegeta's from each request's intended send time). */
  latencyP50MS: number;
  latencyP99MS: number;
  latencyP999MS: number;
  /** Connection errors and timeouts, and responses other than 2xx. */
  errors: number;
  /** CPU seconds per second the load generator itself used. */
  cores: number;
  /** Open loop only: requests due but not sent by the run's end, and p99 of how late vegeta sent, ms. */
  unsent?: number;
  sendLagP99MS?: number;
}

async function run(request: LoadRequest): Promise<LoadResult> {
  if (request.overallRate !== undefined) throw new Error('the open loop is vegeta\'s (vegeta.ts), not autocannon\'s');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await autocannon({
    url: request.url,
    connections: request.connections,
    duration: request.durationS,
  });
  const wallMS = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    requestsPerSecond: result['2xx'] / result.duration,
    durationS: result.duration,
    responses: result.requests.total,
    latencyP50MS: result.latency.p50,
    latencyP99MS: result.latency.p99,
    latencyP999MS: result.latency.p99_9,
    errors: result.errors + result.non2xx,
    cores: (cpu.user + cpu.system) / 1000 / wallMS,
  };
}

process.on('message', (message: { type: string; request: LoadRequest }) => {
  if (message?.type !== 'run') return;
  run(message.request).then(
    (result) => process.send!({ type: 'result', result }),
    (err: unknown) => process.send!({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready' });
