// `worldwander convert`: a LoRA file from any format this project reads (the release's .ckpt,
// diffusers/PEFT, kohya / musubi-tuner, ComfyUI) to diffusers', ComfyUI's or kohya's, so a LoRA
// trained here loads in those tools and theirs load here. Each module's alpha is kept: written as
// the file's alpha (diffusers metadata, or a `.alpha` per module).
import { FileFormatError } from '../errors.js';
import { normaliseLoraKey } from '../nn/index.js';
import { owned, saveSafetensors, tensor, type Tensor } from '../torch/index.js';
import { openLoraFile } from './lora_file.js';
import { TRANSFORMER_RENAMES } from '../models/wan/transformer_layouts.js';

export const LORA_FORMATS = ['diffusers', 'comfy', 'kohya'] as const;
export type LoraFormat = (typeof LORA_FORMATS)[number];

/**
 * The original Wan module name of a diffusers one that takes a LoRA (`blocks.0.attn1.to_out.0` ->
 * `blocks.0.self_attn.o`).
 */
export function originalModuleOf(module: string): string | undefined {
  if (!/^blocks\.\d+\.(attn[12]\.(to_q|to_k|to_v|to_out\.0)|ffn\.net\.(0\.proj|2))$/.test(module)) return undefined;
  return TRANSFORMER_RENAMES.toTheirs(`${module}.weight`)?.slice(0, -'.weight'.length);
}

export function convertLora(
  input: string,
  output: string,
  to: LoraFormat,
): { tensors: number; rank: number; alpha: number } {
  const { source } = openLoraFile(input);
  const entries = source
    .keys()
    .map((k) => [k, normaliseLoraKey(k)] as const)
    .filter((e): e is [string, NonNullable<(typeof e)[1]>] => e[1] !== null);
  if (!entries.length) throw new FileFormatError(`${input}: no LoRA weights in the file`);
  const rank = source.info(entries.find(([, p]) => p.part === 'lora_A')?.[0] ?? entries[0]![0]).shape[0]!;
  const metaAlpha = Number(source.metadata?.lora_alpha);
  const alpha = Number.isFinite(metaAlpha) && metaAlpha > 0 ? metaAlpha : rank;
  using out = owned(new Map<string, Tensor>());
  const modules = new Set<string>();
  for (const [key, { module, part }] of entries) {
    const t = source.get(key);
    if (to === 'diffusers') {
      out.set(`transformer.${module}.${part}.weight`, t);
      continue;
    }
    const original = originalModuleOf(module);
    if (!original) {
      t.dispose();
      throw new FileFormatError(
        `${input}: ${key}: '${module}' has no name in the ${to} format (only attention and feed-forward layers do)`,
      );
    }
    modules.add(original);
    if (to === 'comfy') out.set(`diffusion_model.${original}.${part}.weight`, t);
    else out.set(`lora_unet_${original.replaceAll('.', '_')}.${part === 'lora_A' ? 'lora_down' : 'lora_up'}.weight`, t);
  }
  for (const original of modules)
    out.set(
      to === 'comfy' ? `diffusion_model.${original}.alpha` : `lora_unet_${original.replaceAll('.', '_')}.alpha`,
      tensor([alpha]).reshape(),
    );
  saveSafetensors(
    output,
    out,
    to === 'diffusers' ? { format: 'pt', lora_rank: String(rank), lora_alpha: String(alpha) } : { format: 'pt' },
  );
  return { tensors: out.size, rank, alpha };
}
