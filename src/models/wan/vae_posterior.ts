// The VAE posterior N(mean, exp(logvar)) over latents (diffusers DiagonalGaussianDistribution).
import { randn, type Generator, type Tensor } from '../../torch/index.js';

export class DiagonalGaussian {
  /** mean and logvar are the two channel halves of the encoder's moments; logvar clamped to [-30, 20]. */
  readonly mean: Tensor;
  readonly logvar: Tensor;

  constructor(moments: Tensor) {
    const [mean, logvar] = moments.chunk(2, 1) as [Tensor, Tensor];
    this.mean = mean.contiguous();
    this.logvar = logvar.clamp(-30, 20);
    mean.dispose();
    logvar.dispose();
  }

  /** The pipeline's choice: the mean. */
  mode(): Tensor {
    return this.mean.clone();
  }

  /** mean + exp(logvar/2)·ε, ε ~ N(0, 1) from `generator`. */
  sample(generator: Generator): Tensor {
    const eps = randn(this.mean.shape, generator, { dtype: this.mean.dtype, device: this.mean.device });
    const std = this.logvar.mul(0.5).exp();
    const scaled = std.mul(eps);
    const out = scaled.add(this.mean);
    for (const t of [eps, std, scaled]) t.dispose();
    return out;
  }

  dispose(): void {
    this.mean.dispose();
    this.logvar.dispose();
  }
}
