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
import { KeyRenames, type KeyPair } from '../key_renames.js';
import { WAN22_TI2V_5B_VAE, parseVaeConfig, type WanVAEConfig } from './vae_config.js';

export type VaeLayout = 'diffusers' | 'original';

/**
 * The residual block's Sequential (RMS_norm, SiLU, conv, RMS_norm, SiLU, dropout, conv) and
 * shortcut, as [original, diffusers] parts.
 */
const RESIDUAL: readonly KeyPair[] = [
  ['residual.0.gamma', 'norm1.gamma'],
  ['residual.2.{p}', 'conv1.{p}'],
  ['residual.3.gamma', 'norm2.gamma'],
  ['residual.6.{p}', 'conv2.{p}'],
  ['shortcut.{p}', 'conv_shortcut.{p}'],
];

const STAGES = {
  encoder: ['downsamples', 'down_blocks', 'downsampler'],
  decoder: ['upsamples', 'up_blocks', 'upsampler'],
} as const;

/** [original name, diffusers name]; a stage's resampler is the last of its list in the original (`{last}`). */
export const VAE_RENAMES = new KeyRenames([
  ['conv1.{p}', 'quant_conv.{p}'],
  ['conv2.{p}', 'post_quant_conv.{p}'],
  ...(['encoder', 'decoder'] as const).flatMap((coder): KeyPair[] => {
    const [list, blocks, sampler] = STAGES[coder];
    return [
      [`${coder}.conv1.{p}`, `${coder}.conv_in.{p}`],
      [`${coder}.head.0.gamma`, `${coder}.norm_out.gamma`],
      [`${coder}.head.2.{p}`, `${coder}.conv_out.{p}`],
      ...RESIDUAL.flatMap(([theirs, ours]): KeyPair[] => [
        [`${coder}.middle.0.${theirs}`, `${coder}.mid_block.resnets.0.${ours}`],
        [`${coder}.middle.2.${theirs}`, `${coder}.mid_block.resnets.1.${ours}`],
        [`${coder}.${list}.{s}.${list}.{i}.${theirs}`, `${coder}.${blocks}.{s}.resnets.{i}.${ours}`],
      ]),
      [`${coder}.middle.1.norm.gamma`, `${coder}.mid_block.attentions.0.norm.gamma`],
      [`${coder}.middle.1.to_qkv.{p}`, `${coder}.mid_block.attentions.0.to_qkv.{p}`],
      [`${coder}.middle.1.proj.{p}`, `${coder}.mid_block.attentions.0.proj.{p}`],
      [`${coder}.${list}.{s}.${list}.{last}.resample.1.{p}`, `${coder}.${blocks}.{s}.${sampler}.resample.1.{p}`],
      [`${coder}.${list}.{s}.${list}.{last}.time_conv.{p}`, `${coder}.${blocks}.{s}.${sampler}.time_conv.{p}`],
    ];
  }),
]);

/** The diffusers name of an original-layout VAE key, or undefined when the table does not know it. */
export function diffusersVaeKeyOf(original: string): string | undefined {
  return VAE_RENAMES.toOurs(original);
}

/** The original names of diffusers-named VAE keys (a stage's resampler goes after its residual blocks). */
export function originalVaeKeys(keys: readonly string[]): Map<string, string> {
  const blocks = new Map<string, number>();
  for (const key of keys) {
    const m = /^(encoder\.down_blocks|decoder\.up_blocks)\.(\d+)\.resnets\.(\d+)\./.exec(key);
    if (m) blocks.set(`${m[1]}.${m[2]}`, Math.max(blocks.get(`${m[1]}.${m[2]}`) ?? 0, Number(m[3]) + 1));
  }
  const names = new Map<string, string>();
  for (const key of keys) {
    const stage = /^(encoder\.down_blocks|decoder\.up_blocks)\.(\d+)\./.exec(key);
    const last = stage ? String(blocks.get(`${stage[1]}.${stage[2]}`) ?? 0) : undefined;
    const name = VAE_RENAMES.toTheirs(key, (placeholder) => (placeholder === 'last' ? last : undefined));
    if (name === undefined) throw new FileFormatError(`the VAE key ${key} has no original name`);
    names.set(key, name);
  }
  return names;
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
