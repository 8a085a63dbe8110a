// WorldWander's own logic on top of the Wan model parts: the tasks, their prompts, the in-context
// layout, the pipeline, the model folders. The applications on top (infer, demo, serve) are src/app/.
export { TASK_PROMPT, EMPTY_PROMPT, ALL_PROMPTS, type WorldWanderTask } from './prompts.js';
export {
  buildInContextInputs,
  inContextFramePositions,
  type InContextLatents,
  type FrameCounts,
} from './in_context.js';
export {
  WorldWanderPipeline,
  type PipelineLoadOptions,
  type TranslateOptions,
  type Translation,
  type LatentTranslation,
} from './pipeline.js';
export { RELEASE_DEFAULTS, readDefaults, type ModelDefaults } from './model_defaults.js';
export { denoiseInContext, type InContextDenoiseOptions, type GuidanceMode } from './denoise.js';
export {
  modelFiles,
  modelFolderLayout,
  resolveModelDir,
  type ModelFiles,
  type ModelFileOverrides,
  type VaeFiles,
} from './model_folder.js';
export { loadTransformer, loadVae, vaeConfigOf } from './model_parts.js';
export {
  loadConfig,
  parseConfig,
  parseOverrides,
  taskOf,
  ConfigError,
  WorldWanderConfigSchema,
  type WorldWanderConfig,
} from './config.js';
export { openLoraFile, loadLoraFile, convertCheckpoint } from './lora_file.js';
