// Parity tool targets `vae-encode` (video [B,3,F,H,W] in [-1,1] → latent_mean, latent_logvar) and
// `vae-decode` (latent → video), with a diffusers `vae/` folder.
import { noGrad, type DType, type Tensor } from '../../torch/index.js';
import { ForwardInputError } from './transformer_forward.js';
import { AutoencoderKLWan } from './vae.js';

type Options = { dtype?: DType; device?: string };

function input(inputs: Map<string, Tensor>, name: string, shape: string, target: string): Tensor {
  const t = inputs.get(name);
  if (!t) throw new ForwardInputError(`${target}: the inputs need '${name}' ${shape} (got ${[...inputs.keys()].join(', ') || 'nothing'})`);
  return t;
}

function withVae<T>(modelDir: string, options: Options, f: (vae: AutoencoderKLWan) => T): T {
  const vae = AutoencoderKLWan.fromPretrained(modelDir, options);
  try {
    return noGrad(() => f(vae));
  } finally {
    vae.dispose();
  }
}

export function vaeEncodeForward(modelDir: string, inputs: Map<string, Tensor>, options: Options = {}): Map<string, Tensor> {
  const video = input(inputs, 'video', '[B,3,F,H,W]', 'vae-encode');
  return withVae(modelDir, options, (vae) => {
    const x = video.to({ dtype: vae.quant_conv.weight.dtype, device: vae.quant_conv.weight.device });
    const posterior = vae.encode(x);
    return new Map([['latent_mean', posterior.mean], ['latent_logvar', posterior.logvar]]);
  });
}

export function vaeDecodeForward(modelDir: string, inputs: Map<string, Tensor>, options: Options = {}): Map<string, Tensor> {
  const latent = input(inputs, 'latent', '[B,z,T,H,W]', 'vae-decode');
  return withVae(modelDir, options, (vae) => {
    const z = latent.to({ dtype: vae.quant_conv.weight.dtype, device: vae.quant_conv.weight.device });
    return new Map([['video', vae.decode(z)]]);
  });
}
