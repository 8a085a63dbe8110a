import { linear, type Tensor } from '../torch/index.js';
import { uniformParameter, type LayerOptions } from './init.js';
import { Module } from './module.js';

/** y = x Wᵀ + b with W [out, in] (torch.nn.Linear, same initialisation). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, { bias = true, ...options }: LayerOptions & { bias?: boolean } = {}) {
    super();
    // Kaiming-uniform with a = √5 reduces to U(±1/√in), as does the bias.
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.registerParameter('weight', uniformParameter([outFeatures, inFeatures], bound, options));
    this.bias = bias ? this.registerParameter('bias', uniformParameter([outFeatures], bound, options)) : null;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** A module with a one-tensor forward: a Linear or a Linear wrapped by LoRA. */
export type Layer = Module & { forward(x: Tensor): Tensor };
