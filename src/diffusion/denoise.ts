// The sampling loop: from noise to data along a sampler's grid, one velocity prediction a step.
// Each step runs in its own scope, so the only tensors that live across steps are the latents and
// the sampler's state: memory is flat however many steps run. Between steps the loop yields to
// the event loop, so that an AbortSignal (Ctrl-C) is seen and the loop stops cleanly.
import { Stopped } from '../errors.js';
import { keep, scope, yieldToEventLoop, type Tensor } from '../torch/index.js';
import type { FlowSampler } from './sampler.js';

export class DenoiseAborted extends Stopped {
  override name = 'DenoiseAborted';
  constructor(
    readonly step: number,
    readonly steps: number,
  ) {
    super(`stopped after step ${step} of ${steps}`);
  }
}

export interface DenoiseOptions {
  sampler: FlowSampler;
  /** The initial latents (noise at σ = 1). Not disposed. */
  latents: Tensor;
  /** The model's velocity for `latents` at `timestep` (the sampler's grid value of this step). */
  velocity: (latents: Tensor, timestep: number, step: number) => Tensor;
  /** After each step: steps done, and their number. */
  onStep?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Runs every step of the sampler; returns the final latents (float32). Disposes the sampler. */
export async function denoise(o: DenoiseOptions): Promise<Tensor> {
  const { latents, velocity, onStep, signal } = o;
  using sampler = o.sampler;
  const total = sampler.timesteps.length;
  let x = keep(latents.float());
  try {
    for (let i = 0; i < total; i++) {
      if (signal?.aborted) throw new DenoiseAborted(i, total);
      const current = x;
      const next = scope(() => sampler.step(velocity(current, sampler.timesteps[i]!, i), current));
      keep(next);
      current.dispose();
      x = next;
      onStep?.(i + 1, total);
      await yieldToEventLoop();
    }
    return x;
  } catch (error) {
    x.dispose();
    throw error;
  }
}
