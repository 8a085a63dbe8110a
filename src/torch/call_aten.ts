// The public escape hatch: any ATen operator by schema name, on Tensors.
import { native, type NativeTensor } from './native.js';
import { Tensor } from './tensor.js';

function unwrapArgument(value: unknown): unknown {
  if (value instanceof Tensor) return value.handle;
  if (Array.isArray(value)) return value.map(unwrapArgument);
  return value;
}

function wrapResult(value: unknown): unknown {
  if (value instanceof native.Tensor) return new Tensor(value as NativeTensor);
  if (Array.isArray(value)) return value.map(wrapResult);
  return value;
}

/**
 * Calls any ATen operator, e.g. `callAten('aten::lerp', 'Scalar', a, b, 0.5)`. Arguments are
 * positional in schema order (keyword-only ones included); `undefined` takes the default.
 * Tensors in, tensors out (arrays for multiple or list returns).
 */
export function callAten(name: string, overload: string, ...args: unknown[]): unknown {
  const id = native.findOp(name.includes('::') ? name : `aten::${name}`, overload);
  return wrapResult(native.callOp(id, ...args.map(unwrapArgument)));
}

export function atenSchema(name: string, overload = ''): string {
  return native.opSchema(native.findOp(name.includes('::') ? name : `aten::${name}`, overload));
}
