// Choosing among settings (sampling steps, guidance, ...) by the blur-aware metrics together, not
// by PSNR alone: PSNR rewards the conditional mean, a blur (docs/eval.md, calibration). Each
// setting is ranked on every metric (1 = best; ties share the mean rank); the chosen one has the
// lowest mean rank, ties broken by the perceptual distance.

export interface SettingScores {
  psnr: number;
  /** Mean absolute luma gradient over the truth's (sharpness.ts); best at 1 (ranked by |ln s|). */
  sharpness: number;
  edges: number;
  perceptual: number;
  frechet: number;
  miou: number;
}

type Metric = { key: keyof SettingScores; better: 'higher' | 'lower'; value?: (s: SettingScores) => number };

export const SELECTION_METRICS: readonly Metric[] = [
  { key: 'psnr', better: 'higher' },
  { key: 'sharpness', better: 'lower', value: (s) => Math.abs(Math.log(Math.max(s.sharpness, 1e-9))) },
  { key: 'edges', better: 'higher' },
  { key: 'perceptual', better: 'lower' },
  { key: 'frechet', better: 'lower' },
  { key: 'miou', better: 'higher' },
];

/** Ranks (1 = best, ties averaged) of `values`, where `better` says which way is best. */
export function ranks(values: readonly number[], better: 'higher' | 'lower'): number[] {
  const sign = better === 'higher' ? -1 : 1;
  return values.map((v) => {
    const ahead = values.filter((w) => sign * w < sign * v).length;
    const tied = values.filter((w) => w === v).length;
    return ahead + (tied + 1) / 2;
  });
}

/** Mean rank of each setting over SELECTION_METRICS. */
export function meanRanks(settings: readonly SettingScores[]): number[] {
  const sums = settings.map(() => 0);
  for (const m of SELECTION_METRICS) {
    ranks(
      settings.map((s) => (m.value ? m.value(s) : s[m.key])),
      m.better,
    ).forEach((r, i) => (sums[i]! += r));
  }
  return sums.map((s) => s / SELECTION_METRICS.length);
}

/** Index of the setting with the lowest mean rank (ties: the lower perceptual distance). */
export function chooseSetting(settings: readonly SettingScores[]): number {
  if (!settings.length) throw new RangeError('chooseSetting: no settings');
  const r = meanRanks(settings);
  return r.reduce(
    (best, v, i) =>
      v < r[best]! || (v === r[best]! && settings[i]!.perceptual < settings[best]!.perceptual) ? i : best,
    0,
  );
}
