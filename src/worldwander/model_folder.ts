// Where a Wan2.2-TI2V-5B model's parts are, in either folder layout, with single files in place
// of any part: the diffusers folder (transformer/, vae/, text_encoder/, tokenizer/) or the
// original Wan-AI release (config.json and diffusion_pytorch_model-*.safetensors at the root
// beside Wan2.2_VAE.pth, models_t5_umt5-xxl-enc-bf16.pth and the google/umt5-xxl tokenizer
// folder: the names of Wan2.2's wan/configs/wan_ti2v_5B.py). Each weights file is recognised by
// its keys when loaded (model_parts.ts). Path logic only: nothing here loads libtorch.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

import { OptionError } from '../errors.js';
import { readJsonFile } from '../torch/json_file.js';
import { isOriginalConfig } from '../models/wan/transformer_config.js';
import type { TextEncoderFiles } from '../models/umt5/prompt_cache.js';
import { modelDirCandidates, type WorldWanderConfig } from './config.js';

export type ModelFolderLayout = 'diffusers' | 'original';

/** A VAE's weights (a diffusers vae/ folder, or one file in any layout) and its config.json (optional for a file). */
export interface VaeFiles {
  weights: string;
  config?: string;
}

export interface ModelFiles {
  dir: string;
  layout: ModelFolderLayout;
  /** The folder of the transformer's config.json (and weights, unless `weights` names one file). */
  transformer: { dir: string; weights?: string };
  vae: VaeFiles;
  text: TextEncoderFiles;
}

/** Single files in place of a folder's parts (`--transformer`, `--vae`, `--vae-config`, `--text-encoder`). */
export interface ModelFileOverrides {
  transformer?: string;
  vae?: string;
  vaeConfig?: string;
  textEncoder?: string;
}

const ORIGINAL = {
  vae: 'Wan2.2_VAE.pth',
  textEncoder: 'models_t5_umt5-xxl-enc-bf16.pth',
  tokenizer: path.join('google', 'umt5-xxl'),
};

/** Which layout a model folder is in, or null when it is neither. */
export function modelFolderLayout(dir: string): ModelFolderLayout | null {
  if (existsSync(path.join(dir, 'transformer', 'config.json'))) return 'diffusers';
  const config = path.join(dir, 'config.json');
  if (existsSync(config) && isOriginalConfig(readJsonFile(config, 'transformer config') as Record<string, unknown>))
    return 'original';
  return null;
}

export const MODEL_FOLDER_EXPECTED =
  'a Wan2.2-TI2V-5B folder: diffusers (transformer/, vae/, text_encoder/, tokenizer/) or the original release (config.json, diffusion_pytorch_model*.safetensors, Wan2.2_VAE.pth, models_t5_umt5-xxl-enc-bf16.pth, google/umt5-xxl/)';

/** The parts of the model in `dir`, with `overrides` in place of its own files; each file named is checked to exist. */
export function modelFiles(dir: string, overrides: ModelFileOverrides = {}): ModelFiles {
  const layout = modelFolderLayout(dir);
  if (!layout) throw new OptionError('modelDir', `${dir} is not ${MODEL_FOLDER_EXPECTED}`);
  const files: ModelFiles =
    layout === 'diffusers'
      ? {
          dir,
          layout,
          transformer: { dir: path.join(dir, 'transformer') },
          vae: { weights: path.join(dir, 'vae'), config: path.join(dir, 'vae', 'config.json') },
          text: {
            weights: path.join(dir, 'text_encoder'),
            config: path.join(dir, 'text_encoder', 'config.json'),
            tokenizer: path.join(dir, 'tokenizer'),
          },
        }
      : {
          dir,
          layout,
          transformer: { dir },
          vae: { weights: path.join(dir, ORIGINAL.vae) },
          text: { weights: path.join(dir, ORIGINAL.textEncoder), tokenizer: path.join(dir, ORIGINAL.tokenizer) },
        };
  const file = (option: keyof ModelFileOverrides, value: string): string => {
    if (!existsSync(value) || statSync(value).isDirectory()) throw new OptionError(option, `${value} is not a file`);
    return value;
  };
  if (overrides.transformer) files.transformer.weights = file('transformer', overrides.transformer);
  if (overrides.vae) files.vae = { weights: file('vae', overrides.vae) };
  if (overrides.vaeConfig) files.vae.config = file('vaeConfig', overrides.vaeConfig);
  if (overrides.textEncoder)
    files.text = { weights: file('textEncoder', overrides.textEncoder), tokenizer: files.text.tokenizer };
  return files;
}

/** The model folder: the one given, or the config's model_id as a local path; nothing is downloaded. */
export function resolveModelDir(config: WorldWanderConfig, configFile: string, explicit?: string): string {
  if (explicit) {
    if (!modelFolderLayout(explicit)) throw new OptionError('modelDir', `${explicit} is not ${MODEL_FOLDER_EXPECTED}`);
    return explicit;
  }
  const candidates = modelDirCandidates(config, configFile);
  const found = candidates.find((dir) => modelFolderLayout(dir) !== null);
  if (!found)
    throw new OptionError(
      'modelDir',
      `the config's model_id '${config.model_id}' is not a local model folder (looked in ${candidates.join(' and ')}); nothing is downloaded: give the folder of Wan2.2-TI2V-5B-Diffusers or of the original Wan2.2-TI2V-5B release`,
    );
  return found;
}
