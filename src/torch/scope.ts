// Tensor lifetimes: every tensor created inside `scope(fn)` is released when fn returns, except
// the tensors fn returns (found in arrays and plain objects), which move to the enclosing scope.
export interface Disposable {
  dispose(): void;
}

const stack: Set<Disposable>[] = [];

/** Called by every new tensor: it belongs to the innermost open scope, if any. */
export function track(item: Disposable): void {
  stack[stack.length - 1]?.add(item);
}

/** Called on dispose: the scope no longer needs to hold it. */
export function untrack(item: Disposable): void {
  stack[stack.length - 1]?.delete(item);
}

/** Takes a tensor out of scope management: it lives until disposed (or collected). */
export function keep<T extends Disposable>(item: T): T {
  for (const scope of stack) scope.delete(item);
  return item;
}

function collect(value: unknown, into: Set<unknown>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    for (const item of value) collect(item, into, seen);
    return;
  }
  if (value instanceof Map) {
    for (const item of value.values()) collect(item, into, seen);
    return;
  }
  into.add(value);
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    for (const item of Object.values(value)) collect(item, into, seen);
  }
}

export function scope<T>(fn: () => T): T {
  const own = new Set<Disposable>();
  stack.push(own);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new TypeError('scope() takes a synchronous function');
  } catch (error) {
    stack.pop();
    for (const item of own) item.dispose();
    throw error;
  }
  stack.pop();
  const kept = new Set<unknown>();
  collect(result, kept, new Set());
  const parent = stack[stack.length - 1];
  for (const item of own) {
    if (kept.has(item)) parent?.add(item);
    else item.dispose();
  }
  return result;
}

/**
 * The tensors of `value` (in arrays, maps and plain objects, as scope() finds them) as one
 * disposable: `using held = owned({ a, b })` releases them all at the end of the block.
 */
export function owned<T>(value: T): T & { [Symbol.dispose](): void } {
  // read when the block ends: an array filled inside the block is released whole
  const release = (): void => {
    const found = new Set<unknown>();
    collect(value, found, new Set());
    for (const item of found)
      if (item !== value && typeof (item as Disposable).dispose === 'function') (item as Disposable).dispose();
  };
  return Object.assign(value as object, { [Symbol.dispose]: release }) as T & { [Symbol.dispose](): void };
}

/**
 * out = f(t), releasing t unless f returned it: for chains that replace a value step by step.
 * Only in memory hot paths (a block's activations freed as soon as the next exists); elsewhere
 * scope() or `using`.
 */
export function consume<T extends Disposable>(t: T, f: (t: T) => T): T {
  const out = f(t);
  if (out !== t) t.dispose();
  return out;
}
