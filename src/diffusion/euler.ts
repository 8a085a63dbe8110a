// The flow-matching Euler sampler: x_{i+1} = x_i + (σ_{i+1} − σ_i)·v_i. First order, the
// simplest correct one; a check on UniPC. Same grid as UniPC, so the two compare step for step.
import { scope, type Tensor } from '../torch/index.js';
import { samplingSchedule } from './flow_schedule.js';
import type { FlowSampler } from './sampler.js';

export class FlowMatchEulerSampler implements FlowSampler {
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  #index = 0;

  constructor({ steps, shift = 5 }: { steps: number; shift?: number }) {
    ({ timesteps: this.timesteps, sigmas: this.sigmas } = samplingSchedule(steps, shift));
  }

  step(velocity: Tensor, sample: Tensor): Tensor {
    const i = this.#index++;
    if (i >= this.timesteps.length) throw new Error(`FlowMatchEulerSampler: step ${i + 1} of ${this.timesteps.length}`);
    return scope(() => sample.float().add(velocity.float(), this.sigmas[i + 1]! - this.sigmas[i]!));
  }

  dispose(): void {}

  [Symbol.dispose](): void {}
}
