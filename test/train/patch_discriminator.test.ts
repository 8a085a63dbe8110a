// The VAE's critic (src/train/patch_discriminator.ts): with blurred downsampling, the gradient it
// sends back to a flat frame is flat (no period-2 pattern for a decoder to learn as a checkerboard);
// with SD's strided 4x4 kernels it is not: the test that shows the difference can fail.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Generator, full } from '../../src/torch/index.js';
import { PatchDiscriminator, type CriticDownsample } from '../../src/train/patch_discriminator.js';

/** Share of the central 16x16 gradient's energy in its period-2 components (the checkerboard and the stripes). */
function periodTwoShare(downsample: CriticDownsample): { share: number; logits: readonly number[] } {
  using critic = new PatchDiscriminator(3, 8, 2, { generator: new Generator(5) }, downsample);
  using x = full([1, 3, 64, 64], 0.3).requiresGrad_(true);
  const { logits, features } = critic.forward(x);
  logits.sum().backward();
  const shape = logits.shape;
  const g = x.grad!.toArray();
  let energy = 0,
    periodic = 0;
  for (let c = 0; c < 3; c++) {
    const components = [0, 0, 0];
    let sum = 0;
    for (let i = 24; i < 40; i++)
      for (let j = 24; j < 40; j++) {
        const v = g[c * 4096 + i * 64 + j]!;
        sum += v;
        components[0]! += v * (-1) ** (i + j);
        components[1]! += v * (-1) ** i;
        components[2]! += v * (-1) ** j;
      }
    energy += sum ** 2 + components.reduce((a, b) => a + b ** 2, 0);
    periodic += components.reduce((a, b) => a + b ** 2, 0);
  }
  for (const t of [logits, ...features]) t.dispose();
  return { share: periodic / energy, logits: shape };
}

test('blurred downsampling sends a flat frame a flat gradient; strided 4x4 kernels a period-2 one; the patch grids match', () => {
  const blur = periodTwoShare('blur'),
    stride = periodTwoShare('stride');
  assert.ok(blur.share < 1e-8, `blur: ${blur.share}`);
  assert.ok(stride.share > 0.1, `stride: ${stride.share}`);
  assert.deepEqual(blur.logits, [1, 1, 14, 14]);
  assert.deepEqual(stride.logits, [1, 1, 14, 14]);
});

test("feature matching's features: after each blur ('pooled'), or before it at the resolution it was computed ('full')", () => {
  const sizes = (featureResolution: 'pooled' | 'full'): number[][] => {
    using critic = new PatchDiscriminator(3, 8, 2, { generator: new Generator(5) }, 'blur', featureResolution);
    using x = full([1, 3, 64, 64], 0.3);
    const { logits, features } = critic.forward(x);
    const shapes = features.map((f) => [...f.shape]);
    for (const t of [logits, ...features]) t.dispose();
    return shapes;
  };
  assert.deepEqual(sizes('pooled'), [
    [1, 8, 32, 32],
    [1, 16, 16, 16],
    [1, 32, 15, 15],
  ]);
  assert.deepEqual(sizes('full'), [
    [1, 8, 64, 64],
    [1, 16, 32, 32],
    [1, 32, 15, 15],
  ]);
});
