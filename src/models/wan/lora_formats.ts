// LoRA files of the Wan tools in the community's formats, read as diffusers/PEFT names
// (`blocks.0.attn1.to_q.lora_A.weight`) for loadLora:
//   kohya / musubi-tuner: `lora_unet_blocks_0_self_attn_q.lora_down.weight`, `.lora_up.weight`,
//     `.alpha` (the original module name with `_` for `.`);
//   ComfyUI: `diffusion_model.blocks.0.self_attn.q.lora_A.weight` / `.lora_B.weight` (original
//     names; also `lora_down`/`lora_up`, and `.alpha`).
// A module's alpha scales its update by alpha / rank (ComfyUI's comfy/lora.py, kohya): folded into
// lora_B here so that loadLora, which takes one alpha for the file, loads it at alpha = rank.
import { FileFormatError } from '../../errors.js';
import { applyLoadOptions, renamedSource, scope, type TensorSource } from '../../torch/index.js';
import { diffusersKeyOf } from './transformer_layouts.js';

/** The original module name of a kohya key's module part (`blocks_0_self_attn_q`), or undefined. */
function kohyaModule(part: string): string | undefined {
  const m = /^blocks_(\d+)_(self_attn|cross_attn)_(q|k|v|o)$/.exec(part) ?? /^blocks_(\d+)_(ffn)_(0|2)$/.exec(part);
  return m ? `blocks.${m[1]}.${m[2]}.${m[3]}` : undefined;
}

interface Entry {
  module: string;
  part: 'lora_A' | 'lora_B' | 'alpha';
  key: string;
}

function parse(key: string): Entry | null | undefined {
  let m = /^lora_unet_(.+)\.(lora_down|lora_up)\.weight$/.exec(key) ?? /^lora_unet_(.+)\.(alpha)$/.exec(key);
  if (m) {
    const original = kohyaModule(m[1]!);
    if (!original) return undefined;
    return { module: original, part: m[2] === 'lora_down' ? 'lora_A' : m[2] === 'lora_up' ? 'lora_B' : 'alpha', key };
  }
  m =
    /^diffusion_model\.(.+)\.(lora_A|lora_B|lora_down|lora_up)\.weight$/.exec(key) ??
    /^diffusion_model\.(.+)\.(alpha)$/.exec(key);
  if (m)
    return {
      module: m[1]!,
      part: m[2] === 'lora_A' || m[2] === 'lora_down' ? 'lora_A' : m[2] === 'alpha' ? 'alpha' : 'lora_B',
      key,
    };
  return null; // not a community key: the file is in diffusers/PEFT names
}

/** `source` with diffusers names when it is a kohya or ComfyUI LoRA (alpha folded in); otherwise `source`. */
export function communityLoraSource(
  source: TensorSource & { metadata?: Record<string, string> },
  where: string,
): TensorSource & { metadata?: Record<string, string> } {
  const keys = source.keys();
  const parsed = keys.map((k) => [k, parse(k)] as const);
  if (!parsed.some(([, p]) => p)) return source;
  const unknown = parsed.filter(([, p]) => p === undefined || p === null).map(([k]) => k);
  if (unknown.length)
    throw new FileFormatError(
      `${where}: ${unknown.length} key(s) of this kohya/ComfyUI LoRA name no Wan attention or feed-forward layer: ${unknown.slice(0, 5).join(', ')}`,
    );
  const names = new Map<string, string>(); // diffusers name -> file key
  const alphas = new Map<string, string>(); // diffusers module -> alpha key
  for (const [, p] of parsed) {
    const weight = diffusersKeyOf(`${p!.module}.weight`);
    if (!weight)
      throw new FileFormatError(`${where}: ${p!.key}: '${p!.module}' is no layer of the original Wan transformer`);
    const module = weight.slice(0, -'.weight'.length);
    if (p!.part === 'alpha') alphas.set(module, p!.key);
    else names.set(`${module}.${p!.part}.weight`, p!.key);
  }
  const renamed = renamedSource(source, names, where);
  const firstA = renamed.keys().find((n) => n.endsWith('.lora_A.weight'));
  const rank = firstA ? renamed.info(firstA).shape[0]! : 0;
  return {
    ...renamed,
    // each module's alpha is folded into its lora_B, so the file loads at alpha = rank (scale 1); without .alpha the tools scale by 1 too
    metadata: { ...source.metadata, lora_alpha: String(rank) },
    get: (name, options) => {
      const module = name.replace(/\.lora_[AB]\.weight$/, '');
      const alphaKey = alphas.get(module);
      if (!name.endsWith('.lora_B.weight') || !alphaKey) return renamed.get(name, options);
      return scope(() => {
        const own = renamed.info(`${module}.lora_A.weight`).shape[0]!;
        const alpha = source.get(alphaKey, { dtype: 'float64' }).item();
        return applyLoadOptions(renamed.get(name, { dtype: 'float32' }).mul(alpha / own), options);
      });
    },
  };
}
