import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { SampleRenderer } from '../../src/synth/sample.js';
import { makeSampleSpec } from '../../src/synth/spec.js';
import { differenceMask, maskStats, meanColor } from './image_stats.js';

const size = { width: 64, height: 48, frames: 5, fps: 8 };

function renderAll(seed: number, index: number): Uint8Array[] {
  const renderer = new SampleRenderer(makeSampleSpec(seed, index), size);
  const frames: Uint8Array[] = [];
  for (let k = 0; k < size.frames; k++) frames.push(renderer.firstPerson(k), renderer.thirdPerson(k));
  frames.push(renderer.reference());
  return frames;
}

test('the pixels of a sample are pinned: a change that alters what a seed renders must bump the manifest version', () => {
  // Recorded when the renderer gained class maps (manifest version 3); the RGB was the same as version 2's.
  const hash = createHash('sha256');
  for (const frame of renderAll(11, 2)) hash.update(frame);
  assert.equal(hash.digest('hex'), 'c5068fd8033c0c3ef252a9c65f98bea4e7a93dc637d839e1df09800bb4fdcc49');
});

const distance = (a: number[], b: number[]): number => a.reduce((sum, v, i) => sum + Math.abs(v - b[i]!), 0);

test('the same seed and index give byte-identical frames, whatever was rendered before', () => {
  const first = renderAll(42, 3);
  renderAll(7, 0);
  const again = renderAll(42, 3);
  assert.equal(first.length, again.length);
  first.forEach((frame, i) => assert.ok(Buffer.from(frame).equals(Buffer.from(again[i]!)), `frame ${i} differs`));
});

test('different seeds give different scenes: pixel statistics of the first-person views differ', () => {
  const means = [1, 2, 3, 4, 5].map((seed) =>
    meanColor(renderAll(seed, 0).filter((_, i) => i % 2 === 0 && i < 2 * size.frames)),
  );
  for (let a = 0; a < means.length; a++) {
    for (let b = a + 1; b < means.length; b++) {
      assert.ok(
        distance(means[a]!, means[b]!) > 8,
        `seeds ${a + 1} and ${b + 1}: mean colours ${means[a]!.map(Math.round)} and ${means[b]!.map(Math.round)}`,
      );
    }
  }
  const sameSeedOtherIndex = meanColor(renderAll(1, 1).filter((_, i) => i % 2 === 0 && i < 2 * size.frames));
  assert.ok(distance(means[0]!, sameSeedOtherIndex) > 8, 'samples 0 and 1 of one seed look alike');
});

test('different samples give different characters: colours and size of the reference figure differ', () => {
  const width = 96,
    height = 96;
  const figures = [0, 1, 2, 3, 4].map((index) => {
    const reference = new SampleRenderer(makeSampleSpec(9, index), { width, height, frames: 1, fps: 8 }).reference();
    // The background is a smooth light grey; the figure is whatever departs from the corner colour of its row.
    const background = new Uint8Array(reference.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++)
        background.set(reference.subarray(y * width * 3, y * width * 3 + 3), (y * width + x) * 3);
    }
    const mask = differenceMask(reference, background, 3);
    const stats = maskStats(mask, width);
    const figure: number[] = [0, 0, 0];
    for (let p = 0; p < mask.length; p++)
      if (mask[p]) for (let c = 0; c < 3; c++) figure[c]! += reference[p * 3 + c]! / stats.count;
    return { stats, figure };
  });
  for (const { stats } of figures) {
    assert.ok(stats.maxY - stats.minY > 0.7 * height, `reference figure only ${stats.maxY - stats.minY} px tall`);
    assert.ok(Math.abs(stats.x - width / 2) < 0.08 * width, `reference figure off centre at x ${stats.x.toFixed(1)}`);
  }
  for (let a = 0; a < figures.length; a++) {
    for (let b = a + 1; b < figures.length; b++) {
      const colour = distance(figures[a]!.figure, figures[b]!.figure);
      const area = Math.abs(figures[a]!.stats.count - figures[b]!.stats.count) / figures[a]!.stats.count;
      assert.ok(
        colour > 10 || area > 0.05,
        `characters ${a} and ${b} look alike (colour distance ${colour.toFixed(1)}, area change ${area.toFixed(3)})`,
      );
    }
  }
});
