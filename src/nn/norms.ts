// Normalisation layers that compute in float32 whatever the input dtype (diffusers' FP32LayerNorm
// and RMSNorm), returning the input's dtype.
import { layerNorm, type Tensor } from '../torch/index.js';
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
    const x32 = x.dtype === 'float32' ? x : x.float();
    const w = this.weight && this.weight.dtype !== 'float32' ? this.weight.float() : this.weight;
    const b = this.bias && this.bias.dtype !== 'float32' ? this.bias.float() : this.bias;
    const y = layerNorm(x32, [this.dim], w, b, this.eps);
    for (const t of [x32, w, b]) if (t && t !== x && t !== this.weight && t !== this.bias) t.dispose();
    if (x.dtype === 'float32') return y;
    const out = y.to({ dtype: x.dtype });
    y.dispose();
    return out;
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
    const x32 = x.dtype === 'float32' ? x : x.float();
    const variance = x32.square().mean(-1, true);
    const inv = variance.add(this.eps).rsqrt();
    let y = x32.mul(inv);
    for (const t of [variance, inv]) t.dispose();
    if (x32 !== x) x32.dispose();
    if (this.weight) {
      if (this.weight.dtype !== 'float32') {
        const cast = y.to({ dtype: this.weight.dtype });
        y.dispose();
        y = cast;
      }
      const scaled = y.mul(this.weight);
      y.dispose();
      y = scaled;
    }
    if (y.dtype === x.dtype) return y;
    const out = y.to({ dtype: x.dtype });
    y.dispose();
    return out;
  }
}
