// Shared by the parity targets of `worldwander forward`: named tensors in, one forward of a model
// loaded for the call, named tensors out.
import { noGrad, scope, type DType, type Device, type Tensor } from '../torch/index.js';
import type { LoadProgress } from '../nn/module.js';

/** What every target takes; the transformer adds a LoRA file. */
export interface ParityOptions {
  dtype?: DType;
  device?: Device;
  /** Reports weight loading, tensor by tensor. */
  onLoadProgress?: LoadProgress;
}

/** The inputs file does not hold what a target needs. */
export class ForwardInputError extends Error {}

export function requireInput(inputs: Map<string, Tensor>, name: string, shape: string, target: string): Tensor {
  const t = inputs.get(name);
  if (!t) throw new ForwardInputError(`${target}: the inputs need '${name}' ${shape} (got ${[...inputs.keys()].join(', ') || 'nothing'})`);
  return t;
}

/** Loads a model, runs f once without gradients (intermediates released), disposes the model. */
export function withModel<M extends { dispose(): void }, T>(load: () => M, f: (model: M) => T): T {
  const model = load();
  try {
    return scope(() => noGrad(() => f(model)));
  } finally {
    model.dispose();
  }
}
