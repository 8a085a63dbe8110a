// The samplers by name (`--sampler unipc|euler`).
import { FlowMatchEulerSampler } from './euler.js';
import type { FlowSampler, SamplerName } from './sampler.js';
import { UniPCMultistepSampler } from './unipc.js';

/** The sampler named, on the release's grid with `steps` steps and flow shift `shift`. */
export function makeSampler(name: SamplerName, options: { steps: number; shift?: number }): FlowSampler {
  return name === 'euler' ? new FlowMatchEulerSampler(options) : new UniPCMultistepSampler(options);
}
