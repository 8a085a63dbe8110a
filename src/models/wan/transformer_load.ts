// Loading a diffusers-format transformer folder: config.json plus diffusion_pytorch_model
// safetensors (one file or sharded with an index), real key names, float32 or bfloat16.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { openWeights, type DType, type Device } from '../../torch/index.js';
import { WanTransformer3DModel } from './transformer.js';
import { parseTransformerConfig, type WanTransformerConfig } from './transformer_config.js';

export function readTransformerConfig(modelDir: string): WanTransformerConfig {
  const file = path.join(modelDir, 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: cannot read the transformer config: ${(error as Error).message}`);
  }
  return parseTransformerConfig(raw, file);
}

/**
 * Builds the model from `modelDir/config.json` without drawing weights, then loads every tensor
 * strictly (all missing, unexpected or mis-shaped keys named). With dtype bfloat16, the parts
 * diffusers keeps in float32 (time_embedder, every scale_shift_table, blocks.N.norm2) stay so.
 */
export function loadWanTransformer(modelDir: string, { dtype = 'float32', device }: { dtype?: DType; device?: Device } = {}): WanTransformer3DModel {
  const config = readTransformerConfig(modelDir);
  const model = new WanTransformer3DModel(config, { init: 'empty', dtype, device });
  try {
    model.loadStateDict(openWeights(modelDir, 'diffusion_pytorch_model'), { where: modelDir });
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model.eval();
}
