export {
  WanTransformer3DModel,
  WAN_LORA_TARGETS,
  type TransformerInputs,
  type PretrainedOptions,
} from './transformer.js';
export { WAN22_TI2V_5B, parseTransformerConfig, type WanTransformerConfig } from './transformer_config.js';
export { AutoencoderKLWan, type VaePassOptions } from './vae.js';
export { WAN22_TI2V_5B_VAE, parseVaeConfig, readVaeConfig, type WanVAEConfig } from './vae_config.js';
export { normalizeLatents, denormalizeLatents, type LatentStats } from './latents.js';
