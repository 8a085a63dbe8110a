// The Fréchet distance against closed forms: equal sets, a shifted mean, scaled covariances (which
// commute, so d² = tr Σ·(1 − k)²), and a matrix square root worked out by hand.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { frechetDistance, gaussianStats, sqrtPsd, symmetricEigen } from '../../src/eval/frechet.js';

function points(count: number, dim: number, seed: number): Float64Array[] {
  let s = seed;
  const next = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
  // correlated coordinates, so the covariance is not diagonal
  return Array.from({ length: count }, () => {
    const base = Float64Array.from({ length: dim }, next);
    return base.map((v, i) => v + 0.5 * base[(i + 1) % dim]!);
  });
}

test('the square root of [[2, 1], [1, 2]], by hand: eigenvalues 3 and 1', () => {
  const r = sqrtPsd(Float64Array.from([2, 1, 1, 2]), 2);
  const [a, b] = [(Math.sqrt(3) + 1) / 2, (Math.sqrt(3) - 1) / 2];
  for (const [i, v] of [a, b, b, a].entries()) assert.ok(Math.abs(r[i]! - v) < 1e-12, `entry ${i}: ${r[i]} vs ${v}`);
  const { values } = symmetricEigen(Float64Array.from([4, 0, 0, 0, 1, 0, 0, 0, 9]), 3);
  assert.deepEqual(
    [...values].sort((x, y) => x - y),
    [1, 4, 9],
  );
});

test('Fréchet distance: 0 for one set, |Δμ|² for a shifted copy, tr Σ·(1 − k)² for a scaled one', () => {
  const a = points(200, 6, 7);
  assert.ok(frechetDistance(a, a) < 1e-9);
  const shift = [0.3, -0.2, 0, 0.1, 0.5, -0.4];
  const shifted = a.map((v) => v.map((x, i) => x + shift[i]!));
  const expected = shift.reduce((s, d) => s + d * d, 0);
  assert.ok(Math.abs(frechetDistance(a, shifted) - expected) < 1e-9, `${frechetDistance(a, shifted)} vs ${expected}`);
  const { mean, cov } = gaussianStats(a);
  const k = 0.5;
  const scaled = a.map((v) => v.map((x, i) => mean[i]! + k * (x - mean[i]!)));
  const trace = [0, 1, 2, 3, 4, 5].reduce((s, i) => s + cov[i * 6 + i]!, 0);
  assert.ok(Math.abs(frechetDistance(a, scaled) - trace * (1 - k) ** 2) < 1e-9);
  assert.ok(Math.abs(frechetDistance(scaled, a) - frechetDistance(a, scaled)) < 1e-9);
});

test('Fréchet distance refuses sets it cannot fit', () => {
  assert.throws(() => frechetDistance([Float64Array.from([1, 2])], points(5, 2, 1)), /at least 2/);
  assert.throws(() => frechetDistance(points(5, 2, 1), points(5, 3, 1)), /2 and 3 values/);
});
