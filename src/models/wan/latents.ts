// Latent normalisation with the VAE's per-channel statistics: the transformer works on
// (mu − latents_mean) / latents_std; decoding takes z·std + mean.
import { tensor, type Tensor } from '../../torch/index.js';
import { ModelInputError } from '../../errors.js';

export interface LatentStats {
  latents_mean: readonly number[];
  latents_std: readonly number[];
}

function channelVector(values: readonly number[], like: Tensor, what: string): Tensor {
  if (like.ndim < 2 || like.size(1) !== values.length) {
    throw new ModelInputError(
      `${what}: latents need ${values.length} channels at dim 1, got shape [${like.shape.join(', ')}]`,
    );
  }
  const shape = like.shape.map((_, i) => (i === 1 ? values.length : 1));
  return tensor(Float64Array.from(values), {
    shape,
    dtype: like.dtype === 'float64' ? 'float64' : 'float32',
    device: like.device,
  });
}

function perChannel(
  z: Tensor,
  stats: LatentStats,
  what: string,
  f: (z: Tensor, mean: Tensor, std: Tensor) => Tensor,
): Tensor {
  const mean = channelVector(stats.latents_mean, z, what);
  const std = channelVector(stats.latents_std, z, what);
  const wide = z.float();
  const out = f(wide, mean, std);
  const typed = out.to({ dtype: z.dtype });
  for (const t of [mean, std, wide, out]) if (t !== typed && t !== z) t.dispose();
  return typed;
}

/** (z − mean) / std per channel, in z's dtype. */
export function normalizeLatents(z: Tensor, stats: LatentStats): Tensor {
  return perChannel(z, stats, 'normalizeLatents', (x, mean, std) => {
    const centred = x.sub(mean);
    const out = centred.div(std);
    centred.dispose();
    return out;
  });
}

/** z · std + mean per channel, in z's dtype. */
export function denormalizeLatents(z: Tensor, stats: LatentStats): Tensor {
  return perChannel(z, stats, 'denormalizeLatents', (x, mean, std) => {
    const scaled = x.mul(std);
    const out = scaled.add(mean);
    scaled.dispose();
    return out;
  });
}
