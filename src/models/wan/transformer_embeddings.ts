// The condition embedder of WanTransformer3DModel (diffusers WanTimeTextImageEmbedding): the
// sinusoidal timestep embedding, its MLP and 6-way projection, and the text projection.
import { arange, cat, scope, tensor, type Tensor } from '../../torch/index.js';
import { Linear, Module, type LayerOptions } from '../../nn/index.js';
import { timestepRuns, type TimestepRun } from './modulation.js';

/**
 * diffusers Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=0): for t of any shape,
 * [..., dim] = [cos(t·f), sin(t·f)] with f_i = exp(−ln(10⁴)·i/(dim/2)), in float32.
 */
export function timestepSinusoid(t: Tensor, dim: number): Tensor {
  return scope(() => {
    const half = dim / 2;
    const freqs = arange(0, half, 1, { dtype: 'float32', device: t.device }).mul(-Math.log(10000)).div(half).exp();
    const angles = t.float().unsqueeze(-1).mul(freqs);
    return cat([angles.cos(), angles.sin()], -1);
  });
}

/** diffusers TimestepEmbedding: linear_1, SiLU, linear_2. */
export class TimestepEmbedding extends Module {
  readonly linear_1: Linear;
  readonly linear_2: Linear;
  constructor(inChannels: number, dim: number, options: LayerOptions) {
    super();
    this.linear_1 = this.registerModule('linear_1', new Linear(inChannels, dim, options));
    this.linear_2 = this.registerModule('linear_2', new Linear(dim, dim, options));
  }
  forward(x: Tensor): Tensor {
    return scope(() => this.linear_2.forward(this.linear_1.forward(x).silu()));
  }
}

/** diffusers PixArtAlphaTextProjection with act_fn 'gelu_tanh': linear_1, gelu-tanh, linear_2. */
export class TextProjection extends Module {
  readonly linear_1: Linear;
  readonly linear_2: Linear;
  constructor(inFeatures: number, dim: number, options: LayerOptions) {
    super();
    this.linear_1 = this.registerModule('linear_1', new Linear(inFeatures, dim, options));
    this.linear_2 = this.registerModule('linear_2', new Linear(dim, dim, options));
  }
  forward(x: Tensor): Tensor {
    return scope(() => this.linear_2.forward(this.linear_1.forward(x).gelu('tanh')));
  }
}

export interface ConditionEmbeddings {
  /** [B, R, dim] in the compute dtype (rounded like diffusers' type_as): one row per run, or per token. */
  temb: Tensor;
  /** [B, R, 6, dim]. */
  timestepProj: Tensor;
  /** [B, T, dim]. */
  text: Tensor;
  /**
   * Which tokens each row serves; null: one row per token (R = S). Embedding each distinct
   * timestep once saves the per-token [S, 6, dim] projection and its float32 modulation copy in
   * every block (~0.8 GB and ~1.7 GB at the real size with two views).
   */
  runs: TimestepRun[] | null;
}

export class WanConditionEmbedder extends Module {
  readonly time_embedder: TimestepEmbedding;
  readonly time_proj: Linear;
  readonly text_embedder: TextProjection;

  constructor(
    readonly dim: number,
    readonly freqDim: number,
    textDim: number,
    options: LayerOptions,
  ) {
    super();
    // time_embedder stays float32 whatever the model dtype (diffusers' _keep_in_fp32_modules).
    this.time_embedder = this.registerModule(
      'time_embedder',
      new TimestepEmbedding(freqDim, dim, { ...options, dtype: 'float32' }),
    );
    this.time_proj = this.registerModule('time_proj', new Linear(dim, 6 * dim, options));
    this.text_embedder = this.registerModule('text_embedder', new TextProjection(textDim, dim, options));
  }

  /**
   * timestep [B] (one per sample) or [B, S] (one per token) over `tokens` tokens; text
   * [B, T, text_dim] in the compute dtype.
   */
  forward(timestep: Tensor, text: Tensor, tokens: number): ConditionEmbeddings {
    return scope(() => {
      const runs = timestep.ndim === 1 ? [{ start: 0, length: tokens, row: 0 }] : timestepRuns(timestep);
      const rows =
        timestep.ndim === 1
          ? timestep.unsqueeze(1)
          : runs === null
            ? timestep
            : timestep.indexSelect(
                1,
                tensor(
                  runs.map((r) => r.start),
                  { dtype: 'int64', device: timestep.device },
                ),
              );
      const sinusoid = timestepSinusoid(rows, this.freqDim);
      const temb = this.time_embedder.forward(sinusoid).typeAs(text);
      const timestepProj = this.time_proj.forward(temb.silu()).unflatten(2, [6, this.dim]);
      return { temb, timestepProj, text: this.text_embedder.forward(text), runs };
    });
  }
}
