// The Wan2.2 VAE's weight layouts besides diffusers': the original Wan-AI release
// (`Wan2.2_VAE.pth`, module names of Wan2.2's wan/modules/vae2_2.py) and ComfyUI's single file
// (`wan2.2_vae.safetensors`, the same names). Recognised by their keys; read through a source that
// answers diffusers' names, by the renames of diffusers' scripts/convert_wan_to_diffusers.py
// (convert_vae_22). The original nests each stage's residual blocks and its resampler in one list
// (`encoder.downsamples.S.downsamples.I`: blocks first, the resampler last); diffusers splits them
// into `down_blocks.S.resnets.I` and `down_blocks.S.downsampler` (likewise `upsamples` → `up_blocks`).
// The original files carry no config: `vaeConfigFromShapes` reads it off the tensors' shapes.
import { FileFormatError } from '../../errors.js';
import { renamedByTable, type TensorSource } from '../../torch/index.js';
import { WAN22_TI2V_5B_VAE, parseVaeConfig, type WanVAEConfig } from './vae_config.js';

export type VaeLayout = 'diffusers' | 'original';

/** The residual block's Sequential (RMS_norm, SiLU, conv, RMS_norm, SiLU, dropout, conv) in diffusers' names. */
const RESIDUAL: Record<string, string> = {
  '0.gamma': 'norm1.gamma',
  '2.weight': 'conv1.weight',
  '2.bias': 'conv1.bias',
  '3.gamma': 'norm2.gamma',
  '6.weight': 'conv2.weight',
  '6.bias': 'conv2.bias',
};

const TOP: Record<string, string> = {
  'conv1.weight': 'quant_conv.weight',
  'conv1.bias': 'quant_conv.bias',
  'conv2.weight': 'post_quant_conv.weight',
  'conv2.bias': 'post_quant_conv.bias',
};

const STAGE = {
  encoder: ['downsamples', 'down_blocks', 'downsampler'],
  decoder: ['upsamples', 'up_blocks', 'upsampler'],
} as const;

/** The diffusers name of an original-layout VAE key, or undefined when the table does not know it. */
export function diffusersVaeKeyOf(original: string): string | undefined {
  if (TOP[original]) return TOP[original];
  const m = /^(encoder|decoder)\.(.+)$/.exec(original);
  if (!m) return undefined;
  const coder = m[1] as 'encoder' | 'decoder';
  const rest = m[2]!;
  let r: RegExpExecArray | null;
  if ((r = /^conv1\.(weight|bias)$/.exec(rest))) return `${coder}.conv_in.${r[1]}`;
  if (rest === 'head.0.gamma') return `${coder}.norm_out.gamma`;
  if ((r = /^head\.2\.(weight|bias)$/.exec(rest))) return `${coder}.conv_out.${r[1]}`;
  if ((r = /^middle\.([02])\.residual\.(\d\.\w+)$/.exec(rest)) && RESIDUAL[r[2]!])
    return `${coder}.mid_block.resnets.${r[1] === '0' ? 0 : 1}.${RESIDUAL[r[2]!]}`;
  if ((r = /^middle\.1\.(norm\.gamma|(?:to_qkv|proj)\.(?:weight|bias))$/.exec(rest)))
    return `${coder}.mid_block.attentions.0.${r[1]}`;
  const [list, blocks, sampler] = STAGE[coder];
  const stage = new RegExp(`^${list}\\.(\\d+)\\.${list}\\.(\\d+)\\.(.+)$`).exec(rest);
  if (!stage) return undefined;
  const [, s, i, part] = stage;
  if ((r = /^residual\.(\d\.\w+)$/.exec(part!)) && RESIDUAL[r[1]!])
    return `${coder}.${blocks}.${s}.resnets.${i}.${RESIDUAL[r[1]!]}`;
  if ((r = /^shortcut\.(weight|bias)$/.exec(part!)))
    return `${coder}.${blocks}.${s}.resnets.${i}.conv_shortcut.${r[1]}`;
  if ((r = /^(resample\.1|time_conv)\.(weight|bias)$/.exec(part!)))
    return `${coder}.${blocks}.${s}.${sampler}.${r[1]}.${r[2]}`;
  return undefined;
}

