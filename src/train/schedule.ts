// The release's learning rate: base = 5e-5·√(accumulation · world size) (its config's
// learning_rate scaled), linear warm-up over `warmup` optimiser steps, then constant. Step k
// (0-based) runs at base·(k + 1)/warmup while k < warmup: the first step is not wasted at lr 0.
export function scaledLearningRate(learningRate: number, accumulation: number, worldSize: number): number {
  return learningRate * Math.sqrt(accumulation * worldSize);
}

export function learningRateAt(step: number, base: number, warmup: number): number {
  return warmup > 0 && step < warmup ? (base * (step + 1)) / warmup : base;
}
