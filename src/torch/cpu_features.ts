// What the CPU's instruction set says about speed. OpenBLAS picks its kernels from the CPU's model number, and a
// build older than the CPU falls back to its generic SSE3 ones ("Prescott"): Debian's 0.3.21 on an
// Intel Xeon of family 6 model 207 ran a 2048³ float32 matmul at 28 GFLOP/s that way, at 201 with
// OPENBLAS_CORETYPE=SkylakeX. The instruction set, not the model number, says what runs.
import { readFileSync } from 'node:fs';

/** The OPENBLAS_CORETYPE whose kernels these CPU flags (/proc/cpuinfo's) run, or undefined to let OpenBLAS choose. */
export function openblasCoretypeFor(flags: ReadonlySet<string>): string | undefined {
  if (['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) return 'SkylakeX';
  if (flags.has('avx2') && flags.has('fma')) return 'Haswell';
  return undefined;
}

/** The first CPU's flags from /proc/cpuinfo (empty where there is none: another OS). */
export function cpuFlags(cpuinfo = '/proc/cpuinfo'): Set<string> {
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync(cpuinfo, 'utf8'))?.[1] ?? '';
    return new Set(line.trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

/**
 * bfloat16 matmuls run fast here (AVX-512 BF16 or AMX through oneDNN): measured, a training step of
 * the bundled transformer 1.7x faster in bf16-mixed than float32 on such a CPU, and bf16 ~30x
 * slower than float32 without them (docs/BENCHMARKS.md).
 */
export function hasFastBf16(flags: ReadonlySet<string> = cpuFlags()): boolean {
  return flags.has('avx512_bf16') || flags.has('amx_bf16');
}
