// Choosing settings by the blur-aware metrics together: ranks and the choice on hand-computed cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { chooseSetting, meanRanks, ranks, type SettingScores } from '../../src/eval/selection.js';

test('ranks: 1 is best in the direction asked, ties share the mean rank', () => {
  assert.deepEqual(ranks([3, 1, 2], 'higher'), [1, 3, 2]);
  assert.deepEqual(ranks([3, 1, 2], 'lower'), [3, 1, 2]);
  assert.deepEqual(ranks([5, 5, 1], 'higher'), [1.5, 1.5, 3]);
});

test('a blur that wins PSNR alone loses to a sharp setting that wins the rest; sharpness counts by closeness to 1', () => {
  const blur: SettingScores = { psnr: 20, sharpness: 0.1, edges: 0.2, perceptual: 0.5, frechet: 30, miou: 0.4 };
  const sharp: SettingScores = { psnr: 19, sharpness: 0.9, edges: 0.4, perceptual: 0.3, frechet: 10, miou: 0.6 };
  const noisy: SettingScores = { psnr: 18, sharpness: 3, edges: 0.3, perceptual: 0.4, frechet: 20, miou: 0.5 };
  // by hand: blur ranks 1,3,3,3,3,3 -> 16/6; sharp 2,1,1,1,1,1 -> 7/6; noisy 3,2,2,2,2,2 -> 13/6
  assert.deepEqual(
    meanRanks([blur, sharp, noisy]).map((r) => r * 6),
    [16, 7, 13],
  );
  assert.equal(chooseSetting([blur, sharp, noisy]), 1);
  // |ln 0.5| < |ln 3|: sharpness 0.5 ranks above 3
  assert.equal(
    chooseSetting([
      { ...noisy, sharpness: 3 },
      { ...noisy, sharpness: 0.5 },
    ]),
    1,
  );
});
