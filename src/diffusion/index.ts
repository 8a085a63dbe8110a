// Flow-matching sampling, model-agnostic: the release's UniPC grid and solver, an Euler check,
// classifier-free guidance, and the loop.
export { samplingSchedule, shiftSigma, type SamplingSchedule } from './flow_schedule.js';
export { UniPCMultistepSampler } from './unipc.js';
export { FlowMatchEulerSampler } from './euler.js';
export { classifierFreeGuidance } from './guidance.js';
export { denoise, DenoiseAborted, type DenoiseOptions } from './denoise.js';
export { type FlowSampler, type SamplerName } from './sampler.js';
export { makeSampler } from './make_sampler.js';
export { trainingSchedule, flowMatchingPair, weightedMse, type TrainingSchedule } from './training_schedule.js';
