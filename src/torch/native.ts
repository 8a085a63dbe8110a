// Loads the libtorch addon (native/) and declares what it exports.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import { cpuFlags, openblasCoretypeFor } from './cpu_features.js';

export interface NativeTensor {
  dispose(): void;
  disposed(): boolean;
  shape(): number[];
  dtype(): number;
  device(): string;
  numel(): number;
}

export interface NativeGenerator {
  getState(): NativeTensor;
  setState(state: NativeTensor): void;
  initialSeed(): bigint;
}

export interface NativeScriptModule {
  forward(args: unknown[], kwargs: Record<string, unknown>): NativeTensor | NativeTensor[];
  dispose(): void;
}

export interface NativeInfo {
  version: string;
  cuda: boolean;
  cudaDeviceCount: number;
  numThreads: number;
  numInteropThreads: number;
  mkldnn: boolean;
  mkl: boolean;
  openmp: boolean;
  config: string;
  parallelInfo: string;
  /** OpenBLAS's kernel set (openblas_get_corename), '' where OpenBLAS is not loaded. */
  blasCore: string;
}

export interface MemoryStats {
  /** Bytes in live CPU tensors, now and at the peak since the last reset. */
  allocatedBytes: number;
  peakAllocatedBytes: number;
  /** Freed blocks kept for reuse, and the cap on them (WORLDWANDER_CPU_CACHE_MB). */
  cachedBytes: number;
  cacheLimitBytes: number;
}

export interface Native {
  Tensor: new () => NativeTensor;
  Generator: new (seed: number | bigint) => NativeGenerator;
  ScriptModule: new (file: string, device: string) => NativeScriptModule;
  findOp(name: string, overload: string): number;
  hasOp(name: string, overload: string): boolean;
  opSchema(id: number): string;
  callOp(id: number, ...args: unknown[]): unknown;
  fromBytes(bytes: ArrayBufferView | ArrayBuffer, shape: readonly number[], dtype: number): NativeTensor;
  toBytes(tensor: NativeTensor): ArrayBuffer;
  readFile(file: string, offset: number, shape: readonly number[], dtype: number): NativeTensor;
  e4m3fnEncodeRows(weight: NativeTensor, scale: NativeTensor): NativeTensor;
  e4m3fnWidenRows(bytes: NativeTensor, scale: NativeTensor, values: NativeTensor, dtype: number): NativeTensor;
  item(tensor: NativeTensor): number | boolean;
  backward(
    outputs: NativeTensor[],
    gradients: (NativeTensor | null)[] | null,
    retainGraph: boolean,
    inputs: NativeTensor[] | null,
  ): void;
  grad(tensor: NativeTensor): NativeTensor | null;
  setGrad(tensor: NativeTensor, gradient: NativeTensor | null): void;
  requiresGrad(tensor: NativeTensor): boolean;
  setRequiresGrad(tensor: NativeTensor, on: boolean): void;
  isLeaf(tensor: NativeTensor): boolean;
  isGradEnabled(): boolean;
  setGradEnabled(on: boolean): boolean;
  info(): NativeInfo;
  setNumThreads(n: number): void;
  benchMatmul(n: number, iterations: number, dtype: number, device: string): number[];
  benchTinyOp(calls: number, batches: number, device: string): number[];
  synchronize(device: string): void;
  memoryStats(): MemoryStats;
  resetPeakMemory(): void;
  emptyCache(): void;
  setAutocast(enabled: boolean, dtype: number): boolean;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const addonPath = path.join(root, 'native', 'build', 'Release', 'worldwander_torch.node');

function load(): Native {
  // libgomp's threads spin between parallel regions by default, taking the cores from OpenBLAS's
  // own threads in the next matmul: measured, a transformer forward runs 1.7x faster with them
  // sleeping. Read by libgomp when libtorch loads, so set before; a user's choice stands.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  // OpenBLAS reads its kernel choice when it loads (src/torch/cpu_features.ts says why).
  if (!process.env.OPENBLAS_CORETYPE) {
    const coretype = openblasCoretypeFor(cpuFlags());
    if (coretype) process.env.OPENBLAS_CORETYPE = coretype;
  }
  if (!existsSync(addonPath)) {
    throw new Error(`the libtorch addon is not built (${addonPath} is missing): run 'npm run setup'`);
  }
  return createRequire(import.meta.url)(addonPath) as Native;
}

export const native: Native = load();

// libtorch's OpenMP pool may start with one thread (seen under cgroup limits); use every core
// unless the user chose with OMP_NUM_THREADS.
if (!process.env.OMP_NUM_THREADS) native.setNumThreads(availableParallelism());
