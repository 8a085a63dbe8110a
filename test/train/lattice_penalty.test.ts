// The decoder's lattice penalty (src/train/lattice_penalty.ts) on closed forms, and its gradient
// against finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { tensor } from '../../src/torch/index.js';
import { LatticePenalty } from '../../src/train/lattice_penalty.js';

const H = 12,
  W = 10;
/** [1, 3, H, W] float64 frames of value(x, y) in every channel. */
const frames = (value: (x: number, y: number) => number) =>
  tensor(
    Array.from({ length: 3 * H * W }, (_, k) => value(k % W, Math.floor(k / W) % H)),
    { shape: [1, 3, H, W], dtype: 'float64' },
  );
const sign = (k: number): number => (k % 2 ? -1 : 1);

test('E is a² for c + a·(a period-2 pattern), 0 for a cubic polynomial frame', () => {
  using penalty = new LatticePenalty(3, { dtype: 'float64' });
  const energy = (value: (x: number, y: number) => number): number => {
    using x = frames(value);
    using e = penalty.energy(x);
    return e.item();
  };
  assert.ok(Math.abs(energy((x, y) => 0.2 + 0.05 * sign(x + y)) - 0.0025) < 1e-12);
  assert.ok(Math.abs(energy((x) => -0.1 + 0.03 * sign(x)) - 0.0009) < 1e-12);
  assert.ok(Math.abs(energy((_, y) => 0.4 - 0.07 * sign(y)) - 0.0049) < 1e-12);
  assert.ok(energy((x, y) => 0.01 * x ** 3 - 0.02 * x * y + 0.003 * y ** 2 - 0.5) < 1e-20);
});

test('the loss pays only for lattice energy beyond the truth’s', () => {
  using penalty = new LatticePenalty(3, { dtype: 'float64' });
  const loss = (decoded: (x: number, y: number) => number, truth: (x: number, y: number) => number): number => {
    using a = frames(decoded);
    using b = frames(truth);
    using l = penalty.loss(a, b);
    return l.item();
  };
  const smooth = (x: number, y: number): number => 0.02 * x - 0.01 * y;
  assert.ok(Math.abs(loss((x, y) => smooth(x, y) + 0.1 * sign(x + y), smooth) - 0.01) < 1e-12);
  assert.ok(
    Math.abs(
      loss(
        (x, y) => smooth(x, y) + 0.1 * sign(x + y),
        (x) => 0.06 * sign(x),
      ) - 0.0064,
    ) < 1e-12,
  );
  assert.equal(
    loss(smooth, (x, y) => smooth(x, y) + 0.1 * sign(y)),
    0,
  );
});

test('its gradient matches central differences', () => {
  using penalty = new LatticePenalty(3, { dtype: 'float64' });
  let seed = 3;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const values = Array.from({ length: 3 * H * W }, random);
  using truth = frames((x, y) => 0.01 * sign(x + y) + 0.001 * x);
  const lossAt = (v: number[]): number => {
    using d = tensor(v, { shape: [1, 3, H, W], dtype: 'float64' });
    using l = penalty.loss(d, truth);
    return l.item();
  };
  using d = tensor(values, { shape: [1, 3, H, W], dtype: 'float64' }).requiresGrad_(true);
  using l = penalty.loss(d, truth);
  assert.ok(l.item() > 0);
  l.backward();
  const grad = d.grad!.toArray();
  for (const k of [0, 17, 131, 3 * H * W - 1]) {
    const h = 1e-6;
    const up = [...values],
      down = [...values];
    up[k]! += h;
    down[k]! -= h;
    const numeric = (lossAt(up) - lossAt(down)) / (2 * h);
    assert.ok(Math.abs(numeric - grad[k]!) < 1e-7 + 1e-6 * Math.abs(numeric), `element ${k}: ${grad[k]} vs ${numeric}`);
  }
});
