// The HTTP load generator, run as a child process by http-load.ts so that
// its CPU is not the service's or the benchmark's: autocannon against one
// URL per run, closed loop (each connection sends its next request when
// the last is answered: the service's maximum throughput) or open loop at
// a fixed overall rate (latency under equal load). Open-loop latencies are
// autocannon's raw ones, from each request's send to its response:
// autocannon 9's coordinated-omission correction records a response of L ms
// with an expected interval of ceil(1 / per-connection rate) = 1 ms, i.e.
// also as L - 1, L - 2, ... 1 ms, latencies no request had (p50 21 ms from a
// server answering after 40 ms), so it is off. A connection still waits for
// each answer before its next request: a service that falls behind is
// offered less (the scenario's arrival_rate shows it). Besides autocannon's figures
// it reports its own CPU (process.cpuUsage() over the run): it competes
// with the service for the same cores.
//   parent -> child: { type: 'run', request: LoadRequest }
//   child -> parent: { type: 'ready' } once, then { type: 'result', result: LoadResult } per run.
import autocannon from 'autocannon';

export interface LoadRequest {
  url: string;
  connections: number;
  durationS: number;
  /** Requests per second from all connections together; absent: closed loop. */
  overallRate?: number;
}

export interface LoadResult {
  /** Successful (2xx) responses per second of the run: a service that answers 500s fast is not fast. */
  requestsPerSecond: number;
  /**
   * The run's length, s. (Not its requests sent: autocannon's
   * requests.sent starts each rate-limited connection at its per-second
   * rate, one second's worth too many in all; the service counts what
   * arrives instead.)
   */
  durationS: number;
  responses: number;
  /** Latencies of the 2xx responses (autocannon records no other). */
  latencyP50MS: number;
  latencyP99MS: number;
  latencyP999MS: number;
  /** Connection errors and timeouts, and responses other than 2xx. */
  errors: number;
  /** CPU seconds per second the load generator itself used. */
  cores: number;
}

async function run(request: LoadRequest): Promise<LoadResult> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await autocannon({
    url: request.url,
    connections: request.connections,
    duration: request.durationS,
    ...(request.overallRate !== undefined ? { overallRate: request.overallRate, ignoreCoordinatedOmission: true } : {}),
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
