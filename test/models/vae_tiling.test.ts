// Tiled decode against an untiled decode of the same latents.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Generator, noGrad, randn, scope, type Tensor } from '../../src/torch/index.js';
import { AutoencoderKLWan } from '../../src/models/wan/vae.js';
import { WAN22_TI2V_5B_VAE, type WanVAEConfig } from '../../src/models/wan/vae_config.js';
import { blendRamp, decodeTiled, tileStarts } from '../../src/models/wan/vae_tiling.js';

// One spatial upsampling stage + 2x2 patch: 4 pixels per latent pixel. Decoder receptive radius
// in latent pixels: conv_in 1 + mid block 2 resnets x 2 convs 4 + up block 0 (1 resnet) 2 +
// upsampler conv 0.5 + up block 1 (1 resnet at 2x) 1 + conv_out 0.5 = 9 (the mid-block attention
// aside, which spans the whole frame).
const CONFIG: WanVAEConfig = {
  ...WAN22_TI2V_5B_VAE,
  base_dim: 2,
  decoder_base_dim: 2,
  z_dim: 2,
  dim_mult: [1, 2],
  num_res_blocks: 0,
  temperal_downsample: [false],
  latents_mean: [0, 0],
  latents_std: [1, 1],
};
const TILES = { tileHeight: 32, tileWidth: 32, strideHeight: 16, strideWidth: 16 };

test('tile starts cover the whole axis, the last tile flush with the end; ramps sum to 1 across an overlap', () => {
  assert.deepEqual(tileStarts(48, 32, 16), [0, 16]);
  assert.deepEqual(tileStarts(50, 32, 16), [0, 16, 18]);
  assert.deepEqual(tileStarts(20, 32, 16), [0]);
  const a = blendRamp(8, 0, 4);
  const b = blendRamp(8, 4, 0);
  for (let k = 0; k < 4; k++) assert.ok(Math.abs(a[4 + k]! + b[k]! - 1) < 1e-7);
});

/** Flat indices of pixels inside / outside the overlap bands (latent rows or columns [16, 32)). */
function outsideBands(t: Tensor, scale: number): { inside: number[]; outside: number[] } {
  const [, c, f, h, w] = t.shape as number[] as [number, number, number, number, number];
  const inBand = (p: number): boolean => p >= 16 * scale && p < 32 * scale;
  const inside: number[] = [];
  const outside: number[] = [];
  for (let i = 0; i < c * f; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        (inBand(y) || inBand(x) ? inside : outside).push(i * h * w + y * w + x);
      }
  return { inside, outside };
}

test('without attention, tiled decode equals untiled decode outside the blend bands (overlap 16 > receptive radius 9); inside them within 0.25 (measured 0.16)', () =>
  scope(() => {
    const vae = new AutoencoderKLWan(CONFIG, { generator: new Generator(11) });
    // Zero the mid-block attention's output projection: the block becomes the identity.
    noGrad(() => {
      vae.decoder.mid_block.attentions.at(0).proj.weight.zero_();
      vae.decoder.mid_block.attentions.at(0).proj.bias.zero_();
    });
    const z = randn([1, 2, 2, 48, 48], new Generator(12));
    const full = vae.decode(z);
    const tiled = decodeTiled(vae, z, TILES);
    assert.deepEqual(tiled.shape, full.shape);
    const diff = tiled.sub(full).abs().toArray();
    const { inside, outside } = outsideBands(full, 4);
    const worstOutside = Math.max(...outside.map((i) => diff[i]!));
    const worstInside = Math.max(...inside.map((i) => diff[i]!));
    assert.ok(worstOutside < 1e-5, `outside the bands: max |tiled - untiled| = ${worstOutside}`);
    assert.ok(worstInside < 0.25, `inside the bands: max |tiled - untiled| = ${worstInside}`);
  }));

test('with the mid-block attention (frame-wide), tiled decode stays within 0.3 of untiled everywhere (measured 0.22)', () =>
  scope(() => {
    const vae = new AutoencoderKLWan(CONFIG, { generator: new Generator(11) });
    const z = randn([1, 2, 1, 48, 48], new Generator(13));
    const worst = decodeTiled(vae, z, TILES).sub(vae.decode(z)).abs().amax([0, 1, 2, 3, 4]).item();
    assert.ok(worst < 0.3, `max |tiled - untiled| = ${worst}`);
  }));
