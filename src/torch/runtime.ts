// What the engine is running on: libtorch version, devices, threads, BLAS, attention kernel.
import { readFileSync, realpathSync } from 'node:fs';

import { OptionError } from '../errors.js';
import { hasNativeAttention } from './functional.js';
import { native, type MemoryStats } from './native.js';
import { hasFastBf16 } from './cpu_features.js';

export interface EngineInfo {
  libtorchVersion: string;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  intraOpThreads: number;
  interOpThreads: number;
  bf16Supported: boolean;
  /** bfloat16 matmuls run fast here (AVX-512 BF16 or AMX): training in bf16-mixed pays. */
  bf16Fast: boolean;
  nativeAttention: boolean;
  /** The BLAS libraries mapped into the process, and which kind is live. */
  blas: string[];
  blasKind: BlasKind;
  /** OpenBLAS's kernel set ('SkylakeX', 'Haswell'; 'Prescott' is its generic, slow one), null without OpenBLAS. */
  blasCore: string | null;
  mkldnn: boolean;
  cpuCapability: string | null;
}

export type BlasKind = 'openblas' | 'mkl' | 'reference' | 'none mapped';

/** Which BLAS the mapped libraries are: the reference BLAS makes matmuls ~60x slower. */
export function blasKindOf(libraries: readonly string[]): BlasKind {
  if (libraries.some((file) => /openblas/i.test(file))) return 'openblas';
  if (libraries.some((file) => /mkl/i.test(file))) return 'mkl';
  return libraries.length ? 'reference' : 'none mapped';
}

/** The BLAS libraries mapped into this process, by their real file names. */
export function loadedBlas(): string[] {
  const found = new Set<string>();
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const file = line.slice(line.indexOf('/'));
    if (line.includes('/') && /blas|mkl_rt|libmkl/i.test(file)) {
      try {
        found.add(realpathSync(file));
      } catch {
        found.add(file);
      }
    }
  }
  return [...found];
}

let cached: EngineInfo | undefined;

export function engineInfo(): EngineInfo {
  if (cached) return cached;
  const info = native.info();
  const capability = /CPU capability usage: (\S+)/.exec(info.config)?.[1] ?? null;
  const blas = loadedBlas();
  cached = {
    libtorchVersion: info.version,
    cudaAvailable: info.cuda,
    cudaDeviceCount: info.cudaDeviceCount,
    intraOpThreads: info.numThreads,
    interOpThreads: info.numInteropThreads,
    bf16Supported: bf16Works(),
    bf16Fast: hasFastBf16(),
    nativeAttention: hasNativeAttention(),
    blas,
    blasKind: blasKindOf(blas),
    blasCore: info.blasCore || null,
    mkldnn: info.mkldnn,
    cpuCapability: capability,
  };
  return cached;
}

/** bfloat16 matmul runs on CPU and gives the right answer (2x2 of exactly representable values). */
function bf16Works(): boolean {
  try {
    const a = native.fromBytes(new Uint16Array([0x3f80, 0x4000, 0x4040, 0x4080]), [2, 2], 15); // 1 2 3 4
    const id = native.findOp('aten::mm', '');
    const product = native.callOp(id, a, a) as ReturnType<typeof native.fromBytes>;
    const bits = new Uint16Array(native.toBytes(product));
    a.dispose();
    product.dispose();
    // [[7, 10], [15, 22]] in bfloat16
    return bits[0] === 0x40e0 && bits[1] === 0x4120 && bits[2] === 0x4170 && bits[3] === 0x41b0;
  } catch {
    return false;
  }
}

export function setNumThreads(n: number): void {
  native.setNumThreads(n);
  cached = undefined;
}

export function cudaIsAvailable(): boolean {
  return native.info().cuda;
}

/** A device name this libtorch can use ('cpu', 'cuda', 'cuda:N'), or an error saying why not. */
export function checkDevice(device: string): string {
  const m = /^(cpu|cuda)(?::(\d+))?$/.exec(device);
  if (!m || (m[1] === 'cpu' && m[2] !== undefined))
    throw new OptionError('device', `'${device}' is not one of cpu, cuda, cuda:N`);
  if (m[1] === 'cpu') return device;
  const info = native.info();
  if (!info.cuda)
    throw new OptionError(
      'device',
      `'${device}': this libtorch (${info.version}) has no CUDA; build the addon against a CUDA libtorch (LIBTORCH=/path/to/torch npm run setup)`,
    );
  const index = Number(m[2] ?? 0);
  if (index >= info.cudaDeviceCount)
    throw new OptionError('device', `'${device}': only ${info.cudaDeviceCount} CUDA device(s) are visible`);
  return device;
}

/** Waits for queued work on a device (GPU timing); no-op on CPU. */
export function synchronize(device = 'cpu'): void {
  native.synchronize(device);
}

/**
 * Lets the event loop run once. Node-API runs the finalisers of garbage-collected tensor wrappers
 * from the loop's check phase, so a loop that only ever awaits settled promises keeps every
 * wrapper it made (seen: ~0.7 KB per op, ~0.3 MB per step of the tiny training config). Long loops await this
 * once per iteration.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** CPU tensor memory: live and peak bytes, and the allocator's cache of freed blocks. */
export function memoryStats(): MemoryStats {
  return native.memoryStats();
}

/** Starts a new peak measurement from the current live bytes. */
export function resetPeakMemory(): void {
  native.resetPeakMemory();
}

/** Returns the allocator's cached free blocks to the system. */
export function emptyCache(): void {
  native.emptyCache();
}
