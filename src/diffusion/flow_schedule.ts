// Flow-matching noise levels: σ = 1 is pure noise, σ = 0 the data, x_σ = (1 − σ)·x0 + σ·noise.
// The shift σ' = s·σ / (1 + (s − 1)·σ) spends more steps at high noise (Wan: s = 5).

/** The shifted noise level. */
export function shiftSigma(sigma: number, shift: number): number {
  return (shift * sigma) / (1 + (shift - 1) * sigma);
}

export interface SamplingSchedule {
  /** The model's timestep at each step (int64 in diffusers: σ·1000 truncated). */
  timesteps: number[];
  /** σ at each step, then the final σ = 0: steps + 1 values, float32 as the scheduler stores them. */
  sigmas: number[];
}

/**
 * The sampling grid of the release's UniPC (flow sigmas, final σ zero), as its pinned diffusers
 * computes it in float64: σ = shift(linspace(1 − 1/T, 0, N + 1))[:-1], timestep = ⌊1000·σ⌋, then
 * σ stored as float32 with a 0 appended. N = 8, shift 5 gives 999, 972, 937, 892, 833, 749, 624, 416.
 */
export function samplingSchedule(steps: number, shift = 5, trainTimesteps = 1000): SamplingSchedule {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  if (!(shift > 0)) throw new RangeError(`flow shift must be positive, got ${shift}`);
  // numpy's linspace(1, 1/T, N + 1) (i·step + start, the end set exactly), then 1 − α, reversed
  const step = (1 / trainTimesteps - 1) / steps;
  const alphas = Array.from({ length: steps + 1 }, (_, i) => (i === steps ? 1 / trainTimesteps : i * step + 1));
  const shifted = Array.from({ length: steps }, (_, k) => shiftSigma(1 - alphas[steps - k]!, shift));
  return {
    timesteps: shifted.map((s) => Math.trunc(s * trainTimesteps)),
    sigmas: [...shifted.map((s) => Math.fround(s)), 0],
  };
}
