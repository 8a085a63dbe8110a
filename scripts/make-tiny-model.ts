// Writes test/fixtures/tiny_model/: a whole diffusers-format WorldWander model folder at toy
// size, seeded: transformer/ (WanTransformer3DModel, 2 blocks, dim 24), vae/ (a Wan2.2-layout
// AutoencoderKLWan, z 4, 8x spatial and 2x temporal compression), text_encoder/ and tokenizer/
// (the tiny umT5 of test/fixtures/umt5_tiny), and model_index.json with the pipeline's defaults
// for this size (32x64, 5 frames, 4 steps). The same code paths as the 5B model; the tests of
// the pipeline and of `worldwander infer` run on it.
// Usage: node dist/scripts/make-tiny-model.js [out-dir]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { Generator, saveSafetensors } from '../src/torch/index.js';
import { WanTransformer3DModel } from '../src/models/wan/transformer.js';
import type { WanTransformerConfig } from '../src/models/wan/transformer_config.js';
import { AutoencoderKLWan } from '../src/models/wan/vae.js';
import { WAN22_TI2V_5B_VAE, type WanVAEConfig } from '../src/models/wan/vae_config.js';
import { writeTinyTextEncoder } from './make-umt5-fixture.js';
import { modelIndexJson } from '../src/worldwander/model_defaults.js';

const out = process.argv[2] ?? 'test/fixtures/tiny_model';

export const TINY_TRANSFORMER: WanTransformerConfig = {
  patch_size: [1, 2, 2],
  num_attention_heads: 2,
  attention_head_dim: 12,
  in_channels: 4,
  out_channels: 4,
  text_dim: 8,
  freq_dim: 16,
  ffn_dim: 32,
  num_layers: 2,
  cross_attn_norm: true,
  qk_norm: 'rms_norm_across_heads',
  eps: 1e-6,
  rope_max_seq_len: 64,
};

export const TINY_VAE: WanVAEConfig = {
  ...WAN22_TI2V_5B_VAE,
  base_dim: 4,
  decoder_base_dim: 4,
  z_dim: 4,
  dim_mult: [1, 2, 2],
  num_res_blocks: 1,
  temperal_downsample: [false, true],
  latents_mean: [0.1, -0.2, 0.05, 0],
  latents_std: [1.5, 0.8, 1.2, 1],
};

export const TINY_DEFAULTS = {
  height: 32,
  width: 64,
  num_frames: 5,
  num_inference_steps: 4,
  guidance_scale: 5,
  flow_shift: 5,
  fps: 8,
};

function main(): void {
  const transformerDir = path.join(out, 'transformer'),
    vaeDir = path.join(out, 'vae');
  mkdirSync(transformerDir, { recursive: true });
  mkdirSync(vaeDir, { recursive: true });
  const transformer = new WanTransformer3DModel(TINY_TRANSFORMER, { generator: new Generator(31) });
  writeFileSync(
    path.join(transformerDir, 'config.json'),
    JSON.stringify(
      {
        _class_name: 'WanTransformer3DModel',
        _diffusers_version: '0.35.0',
        ...TINY_TRANSFORMER,
        image_dim: null,
        added_kv_proj_dim: null,
        pos_embed_seq_len: null,
      },
      null,
      2,
    ),
  );
  saveSafetensors(path.join(transformerDir, 'diffusion_pytorch_model.safetensors'), transformer.stateDict(), {
    format: 'pt',
  });
  const vae = new AutoencoderKLWan(TINY_VAE, { generator: new Generator(32) });
  writeFileSync(
    path.join(vaeDir, 'config.json'),
    JSON.stringify(
      { _class_name: 'AutoencoderKLWan', _diffusers_version: '0.35.0', clip_output: false, ...TINY_VAE },
      null,
      2,
    ),
  );
  saveSafetensors(path.join(vaeDir, 'diffusion_pytorch_model.safetensors'), vae.stateDict(), { format: 'pt' });
  writeTinyTextEncoder(out);
  writeFileSync(path.join(out, 'model_index.json'), modelIndexJson(TINY_DEFAULTS));
  console.log(
    `wrote ${out}: transformer (${transformer.numParameters()} parameters), vae (${vae.numParameters()}), text encoder, tokenizer`,
  );
}

main();
