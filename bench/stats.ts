import { readFileSync } from 'node:fs';

import { scope, type Tensor } from '../src/torch/index.js';

/** Median of a list of numbers (the figure every benchmark here reports). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** ‖x − y‖ / ‖y‖ over all elements. */
export function relativeL2(x: Tensor, y: Tensor): number {
  return scope(
    () =>
      x
        .sub(y)
        .norm(2, [...x.shape.keys()])
        .item() / y.norm(2, [...y.shape.keys()]).item(),
  );
}

/** Seconds taken by fn, measured with the monotonic clock. */
export function timeIt(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** VmRSS and VmHWM of a process, in bytes (null once it has exited). */
export function processMemory(pid: number | 'self'): { rss: number; hwm: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** `--name value` from a command line: the value after the flag, else the fallback. */
export function flagValue(args: readonly string[], name: string, fallback: string): string;
export function flagValue(args: readonly string[], name: string, fallback?: string): string | undefined;
export function flagValue(args: readonly string[], name: string, fallback?: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? fallback : args[i + 1];
}
