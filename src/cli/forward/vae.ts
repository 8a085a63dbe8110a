// `worldwander forward vae-encode` (video [B,3,F,H,W] in [-1,1] → latent_mean, latent_logvar) and
// `vae-decode` (latent → video), with a diffusers `vae/` folder.
import { AutoencoderKLWan } from '../../models/wan/vae.js';
import type { Tensor } from '../../torch/index.js';
import { withModel, type ForwardTarget, type TargetOptions } from './targets.js';

function loadVae(modelDir: string, options: TargetOptions): AutoencoderKLWan {
  return AutoencoderKLWan.fromPretrained(modelDir, {
    dtype: options.dtype,
    device: options.device,
    onProgress: options.onLoadProgress,
  });
}

export const vaeEncodeTarget = {
  inputs: { video: { kind: 'float' as const, shape: '[B, 3, F, H, W] in [-1, 1]' } },
  run(modelDir: string, inputs: Map<string, Tensor>, options: TargetOptions) {
    return withModel(
      () => loadVae(modelDir, options),
      (vae) => {
        const posterior = vae.encode(inputs.get('video')!.to({ dtype: vae.dtype, device: vae.device }));
        return new Map([
          ['latent_mean', posterior.mean],
          ['latent_logvar', posterior.logvar],
        ]);
      },
    );
  },
} satisfies ForwardTarget;

export const vaeDecodeTarget = {
  inputs: { latent: { kind: 'float' as const, shape: '[B, z_dim, T, H, W]' } },
  run(modelDir: string, inputs: Map<string, Tensor>, options: TargetOptions) {
    return withModel(
      () => loadVae(modelDir, options),
      (vae) => new Map([['video', vae.decode(inputs.get('latent')!.to({ dtype: vae.dtype, device: vae.device }))]]),
    );
  },
} satisfies ForwardTarget;
