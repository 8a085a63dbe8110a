// Parity tool targets `vae-encode` (video [B,3,F,H,W] in [-1,1] → latent_mean, latent_logvar) and
// `vae-decode` (latent → video), with a diffusers `vae/` folder.
import type { Tensor } from '../../torch/index.js';
import { requireInput, withModel, type ParityOptions } from '../parity.js';
import { AutoencoderKLWan } from './vae.js';

function withVae<T>(modelDir: string, options: ParityOptions, f: (vae: AutoencoderKLWan) => T): T {
  return withModel(() => AutoencoderKLWan.fromPretrained(modelDir, { ...options, onProgress: options.onLoadProgress }), f);
}

export function vaeEncodeForward(modelDir: string, inputs: Map<string, Tensor>, options: ParityOptions = {}): Map<string, Tensor> {
  const video = requireInput(inputs, 'video', '[B,3,F,H,W]', 'vae-encode');
  return withVae(modelDir, options, (vae) => {
    const x = video.to({ dtype: vae.quant_conv.weight.dtype, device: vae.quant_conv.weight.device });
    const posterior = vae.encode(x);
    return new Map([['latent_mean', posterior.mean], ['latent_logvar', posterior.logvar]]);
  });
}

export function vaeDecodeForward(modelDir: string, inputs: Map<string, Tensor>, options: ParityOptions = {}): Map<string, Tensor> {
  const latent = requireInput(inputs, 'latent', '[B,z,T,H,W]', 'vae-decode');
  return withVae(modelDir, options, (vae) => {
    const z = latent.to({ dtype: vae.quant_conv.weight.dtype, device: vae.quant_conv.weight.device });
    return new Map([['video', vae.decode(z)]]);
  });
}
