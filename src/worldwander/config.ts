// The release's YAML configs (configs/wan2-2_lora_*.yaml), read as they are: the same keys, the
// same meaning, checked by a schema that names every unknown or mistyped key. Beyond the
// release: `use_lora: False` trains every transformer weight (small models), and optional
// `validation` and `sampling` sections. Dotted overrides (`training.learning_rate=1e-4`) apply
// before the check. Shared by `worldwander infer` and `worldwander train`.
import { readFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { parse as parseYaml, parseDocument } from 'yaml';
import { z } from 'zod';

import { FileFormatError, OptionError } from '../errors.js';

const int = (min = 0) => z.number().int().min(min);
const path_ = z.string().min(1);

/**
 * Lightning's precision names: "bf16-mixed" (autocast to bfloat16, float32 master weights) or
 * float32. A number from YAML or an override (`training.precision=32`) means the same as the string.
 */
export const PrecisionSchema = z.preprocess(
  (v) => (typeof v === 'number' ? String(v) : v),
  z.enum(['bf16-mixed', '32', '32-true']),
);

const TrainingSchema = z.strictObject({
  resume_path: path_.nullable(),
  batch_size: int(1),
  max_steps: int(1),
  warmup_steps: int(0),
  rank: int(1),
  learning_rate: z.number().positive(),
  weight_decay: z.number().min(0),
  save_val_interval_steps: int(1),
  accumulate_grad_batches: int(1),
  gradient_clip_val: z.number().positive().nullable(),
  precision: PrecisionSchema,
  accelerator: z.string(),
  strategy: z.string(),
  gradient_checkpointing: z.boolean(),
  benchmark: z.boolean(),
  // beyond the release
  /** LoRA alpha (default: the rank, as the release). */
  lora_alpha: z.number().positive().optional(),
  seed: int(0).optional(),
  /** Checkpoints kept under OUTPUT/checkpoints (the newest). */
  keep_last_checkpoints: int(1).optional(),
  /** Flow shift of the training schedule (the release: 5). */
  flow_shift: z.number().positive().optional(),
  /** Loss weight per timestep: the release's bell around t = 500 (zero at t = 1000), or uniform (every timestep 1). */
  loss_weighting: z.enum(['bell', 'uniform']).optional(),
  /** Linear learning-rate decay over the last steps of max_steps (0, the release: constant after warm-up). */
  decay_steps: int(0).optional(),
  /**
   * One model for both tasks, told apart by the task prompt: steps alternate three2one / one2three
   * (needs ref_image_root).
   */
  alternate_tasks: z.boolean().optional(),
});

const DatasetSchema = z.strictObject({
  first_video_root: path_,
  third_video_root: path_,
  ref_image_root: path_.nullable(),
  is_one2three: z.boolean(),
  height: int(1),
  width: int(1),
  resize_long: int(1),
  sample_n_frames: int(1),
  stride: int(1),
  fps: int(1),
  num_workers: int(0),
  shuffle: z.boolean(),
  drop_last: z.boolean(),
  pin_memory: z.boolean(),
  // beyond the release
  /** Held-out cases (names) never trained on; validation samples the first of them unless `validation.cases` says. */
  held_out: z.array(z.string()).optional(),
  /**
   * Train on the usable clips when some are unpaired, of unequal view lengths or too short
   * (listed); otherwise that is an error naming them.
   */
  skip_invalid: z.boolean().optional(),
  /**
   * Latent cache folder (VAE-encoded clip windows): training then reads latents, not videos.
   * Relative to the config's folder.
   */
  latent_cache: path_.nullable().optional(),
  /** Windows cached per clip (spread evenly over it): the random start becomes a choice among them. */
  cached_windows: int(1).optional(),
});

const SamplingSchema = z.strictObject({
  num_inference_steps: int(1),
  guidance_scale: z.number().min(0),
  flow_shift: z.number().positive(),
  sampler: z.enum(['unipc', 'euler']).optional(),
});

const ValidationSchema = z.strictObject({
  /** Case names (in the dataset folders) sampled at every checkpoint. */
  cases: z.array(z.string()).min(1).optional(),
  num_inference_steps: int(1).optional(),
  guidance_scale: z.number().min(0).optional(),
});

export const WorldWanderConfigSchema = z.strictObject({
  experiment_project: z.string(),
  experiment_name: z.string(),
  model_id: path_,
  output_root: path_,
  use_drop_text: z.boolean(),
  use_lora: z.boolean(),
  use_collaborative_position_encoding: z.boolean(),
  training: TrainingSchema,
  dataset: DatasetSchema,
  // beyond the release
  sampling: SamplingSchema.optional(),
  validation: ValidationSchema.optional(),
});

export type WorldWanderConfig = z.infer<typeof WorldWanderConfigSchema>;
export type WorldWanderTaskName = 'three2one' | 'one2three';

export class ConfigError extends FileFormatError {
  override name = 'ConfigError';
}

/** Sets `a.b.c` in a nested object (creating objects on the way). */
function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null) node[key] = {};
    else if (typeof next !== 'object' || Array.isArray(next))
      throw new OptionError(null, `override ${dotted}: '${key}' is not a section`);
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

