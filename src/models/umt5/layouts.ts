// The umT5 encoder's weight layouts besides transformers': the original Wan-AI release
// (`models_t5_umt5-xxl-enc-bf16.pth`, the module names of Wan's wan/modules/t5.py T5Encoder) and
// ComfyUI's single files (`umt5_xxl_fp8_e4m3fn_scaled.safetensors`: transformers' names, maybe
// under a prefix). Recognised by their keys. Wan's feed-forward computes fc2(fc1(x)·gelu(gate(x)))
// where transformers' computes wo(gelu(wi_0(x))·wi_1(x)): gate is wi_0 and fc1 is wi_1.
// Neither single file carries a config: `umt5ConfigFromShapes` reads it off the tensors.
import { FileFormatError } from '../../errors.js';
import { renamedByTable, type TensorSource } from '../../torch/index.js';
import { KeyRenames, type KeyPair } from '../key_renames.js';
import { UMT5_XXL, parseUMT5Config, type UMT5Config } from './config.js';

export type UMT5Layout = 'transformers' | 'original';

/** [Wan's T5Encoder name, transformers' name]. */
export const UMT5_RENAMES = new KeyRenames([
  ['token_embedding.weight', 'shared.weight'],
  ['norm.weight', 'encoder.final_layer_norm.weight'],
  ['blocks.{n}.norm1.weight', 'encoder.block.{n}.layer.0.layer_norm.weight'],
  ...(['q', 'k', 'v', 'o'] as const).map((x): KeyPair => [
    `blocks.{n}.attn.${x}.weight`,
    `encoder.block.{n}.layer.0.SelfAttention.${x}.weight`,
  ]),
  [
    'blocks.{n}.pos_embedding.embedding.weight',
    'encoder.block.{n}.layer.0.SelfAttention.relative_attention_bias.weight',
  ],
  ['blocks.{n}.norm2.weight', 'encoder.block.{n}.layer.1.layer_norm.weight'],
  ['blocks.{n}.ffn.gate.0.weight', 'encoder.block.{n}.layer.1.DenseReluDense.wi_0.weight'],
  ['blocks.{n}.ffn.fc1.weight', 'encoder.block.{n}.layer.1.DenseReluDense.wi_1.weight'],
  ['blocks.{n}.ffn.fc2.weight', 'encoder.block.{n}.layer.1.DenseReluDense.wo.weight'],
]);

/** The transformers name of a key of Wan's T5Encoder, or undefined when the table does not know it. */
export function transformersKeyOf(original: string): string | undefined {
  return UMT5_RENAMES.toOurs(original);
}

/** Which layout a text-encoder file's keys are in, and the prefix before transformers' names (ComfyUI may add one). */
export function detectUMT5Layout(keys: readonly string[]): { layout: UMT5Layout; prefix: string } {
  if (keys.includes('token_embedding.weight') || keys.some((k) => /^blocks\.\d+\.attn\.q\.weight$/.test(k)))
    return { layout: 'original', prefix: '' };
  const anchor = keys.find((k) => k.endsWith('encoder.final_layer_norm.weight'));
  return { layout: 'transformers', prefix: anchor ? anchor.slice(0, -'encoder.final_layer_norm.weight'.length) : '' };
}

/** `source` under transformers' names, whatever layout it is in; unknown keys are an error naming them. */
export function asTransformersSource(
  source: TensorSource,
  where: string,
): { source: TensorSource; layout: UMT5Layout } {
  const { layout, prefix } = detectUMT5Layout(source.keys());
  if (layout === 'transformers' && !prefix) return { source, layout };
  const nameOf = layout === 'original' ? transformersKeyOf : (key: string) => key;
  const kept = prefix ? filteredSource(source, (k) => k.startsWith(prefix)) : source;
  return {
    layout,
    source: renamedByTable(kept, nameOf, where, {
      prefix,
      layout: layout === 'original' ? "Wan's T5Encoder" : 'transformers',
    }),
  };
}

/**
 * ComfyUI files may hold other models' keys beside the prefixed encoder (e.g. a `logit_scale`):
 * only the prefixed ones are the encoder's.
 */
function filteredSource(source: TensorSource, keep: (key: string) => boolean): TensorSource {
  const keys = source.keys().filter(keep);
  return {
    ...source,
    keys: () => keys,
    has: (key) => keep(key) && source.has(key),
    info: (key) => source.info(key),
    get: (key, options) => source.get(key, options),
  };
}

/**
 * The encoder's config read off its tensors (transformers names): vocab and width from
 * shared.weight, heads and buckets from a relative_attention_bias (every umT5 layer has its own),
 * d_kv from q, d_ff from wi_0, layers by count; eps, max distance and ids are umT5's.
 */
export function umt5ConfigFromShapes(source: TensorSource, where: string): UMT5Config {
  const shape = (key: string): number[] => {
    if (!source.has(key))
      throw new FileFormatError(
        `${where}: no ${key}; cannot read the text encoder's config off its weights (give its config.json)`,
      );
    return source.info(key).shape;
  };
  const [vocab, dModel] = shape(source.has('shared.weight') ? 'shared.weight' : 'encoder.embed_tokens.weight') as [
    number,
    number,
  ];
  const [buckets, heads] = shape('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight') as [
    number,
    number,
  ];
  const attention = shape('encoder.block.0.layer.0.SelfAttention.q.weight')[0]!;
  if (attention % heads)
    throw new FileFormatError(
      `${where}: q has ${attention} rows, not a multiple of the ${heads} heads of relative_attention_bias`,
    );
  const layers = new Set(
    source
      .keys()
      .map((k) => /^encoder\.block\.(\d+)\./.exec(k)?.[1])
      .filter((n) => n !== undefined),
  ).size;
  return parseUMT5Config(
    {
      ...UMT5_XXL,
      vocab_size: vocab,
      d_model: dModel,
      d_kv: attention / heads,
      num_heads: heads,
      relative_attention_num_buckets: buckets,
      d_ff: shape('encoder.block.0.layer.1.DenseReluDense.wi_0.weight')[0]!,
      num_layers: layers,
    },
    where,
  );
}
