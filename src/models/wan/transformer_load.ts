// Loading a diffusers-format transformer folder: config.json plus diffusion_pytorch_model
// safetensors (one file or sharded with an index), real key names, float32 or bfloat16.
import path from 'node:path';

import { openWeights, readJsonFile, type DType, type Device } from '../../torch/index.js';
import { loadPretrained, type LoadProgress } from '../../nn/module.js';
import { WanTransformer3DModel } from './transformer.js';
import { parseTransformerConfig, type WanTransformerConfig } from './transformer_config.js';

export function readTransformerConfig(modelDir: string): WanTransformerConfig {
  const file = path.join(modelDir, 'config.json');
  return parseTransformerConfig(readJsonFile(file, 'transformer config'), file);
}

/**
 * Builds the model from `modelDir/config.json` without drawing weights, then loads every tensor
 * strictly (all missing, unexpected or mis-shaped keys named). With dtype bfloat16, the parts
 * diffusers keeps in float32 (time_embedder, every scale_shift_table, blocks.N.norm2) stay so.
 */
export function loadWanTransformer(
  modelDir: string,
  { dtype = 'float32', device, onProgress }: { dtype?: DType; device?: Device; onProgress?: LoadProgress } = {},
): WanTransformer3DModel {
  const config = readTransformerConfig(modelDir);
  return loadPretrained(new WanTransformer3DModel(config, { init: 'empty', dtype, device }), openWeights(modelDir, 'diffusion_pytorch_model'), modelDir, onProgress).eval();
}
