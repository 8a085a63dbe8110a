// The training schedule, objective pieces and learning rate against hand-computed values, and the
// data pieces: pairing by name with its report, windows that always fit, the transform.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { scope, tensor } from '../../src/torch/index.js';
import { flowMatchingPair, trainingSchedule, weightedMse } from '../../src/diffusion/index.js';
import { learningRateAt, scaledLearningRate } from '../../src/train/schedule.js';
import { fixedWindowStarts, indexTriplets, windowStartCount } from '../../src/data/triplets.js';
import { transformFrame } from '../../src/data/clip_loader.js';
import { encodePng } from '../../src/data/png.js';

test('training schedule: σ = shift(1 − k/1000), timestep = 1000σ, bell weights summing to 1000', () => {
  const s = trainingSchedule(5);
  assert.equal(s.sigmas.length, 1000);
  // by hand: k = 0 → σ = 1; k = 500 → σ = 5·0.5/(1 + 4·0.5) = 2.5/3; k = 999 → 5·0.001/1.004
  assert.equal(s.sigmas[0], 1);
  assert.ok(Math.abs(s.sigmas[500]! - 2.5 / 3) < 1e-15);
  assert.ok(Math.abs(s.sigmas[999]! - 0.005 / 1.004) < 1e-15);
  assert.ok(Math.abs(s.timesteps[500]! - 2500 / 3) < 1e-12);
  assert.ok(Math.abs(s.weights.reduce((a, b) => a + b, 0) - 1000) < 1e-9, 'weights sum to 1000');
  // y = exp(−2((t − 500)/1000)²): its minimum is at t = 1000 (k = 0), whose weight is 0
  assert.equal(s.weights[0], 0);
  const y = (t: number): number => Math.exp(-2 * ((t - 500) / 1000) ** 2);
  const total = s.timesteps.reduce((sum, t) => sum + y(t) - y(1000), 0);
  assert.ok(Math.abs(s.weights[500]! - ((y(2500 / 3) - y(1000)) * 1000) / total) < 1e-12);
  // the largest weight sits at the timestep closest to 500
  const peak = s.weights.indexOf(Math.max(...s.weights));
  assert.ok(
    Math.abs(s.timesteps[peak]! - 500) <= Math.abs(s.timesteps[peak - 1]! - 500) &&
      Math.abs(s.timesteps[peak]! - 500) <= Math.abs(s.timesteps[peak + 1]! - 500),
  );
});

test("uniform loss weighting: every timestep weighs 1, the σ grid is the bell schedule's", () => {
  const bell = trainingSchedule(1),
    uniform = trainingSchedule(1, 1000, 'uniform');
  assert.deepEqual(uniform.sigmas, bell.sigmas);
  assert.deepEqual(uniform.timesteps, bell.timesteps);
  assert.ok(uniform.weights.every((w) => w === 1));
  // shift 1: σ_k = 1 − k/1000 exactly, so t = 1000 (the one-step sampler's first timestep) weighs 0 under the bell
  assert.equal(bell.sigmas[250], 0.75);
  assert.equal(bell.weights[0], 0);
});

test('x_t = (1 − σ)x0 + σ·noise, target noise − x0, and the per-sample weighted MSE, on hand-made tensors', () =>
  scope(() => {
    const x0 = tensor([
        [1, 2],
        [3, 4],
      ]),
      noise = tensor([
        [0.5, -1],
        [2, 0],
      ]),
      sigma = tensor([[0.25], [0.5]]);
    const { noisy, target } = flowMatchingPair(x0, noise, sigma);
    assert.deepEqual(noisy.toArray(), [0.75 * 1 + 0.25 * 0.5, 0.75 * 2 - 0.25, 0.5 * 3 + 0.5 * 2, 0.5 * 4]);
    assert.deepEqual(target.toArray(), [-0.5, -3, -1, -4]);
    // sample 0: mean((1−0)², (2−1)²) = 1, weight 2; sample 1: mean(4, 0) = 2, weight 0.5 → (2 + 1)/2
    const loss = weightedMse(
      tensor([
        [1, 2],
        [3, 4],
      ]),
      tensor([
        [0, 1],
        [1, 4],
      ]),
      tensor([2, 0.5]),
    );
    assert.equal(loss.item(), 1.5);
  }));

test('learning rate: 5e-5·√(accumulation·world) warmed up linearly over 10 steps, then constant', () => {
  assert.ok(Math.abs(scaledLearningRate(5e-5, 2, 4) - 5e-5 * Math.sqrt(8)) < 1e-18);
  const base = 5e-5;
  assert.deepEqual(
    [0, 1, 4, 9, 10, 500].map((k) => learningRateAt(k, base, 10)),
    [5e-6, 1e-5, 2.5e-5, 5e-5, 5e-5, 5e-5],
  );
  assert.equal(learningRateAt(0, base, 0), base);
});

