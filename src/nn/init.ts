// How a layer's new parameters are made: drawn from a seeded generator, or left empty for a load.
import { empty, Generator, type DType, type Device, type Tensor } from '../torch/index.js';

export interface LayerOptions {
  /** 'empty' allocates without drawing (the weights will be loaded); default 'random'. */
  init?: 'random' | 'empty';
  generator?: Generator;
  dtype?: DType;
  device?: Device;
}

let fallbackGenerator: Generator | undefined;

/** The generator to draw from: the given one, or a process-wide one seeded 0. */
export function generatorOf(options: LayerOptions): Generator {
  return options.generator ?? (fallbackGenerator ??= new Generator(0));
}

/** U(-bound, bound), PyTorch's default for Linear and Conv weights and biases: bound = 1/√fan_in. */
export function uniformParameter(shape: readonly number[], bound: number, options: LayerOptions): Tensor {
  const t = empty(shape, { dtype: options.dtype ?? 'float32', device: options.device });
  if (options.init === 'empty') return t;
  return t.uniform_(-bound, bound, generatorOf(options));
}

export function constantParameter(shape: readonly number[], value: number, options: LayerOptions): Tensor {
  const t = empty(shape, { dtype: options.dtype ?? 'float32', device: options.device });
  return t.fill_(value);
}
