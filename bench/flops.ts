import type { WanTransformerConfig } from '../src/models/wan/transformer_config.js';

/** Multiply-adds ×2 of one forward (linear layers, attention scores and values). */
export function forwardFlops(c: WanTransformerConfig, S: number, St: number, T: number): number {
  const d = c.num_attention_heads * c.attention_head_dim;
  const f = c.ffn_dim;
  const patch = c.in_channels * c.patch_size[0] * c.patch_size[1] * c.patch_size[2];
  const perBlock =
    2 * S * 4 * d * d + 2 * S * 2 * d * d + 2 * T * 2 * d * d + 2 * S * 2 * d * f + 4 * S * S * d + 4 * S * T * d;
  const embed = 2 * S * patch * d + 2 * S * (c.freq_dim * d + d * d + 6 * d * d) + 2 * T * (c.text_dim * d + d * d);
  return c.num_layers * perBlock + embed + 2 * St * d * patch;
}
