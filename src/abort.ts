// Waiting on a promise that an AbortSignal may cut short.

/**
 * p's outcome, unless signal aborts first: then a rejection with failure(signal) (default: the signal's
 * reason). p itself is not cancelled; the listener is removed once either side settles.
 */
export function raceAbort<T>(
  p: Promise<T>,
  signal: AbortSignal,
  failure: (signal: AbortSignal) => unknown = (s) => s.reason,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(failure(signal));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
