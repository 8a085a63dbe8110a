// The release's learning rate: base = 5e-5·√(accumulation · world size) (its config's
// learning_rate scaled), linear warm-up over `warmup` optimiser steps, then constant. Step k
// (0-based) runs at base·(k + 1)/warmup while k < warmup: the first step is not wasted at lr 0.
// Beyond the release, an optional cool-down (warm-up, stable, decay: Hägele et al. 2024): over
// the last D of `total` steps the rate falls linearly towards zero, step k at base·(total − k)/(D + 1),
// so its last step runs at base/(D + 1) and none is wasted at 0. A run of constant rate resumed
// with a cool-down appended is the same as one planned with it from the start.
export function scaledLearningRate(learningRate: number, accumulation: number, worldSize: number): number {
  return learningRate * Math.sqrt(accumulation * worldSize);
}

export function learningRateAt(
  step: number,
  base: number,
  warmup: number,
  cooldown?: { steps: number; total: number },
): number {
  const warm = warmup > 0 && step < warmup ? (step + 1) / warmup : 1;
  const cool =
    cooldown && cooldown.steps > 0 && step >= cooldown.total - cooldown.steps
      ? (cooldown.total - step) / (cooldown.steps + 1)
      : 1;
  return base * Math.min(warm, cool);
}
