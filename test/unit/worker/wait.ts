// Polling for the worker tests: conditions that another thread makes true.

/** Resolves with the ms it took once `condition()` holds; throws after `timeoutMS`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMS: number): Promise<number> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > timeoutMS) throw new Error(`${what}: not within ${timeoutMS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return performance.now() - started;
}
