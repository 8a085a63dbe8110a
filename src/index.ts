// WorldWander.ts: the typed public API (the `worldwander` CLI is a thin layer over it).
export * as torch from './torch/index.js';
export * as nn from './nn/index.js';
export * as wan from './models/wan/index.js';
export * as umt5 from './models/umt5/index.js';
export * as synth from './synth/index.js';
export * as diffusion from './diffusion/index.js';
export * from './worldwander/index.js';
export * from './app/index.js';
export * from './errors.js';
export { AdamW } from './train/adamw.js';
export {
  readVideoWindow,
  readVideoWindows,
  probeVideoSource,
  ShortVideoError,
  type ReadWindowOptions,
  type ReadWindowsOptions,
  type VideoSource,
  type VideoWindow,
} from './data/video_reader.js';
