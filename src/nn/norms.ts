// Normalisation layers that compute in float32 whatever the input dtype (diffusers' FP32LayerNorm
// and RMSNorm), returning the input's dtype.
import { layerNorm, scope, type Tensor } from '../torch/index.js';
import { constantParameter, type LayerOptions } from './init.js';
import { Module } from './module.js';

/** LayerNorm over the last dim in float32; weight 1 and bias 0 when affine. */
export class LayerNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;

  constructor(readonly dim: number, { eps = 1e-5, elementwiseAffine = true, ...options }: LayerOptions & { eps?: number; elementwiseAffine?: boolean } = {}) {
    super();
    this.eps = eps;
    this.weight = elementwiseAffine ? this.registerParameter('weight', constantParameter([dim], 1, options)) : null;
    this.bias = elementwiseAffine ? this.registerParameter('bias', constantParameter([dim], 0, options)) : null;
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      const w = this.weight && this.weight.dtype !== 'float32' ? this.weight.float() : this.weight;
      const b = this.bias && this.bias.dtype !== 'float32' ? this.bias.float() : this.bias;
      return inDtypeOf(x, layerNorm(x.float(), [this.dim], w, b, this.eps));
    });
  }
}

/**
 * x / √(mean(x²) + eps) · weight, the mean over the last dim in float32 (diffusers RMSNorm): the
 * normalised value is cast to the weight's dtype when that is a 16-bit float, then scaled, then
 * returned in the input's dtype.
 */
export class RMSNorm extends Module {
  readonly weight: Tensor | null;
  readonly eps: number;

  constructor(readonly dim: number, { eps = 1e-6, elementwiseAffine = true, ...options }: LayerOptions & { eps?: number; elementwiseAffine?: boolean } = {}) {
    super();
    this.eps = eps;
    this.weight = elementwiseAffine ? this.registerParameter('weight', constantParameter([dim], 1, options)) : null;
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      const x32 = x.float();
      let y = x32.mul(x32.square().mean(-1, true).add(this.eps).rsqrt());
      if (this.weight) y = (this.weight.dtype === 'float32' ? y : y.to({ dtype: this.weight.dtype })).mul(this.weight);
      return inDtypeOf(x, y);
    });
  }
}

/** y in x's dtype (y itself when it already is). */
function inDtypeOf(x: Tensor, y: Tensor): Tensor {
  return y.dtype === x.dtype ? y : y.to({ dtype: x.dtype });
}
