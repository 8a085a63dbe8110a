// WanAttention (diffusers): projections, RMS-norm on q and k across all heads, optional RoPE,
// scaled dot-product attention without a mask, output projection `to_out.0`.
import { scaledDotProductAttention, scope, type Tensor } from '../../torch/index.js';
import { Linear, ModuleList, Module, RMSNorm, type LayerOptions } from '../../nn/index.js';
import { applyRotaryEmbedding, type RopeTables } from './rope.js';
import type { QkNorm } from './transformer_config.js';

export class WanAttention extends Module {
  readonly to_q: Linear;
  readonly to_k: Linear;
  readonly to_v: Linear;
  readonly to_out: ModuleList<Linear>;
  readonly norm_q: RMSNorm | null;
  readonly norm_k: RMSNorm | null;

  constructor(
    dim: number,
    readonly heads: number,
    readonly headDim: number,
    { eps, qkNorm, ...options }: LayerOptions & { eps: number; qkNorm: QkNorm },
  ) {
    super();
    const inner = heads * headDim;
    this.to_q = this.registerModule('to_q', new Linear(dim, inner, options));
    this.to_k = this.registerModule('to_k', new Linear(dim, inner, options));
    this.to_v = this.registerModule('to_v', new Linear(dim, inner, options));
    this.to_out = this.registerModule('to_out', new ModuleList<Linear>([new Linear(inner, dim, options)]));
    this.norm_q = qkNorm ? this.registerModule('norm_q', new RMSNorm(inner, { eps, ...options })) : null;
    this.norm_k = qkNorm ? this.registerModule('norm_k', new RMSNorm(inner, { eps, ...options })) : null;
  }

  /** x [B, S, dim]; context [B, T, dim] for cross-attention (null: self-attention). */
  forward(x: Tensor, context: Tensor | null, rope: RopeTables | null): Tensor {
    return scope(() => {
      const source = context ?? x;
      let q = this.to_q.forward(x);
      let k = this.to_k.forward(source);
      const v = this.to_v.forward(source);
      if (this.norm_q) q = this.norm_q.forward(q);
      if (this.norm_k) k = this.norm_k.forward(k);
      // [B, S, inner] -> [B, S, heads, headDim]
      q = q.unflatten(2, [this.heads, -1]);
      k = k.unflatten(2, [this.heads, -1]);
      const vh = v.unflatten(2, [this.heads, -1]);
      if (rope) {
        q = applyRotaryEmbedding(q, rope);
        k = applyRotaryEmbedding(k, rope);
      }
      const out = scaledDotProductAttention(q.transpose(1, 2), k.transpose(1, 2), vh.transpose(1, 2));
      return this.to_out.at(0).forward(out.transpose(1, 2).flatten(2, 3).typeAs(q));
    });
  }
}
