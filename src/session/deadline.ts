// A time limit on a promise the session cannot cancel (a Router call): when
// it expires the caller gets `onTimeout()`'s error at once, and a value that
// arrives afterwards is handed to `onLate` (to give back a reservation that
// nobody is waiting for any more) instead of being lost.

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
