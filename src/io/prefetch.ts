/**
 * A promise started ahead of its use (a prefetch), marked as handled: a rejection before it is
 * awaited would otherwise be an unhandled one (Node's warning, the test runner's failure);
 * awaiting it still throws.
 */
export function prefetched<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
