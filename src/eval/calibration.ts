// Degraded copies of the ground truth, for calibrating the metrics (test/eval/calibration.test.ts,
// bench/calibration.ts): a metric that sees blur and wrong content must rank the truth first, a
// small shift above a heavy blur, and every kind of damage worse as it grows.
import type { RgbVideo } from '../data/frames.js';
import { gaussianBlurRgb } from './filters.js';
import type { PerceptualScorer } from './perceptual.js';
import { SetScores, type OverallScores } from './scoring.js';

/** The frame moved by (dx, dy) pixels, the edge pixels repeated into the uncovered border. */
export function shiftRgb(rgb: Uint8Array, width: number, height: number, dx: number, dy: number): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(height - 1, Math.max(0, y - dy));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(width - 1, Math.max(0, x - dx));
      out.set(rgb.subarray((sy * width + sx) * 3, (sy * width + sx) * 3 + 3), (y * width + x) * 3);
    }
  }
  return out;
}

/** Gaussian noise of standard deviation `sigma` (8-bit levels) on every value, rounded and clamped; seeded. */
export function addNoise(rgb: Uint8Array, sigma: number, seed: number): Uint8Array {
  let s = seed >>> 0 || 1;
  const uniform = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 2 ** 32;
  };
  return Uint8Array.from(rgb, (v) => {
    const n = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    return Math.min(255, Math.max(0, Math.round(v + sigma * n)));
  });
}

export type Degradation =
  { kind: 'blur'; sigma: number } | { kind: 'shift'; pixels: number } | { kind: 'noise'; sigma: number };

export const CALIBRATION_LADDER: Degradation[] = [
  { kind: 'blur', sigma: 1 },
  { kind: 'blur', sigma: 2 },
  { kind: 'blur', sigma: 3 },
  { kind: 'shift', pixels: 1 },
  { kind: 'shift', pixels: 2 },
  { kind: 'shift', pixels: 4 },
  { kind: 'noise', sigma: 8 },
  { kind: 'noise', sigma: 16 },
  { kind: 'noise', sigma: 32 },
];

export function degradationName(d: Degradation): string {
  return d.kind === 'shift' ? `shift ${d.pixels} px` : `${d.kind} σ ${d.sigma}`;
}

/** One frame degraded (a shift moves the picture right; noise is seeded by the frame's index). */
export function degrade(rgb: Uint8Array, width: number, height: number, d: Degradation, index = 0): Uint8Array {
  switch (d.kind) {
    case 'blur':
      return gaussianBlurRgb(rgb, width, height, d.sigma);
    case 'shift':
      return shiftRgb(rgb, width, height, d.pixels, 0);
    case 'noise':
      return addNoise(rgb, d.sigma, 0x9e3779b9 ^ index);
  }
}

/** One clip of the calibration: its truth, the other view (the copy-input row) and its true class maps. */
export interface CalibrationCase {
  truth: RgbVideo;
  input: readonly Uint8Array[];
  trueMaps?: readonly Uint8Array[];
}

/**
 * Every metric of the truth itself, of each degradation in `ladder`, of the copy-input baseline and
 * (given one) of a mean frame, over the same cases: the rows in the order named.
 */
export function calibrate(
  cases: readonly CalibrationCase[],
  {
    scorer,
    meanFrame,
    ladder = CALIBRATION_LADDER,
  }: { scorer?: PerceptualScorer; meanFrame?: Uint8Array; ladder?: readonly Degradation[] } = {},
): Map<string, OverallScores> {
  const rows = ['truth', ...ladder.map(degradationName), 'copy input', ...(meanFrame ? ['mean frame'] : [])];
  const set = new SetScores<string>(rows, scorer);
  for (const c of cases) {
    const { width, height, frames } = c.truth;
    const videos: Record<string, readonly Uint8Array[]> = { truth: frames, 'copy input': c.input };
    for (const d of ladder) videos[degradationName(d)] = frames.map((f, i) => degrade(f, width, height, d, i));
    if (meanFrame) videos['mean frame'] = frames.map(() => meanFrame);
    set.addCase(videos, c.truth, c.trueMaps);
  }
  return new Map(rows.map((row) => [row, set.overall(row)!]));
}
