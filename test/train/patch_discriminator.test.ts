// The VAE's critic (src/train/patch_discriminator.ts): with its blurred downsampling, the gradient it
// sends back to a flat frame is flat (no period-2 pattern for a decoder to learn as a checkerboard).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { Generator, full, noGrad, randn, scope } from '../../src/torch/index.js';
import { CriticTraining, PatchDiscriminator, generatorTerms } from '../../src/train/patch_discriminator.js';

/** Share of the central 16x16 gradient's energy in its period-2 components (the checkerboard and the stripes). */
function periodTwoShare(): { share: number; logits: readonly number[] } {
  using critic = new PatchDiscriminator(3, 8, 2, { generator: new Generator(5) });
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

test('blurred downsampling sends a flat frame a flat gradient; one logit per patch of a 14x14 grid', () => {
  const blur = periodTwoShare();
  assert.ok(blur.share < 1e-8, `blur: ${blur.share}`);
  assert.deepEqual(blur.logits, [1, 1, 14, 14]);
});

test("feature matching's features: each blurred layer's before its blur, at the resolution it was computed", () => {
  using critic = new PatchDiscriminator(3, 8, 2, { generator: new Generator(5) });
  using x = full([1, 3, 64, 64], 0.3);
  const { logits, features } = critic.forward(x);
  const shapes = features.map((f) => [...f.shape]);
  for (const t of [logits, ...features]) t.dispose();
  assert.deepEqual(shapes, [
    [1, 8, 64, 64],
    [1, 16, 32, 32],
    [1, 32, 15, 15],
  ]);
});

test("the generator's terms: the hinge term is −weight·mean D(fake), feature matching is 0 at the real input; only the fake side carries gradient", () => {
  using net = new PatchDiscriminator(4, 8, 1, { generator: new Generator(3) });
  using real = randn([3, 4, 8, 8], new Generator(4));
  using fake = randn([3, 4, 8, 8], new Generator(5)).requiresGrad_(true);
  const hinge = scope(() => generatorTerms(net, real, fake, { weight: 0.5, feature_matching_weight: 0 }).item());
  const logits = scope(() => noGrad(() => net.forward(fake).logits.mean().item()));
  assert.ok(Math.abs(hinge - -0.5 * logits) < 1e-6, `${hinge} against ${-0.5 * logits}`);
  // feature matching of an input against itself is exactly zero; against another input positive
  assert.equal(
    scope(() => generatorTerms(net, real, real, { weight: 0, feature_matching_weight: 1 }).item()),
    0,
  );
  scope(() => {
    const terms = generatorTerms(net, real, fake, { weight: 1, feature_matching_weight: 1 });
    assert.ok(terms.item() !== 0);
    terms.backward();
  });
  assert.ok(fake.grad !== null && fake.grad.abs().sum().item() > 0, 'the fake input gets a gradient');
});

test('a critic in training: its hinge step lowers its loss on fixed inputs; save and load restore weights and AdamW exactly; a checkpoint without one is named', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'critic-'));
  try {
    using real = randn([4, 4, 8, 8], new Generator(6)).add(1);
    using fake = randn([4, 4, 8, 8], new Generator(7)).sub(1);
    const make = (): CriticTraining =>
      new CriticTraining(new PatchDiscriminator(4, 8, 1, { generator: new Generator(8) }), 1e-2);
    using critic = make();
    const first = critic.step(real, fake);
    for (let i = 0; i < 5; i++) critic.step(real, fake);
    critic.save(dir);
    const sixth = critic.step(real, fake);
    assert.ok(sixth < first, `hinge loss ${first} -> ${sixth}`);
    // a second critic restored from the save takes the very same next step
    using restored = make();
    restored.load(dir, 6);
    assert.equal(restored.step(real, fake), sixth);
    using fresh = make();
    assert.notEqual(fresh.step(real, fake), sixth, 'without the restore the step differs (the test can fail)');
    assert.throws(() => make().load(tmpdir(), 0), /has no discriminator\/: it was saved without training\.adversarial/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