/** Which layout a VAE file's keys are in. */
export function detectVaeLayout(keys: readonly string[]): VaeLayout {
  return keys.some((k) => /^(encoder\.downsamples|decoder\.upsamples|(en|de)coder\.(middle|head|conv1)\.)/.test(k))
    ? 'original'
    : 'diffusers';
}

/** `source` under diffusers' names, whatever layout it is in; unknown keys are an error naming them. */
export function asDiffusersVaeSource(source: TensorSource, where: string): { source: TensorSource; layout: VaeLayout } {
  const layout = detectVaeLayout(source.keys());
  if (layout === 'diffusers') return { source, layout };
  return { layout, source: renamedByTable(source, diffusersVaeKeyOf, where, { layout: 'original Wan2.2 VAE' }) };
}

/**
 * The VAE's config read off its tensors (diffusers names): channels, stages, blocks per stage,
 * which stages halve time, patch size. The latent statistics (latents_mean/std) are not in the
 * weights: they are Wan2.2's published ones when the shapes are the Wan2.2 VAE's; for any other
 * VAE the caller must give its config.json.
 */
export function vaeConfigFromShapes(source: TensorSource, where: string): WanVAEConfig {
  const shape = (key: string): number[] => {
    if (!source.has(key))
      throw new FileFormatError(
        `${where}: no ${key}; cannot read the VAE's config off its weights (give its config.json)`,
      );
    return source.info(key).shape;
  };
  const keys = source.keys();
  const stages = new Set(keys.map((k) => /^encoder\.down_blocks\.(\d+)\./.exec(k)?.[1]).filter((s) => s !== undefined))
    .size;
  if (stages === 0 || !keys.some((k) => /^encoder\.down_blocks\.0\.resnets\./.test(k))) {
    throw new FileFormatError(
      `${where}: not a Wan2.2 (residual) VAE: no encoder.down_blocks.N.resnets (a Wan2.1 VAE needs its config.json)`,
    );
  }
  const [baseDim, inChannels] = shape('encoder.conv_in.weight') as [number, number];
  const [outChannels, decoderLast] = shape('decoder.conv_out.weight') as [number, number];
  const zDim = shape('post_quant_conv.weight')[0]!;
  const dimMult = Array.from(
    { length: stages },
    (_, s) => shape(`encoder.down_blocks.${s}.resnets.0.conv1.weight`)[0]! / baseDim,
  );
  const numResBlocks = new Set(
    keys.map((k) => /^encoder\.down_blocks\.0\.resnets\.(\d+)\./.exec(k)?.[1]).filter((s) => s !== undefined),
  ).size;
  const temporal = Array.from({ length: stages - 1 }, (_, s) =>
    source.has(`encoder.down_blocks.${s}.downsampler.time_conv.weight`),
  );
  const patch = Math.round(Math.sqrt(inChannels / 3));
  if (patch * patch * 3 !== inChannels)
    throw new FileFormatError(`${where}: encoder.conv_in takes ${inChannels} channels, not 3·p² for a patch size p`);
  const shapes = {
    base_dim: baseDim,
    decoder_base_dim: decoderLast / dimMult[0]!,
    z_dim: zDim,
    dim_mult: dimMult,
    num_res_blocks: numResBlocks,
    attn_scales: [],
    temperal_downsample: temporal,
    dropout: 0,
    is_residual: true,
    in_channels: inChannels,
    out_channels: outChannels,
    patch_size: patch,
    scale_factor_temporal: 2 ** temporal.filter(Boolean).length,
    scale_factor_spatial: 2 ** (stages - 1) * patch,
  };
  const release = WAN22_TI2V_5B_VAE;
  const isRelease = (Object.keys(shapes) as (keyof typeof shapes)[]).every(
    (k) => JSON.stringify(shapes[k]) === JSON.stringify(release[k]),
  );
  if (!isRelease) {
    throw new FileFormatError(
      `${where}: a VAE of other shapes than Wan2.2's (z_dim ${zDim}, base_dim ${baseDim}, dim_mult [${dimMult.join(', ')}]): its latents_mean and latents_std are not in the weights; give its config.json (--vae-config)`,
    );
  }
  return parseVaeConfig({ ...shapes, latents_mean: release.latents_mean, latents_std: release.latents_std }, where);
}
