// A flow-matching sampler walks latents from σ = 1 (noise) to σ = 0 (data) along a fixed grid,
// one step per velocity prediction v ≈ noise − x0 of the model at the grid's timestep.
import type { Tensor } from '../torch/index.js';

export interface FlowSampler {
  /** The model's timestep at each step. */
  readonly timesteps: readonly number[];
  /** σ at each step and the final σ (steps + 1 values). */
  readonly sigmas: readonly number[];
  /**
   * Takes the velocity predicted at the next step's timestep and the current latents; returns the
   * latents of the following noise level (float32, a new tensor). Steps are taken in order.
   */
  step(velocity: Tensor, sample: Tensor): Tensor;
  /** Releases the tensors the sampler keeps between steps. */
  dispose(): void;
  [Symbol.dispose](): void;
}

export type SamplerName = 'unipc' | 'euler';
