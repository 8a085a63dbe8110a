import assert from 'node:assert/strict';
import { test } from 'node:test';

import { tensor } from '../../src/torch/index.js';
import { runsWithin, timestepRuns } from '../../src/models/wan/modulation.js';
import { referenceForward } from './transformer_reference.js';
import { TINY, maxAbsDiff, nested4, rand, tinyModel, weightsOf } from './transformer_fixtures.js';

test('runs of equal per-token timesteps, with boundaries shared by the batch', () => {
  const t = (rows: number[][]) => tensor(rows);
  assert.deepEqual(
    timestepRuns(
      t([
        [0, 0, 5, 5, 5, 5],
        [0, 0, 7, 7, 7, 7],
      ]),
    ),
    [
      { start: 0, length: 2, row: 0 },
      { start: 2, length: 4, row: 1 },
    ],
  );
  // sample 1 changes at token 1, sample 0 at token 2: both boundaries count
  assert.deepEqual(
    timestepRuns(
      t([
        [0, 0, 5, 5],
        [0, 3, 3, 3],
      ]),
    ),
    [
      { start: 0, length: 1, row: 0 },
      { start: 1, length: 1, row: 1 },
      { start: 2, length: 2, row: 2 },
    ],
  );
  assert.deepEqual(timestepRuns(t([[4, 4, 4]])), [{ start: 0, length: 3, row: 0 }]);
  // every token different: more runs than worth it, so one row per token
  assert.equal(timestepRuns(t([Array.from({ length: 40 }, (_, i) => i)])), null);
  assert.deepEqual(
    runsWithin(
      [
        { start: 0, length: 6, row: 0 },
        { start: 6, length: 4, row: 1 },
      ],
      4,
      6,
    ),
    [
      { start: 0, length: 2, row: 0 },
      { start: 2, length: 4, row: 1 },
    ],
  );
});

test('forward with a different timestep on every token (one embedding row per token) equals the float64 reference', () => {
  const model = tinyModel(21);
  const latent = rand([1, 4, 2, 4, 4], 22),
    text = rand([1, 3, 8], 23);
  const timesteps = Array.from({ length: 8 }, (_, i) => 37 * i + 5); // 2 frames x 2x2 patches
  const out = model.forward({ hiddenStates: latent, timestep: tensor([timesteps]), encoderHiddenStates: text });
  const expected = referenceForward(TINY, weightsOf(model), {
    latent: nested4(latent),
    timesteps,
    text: [0, 1, 2].map((i) => text.select(0, 0).select(0, i).toArray()),
    framePositions: [0, 1],
    outputFrames: 2,
  });
  const diff = maxAbsDiff(out.toArray(), expected.flat(3));
  assert.ok(diff < 2e-4, `max |diff| ${diff}`);
});

test('per-token rows sliced to the output frames (outputFrames < frames, every token its own timestep) equal the float64 reference', () => {
  const model = tinyModel(41);
  const latent = rand([1, 4, 3, 2, 4], 42),
    text = rand([1, 2, 8], 43);
  const timesteps = Array.from({ length: 6 }, (_, i) => 11 + 97 * i); // 3 frames x 1x2 patches, all different
  // more runs than MAX_RUNS are kept per token; pad the timestep count past it with a bigger grid
  const wide = rand([1, 4, 9, 2, 4], 44);
  const wideSteps = Array.from({ length: 18 }, (_, i) => 5 + 53 * i);
  for (const [x, steps, frames] of [
    [latent, timesteps, 3],
    [wide, wideSteps, 9],
  ] as const) {
    const out = model.forward({
      hiddenStates: x,
      timestep: tensor([[...steps]]),
      encoderHiddenStates: text,
      outputFrames: 2,
    });
    assert.deepEqual(out.shape, [1, 4, 2, 2, 4]);
    const expected = referenceForward(TINY, weightsOf(model), {
      latent: nested4(x),
      timesteps: [...steps],
      text: [0, 1].map((i) => text.select(0, 0).select(0, i).toArray()),
      framePositions: Array.from({ length: frames }, (_, i) => i),
      outputFrames: 2,
    });
    const diff = maxAbsDiff(out.toArray(), expected.flat(3));
    assert.ok(diff < 2e-4, `${frames} frames: max |diff| ${diff}`);
  }
  assert.equal(timestepRuns(tensor([wideSteps])), null, 'the 18-run case takes the per-token path');
});

test('forward with three runs of timesteps (more than the in-context two) equals the float64 reference', () => {
  const model = tinyModel(31);
  const latent = rand([1, 4, 3, 2, 4], 32),
    text = rand([1, 2, 8], 33);
  const timesteps = [...new Array(2).fill(0), ...new Array(2).fill(300), ...new Array(2).fill(900)]; // 3 frames x 1x2 patches
  const out = model.forward({
    hiddenStates: latent,
    timestep: tensor([timesteps]),
    encoderHiddenStates: text,
    outputFrames: 2,
  });
  const expected = referenceForward(TINY, weightsOf(model), {
    latent: nested4(latent),
    timesteps,
    text: [0, 1].map((i) => text.select(0, 0).select(0, i).toArray()),
    framePositions: [0, 1, 2],
    outputFrames: 2,
  });
  const diff = maxAbsDiff(out.toArray(), expected.flat(3));
  assert.ok(diff < 2e-4, `max |diff| ${diff}`);
});
