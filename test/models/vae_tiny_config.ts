// Tiny VAE configs shared by the VAE tests: the Wan2.2 layout (residual blocks, 2x2 patchify, two
// temporal and three spatial downsamplings) with a few channels, and the Wan2.1 layout.
import { WAN22_TI2V_5B_VAE, WAN_VAE_DEFAULTS, type WanVAEConfig } from '../../src/models/wan/vae_config.js';

export const TINY_WAN22: WanVAEConfig = {
  ...WAN22_TI2V_5B_VAE,
  base_dim: 4,
  decoder_base_dim: 4,
  z_dim: 4,
  num_res_blocks: 1,
  latents_mean: [0.1, -0.2, 0.3, -0.4],
  latents_std: [1.1, 0.9, 0.5, 2],
};

export const TINY_WAN21: WanVAEConfig = {
  ...WAN_VAE_DEFAULTS,
  base_dim: 4,
  z_dim: 2,
  dim_mult: [1, 2, 2],
  num_res_blocks: 1,
  attn_scales: [0.5],
  temperal_downsample: [true, true],
  latents_mean: [0, 0],
  latents_std: [1, 1],
};
