// WanTransformerBlock (diffusers): AdaLN-modulated self-attention with RoPE, cross-attention to
// the text, gelu-tanh FFN, gated residuals; modulation and norms in float32.
import { scope, type Tensor } from '../../torch/index.js';
import { FeedForward, LayerNorm, Module, type LayerOptions } from '../../nn/index.js';
import { WanAttention } from './attention.js';
import { Modulation, scaleShiftTable, type TimestepRun } from './modulation.js';
import type { RopeTables } from './rope.js';
import { innerDim, type WanTransformerConfig } from './transformer_config.js';

/** The order of scale_shift_table's six rows. */
const CHUNKS = ['shift', 'scale', 'gate', 'c_shift', 'c_scale', 'c_gate'] as const;

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
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim, { eps, elementwiseAffine: false, ...options }));
    this.attn1 = this.registerModule(
      'attn1',
      new WanAttention(dim, config.num_attention_heads, config.attention_head_dim, { eps, qkNorm, ...options }),
    );
    this.attn2 = this.registerModule(
      'attn2',
      new WanAttention(dim, config.num_attention_heads, config.attention_head_dim, { eps, qkNorm, ...options }),
    );
    this.norm2 = config.cross_attn_norm
      ? this.registerModule('norm2', new LayerNorm(dim, { eps, elementwiseAffine: true, ...options, dtype: 'float32' }))
      : null;
    this.ffn = this.registerModule('ffn', new FeedForward(dim, config.ffn_dim, options));
    this.norm3 = this.registerModule('norm3', new LayerNorm(dim, { eps, elementwiseAffine: false, ...options }));
    this.scale_shift_table = this.registerParameter('scale_shift_table', scaleShiftTable([1, 6, dim], dim, options));
  }

  /**
   * x [B, S, dim]; text [B, T, dim]; timestepProj [B, R, 6, dim], row r serving the tokens of
   * `runs` (or one row per token when runs is null).
   */
  forward(
    x: Tensor,
    text: Tensor,
    timestepProj: Tensor,
    runs: readonly TimestepRun[] | null,
    rope: RopeTables,
  ): Tensor {
    return scope(() => {
      const mod = Modulation.of(this.scale_shift_table, timestepProj, runs, CHUNKS);
      let h = mod.gated(x, this.attn1.forward(mod.affine(this.norm1, x, 'shift', 'scale'), null, rope), 'gate');
      h = h.add(this.attn2.forward(this.norm2 ? this.norm2.forward(h.float()).typeAs(h) : h, text, null));
      return mod.gated(h, this.ffn.forward(mod.affine(this.norm3, h, 'c_shift', 'c_scale')), 'c_gate');
    });
  }
}
