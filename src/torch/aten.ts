// Calls into ATen operators by schema name: `aten(name, overload)` gives a function that resolves
// the operator on first use (so an operator missing from this libtorch fails only where used)
// and passes native values through.
import { native } from './native.js';

export type AtenFunction = (...args: unknown[]) => unknown;

export function aten(name: string, overload = ''): AtenFunction {
  let id = -1;
  return (...args: unknown[]) => {
    if (id < 0) id = native.findOp(name.includes('::') ? name : `aten::${name}`, overload);
    return native.callOp(id, ...args);
  };
}

export function hasAten(name: string, overload = ''): boolean {
  return native.hasOp(name.includes('::') ? name : `aten::${name}`, overload);
}
