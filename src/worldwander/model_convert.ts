// `worldwander convert` for model weights: one file of the transformer, the VAE or the umT5 text
// encoder, in any layout this project reads (diffusers/transformers names, the original Wan
// release's, ComfyUI's; safetensors, a torch.save .pth, scaled fp8), written in diffusers',
// the original release's or ComfyUI's names as one safetensors file, a tensor at a time.
import { FileFormatError } from '../errors.js';
import { openTensorFile, saveSafetensorsFrom, type DType, type TensorSource } from '../torch/index.js';
import { dequantizedSource } from '../torch/scaled_fp8.js';
import {
  COMFY_PREFIX,
  TRANSFORMER_RENAMES,
  asDiffusersSource,
  detectTransformerLayout,
} from '../models/wan/transformer_layouts.js';
import { asDiffusersVaeSource, detectVaeLayout, originalVaeKeys } from '../models/wan/vae_layouts.js';
import { UMT5_RENAMES, asTransformersSource, detectUMT5Layout } from '../models/umt5/layouts.js';

export const MODEL_LAYOUTS = ['diffusers', 'original', 'comfy'] as const;
export type ModelLayout = (typeof MODEL_LAYOUTS)[number];
export type ModelPart = 'transformer' | 'vae' | 'text encoder';

/** Which model a weights file holds, told by its keys (any layout, any prefix). */
export function modelPartOf(keys: readonly string[]): ModelPart | null {
  const bare = keys.map((k) => (k.startsWith(COMFY_PREFIX) ? k.slice(COMFY_PREFIX.length) : k));
  if (bare.some((k) => k === 'patch_embedding.weight' || /^blocks\.\d+\.(attn1|self_attn)\./.test(k)))
    return 'transformer';
  if (bare.some((k) => /^decoder\.(conv_in|conv1)\./.test(k))) return 'vae';
  if (bare.some((k) => /(^|\.)(shared|token_embedding)\.weight$|(^|\.)encoder\.block\.\d+\./.test(k)))
    return 'text encoder';
  return null;
}

function named(
  names: Map<string, string>,
  keys: readonly string[],
  nameOf: (key: string) => string | undefined,
  part: string,
  layout: string,
): void {
  for (const key of keys) {
    const name = nameOf(key);
    if (name === undefined) throw new FileFormatError(`the ${part} key ${key} has no name in the ${layout} layout`);
    names.set(name, key);
  }
}

/**
 * Writes `input`'s weights to `output` in the `to` layout; scaled fp8 weights are written
 * dequantised (float32), or in `dtype` (floating-point tensors; e.g. a bfloat16 copy at half the size).
 */
export function convertModelFile(
  input: string,
  output: string,
  to: ModelLayout,
  { dtype }: { dtype?: DType } = {},
): { part: ModelPart; from: string; tensors: number } {
  const raw = dequantizedSource(openTensorFile(input));
  const part = modelPartOf(raw.keys());
  if (!part)
    throw new FileFormatError(
      `${input}: neither a Wan transformer, a Wan VAE nor a umT5 encoder (by its keys) nor a LoRA`,
    );
  let source: TensorSource;
  let from: string;
  const names = new Map<string, string>(); // name written -> key of `source` (diffusers / transformers names)
  if (part === 'transformer') {
    const found = asDiffusersSource(raw, input);
    source = found.source;
    from = found.prefix ? `${found.layout} under ${found.prefix}` : found.layout;
    const keys = source.keys();
    if (to === 'diffusers') named(names, keys, (k) => k, part, to);
    else
      named(
        names,
        keys,
        (k) => {
          const o = TRANSFORMER_RENAMES.toTheirs(k);
          return o && (to === 'comfy' ? COMFY_PREFIX + o : o);
        },
        part,
        to,
      );
  } else if (part === 'vae') {
    const found = asDiffusersVaeSource(raw, input);
    source = found.source;
    from = found.layout;
    const keys = source.keys();
    if (to === 'diffusers') named(names, keys, (k) => k, part, to);
    else {
      const original = originalVaeKeys(keys);
      named(names, keys, (k) => original.get(k), part, to);
    }
  } else {
    const found = asTransformersSource(raw, input);
    source = found.source;
    from = found.layout;
    // transformers' tied copy of the embedding table is not written again
    const keys = source.keys().filter((k) => !(k === 'encoder.embed_tokens.weight' && source.has('shared.weight')));
    if (to === 'original') named(names, keys, (k) => UMT5_RENAMES.toTheirs(k), part, to);
    else named(names, keys, (k) => k, part, to);
  }
  saveSafetensorsFrom(output, source, names, { format: 'pt' }, { floatDtype: dtype });
  return { part, from, tensors: names.size };
}

/** What a weights file holds, for the user to see: the model, the layout its keys are in, its dtypes. */
export function describeWeightsFile(file: string): string {
  const raw = openTensorFile(file);
  const keys = dequantizedSource(raw).keys();
  const part = modelPartOf(keys);
  if (!part) return `${file}: ${keys.length} tensors of no model this project knows`;
  const dtypes = new Map<string, number>();
  for (const key of keys) {
    const info = raw.info(key);
    const dtype = info.stored ?? info.dtype;
    dtypes.set(dtype, (dtypes.get(dtype) ?? 0) + 1);
  }
  const layout =
    part === 'transformer'
      ? detectTransformerLayout(keys)
      : {
          layout: part === 'vae' ? detectVaeLayout(keys) : detectUMT5Layout(keys).layout,
          prefix: part === 'vae' ? '' : detectUMT5Layout(keys).prefix,
        };
  const where = layout.prefix ? ` under ${layout.prefix}` : '';
  const scaled = raw.has('scaled_fp8') ? ', scaled fp8 (dequantised to float32 on load)' : '';
  const counts = [...dtypes].map(([d, n]) => `${n} ${d}`).join(', ');
  return `${file}: the ${part} in the ${layout.layout} layout${where}, ${counts}${scaled}`;
}
