// The lattice share (src/eval/lattice.ts) against a brute-force 2D DFT and closed forms.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { latticeEnergy, videoLatticeShare } from '../../src/eval/lattice.js';
import { luma } from '../../src/eval/metrics.js';

const grey = (width: number, height: number, value: (x: number, y: number) => number): Uint8Array => {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) out.fill(value(x, y), (y * width + x) * 3, (y * width + x) * 3 + 3);
  return out;
};

/** Σ|F|² over the Nyquist lines and over every bin but DC, by the DFT's definition. */
function bruteForce(rgb: Uint8Array, width: number, height: number): { lattice: number; total: number } {
  const y = luma(rgb, width, height);
  let lattice = 0,
    total = 0;
  for (let ky = 0; ky < height; ky++)
    for (let kx = 0; kx < width; kx++) {
      let re = 0,
        im = 0;
      for (let r = 0; r < height; r++)
        for (let c = 0; c < width; c++) {
          const phase = -2 * Math.PI * ((ky * r) / height + (kx * c) / width);
          re += y[r * width + c]! * Math.cos(phase);
          im += y[r * width + c]! * Math.sin(phase);
        }
      const power = re * re + im * im;
      if (ky === 0 && kx === 0) continue;
      total += power;
      if (kx === width / 2 || ky === height / 2) lattice += power;
    }
  return { lattice, total };
}

test('the lattice energy equals a brute-force DFT on random frames', () => {
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
  for (const [w, h] of [
    [8, 6],
    [4, 10],
  ] as const) {
    const rgb = Uint8Array.from({ length: w * h * 3 }, random);
    const fast = latticeEnergy(rgb, w, h),
      slow = bruteForce(rgb, w, h);
    assert.ok(
      Math.abs(fast.lattice - slow.lattice) < 1e-6 * slow.total,
      `${w}x${h}: ${fast.lattice} vs ${slow.lattice}`,
    );
    assert.ok(Math.abs(fast.total - slow.total) < 1e-6 * slow.total, `${w}x${h}: ${fast.total} vs ${slow.total}`);
  }
});

test('a checkerboard and stripes every second pixel are all lattice; a flat frame and period-4 stripes none', () => {
  const share = (value: (x: number, y: number) => number): number => videoLatticeShare([grey(8, 8, value)], 8, 8);
  assert.ok(Math.abs(share((x, y) => ((x + y) % 2 ? 90 : 110)) - 1) < 1e-12);
  assert.ok(Math.abs(share((x) => (x % 2 ? 90 : 110)) - 1) < 1e-12);
  assert.ok(Math.abs(share((_, y) => (y % 2 ? 90 : 110)) - 1) < 1e-12);
  assert.equal(
    share(() => 100),
    0,
  );
  assert.ok(share((x) => (x % 4 < 2 ? 90 : 110)) < 1e-12);
  // half the AC energy: a period-4 square wave plus a checkerboard of the same amplitude
  assert.ok(Math.abs(share((x, y) => 100 + (x % 4 < 2 ? 10 : -10) + ((x + y) % 2 ? 10 : -10)) - 0.5) < 1e-12);
  // an odd width: the last column is left out
  const odd = grey(7, 8, (x, y) => (x === 6 ? 250 : (x + y) % 2 ? 90 : 110));
  assert.deepEqual(
    latticeEnergy(odd, 7, 8),
    latticeEnergy(
      grey(6, 8, (x, y) => ((x + y) % 2 ? 90 : 110)),
      6,
      8,
    ),
  );
});
