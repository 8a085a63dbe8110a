// A model folder's sampling defaults: what model_index.json states under "_worldwander"
// (diffusers skips keys that start with `_`), else the release's; and which of its files only
// document it.
import { existsSync } from 'node:fs';
import path from 'node:path';

import { readJsonFile } from '../torch/json_file.js';

/** What a model folder may state in model_index.json under "_worldwander" (diffusers skips `_` keys). */
export interface ModelDefaults {
  height: number;
  width: number;
  num_frames: number;
  num_inference_steps: number;
  guidance_scale: number;
  flow_shift: number;
  fps: number;
  /** Text tokens the transformer attends to (prompt embeddings zero-padded to this length). */
  max_sequence_length: number;
}

/**
 * The release's: Wan2.2-TI2V-5B at 704x1280, 49 frames, 50 UniPC steps, guidance 5, shift 5, 8 fps,
 * 512 text tokens.
 */
export const RELEASE_DEFAULTS: ModelDefaults = {
  height: 704,
  width: 1280,
  num_frames: 49,
  num_inference_steps: 50,
  guidance_scale: 5,
  flow_shift: 5,
  fps: 8,
  max_sequence_length: 512,
};

/** The model folder's own defaults (model_index.json "_worldwander"), else the release's. */
export function readDefaults(modelDir: string): ModelDefaults {
  const file = path.join(modelDir, 'model_index.json');
  if (!existsSync(file)) return { ...RELEASE_DEFAULTS };
  const index = readJsonFile(file, 'model index') as { _worldwander?: Partial<ModelDefaults> };
  return { ...RELEASE_DEFAULTS, ...(index._worldwander ?? {}) };
}

/** A diffusers WanPipeline's model_index.json (its text), with the folder's own defaults under "_worldwander" when given. */
export function modelIndexJson(defaults?: Partial<ModelDefaults>): string {
  const index = {
    _class_name: 'WanPipeline',
    _diffusers_version: '0.35.0',
    boundary_ratio: null,
    expand_timesteps: true,
    scheduler: ['diffusers', 'UniPCMultistepScheduler'],
    text_encoder: ['transformers', 'UMT5EncoderModel'],
    tokenizer: ['transformers', 'T5TokenizerFast'],
    transformer: ['diffusers', 'WanTransformer3DModel'],
    vae: ['diffusers', 'AutoencoderKLWan'],
    ...(defaults && { _worldwander: defaults }),
  };
  return `${JSON.stringify(index, null, 2)}
`;
}

/** Files of a model folder that document it and change no output: the model card and its picture. */
export const MODEL_CARD_FILES: readonly string[] = ['README.md', 'example.png'];

/**
 * Seed 3: the bundled model's test split (training used seed 1, the choice of sampling settings
 * seed 2); the demo's data and the app's example clips.
 */
export const DEMO_DATA = { seed: 3, count: 4 } as const;

/** The small model that ships in the repository (npm start, serve). */
export const BUNDLED_MODEL = 'models/worldwander-small';
/** The bundled PerceptionNet (the eval's perceptual, Fréchet and content scores), beside the model. */
export const BUNDLED_PERCEPTION = `${BUNDLED_MODEL}/perception`;
