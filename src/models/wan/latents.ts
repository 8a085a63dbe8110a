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
  using mean = channelVector(stats.latents_mean, z, what);
  using std = channelVector(stats.latents_std, z, what);
  using wide = z.float();
  using out = f(wide, mean, std);
  return out.to({ dtype: z.dtype });
}

/** (z − mean) / std per channel, in z's dtype. */
export function normalizeLatents(z: Tensor, stats: LatentStats): Tensor {
  return perChannel(z, stats, 'normalizeLatents', (x, mean, std) => {
    using centred = x.sub(mean);
    return centred.div(std);
  });
}

/** z · std + mean per channel, in z's dtype. */
export function denormalizeLatents(z: Tensor, stats: LatentStats): Tensor {
  return perChannel(z, stats, 'denormalizeLatents', (x, mean, std) => {
    using scaled = x.mul(std);
    return scaled.add(mean);
  });
}
