// Loading a model's parts from where model_folder.ts found them: a folder, or one file in any
// layout (transformer_layouts.ts, vae_layouts.ts, umt5/layouts.ts).
import { existsSync, statSync } from 'node:fs';

import { OptionError } from '../errors.js';
import { openTensorFile, type DType, type Device } from '../torch/index.js';
import type { LoadProgress } from '../nn/index.js';
import { AutoencoderKLWan } from '../models/wan/vae.js';
import { WanTransformer3DModel, type PretrainedOptions } from '../models/wan/transformer.js';
import type { WanTransformerConfig } from '../models/wan/transformer_config.js';
import { readVaeConfig, type WanVAEConfig } from '../models/wan/vae_config.js';
import { asDiffusersVaeSource, vaeConfigFromShapes } from '../models/wan/vae_layouts.js';
import type { ModelFiles, VaeFiles } from './model_folder.js';

const isFolder = (location: string): boolean => existsSync(location) && statSync(location).isDirectory();

/** The VAE of `files`, from its diffusers folder or its single file. */
export function loadVae(
  files: VaeFiles,
  options: { dtype?: DType; device?: Device; onProgress?: LoadProgress } = {},
): AutoencoderKLWan {
  if (isFolder(files.weights)) return AutoencoderKLWan.fromPretrained(files.weights, options);
  if (!existsSync(files.weights))
    throw new OptionError('modelDir', `${files.weights} does not exist (the VAE's weights)`);
  return AutoencoderKLWan.fromSingleFile(files.weights, { ...options, configFile: files.config });
}

/** The VAE's config without loading its weights (a single file's is read off its shapes). */
export function vaeConfigOf(files: VaeFiles): WanVAEConfig {
  if (files.config) return readVaeConfig(files.config);
  return vaeConfigFromShapes(asDiffusersVaeSource(openTensorFile(files.weights), files.weights).source, files.weights);
}

/** The transformer of `files` (its block weights stored as `storage` says: fp8, or host memory for block swap). */
export function loadTransformer(
  files: ModelFiles['transformer'],
  options: Omit<PretrainedOptions, 'weights'> = {},
): WanTransformer3DModel {
  return WanTransformer3DModel.fromPretrained(files.dir, { ...options, weights: files.weights });
}

/** The parameter counts of the transformer and the VAE of these configs (built on the meta device: nothing allocated). */
export function partCounts(transformer: WanTransformerConfig, vae: WanVAEConfig): { transformer: number; vae: number } {
  using t = new WanTransformer3DModel(transformer, { init: 'empty', device: 'meta' });
  using v = new AutoencoderKLWan(vae, { init: 'empty', device: 'meta' });
  return { transformer: t.numParameters(), vae: v.numParameters() };
}
