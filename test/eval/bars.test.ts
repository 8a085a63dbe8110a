// The model card's five bars on hand-made scores: each passes at its boundary and fails just past it.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { translationBars } from '../../src/eval/bars.js';
import type { EvalReport } from '../../src/eval/evaluate.js';

type Overall = EvalReport['overall'];
const scores = (s: Partial<Overall['model']>): Overall['model'] => ({
  psnr: 0,
  ssim: 0,
  sharpness: 1,
  gradientEnergy: 1,
  edges: 1,
  lattice: 0,
  perceptual: 0,
  frechet: 0,
  miou: 1,
  ...s,
});
// baselines: best PSNR 16 (mean frame), best mIoU 0.5 (copy-input); mean frame 0.8 / 90 and the
// truth 0 / 2 put the feature distances' midpoints at 0.4 and 46
const base: Overall = {
  model: scores({ psnr: 18, sharpness: 0.75, edges: 0.45, perceptual: 0.4, frechet: 46, miou: 0.6 }),
  copyInput: scores({ psnr: 15, perceptual: 0.6, frechet: 20, miou: 0.5 }),
  meanFrame: scores({ psnr: 16, perceptual: 0.8, frechet: 90, miou: 0.3 }),
  blurredTruth: scores({ psnr: 27 }),
  truth: scores({ psnr: Infinity, perceptual: 0, frechet: 2, miou: 1 }),
};
const withModel = (s: Partial<Overall['model']>): Overall => ({ ...base, model: { ...base.model, ...s } });

test('every bar passes at its boundary', () => {
  assert.deepEqual(translationBars(base), { sharpness: true, edges: true, content: true, features: true, psnr: true });
  assert.equal(translationBars(withModel({ sharpness: 1.3 })).sharpness, true);
});

test('each bar fails alone just past its boundary', () => {
  const fails = (s: Partial<Overall['model']>): string[] =>
    Object.entries(translationBars(withModel(s)))
      .filter(([, passed]) => !passed)
      .map(([bar]) => bar);
  assert.deepEqual(fails({ sharpness: 0.74 }), ['sharpness']);
  assert.deepEqual(fails({ sharpness: 1.31 }), ['sharpness']);
  assert.deepEqual(fails({ edges: 0.449 }), ['edges']);
  assert.deepEqual(fails({ miou: 0.59 }), ['content']);
  assert.deepEqual(fails({ perceptual: 0.41 }), ['features']);
  assert.deepEqual(fails({ frechet: 46.5 }), ['features']);
  assert.deepEqual(fails({ psnr: 17.9 }), ['psnr']);
});

test('without the mean-frame baseline or the PerceptionNet metrics the bars are refused, not guessed', () => {
  assert.throws(() => translationBars({ ...base, meanFrame: undefined }), /need the mean-frame baseline/);
  assert.throws(() => translationBars(withModel({ frechet: undefined })), /PerceptionNet metrics/);
});
