// Writes test/fixtures/vae_tiny/: a diffusers-format `vae/` folder for a tiny Wan2.2-layout
// AutoencoderKLWan (config.json + diffusion_pytorch_model sharded in two files with its
// .safetensors.index.json), seeded weights, real key names.
// Usage: node dist/scripts/make-vae-fixture.js [out-dir]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { Generator, saveSafetensors, type Tensor } from '../src/torch/index.js';
import { AutoencoderKLWan } from '../src/models/wan/vae.js';
import { WAN22_TI2V_5B_VAE, type WanVAEConfig } from '../src/models/wan/vae_config.js';

const out = process.argv[2] ?? 'test/fixtures/vae_tiny';

export const FIXTURE_VAE_CONFIG: WanVAEConfig = {
  ...WAN22_TI2V_5B_VAE,
  base_dim: 2,
  decoder_base_dim: 2,
  z_dim: 2,
  dim_mult: [1, 2, 2],
  num_res_blocks: 1,
  temperal_downsample: [false, true],
  latents_mean: [0.5, -0.25],
  latents_std: [2, 0.5],
};

function main(): void {
  mkdirSync(out, { recursive: true });
  const vae = new AutoencoderKLWan(FIXTURE_VAE_CONFIG, { generator: new Generator(2025) });
  writeFileSync(
    path.join(out, 'config.json'),
    JSON.stringify(
      { _class_name: 'AutoencoderKLWan', _diffusers_version: '0.35.0', clip_output: false, ...FIXTURE_VAE_CONFIG },
      null,
      2,
    ),
  );
  const entries = [...vae.stateDict()];
  const shards = [
    entries.filter(([k]) => k.startsWith('encoder.')),
    entries.filter(([k]) => !k.startsWith('encoder.')),
  ];
  const weightMap: Record<string, string> = {};
  let total = 0;
  shards.forEach((shard, i) => {
    const name = `diffusion_pytorch_model-0000${i + 1}-of-00002.safetensors`;
    saveSafetensors(path.join(out, name), new Map<string, Tensor>(shard), { format: 'pt' });
    for (const [k, t] of shard) {
      weightMap[k] = name;
      total += t.numel() * 4;
    }
  });
  writeFileSync(
    path.join(out, 'diffusion_pytorch_model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
  );
  console.log(`wrote ${out}: ${entries.length} tensors, ${vae.numParameters()} parameters`);
}

main();