/**
 * `key.path=value` pairs, the value read as a YAML scalar (so 1e-4, True, ~ and 'text' mean what
 * they do in the file).
 */
export function parseOverrides(pairs: readonly string[]): [string, unknown][] {
  return pairs.map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new OptionError(null, `override '${pair}' is not key.path=value`);
    return [pair.slice(0, eq), parseYaml(pair.slice(eq + 1))];
  });
}

/** Applies `key.path=value` overrides to a config object read from YAML; returns how errors name the result. */
export function applyOverrides(raw: Record<string, unknown>, overrides: readonly string[], file: string): string {
  for (const [key, value] of parseOverrides(overrides)) setPath(raw, key, value);
  return overrides.length ? `${file} (with ${overrides.join(' ')})` : file;
}

function describe(issue: z.core.$ZodIssue, raw: unknown): string {
  const where = issue.path.join('.') || '(top level)';
  if (issue.code === 'unrecognized_keys')
    return `${where === '(top level)' ? '' : `${where}: `}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  let value: unknown = raw;
  for (const key of issue.path)
    value =
      value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key as PropertyKey] : undefined;
  const got = value === undefined ? 'missing' : `got ${JSON.stringify(value)}`;
  return `${where}: ${issue.message.replace(/^Invalid input: /, '')} (${got})`;
}

/** Checks a config object; every problem is named with its key path. */
export function parseConfig(raw: unknown, where: string): WorldWanderConfig {
  const result = WorldWanderConfigSchema.safeParse(raw);
  if (!result.success)
    throw new ConfigError(`${where}: ${result.error.issues.map((i) => describe(i, raw)).join('; ')}`);
  const config = result.data;
  if ((config.training.decay_steps ?? 0) > config.training.max_steps)
    throw new ConfigError(
      `${where}: training.decay_steps is ${config.training.decay_steps}, more than training.max_steps (${config.training.max_steps})`,
    );
  if (config.dataset.is_one2three && !config.dataset.ref_image_root)
    throw new ConfigError(`${where}: dataset.is_one2three needs dataset.ref_image_root`);
  return config;
}

/** Reads a config file (the release's YAML), applies `key.path=value` overrides, checks it. */
export function loadConfig(file: string, overrides: readonly string[] = []): WorldWanderConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`${file}: cannot read the config: ${(error as Error).message}`);
  }
  const document = parseDocument(text);
  if (document.errors.length) throw new ConfigError(`${file}: not valid YAML: ${document.errors[0]!.message}`);
  const raw = (document.toJS() ?? {}) as Record<string, unknown>;
  return parseConfig(raw, applyOverrides(raw, overrides, file));
}

export function taskOf(config: WorldWanderConfig): WorldWanderTaskName {
  return config.dataset.is_one2three ? 'one2three' : 'three2one';
}

/**
 * A path a config names: relative paths are the release's, taken from the working folder (its
 * scripts run from the repository root); one found only next to the config is taken from there.
 */
export function resolveConfigPath(configFile: string, p: string): string {
  if (path.isAbsolute(p) || existsSync(p)) return p;
  const beside = path.join(path.dirname(path.resolve(configFile)), p);
  return existsSync(beside) ? beside : p;
}

/**
 * The model folder of a config: `model_id` as a local path, relative to the working folder or to
 * the config's folder.
 */
export function modelDirCandidates(config: WorldWanderConfig, configFile: string): string[] {
  const id = config.model_id;
  return path.isAbsolute(id) ? [id] : [...new Set([path.resolve(id), path.resolve(path.dirname(configFile), id)])];
}
