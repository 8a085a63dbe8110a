// Autograd switches over libtorch's engine.
import { dtypeCode, type DType } from './dtype.js';
import { native } from './native.js';
import type { Tensor } from './tensor.js';

/** Runs fn with gradient recording off (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  const previous = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}

/** Runs fn with gradient recording on (torch.enable_grad), e.g. to recompute inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  const previous = native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

/**
 * torch.autograd.backward: accumulates d(outputs)/d(leaves) · gradients into `.grad`. With
 * `inputs`, only those leaves accumulate.
 */
export function backward(
  outputs: readonly Tensor[],
  gradients: readonly (Tensor | null)[] | null = null,
  { retainGraph = false, inputs = null }: { retainGraph?: boolean; inputs?: readonly Tensor[] | null } = {},
): void {
  native.backward(
    outputs.map((t) => t.handle),
    gradients === null ? null : gradients.map((g) => g?.handle ?? null),
    retainGraph,
    inputs === null ? null : inputs.map((t) => t.handle),
  );
}

/**
 * Runs fn under autocast on the CPU and CUDA (torch.autocast('cpu' | 'cuda', dtype)): matmul-like
 * ops (linear, matmul, bmm, conv) take their inputs in `dtype`, the weights stay as they are
 * (float32 master copies) and gradients flow back in their dtypes. Nested calls run inside the
 * outer one. A cast is cached only while gradients are recorded (native/src/autograd.cc).
 */
export function autocast<T>(dtype: DType, fn: () => T): T {
  if (native.setAutocast(true, dtypeCode(dtype))) return fn();
  try {
    return fn();
  } finally {
    native.setAutocast(false, 0);
  }
}
