// The Wan transformer's weight layouts besides diffusers': the original Wan-AI release
// (`blocks.N.self_attn.q.weight`, WanModel's config.json) and ComfyUI's single files (the same
// keys under `model.diffusion_model.`, or bare). Recognised by their keys, not file names, and
// read through a TensorSource that answers diffusers' names. The renames are those of diffusers'
// scripts/convert_wan_to_diffusers.py (TRANSFORMER_KEYS_RENAME_DICT), including its swap of
// norm2 and norm3: the original orders its norms norm1 (self-attention), norm3 (cross-attention,
// the one with weights), norm2 (feed-forward).
import { FileFormatError } from '../../errors.js';
import { renamedByTable, type TensorSource } from '../../torch/index.js';
import { KeyRenames, type KeyPair } from '../key_renames.js';

export type TransformerLayout = 'diffusers' | 'original';

export const COMFY_PREFIX = 'model.diffusion_model.';

const ATTENTION: Record<string, string> = {
  q: 'to_q',
  k: 'to_k',
  v: 'to_v',
  o: 'to_out.0',
  norm_q: 'norm_q',
  norm_k: 'norm_k',
};

/** [original name, diffusers name]. */
export const TRANSFORMER_RENAMES = new KeyRenames([
  ['patch_embedding.{p}', 'patch_embedding.{p}'],
  ['time_embedding.0.{p}', 'condition_embedder.time_embedder.linear_1.{p}'],
  ['time_embedding.2.{p}', 'condition_embedder.time_embedder.linear_2.{p}'],
  ['time_projection.1.{p}', 'condition_embedder.time_proj.{p}'],
  ['text_embedding.0.{p}', 'condition_embedder.text_embedder.linear_1.{p}'],
  ['text_embedding.2.{p}', 'condition_embedder.text_embedder.linear_2.{p}'],
  ['head.modulation', 'scale_shift_table'],
  ['head.head.{p}', 'proj_out.{p}'],
  ['blocks.{n}.modulation', 'blocks.{n}.scale_shift_table'],
  ...(['self', 'cross'] as const).flatMap((kind) =>
    Object.entries(ATTENTION).map(([theirs, ours]): KeyPair => [
      `blocks.{n}.${kind}_attn.${theirs}.{p}`,
      `blocks.{n}.${kind === 'self' ? 'attn1' : 'attn2'}.${ours}.{p}`,
    ]),
  ),
  ['blocks.{n}.norm3.{p}', 'blocks.{n}.norm2.{p}'],
  ['blocks.{n}.norm2.{p}', 'blocks.{n}.norm3.{p}'],
  ['blocks.{n}.ffn.0.{p}', 'blocks.{n}.ffn.net.0.proj.{p}'],
  ['blocks.{n}.ffn.2.{p}', 'blocks.{n}.ffn.net.2.{p}'],
]);

/** The diffusers name of an original-layout key, or undefined when the table does not know it. */
export function diffusersKeyOf(original: string): string | undefined {
  return TRANSFORMER_RENAMES.toOurs(original);
}

/** Which layout `keys` are in, and the prefix they carry (ComfyUI's, or none). */
export function detectTransformerLayout(keys: readonly string[]): { layout: TransformerLayout; prefix: string } {
  const prefix = keys.length > 0 && keys.every((k) => k.startsWith(COMFY_PREFIX)) ? COMFY_PREFIX : '';
  const bare = keys.map((k) => k.slice(prefix.length));
  if (bare.some((k) => /^blocks\.\d+\.(self|cross)_attn\./.test(k) || k.startsWith('head.head.')))
    return { layout: 'original', prefix };
  return { layout: 'diffusers', prefix };
}

/**
 * `source` as diffusers' names, whatever layout it is in; an error names the keys the table does
 * not know (never a silent skip). Returns the layout found, for the loader to say.
 */
export function asDiffusersSource(
  source: TensorSource,
  where: string,
): { source: TensorSource; layout: TransformerLayout; prefix: string } {
  const { layout, prefix } = detectTransformerLayout(source.keys());
  if (layout === 'diffusers' && !prefix) return { source, layout, prefix };
  const nameOf = layout === 'original' ? diffusersKeyOf : (key: string) => key;
  return {
    layout,
    prefix,
    source: renamedByTable(source, nameOf, where, {
      prefix,
      layout: layout === 'original' ? 'original Wan' : 'diffusers',
    }),
  };
}

/**
 * diffusers' WanTransformer3DModel config from the original release's config.json (WanModel:
 * dim, num_heads, in_dim, out_dim, ffn_dim, freq_dim, num_layers, eps, text_dim when given).
 */
export function diffusersConfigFromOriginal(raw: Record<string, unknown>, where: string): Record<string, unknown> {
  const number = (key: string): number => {
    const value = raw[key];
    if (typeof value !== 'number')
      throw new FileFormatError(`${where}: the original Wan config has no number '${key}'`);
    return value;
  };
  const dim = number('dim'),
    heads = number('num_heads');
  if (dim % heads) throw new FileFormatError(`${where}: dim ${dim} is not a multiple of num_heads ${heads}`);
  return {
    _class_name: 'WanTransformer3DModel',
    patch_size: raw.patch_size ?? [1, 2, 2],
    num_attention_heads: heads,
    attention_head_dim: dim / heads,
    in_channels: number('in_dim'),
    out_channels: number('out_dim'),
    text_dim: raw.text_dim ?? 4096,
    freq_dim: number('freq_dim'),
    ffn_dim: number('ffn_dim'),
    num_layers: number('num_layers'),
    cross_attn_norm: raw.cross_attn_norm ?? true,
    qk_norm: raw.qk_norm === false ? null : 'rms_norm_across_heads',
    eps: raw.eps ?? 1e-6,
    rope_max_seq_len: raw.rope_max_seq_len ?? 1024,
  };
}