test('learning rate cool-down: the last 4 of 10 steps at 4/5, 3/5, 2/5, 1/5 of the base; warm-up still first', () => {
  const lr = (k: number): number => learningRateAt(k, 1, 2, { steps: 4, total: 10 });
  assert.deepEqual([0, 1, 5, 6, 7, 8, 9].map(lr), [0.5, 1, 1, 0.8, 0.6, 0.4, 0.2]);
  assert.deepEqual(
    [0, 1, 2].map((k) => learningRateAt(k, 1, 2, { steps: 3, total: 3 })),
    [0.5, 0.5, 0.25],
    'the smaller factor wins',
  );
  assert.equal(learningRateAt(9, 1, 0, { steps: 0, total: 10 }), 1, 'no cool-down: constant');
});

test('windows always fit, also when the video is barely long enough; fixed starts spread over the clip', () => {
  // 49 frames at stride 2 span 97 frames: a 97-frame video has exactly one start, a 96-frame one none
  assert.equal(windowStartCount(97, 49, 2), 1);
  assert.equal(windowStartCount(96, 49, 2), 0);
  assert.equal(windowStartCount(100, 49, 2), 4);
  assert.deepEqual(fixedWindowStarts(97, 49, 2, 4), [0]);
  assert.deepEqual(fixedWindowStarts(100, 49, 2, 4), [0, 1, 2, 3]);
  assert.deepEqual(fixedWindowStarts(200, 49, 2, 3), [0, 52, 103]);
  for (let frames = 97; frames < 140; frames++) {
    for (const start of fixedWindowStarts(frames, 49, 2, 5))
      assert.ok(start >= 0 && start + 96 <= frames - 1, `${frames} frames, start ${start}`);
  }
});

test('pairs are matched by name and what does not pair is reported; short and mismatched clips are left out, named', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pairs-'));
  try {
    const frame = encodePng({ width: 16, height: 16, channels: 3, data: new Uint8Array(16 * 16 * 3) });
    const clip = (view: string, name: string, frames: number): void => {
      mkdirSync(path.join(dir, view, name), { recursive: true });
      for (let i = 0; i < frames; i++)
        writeFileSync(path.join(dir, view, name, `${String(i).padStart(5, '0')}.png`), frame);
    };
    // sorted positions would pair b with c: names must decide
    clip('First_Video', 'a', 5);
    clip('Third_Video', 'a', 5);
    clip('First_Video', 'b', 5);
    clip('Third_Video', 'c', 5);
    clip('First_Video', 'd', 5);
    clip('Third_Video', 'd', 6);
    clip('First_Video', 'e', 2);
    clip('Third_Video', 'e', 2);
    clip('First_Video', 'f', 3);
    clip('Third_Video', 'f', 3);
    mkdirSync(path.join(dir, 'Reference_Image'));
    writeFileSync(path.join(dir, 'Reference_Image', 'a.png'), frame);
    const index = await indexTriplets(
      {
        first: path.join(dir, 'First_Video'),
        third: path.join(dir, 'Third_Video'),
        reference: path.join(dir, 'Reference_Image'),
      },
      { sampleFrames: 2, stride: 2, needReference: false },
    );
    assert.deepEqual(
      index.clips.map((c) => c.name),
      ['a', 'f'],
      'f (3 frames) just fits a window of 2 at stride 2',
    );
    assert.deepEqual(index.report.unpaired, [
      { name: 'b', only: 'first' },
      { name: 'c', only: 'third' },
    ]);
    assert.deepEqual(
      index.report.skipped.map((s) => s.name),
      ['d', 'e'],
    );
    assert.match(index.report.skipped[0]!.reason, /the views have 5 \(first\) and 6 \(third\) frames/);
    assert.match(index.report.skipped[1]!.reason, /2 frames, fewer than a window of 2 frames at stride 2 spans \(3\)/);
    const one2three = await indexTriplets(
      {
        first: path.join(dir, 'First_Video'),
        third: path.join(dir, 'Third_Video'),
        reference: path.join(dir, 'Reference_Image'),
      },
      { sampleFrames: 2, stride: 1, needReference: true },
    );
    assert.deepEqual(
      one2three.clips.map((c) => c.name),
      ['a'],
    );
    assert.match(one2three.report.skipped.find((s) => s.name === 'f')!.reason, /no reference image/);
    await assert.rejects(
      indexTriplets(
        { first: path.join(dir, 'First_Video'), third: path.join(dir, 'Nope') },
        { sampleFrames: 2, stride: 1, needReference: false },
      ),
      /Nope: cannot read the view folder/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the transform: long side resized, centre crop, of the crop size; the values keep their range', async () => {
  // a 40x20 image, left half black, right half white: long side 48 → 48x24, crop 32x16 keeps both halves
  const data = new Uint8Array(40 * 20 * 3);
  for (let y = 0; y < 20; y++) for (let x = 20; x < 40; x++) data.fill(255, (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
  const out = await transformFrame({ width: 40, height: 20, data }, { width: 32, height: 16, resizeLong: 48 });
  assert.equal(out.length, 32 * 16 * 3);
  const at = (x: number, y: number): number => out[(y * 32 + x) * 3]!;
  assert.equal(at(2, 8), 0);
  assert.equal(at(29, 8), 255);
  // a long side too short to cover the crop is scaled up to cover it
  const small = await transformFrame({ width: 40, height: 20, data }, { width: 32, height: 32, resizeLong: 40 });
  assert.equal(small.length, 32 * 32 * 3);
});
