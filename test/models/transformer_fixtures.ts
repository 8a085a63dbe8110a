import { Generator, randn, type Tensor } from '../../src/torch/index.js';
import { WanTransformer3DModel } from '../../src/models/wan/transformer.js';
import type { WanTransformerConfig } from '../../src/models/wan/transformer_config.js';
import type { Weights } from './transformer_reference.js';

/** Same code paths as the 5B model, tiny: head_dim 12 splits into RoPE parts (4, 4, 4). */
export const TINY: WanTransformerConfig = {
  patch_size: [1, 2, 2],
  num_attention_heads: 2,
  attention_head_dim: 12,
  in_channels: 4,
  out_channels: 4,
  text_dim: 8,
  freq_dim: 16,
  ffn_dim: 32,
  num_layers: 2,
  cross_attn_norm: true,
  qk_norm: 'rms_norm_across_heads',
  eps: 1e-6,
  rope_max_seq_len: 64,
};

export function tinyModel(seed = 0, config = TINY): WanTransformer3DModel {
  return new WanTransformer3DModel(config, { generator: new Generator(seed) });
}

export function weightsOf(model: WanTransformer3DModel): Weights {
  return new Map([...model.stateDict()].map(([k, t]) => [k, { data: t.toArray(), shape: t.shape }]));
}

/** [C][F][H][W] nested array of sample 0. */
export function nested4(t: Tensor, sample = 0): number[][][][] {
  const [, c, f, h, w] = t.shape as number[];
  const flat = t.select(0, sample).toArray();
  return Array.from({ length: c! }, (_, ci) =>
    Array.from({ length: f! }, (_, fi) =>
      Array.from({ length: h! }, (_, hi) =>
        flat.slice(((ci * f! + fi) * h! + hi) * w!, ((ci * f! + fi) * h! + hi + 1) * w!),
      ),
    ),
  );
}

export function rand(shape: number[], seed: number): Tensor {
  return randn(shape, new Generator(seed));
}

export function maxAbsDiff(a: number[], b: number[]): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}
