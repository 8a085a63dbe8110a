export { WanTransformer3DModel, type TransformerInputs } from './transformer.js';
export { WAN22_TI2V_5B, parseTransformerConfig, type WanTransformerConfig } from './transformer_config.js';
export { loadWanTransformer, readTransformerConfig } from './transformer_load.js';
export { buildInContextInputs, inContextFramePositions, type InContextLatents, type FrameCounts } from './in_context.js';
export { AutoencoderKLWan, type VaePassOptions } from './vae.js';
export { WAN22_TI2V_5B_VAE, parseVaeConfig, readVaeConfig, type WanVAEConfig } from './vae_config.js';
export { normalizeLatents, denormalizeLatents, type LatentStats } from './latents.js';
