// A time limit on a promise that cannot be cancelled (a Router call, a
// worker's start task, a control-plane call): when it expires the caller
// gets `onTimeout()`'s error at once, and a value that arrives afterwards is
// handed to `onLate` (to give back a reservation that nobody is waiting for
// any more) instead of being lost. The driver's one such helper: the session,
// dial(), WorkerHandle and ControlClient use it. It sits below every layer
// (src/util/), so that worker/ need not import session/.

/** `promise`, or `onTimeout()`'s error once `ms` have passed first; no limit when `ms` is not above 0. The timer is cleared when `promise` settles. */
export function deadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error, onLate?: (value: T) => void): Promise<T> {
  if (!(ms > 0)) return promise;
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(onTimeout());
    }, ms);
    promise.then(
      (value) => {
        if (expired) onLate?.(value);
        else {
          clearTimeout(timer);
          resolve(value);
        }
      },
      (err: unknown) => {
        if (expired) return;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
