// WanTransformerBlock (diffusers): AdaLN-modulated self-attention with RoPE, cross-attention to
// the text, gelu-tanh FFN, gated residuals; modulation and norms in float32.
import { consume, empty, scope, randn, type Tensor } from '../../torch/index.js';
import { FeedForward, LayerNorm, Module, generatorOf, type LayerOptions } from '../../nn/index.js';
import { WanAttention } from './attention.js';
import type { RopeTables } from './rope.js';
import { byRuns, rowOf, type TimestepRun } from './timestep_runs.js';
import { innerDim, type WanTransformerConfig } from './transformer_config.js';

/** randn(shape)/√dim, diffusers' init of the modulation tables; float32 always. */
export function scaleShiftTable(shape: readonly number[], dim: number, options: LayerOptions): Tensor {
  if (options.init === 'empty') return empty(shape, { dtype: 'float32', device: options.device });
  return consume(randn(shape, generatorOf(options), { dtype: 'float32', device: options.device }), (t) => t.div(Math.sqrt(dim)));
}

/** The same value cast to the dtype of `like` (type_as). */
export function typeAs(x: Tensor, like: Tensor): Tensor {
  return x.dtype === like.dtype ? x : x.to({ dtype: like.dtype });
}

export class WanTransformerBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn1: WanAttention;
  readonly norm2: LayerNorm | null;
  readonly attn2: WanAttention;
  readonly norm3: LayerNorm;
  readonly ffn: FeedForward;
  readonly scale_shift_table: Tensor;

  constructor(config: WanTransformerConfig, options: LayerOptions = {}) {
    super();
    const dim = innerDim(config);
    const { eps, qk_norm: qkNorm } = config;
    const fp32 = { ...options, dtype: 'float32' as const };
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim, { eps, elementwiseAffine: false, ...options }));
    this.attn1 = this.registerModule('attn1', new WanAttention(dim, config.num_attention_heads, config.attention_head_dim, { eps, qkNorm, ...options }));
    this.attn2 = this.registerModule('attn2', new WanAttention(dim, config.num_attention_heads, config.attention_head_dim, { eps, qkNorm, ...options }));
    this.norm2 = config.cross_attn_norm ? this.registerModule('norm2', new LayerNorm(dim, { eps, elementwiseAffine: true, ...fp32 })) : null;
    this.ffn = this.registerModule('ffn', new FeedForward(dim, config.ffn_dim, options));
    this.norm3 = this.registerModule('norm3', new LayerNorm(dim, { eps, elementwiseAffine: false, ...options }));
    this.scale_shift_table = this.registerParameter('scale_shift_table', scaleShiftTable([1, 6, dim], dim, options));
  }

  /**
   * x [B, S, dim]; text [B, T, dim]; timestepProj [B, R, 6, dim], row r serving the tokens of
   * `runs` (or one row per token when runs is null); chunks [shift, scale, gate, c_shift,
   * c_scale, c_gate].
   */
  forward(x: Tensor, text: Tensor, timestepProj: Tensor, runs: readonly TimestepRun[] | null, rope: RopeTables): Tensor {
    return scope(() => {
      const modulation = this.scale_shift_table.unsqueeze(0).add(timestepProj.float());
      const [shift, scale, gate, cShift, cScale, cGate] = modulation.chunk(6, 2).map((t) => t.squeeze(2)) as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];

      const h1 = byRuns(runs, [x], ([xs], r) => typeAs(this.norm1.forward(xs!.float()).mul(rowOf(scale, r).add(1)).add(rowOf(shift, r)), xs!));
      const attn = this.attn1.forward(h1, null, rope);
      let y = byRuns(runs, [x, attn], ([xs, a], r) => typeAs(xs!.float().add(a!.mul(rowOf(gate, r))), xs!));

      const h2 = this.norm2 ? typeAs(this.norm2.forward(y.float()), y) : y;
      y = y.add(this.attn2.forward(h2, text, null));

      // The feed-forward is per token, so it runs run by run too.
      return byRuns(runs, [y], ([ys], r) => {
        const h3 = typeAs(this.norm3.forward(ys!.float()).mul(rowOf(cScale, r).add(1)).add(rowOf(cShift, r)), ys!);
        const ff = this.ffn.forward(h3);
        return typeAs(ys!.float().add(ff.float().mul(rowOf(cGate, r))), ys!);
      });
    });
  }
}
