// Normalisation layers that compute in float32 whatever the input dtype (diffusers' FP32LayerNorm
// and RMSNorm), returning the input's dtype.
import { groupNorm, layerNorm, scope, type Tensor } from '../torch/index.js';
import { constantParameter, type LayerOptions } from './init.js';
import { Module } from './module.js';

/** LayerNorm over the last dim in float32; weight 1 and bias 0 when affine. */
export class LayerNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly eps: number;

  constructor(
    readonly dim: number,
    {
      eps = 1e-5,
      elementwiseAffine = true,
      ...options
    }: LayerOptions & { eps?: number; elementwiseAffine?: boolean } = {},
  ) {
    super();
    this.eps = eps;
    this.weight = elementwiseAffine ? this.registerParameter('weight', constantParameter([dim], 1, options)) : null;
    this.bias = elementwiseAffine ? this.registerParameter('bias', constantParameter([dim], 0, options)) : null;
  }

  forward(x: Tensor): Tensor {
    return scope(() => layerNorm(x.float(), [this.dim], this.weight?.float(), this.bias?.float(), this.eps).typeAs(x));
  }
}

/** torch.nn.GroupNorm over [N, C, ...] with an affine weight (1) and bias (0) per channel. */
export class GroupNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly eps: number;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    { eps = 1e-5, ...options }: LayerOptions & { eps?: number } = {},
  ) {
    super();
    if (numChannels % numGroups !== 0)
      throw new RangeError(`GroupNorm: ${numChannels} channels do not split into ${numGroups} groups`);
    this.eps = eps;
    this.weight = this.registerParameter('weight', constantParameter([numChannels], 1, options));
    this.bias = this.registerParameter('bias', constantParameter([numChannels], 0, options));
  }

  forward(x: Tensor): Tensor {
    // Under autocast a conv before it hands it bfloat16; PyTorch 2.x's CPU autocast runs group_norm
    // in float32, libtorch 1.13's leaves it out and fails on the float32 weight: cast as 2.x does.
    if (x.dtype === this.weight.dtype) return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
    return scope(() => groupNorm(x.to({ dtype: this.weight.dtype }), this.numGroups, this.weight, this.bias, this.eps));
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

  constructor(
    readonly dim: number,
    {
      eps = 1e-6,
      elementwiseAffine = true,
      ...options
    }: LayerOptions & { eps?: number; elementwiseAffine?: boolean } = {},
  ) {
    super();
    this.eps = eps;
    this.weight = elementwiseAffine ? this.registerParameter('weight', constantParameter([dim], 1, options)) : null;
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      const x32 = x.float();
      let y = x32.mul(x32.square().mean(-1, true).add(this.eps).rsqrt());
      if (this.weight) y = y.typeAs(this.weight).mul(this.weight);
      return y.typeAs(x);
    });
  }
}
