// UMT5 config.json (transformers keys) for the encoder.
import { FileFormatError } from '../../errors.js';
import { readJsonFile } from '../../torch/index.js';

export interface UMT5Config {
  vocab_size: number;
  d_model: number;
  d_kv: number;
  d_ff: number;
  num_layers: number;
  num_heads: number;
  relative_attention_num_buckets: number;
  relative_attention_max_distance: number;
  layer_norm_epsilon: number;
  feed_forward_proj: string;
  pad_token_id: number;
  eos_token_id: number;
}

/** google/umt5-xxl, the text encoder of Wan2.2-TI2V-5B. */
export const UMT5_XXL: UMT5Config = {
  vocab_size: 256384,
  d_model: 4096,
  d_kv: 64,
  d_ff: 10240,
  num_layers: 24,
  num_heads: 64,
  relative_attention_num_buckets: 32,
  relative_attention_max_distance: 128,
  layer_norm_epsilon: 1e-6,
  feed_forward_proj: 'gated-gelu',
  pad_token_id: 0,
  eos_token_id: 1,
};

const REQUIRED: (keyof UMT5Config)[] = ['vocab_size', 'd_model', 'd_kv', 'd_ff', 'num_layers', 'num_heads'];

export function parseUMT5Config(raw: Record<string, unknown>, where = 'UMT5 config'): UMT5Config {
  const missing = REQUIRED.filter((k) => raw[k] === undefined);
  if (missing.length) throw new FileFormatError(`${where}: missing ${missing.join(', ')}`);
  const c: UMT5Config = { ...UMT5_XXL };
  for (const key of Object.keys(UMT5_XXL) as (keyof UMT5Config)[])
    if (raw[key] !== undefined) (c as unknown as Record<string, unknown>)[key] = raw[key];
  for (const key of REQUIRED)
    if (!Number.isInteger(c[key]) || (c[key] as number) < 1)
      throw new FileFormatError(`${where}: ${key} must be a positive integer, got ${JSON.stringify(c[key])}`);
  if (c.feed_forward_proj !== 'gated-gelu')
    throw new FileFormatError(
      `${where}: feed_forward_proj '${c.feed_forward_proj}' is not supported (UMT5 uses 'gated-gelu')`,
    );
  if (raw.is_encoder_decoder === false || (typeof raw.model_type === 'string' && raw.model_type !== 'umt5')) {
    throw new FileFormatError(`${where}: model_type must be 'umt5', got ${JSON.stringify(raw.model_type)}`);
  }
  return c;
}

export function readUMT5Config(file: string): UMT5Config {
  return parseUMT5Config(readJsonFile(file, 'text encoder config') as Record<string, unknown>, file);
}
