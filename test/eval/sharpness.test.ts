// Sharpness and edge agreement against closed forms and hand-worked cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { gaussianBlurPlane, gaussianBlurRgb, gaussianKernel } from '../../src/eval/filters.js';
import {
  correlation,
  gradientEnergy,
  gradientMagnitude,
  videoEdgeAgreement,
  videoGradientEnergy,
  videoSharpness,
} from '../../src/eval/sharpness.js';

const grey = (width: number, height: number, value: (x: number, y: number) => number): Uint8Array => {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) out.fill(value(x, y), (y * width + x) * 3, (y * width + x) * 3 + 3);
  return out;
};

test('gradient energy of a ramp and of a step, by hand', () => {
  // grey levels 10 + 3x: luma = 10 + 3x (0.299 + 0.587 + 0.114 = 1); (W − 1)·H differences of 3
  assert.ok(
    Math.abs(
      gradientEnergy(
        grey(8, 5, (x) => 10 + 3 * x),
        8,
        5,
      ) -
        7 * 5 * 9,
    ) < 1e-6,
  );
  // a vertical step of 100 between rows 1 and 2: one difference per column
  assert.ok(
    Math.abs(
      gradientEnergy(
        grey(6, 4, (_, y) => (y < 2 ? 50 : 150)),
        6,
        4,
      ) -
        6 * 100 * 100,
    ) < 1e-6,
  );
  assert.equal(
    gradientEnergy(
      grey(6, 4, () => 77),
      6,
      4,
    ),
    0,
  );
});

test('mean absolute gradient of a ramp and of a step, by hand', () => {
  // luma 10 + 3x on 8x5: every x-difference 3, every y-difference 0
  assert.ok(
    Math.abs(
      gradientMagnitude(
        grey(8, 5, (x) => 10 + 3 * x),
        8,
        5,
      ) - 3,
    ) < 1e-9,
  );
  // a step of 100 between rows 1 and 2 of 6x4: 6 of the 6·3 y-differences are 100, so 100/3
  assert.ok(
    Math.abs(
      gradientMagnitude(
        grey(6, 4, (_, y) => (y < 2 ? 50 : 150)),
        6,
        4,
      ) -
        100 / 3,
    ) < 1e-9,
  );
  assert.equal(
    gradientMagnitude(
      grey(6, 4, () => 77),
      6,
      4,
    ),
    0,
  );
});

test('a blurred grating against the closed form: sharpness exp(−σ²ω²/2), gradient energy its square', () => {
  // A Gaussian blur scales a sinusoid of angular frequency ω by exp(−σ²ω²/2); the mean absolute
  // difference is linear in the amplitude and the squared one quadratic. Period 15.7 px (not a
  // divisor of the width, so that the 8-bit rounding errors do not repeat in step with the
  // grating), amplitude 100 around 128, 512 px wide so that the blur's replicated edges cost
  // under the tolerance.
  const [width, height] = [512, 8];
  const omega = (2 * Math.PI) / 15.7;
  const grating = [grey(width, height, (x) => Math.round(128 + 100 * Math.sin(omega * x)))];
  for (const sigma of [1, 1.5, 2]) {
    const blurred = [gaussianBlurRgb(grating[0]!, width, height, sigma)];
    const expected = Math.exp((-sigma * sigma * omega * omega) / 2);
    const sharp = videoSharpness(blurred, grating, width, height);
    const energy = videoGradientEnergy(blurred, grating, width, height);
    assert.ok(Math.abs(sharp - expected) < 0.01, `σ ${sigma}: sharpness ${sharp}, closed form ${expected}`);
    assert.ok(Math.abs(energy - expected ** 2) < 0.01, `σ ${sigma}: energy ${energy}, closed form ${expected ** 2}`);
  }
});

test('sharpness: the truth scores 1, a blur below 1 and falling with σ', () => {
  const truth = [grey(32, 32, (x, y) => (((x >> 2) + (y >> 2)) % 2 ? 200 : 40))];
  assert.equal(videoSharpness(truth, truth, 32, 32), 1);
  const blurred = [1, 2, 3].map((s) => videoSharpness([gaussianBlurRgb(truth[0]!, 32, 32, s)], truth, 32, 32));
  assert.ok(
    blurred[0]! < 1 && blurred[1]! < blurred[0]! && blurred[2]! < blurred[1]!,
    `sharpness of σ 1, 2, 3: ${blurred.join(', ')}`,
  );
  // twice the contrast around the same mean: twice the mean absolute gradient, four times the energy
  const doubled = [grey(32, 32, (x, y) => (((x >> 2) + (y >> 2)) % 2 ? 240 : 0))];
  const single = [grey(32, 32, (x, y) => (((x >> 2) + (y >> 2)) % 2 ? 180 : 60))];
  assert.ok(Math.abs(videoSharpness(doubled, single, 32, 32) - 2) < 1e-9);
  assert.ok(Math.abs(videoGradientEnergy(doubled, single, 32, 32) - 4) < 1e-9);
});

test('the Gaussian kernel: normalised, symmetric, the right width and variance', () => {
  const k = gaussianKernel(2);
  assert.equal(k.length, 13);
  assert.ok(Math.abs(k.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  const variance = k.reduce((a, w, i) => a + w * (i - 6) ** 2, 0);
  assert.ok(Math.abs(variance - 4) < 0.05, `variance ${variance}`);
  // a blur keeps a constant plane and the mean of a plane away from its edges
  const flat = new Float64Array(100).fill(42);
  assert.ok(gaussianBlurPlane(flat, 10, 10, 1.5).every((v) => Math.abs(v - 42) < 1e-9));
});

test('edge agreement: 1 with itself, −1 with its negative, 0 against a constant; correlation by hand', () => {
  const frame = grey(32, 32, (x, y) => (((x * 7) ^ (y * 13)) & 31) * 8);
  const negative = Uint8Array.from(frame, (v) => 255 - v);
  const flat = grey(32, 32, () => 128);
  assert.ok(Math.abs(videoEdgeAgreement([frame], [frame], 32, 32)[0]! - 1) < 1e-12);
  assert.ok(Math.abs(videoEdgeAgreement([negative], [frame], 32, 32)[0]! + 1) < 1e-9);
  assert.equal(videoEdgeAgreement([flat], [frame], 32, 32)[0], 0);
  assert.equal(correlation(Float64Array.from([1, 2, 3]), Float64Array.from([2, 4, 6])), 1);
  assert.ok(Math.abs(correlation(Float64Array.from([1, 2, 3, 4]), Float64Array.from([1, 3, 2, 4])) - 0.8) < 1e-12);
});
