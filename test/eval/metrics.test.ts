// PSNR and SSIM against values worked out by hand, and PSNR against ffmpeg's own psnr filter.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { encodePng } from '../../src/data/png.js';
import { PSNR_CAP, psnr, ssim, videoPsnr } from '../../src/eval/metrics.js';

function pattern(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const p = Math.floor(i / 3);
    data[i] = ((p % width) * 7 + Math.floor(p / width) * 3 + (s >>> 27)) & 255;
  }
  return data;
}

test('PSNR of a constant offset and of identical frames', () => {
  const a = new Uint8Array(48).fill(100),
    b = new Uint8Array(48).fill(110);
  // MSE = 10² = 100 → 10·log10(255²/100)
  assert.ok(Math.abs(psnr(a, b) - 10 * Math.log10(65025 / 100)) < 1e-12);
  assert.ok(Math.abs(psnr(a, b) - 28.130803608679102) < 1e-9);
  assert.equal(psnr(a, a), PSNR_CAP);
  // one channel off by 30 in every pixel: MSE = 900/3 = 300
  const c = Uint8Array.from(a, (v, i) => (i % 3 === 1 ? v + 30 : v));
  assert.ok(Math.abs(psnr(a, c) - 10 * Math.log10(65025 / 300)) < 1e-12);
});

test('SSIM of identical frames is 1; of two flat frames it is the luminance term (2ab + C1)/(a² + b² + C1)', () => {
  const img = pattern(32, 24, 3);
  assert.ok(Math.abs(ssim(img, img, 32, 24) - 1) < 1e-12);
  const a = new Uint8Array(16 * 16 * 3).fill(50),
    b = new Uint8Array(16 * 16 * 3).fill(100);
  // luma of a grey value is the value (0.299 + 0.587 + 0.114 = 1); variances and covariance are 0
  const c1 = (0.01 * 255) ** 2;
  const expected = (2 * 50 * 100 + c1) / (50 * 50 + 100 * 100 + c1);
  assert.ok(Math.abs(ssim(a, b, 16, 16) - expected) < 1e-9, `${ssim(a, b, 16, 16)} vs ${expected}`);
  // a frame against its negative is far from 1
  const negative = Uint8Array.from(img, (v) => 255 - v);
  assert.ok(ssim(img, negative, 32, 24) < 0.2);
  assert.throws(() => ssim(new Uint8Array(30), new Uint8Array(30), 10, 1), /smaller than the 11x11 window/);
});

test("per-frame PSNR agrees with ffmpeg's psnr filter on the same RGB frames to 0.01 dB", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'psnr-'));
  try {
    const [w, h] = [40, 24];
    const frames = [0, 1, 2].map((i) => ({ a: pattern(w, h, 10 + i), b: pattern(w, h, 20 + i) }));
    for (const side of ['a', 'b'] as const) {
      mkdirSync(path.join(dir, side));
      frames.forEach((f, i) =>
        writeFileSync(path.join(dir, side, `${i}.png`), encodePng({ width: w, height: h, channels: 3, data: f[side] })),
      );
    }
    const stats = path.join(dir, 'stats.log');
    // both inputs as planar RGB, so that the filter compares the RGB values themselves
    execFileSync('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-i',
      path.join(dir, 'a', '%d.png'),
      '-i',
      path.join(dir, 'b', '%d.png'),
      '-lavfi',
      `[0:v]format=gbrp[x];[1:v]format=gbrp[y];[x][y]psnr=stats_file=${stats}`,
      '-f',
      'null',
      '-',
    ]);
    const theirs = readFileSync(stats, 'utf8')
      .trim()
      .split('\n')
      .map((line) => Number(/psnr_avg:([\d.]+)/.exec(line)![1]));
    const ours = videoPsnr(
      frames.map((f) => f.a),
      frames.map((f) => f.b),
    );
    assert.equal(theirs.length, 3);
    ours.forEach((p, i) =>
      assert.ok(Math.abs(p - theirs[i]!) < 0.01, `frame ${i}: ${p.toFixed(4)} here, ${theirs[i]} from ffmpeg`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
