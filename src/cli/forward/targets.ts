// The parity targets of `worldwander forward`: named tensors in, one forward of a model part
// loaded for the call, named tensors out. Each target states the tensors it takes, so that a
// misspelt or mistyped input is refused before the model loads.
import { WorldWanderError } from '../../errors.js';
import { isFloating, noGrad, scope, type DType, type Device, type Tensor } from '../../torch/index.js';
import type { LoadProgress } from '../../nn/index.js';

export interface TargetOptions {
  dtype?: DType;
  device?: Device;
  /** A LoRA file (transformer targets). */
  lora?: string;
  /** Reports weight loading, tensor by tensor. */
  onLoadProgress?: LoadProgress;
  /** Reports a step of a multi-step target (denoise). */
  onStep?: (done: number, total: number) => void;
}

/** The inputs file does not hold what a target needs. */
export class ForwardInputError extends WorldWanderError {
  override name = 'ForwardInputError';
}

/** float: a floating dtype; int: an integer dtype; number: either (not bool); flag: a 0/1 scalar. */
export type InputKind = 'float' | 'int' | 'number' | 'flag';

export interface InputSpec {
  kind: InputKind;
  /** Shape as the docs write it, e.g. '[B, C, F, H, W]' or 'scalar'. */
  shape: string;
  optional?: boolean;
}

export interface ForwardTarget {
  inputs: Record<string, InputSpec>;
  /** Whether --lora applies. */
  takesLora?: boolean;
  run(
    modelDir: string,
    inputs: Map<string, Tensor>,
    options: TargetOptions,
  ): Map<string, Tensor> | Promise<Map<string, Tensor>>;
}

function kindOf(dtype: DType): 'float' | 'int' | 'bool' {
  return isFloating(dtype) ? 'float' : dtype === 'bool' ? 'bool' : 'int';
}

/** Names every unknown, missing or mistyped input at once. */
export function checkInputs(target: string, specs: Record<string, InputSpec>, inputs: Map<string, Tensor>): void {
  const problems: string[] = [];
  const known = Object.keys(specs);
  for (const name of inputs.keys()) if (!(name in specs)) problems.push(`unknown input '${name}'`);
  for (const [name, spec] of Object.entries(specs)) {
    const t = inputs.get(name);
    if (!t) {
      if (!spec.optional) problems.push(`missing input '${name}' ${spec.shape}`);
      continue;
    }
    const kind = kindOf(t.dtype);
    if (spec.kind === 'float' && kind !== 'float')
      problems.push(`'${name}' holds ${t.dtype} values; expected floating point ${spec.shape}`);
    if (spec.kind === 'int' && kind !== 'int')
      problems.push(`'${name}' holds ${t.dtype} values; expected integers ${spec.shape}`);
    if (spec.kind === 'number' && kind === 'bool')
      problems.push(`'${name}' holds booleans; expected numbers ${spec.shape}`);
    if (spec.kind === 'flag' && (t.numel() !== 1 || ![0, 1].includes(t.item())))
      problems.push(`'${name}' must be a scalar 0 or 1`);
  }
  if (problems.length) {
    throw new ForwardInputError(
      `${target}: ${problems.join('; ')} (inputs of ${target}: ${known.map((k) => `${k}${specs[k]!.optional ? '?' : ''}`).join(', ')})`,
    );
  }
}

/** The names of tensors holding NaN or infinite values. */
export function nonFinite(tensors: Map<string, Tensor>): string[] {
  return [...tensors]
    .filter(([, t]) => isFloating(t.dtype) && scope(() => !t.isfinite().all().item()))
    .map(([name]) => name);
}

/** Loads a model, runs f once without gradients (intermediates released), disposes the model. */
export function withModel<M extends { [Symbol.dispose](): void }, T>(load: () => M, f: (model: M) => T): T {
  using model = load();
  return scope(() => noGrad(() => f(model)));
}
