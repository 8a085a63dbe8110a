// A model folder in the original Wan-AI release's layout (config.json and the sharded transformer
// at the root, Wan2.2_VAE.pth, models_t5_umt5-xxl-enc-bf16.pth, google/umt5-xxl/), assembled from
// the fixtures of scripts/make-wan-layout-fixtures.py and scripts/make-original-release-fixtures.py,
// with the tiny model's sampling defaults (model_index.json) so it samples as the diffusers folder does.
import { copyFileSync, cpSync } from 'node:fs';
import path from 'node:path';

import { repoRoot } from './release_examples.js';

const FIXTURES = path.join(repoRoot, 'test', 'fixtures');
export const TINY_MODEL = path.join(FIXTURES, 'tiny_model');
export const ORIGINAL_PARTS = path.join(FIXTURES, 'original_release');
/** The tiny VAE's shapes are not Wan2.2's: its latent statistics come from this config.json (--vae-config). */
export const TINY_VAE_CONFIG = path.join(TINY_MODEL, 'vae', 'config.json');

/** Writes the folder under `parent` and returns it. */
export function originalReleaseFolder(parent: string): string {
  const dir = path.join(parent, 'Wan2.2-TI2V-5B');
  cpSync(path.join(FIXTURES, 'wan_layouts', 'original'), dir, { recursive: true });
  for (const name of ['Wan2.2_VAE.pth', 'models_t5_umt5-xxl-enc-bf16.pth'])
    copyFileSync(path.join(ORIGINAL_PARTS, name), path.join(dir, name));
  cpSync(path.join(ORIGINAL_PARTS, 'google'), path.join(dir, 'google'), { recursive: true });
  copyFileSync(path.join(TINY_MODEL, 'model_index.json'), path.join(dir, 'model_index.json'));
  return dir;
}
