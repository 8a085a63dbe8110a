// The release's flow-matching training schedule (docs/method.md): 1000 noise levels,
// σ_k = shift(1 − k/1000) for k = 0..999 (linspace(1, 0, 1001) without its last value, shifted),
// timestep_k = 1000·σ_k, and bell-shaped loss weights over the timesteps,
// y_k = exp(−2·((t_k − 500)/1000)²), w_k = (y_k − min y)·1000 / Σ(y − min y) (they sum to 1000).
// (`uniform` weighting, beyond the release: w_k = 1.) Training draws k uniformly,
// x_t = (1 − σ)·x0 + σ·noise, and regresses v = noise − x0.
import { scope, type Tensor } from '../torch/index.js';
import { shiftSigma } from './flow_schedule.js';

export interface TrainingSchedule {
  sigmas: number[];
  timesteps: number[];
  weights: number[];
}

export type LossWeighting = 'bell' | 'uniform';

export function trainingSchedule(shift = 5, steps = 1000, weighting: LossWeighting = 'bell'): TrainingSchedule {
  const sigmas = Array.from({ length: steps }, (_, k) => shiftSigma(1 - k / steps, shift));
  const timesteps = sigmas.map((s) => s * steps);
  if (weighting === 'uniform') return { sigmas, timesteps, weights: timesteps.map(() => 1) };
  const y = timesteps.map((t) => Math.exp(-2 * ((t - steps / 2) / steps) ** 2));
  const min = Math.min(...y);
  const total = y.reduce((sum, v) => sum + (v - min), 0);
  return { sigmas, timesteps, weights: y.map((v) => ((v - min) * steps) / total) };
}

/** x_t = (1 − σ)·x0 + σ·noise and the target noise − x0, for σ of shape broadcastable to x0. */
export function flowMatchingPair(x0: Tensor, noise: Tensor, sigma: Tensor): { noisy: Tensor; target: Tensor } {
  return scope(() => ({
    noisy: x0.mul(sigma.neg().add(1)).add(noise.mul(sigma)),
    target: noise.sub(x0),
  }));
}

/** mean over the batch of w_b · mean((pred_b − target_b)²), in float32. */
export function weightedMse(pred: Tensor, target: Tensor, weights: Tensor): Tensor {
  return scope(() => {
    const perSample = pred.float().sub(target.float()).square().flatten(1).mean(1);
    return perSample.mul(weights.float()).mean();
  });
}
