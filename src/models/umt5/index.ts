export { UMT5_XXL, parseUMT5Config, readUMT5Config, type UMT5Config } from './config.js';
export { UMT5EncoderModel } from './model.js';
export { relativePositionBucket } from './layers.js';
export { UMT5Tokenizer, cleanPrompt, type TokenizedBatch } from './tokenizer.js';
export {
  PromptEmbeddingCache,
  encodePrompts,
  promptEmbeddings,
  textEncoderIdentity,
  type PromptKey,
} from './prompt_cache.js';
