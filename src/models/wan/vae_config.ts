// AutoencoderKLWan's config.json (diffusers keys), with the class defaults and checks.
import { FileFormatError } from '../../errors.js';
import { readJsonFile } from '../../torch/index.js';

export interface WanVAEConfig {
  base_dim: number;
  decoder_base_dim: number | null;
  z_dim: number;
  dim_mult: number[];
  num_res_blocks: number;
  attn_scales: number[];
  temperal_downsample: boolean[];
  dropout: number;
  latents_mean: number[];
  latents_std: number[];
  is_residual: boolean;
  in_channels: number;
  out_channels: number;
  patch_size: number | null;
  scale_factor_temporal: number;
  scale_factor_spatial: number;
}

/** diffusers' class defaults (the Wan2.1 VAE). */
export const WAN_VAE_DEFAULTS: WanVAEConfig = {
  base_dim: 96,
  decoder_base_dim: null,
  z_dim: 16,
  dim_mult: [1, 2, 4, 4],
  num_res_blocks: 2,
  attn_scales: [],
  temperal_downsample: [false, true, true],
  dropout: 0,
  latents_mean: [
    -0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517, -0.3632, -0.1922,
    -0.9497, 0.2503, -0.2921,
  ],
  latents_std: [
    2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253,
    2.8251, 1.916,
  ],
  is_residual: false,
  in_channels: 3,
  out_channels: 3,
  patch_size: null,
  scale_factor_temporal: 4,
  scale_factor_spatial: 8,
};

/** The Wan2.2-TI2V-5B VAE (vae/config.json of Wan2.2-TI2V-5B-Diffusers). */
export const WAN22_TI2V_5B_VAE: WanVAEConfig = {
  ...WAN_VAE_DEFAULTS,
  base_dim: 160,
  decoder_base_dim: 256,
  z_dim: 48,
  is_residual: true,
  patch_size: 2,
  in_channels: 12,
  out_channels: 12,
  scale_factor_spatial: 16,
  latents_mean: [
    -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557, -0.1382, 0.0542, 0.2813, 0.0891, 0.157,
    -0.0098, 0.0375, -0.1825, -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502, -0.2055, -0.0322,
    0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.123, -0.0313, -0.1649, 0.0117, 0.0723, -0.2839, -0.2083, -0.052,
    0.3748, 0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667,
  ],
  latents_std: [
    0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.499, 0.4818, 0.5013, 0.8158, 1.0344, 0.5894, 1.0901, 0.6885, 0.6165,
    0.8454, 0.4978, 0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659, 0.7069, 0.5338, 0.4889, 0.4917,
    0.4069, 0.4999, 0.6866, 0.4093, 0.5709, 0.6065, 0.6415, 0.4944, 0.5726, 1.2042, 0.5458, 1.6887, 0.3971, 1.06,
    0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744,
  ],
};

/** Keys diffusers writes that do not change the network. */
const IGNORED = new Set(['clip_output']);

/**
 * Reads a diffusers VAE config.json. `in_channels`/`out_channels` in the Wan2.2 file count the
 * patchified channels (12 = 3·2·2); the encoder input and decoder output are then 3 channels.
 */
export function readVaeConfig(file: string): WanVAEConfig {
  return parseVaeConfig(readJsonFile(file, 'VAE config') as Record<string, unknown>, file);
}

export function parseVaeConfig(raw: Record<string, unknown>, where = 'VAE config'): WanVAEConfig {
  const config: Record<string, unknown> = { ...WAN_VAE_DEFAULTS };
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (key.startsWith('_') || IGNORED.has(key)) continue;
    if (!(key in WAN_VAE_DEFAULTS)) unknown.push(key);
    else config[key] = value;
  }
  if (unknown.length)
    throw new FileFormatError(
      `${where}: unknown keys ${unknown.join(', ')} (known: ${Object.keys(WAN_VAE_DEFAULTS).join(', ')})`,
    );
  const c = config as unknown as WanVAEConfig;
  const intKeys = ['base_dim', 'z_dim', 'num_res_blocks', 'in_channels', 'out_channels'] as const;
  for (const key of intKeys)
    if (!Number.isInteger(c[key]) || c[key] < 0)
      throw new FileFormatError(`${where}: ${key} must be a non-negative integer, got ${JSON.stringify(c[key])}`);
  if (!Array.isArray(c.dim_mult) || c.dim_mult.length < 1)
    throw new FileFormatError(`${where}: dim_mult must be a non-empty list`);
  if (!Array.isArray(c.temperal_downsample) || c.temperal_downsample.length < c.dim_mult.length - 1) {
    throw new FileFormatError(
      `${where}: temperal_downsample needs ${c.dim_mult.length - 1} entries (one per downsampling stage), got ${JSON.stringify(c.temperal_downsample)}`,
    );
  }
  if (c.latents_mean.length !== c.z_dim || c.latents_std.length !== c.z_dim) {
    throw new FileFormatError(
      `${where}: latents_mean and latents_std need z_dim=${c.z_dim} entries, got ${c.latents_mean.length} and ${c.latents_std.length}`,
    );
  }
  if (c.patch_size !== null && (!Number.isInteger(c.patch_size) || c.patch_size < 1))
    throw new FileFormatError(`${where}: patch_size must be null or a positive integer`);
  return c;
}

/** Channels the encoder reads and the decoder writes (patchified when patch_size > 1). */
export function patchedChannels(c: WanVAEConfig): { encoderIn: number; decoderOut: number; videoChannels: number } {
  const p = c.patch_size ?? 1;
  if (p > 1 && c.in_channels % (p * p) === 0 && c.in_channels !== 3) {
    // The Wan2.2 file already states the patchified count (12).
    return { encoderIn: c.in_channels, decoderOut: c.out_channels, videoChannels: c.in_channels / (p * p) };
  }
  return { encoderIn: c.in_channels * p * p, decoderOut: c.out_channels * p * p, videoChannels: c.in_channels };
}

/** Frames per latent frame after the first, and pixels per latent pixel. */
export function compression(c: WanVAEConfig): { temporal: number; spatial: number } {
  const stages = c.temperal_downsample.slice(0, c.dim_mult.length - 1);
  return { temporal: 2 ** stages.filter(Boolean).length, spatial: 2 ** (c.dim_mult.length - 1) * (c.patch_size ?? 1) };
}
