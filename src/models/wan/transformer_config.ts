// WanTransformer3DModel's config.json (diffusers), validated. Keys the real TI2V-5B file carries
// and this port does not use (image_dim, added_kv_proj_dim, pos_embed_seq_len: I2V-only parts
// that the official checkpoint has no weights for) are accepted and ignored.
import { FileFormatError } from '../../errors.js';

export type QkNorm = 'rms_norm_across_heads' | null;

export interface WanTransformerConfig {
  patch_size: [number, number, number];
  num_attention_heads: number;
  attention_head_dim: number;
  in_channels: number;
  out_channels: number;
  text_dim: number;
  freq_dim: number;
  ffn_dim: number;
  num_layers: number;
  cross_attn_norm: boolean;
  qk_norm: QkNorm;
  eps: number;
  rope_max_seq_len: number;
}

/** Wan2.2-TI2V-5B (diffusers convert script's entry plus class defaults). */
export const WAN22_TI2V_5B: WanTransformerConfig = {
  patch_size: [1, 2, 2],
  num_attention_heads: 24,
  attention_head_dim: 128,
  in_channels: 48,
  out_channels: 48,
  text_dim: 4096,
  freq_dim: 256,
  ffn_dim: 14336,
  num_layers: 30,
  cross_attn_norm: true,
  qk_norm: 'rms_norm_across_heads',
  eps: 1e-6,
  rope_max_seq_len: 1024,
};

/** diffusers' WanTransformer3DModel defaults (Wan2.1-14B's sizes): what a file's missing key means. */
const CLASS_DEFAULTS: WanTransformerConfig = {
  ...WAN22_TI2V_5B,
  in_channels: 16,
  out_channels: 16,
  num_attention_heads: 40,
  ffn_dim: 13824,
  num_layers: 40,
};

const IGNORED_KEYS = new Set(['image_dim', 'added_kv_proj_dim', 'pos_embed_seq_len']);

export class TransformerConfigError extends FileFormatError {
  override name = 'TransformerConfigError';
}

/**
 * Reads a config object as diffusers writes it: missing keys take diffusers' class defaults, `_`-prefixed bookkeeping keys are skipped, unknown keys are an error.
 */
export function parseTransformerConfig(raw: unknown, where = 'config.json'): WanTransformerConfig {
  const fail = (why: string): never => {
    throw new TransformerConfigError(`${where}: ${why}`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('expected a JSON object');
  const source = raw as Record<string, unknown>;
  const config: Record<string, unknown> = { ...CLASS_DEFAULTS };
  for (const [key, value] of Object.entries(source)) {
    if (key.startsWith('_') || IGNORED_KEYS.has(key)) continue;
    if (!(key in WAN22_TI2V_5B)) fail(`unknown key '${key}'; known keys: ${Object.keys(WAN22_TI2V_5B).join(', ')}`);
    config[key] = value;
  }
  const int = (key: keyof WanTransformerConfig, min = 1): void => {
    const v = config[key];
    if (!Number.isInteger(v) || (v as number) < min)
      fail(`'${key}' must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  };
  for (const key of [
    'num_attention_heads',
    'attention_head_dim',
    'in_channels',
    'out_channels',
    'text_dim',
    'freq_dim',
    'ffn_dim',
    'rope_max_seq_len',
  ] as const)
    int(key);
  int('num_layers', 0);
  const patch = config.patch_size;
  if (!Array.isArray(patch) || patch.length !== 3 || !patch.every((n) => Number.isInteger(n) && n >= 1))
    fail(`'patch_size' must be three positive integers, got ${JSON.stringify(patch)}`);
  if (typeof config.cross_attn_norm !== 'boolean')
    fail(`'cross_attn_norm' must be a boolean, got ${JSON.stringify(config.cross_attn_norm)}`);
  if (config.qk_norm !== null && config.qk_norm !== 'rms_norm_across_heads')
    fail(`'qk_norm' must be "rms_norm_across_heads" or null, got ${JSON.stringify(config.qk_norm)}`);
  if (typeof config.eps !== 'number' || !(config.eps > 0))
    fail(`'eps' must be a positive number, got ${JSON.stringify(config.eps)}`);
  if ((config.freq_dim as number) % 2 !== 0) fail(`'freq_dim' must be even, got ${config.freq_dim}`);
  const headDim = config.attention_head_dim as number;
  const split = ropeSplit(headDim);
  if (headDim % 2 !== 0 || split.some((d) => d <= 0 || d % 2 !== 0))
    fail(`'attention_head_dim' ${headDim} does not split into even RoPE parts (t, h, w) = (${split.join(', ')})`);
  return config as unknown as WanTransformerConfig;
}

/** Head-dim split of 3D RoPE over (frame, height, width): h = w = 2·⌊d/6⌋, t the rest. */
export function ropeSplit(headDim: number): [number, number, number] {
  const hw = 2 * Math.floor(headDim / 6);
  return [headDim - 2 * hw, hw, hw];
}

export function innerDim(config: WanTransformerConfig): number {
  return config.num_attention_heads * config.attention_head_dim;
}

/** Whether a config.json is the original release's (WanModel) rather than diffusers'. */
export function isOriginalConfig(raw: Record<string, unknown>): boolean {
  return raw._class_name === 'WanModel' || (raw.dim !== undefined && raw.num_attention_heads === undefined);
}
