// The Wan VAE's own layers: causal 3D conv (zero padding in front of time only), the channel RMS
// norm with F.normalize semantics, and a plain 2D conv for the resamplers and attention.
import { ModelInputError } from '../../errors.js';
import { cat, consume, pad, type Tensor } from '../../torch/index.js';
import { boundedConv3d } from './vae_conv.js';
import { constantParameter, uniformParameter, type LayerOptions } from '../../nn/init.js';
import { Module } from '../../nn/module.js';
import { tailForCache, type FeatureCache } from './vae_cache.js';

type Triple = [number, number, number];
const triple = (v: number | Triple): Triple => (typeof v === 'number' ? [v, v, v] : v);

/**
 * nn.Conv3d whose temporal padding is 2·p_t frames in front and none behind; `past` frames (from
 * the feature cache) replace as many of those zero frames.
 */
export class WanCausalConv3d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly kernel: Triple;
  readonly stride: Triple;
  readonly padding: Triple;

  constructor(
    inChannels: number,
    outChannels: number,
    kernel: number | Triple,
    {
      stride = 1,
      padding = 0,
      ...options
    }: LayerOptions & { stride?: number | Triple; padding?: number | Triple } = {},
  ) {
    super();
    this.kernel = triple(kernel);
    this.stride = triple(stride);
    this.padding = triple(padding);
    const bound = 1 / Math.sqrt(inChannels * this.kernel[0] * this.kernel[1] * this.kernel[2]);
    this.weight = this.registerParameter(
      'weight',
      uniformParameter([outChannels, inChannels, ...this.kernel], bound, options),
    );
    this.bias = this.registerParameter('bias', uniformParameter([outChannels], bound, options));
  }

  get temporalPadding(): number {
    return 2 * this.padding[0];
  }

  forward(x: Tensor, past: Tensor | null = null): Tensor {
    const [pt, ph, pw] = this.padding;
    let front = 2 * pt;
    let input = x;
    if (past && front > 0) {
      input = cat([past.to({ dtype: x.dtype, device: x.device }), x], 2);
      front -= past.size(2);
    }
    const padded = front > 0 || ph > 0 || pw > 0 ? pad(input, [pw, pw, ph, ph, Math.max(front, 0), 0]) : input;
    const out = boundedConv3d(padded, this.weight, this.bias, this.stride);
    if (padded !== input) padded.dispose();
    if (input !== x) input.dispose();
    return out;
  }
}

/**
 * A causal conv that reads and refreshes its cache slot (the pattern every temporally padded conv
 * of the encoder and decoder follows). Without a cache it is a whole-sequence causal conv.
 */
export function cachedConv(conv: WanCausalConv3d, x: Tensor, cache: FeatureCache | null): Tensor {
  if (!cache) return conv.forward(x);
  const slot = cache.nextSlot();
  const previous = cache.get(slot);
  const tail = tailForCache(x, previous);
  const out = conv.forward(x, previous === 'Rep' ? null : previous);
  cache.set(slot, tail);
  return out;
}

/** F.normalize(x, dim=1)·√C·γ with γ of shape [C,1,1,1] (video) or [C,1,1] (images). */
export class WanRMSNorm extends Module {
  readonly gamma: Tensor;
  readonly scale: number;

  constructor(
    readonly dim: number,
    { images = false, ...options }: LayerOptions & { images?: boolean } = {},
  ) {
    super();
    this.scale = Math.sqrt(dim);
    this.gamma = this.registerParameter('gamma', constantParameter(images ? [dim, 1, 1] : [dim, 1, 1, 1], 1, options));
  }

  forward(x: Tensor): Tensor {
    const norm = consume(x.norm(2, 1, true), (n) => n.clamp(1e-12));
    const unit = x.div(norm);
    norm.dispose();
    return consume(
      consume(unit, (u) => u.mul(this.gamma)),
      (t) => t.mul(this.scale),
    );
  }
}

/** nn.Conv2d with bias (PyTorch's default initialisation). */
export class VaeConv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly stride: number;
  readonly padding: number;

  constructor(
    inChannels: number,
    outChannels: number,
    readonly kernel: number,
    { stride = 1, padding = 0, ...options }: LayerOptions & { stride?: number; padding?: number } = {},
  ) {
    super();
    this.stride = stride;
    this.padding = padding;
    const bound = 1 / Math.sqrt(inChannels * kernel * kernel);
    this.weight = this.registerParameter(
      'weight',
      uniformParameter([outChannels, inChannels, kernel, kernel], bound, options),
    );
    this.bias = this.registerParameter('bias', uniformParameter([outChannels], bound, options));
  }

  /**
   * [N,C,H,W] → [N,O,H',W'], computed as a (1,k,k) conv3d over [1,C,N,H,W] so that it shares
   * boundedConv3d's workspace bound.
   */
  forward(x: Tensor): Tensor {
    const volume = consume(x.permute(1, 0, 2, 3), (v) => v.unsqueeze(0));
    const p = this.padding;
    const padded = p > 0 ? consume(volume, (v) => pad(v, [p, p, p, p])) : volume;
    const kernel = this.weight.unsqueeze(2);
    const y = boundedConv3d(padded, kernel, this.bias, [1, this.stride, this.stride]);
    padded.dispose();
    kernel.dispose();
    return consume(y, (t) => t.squeeze(0).permute(1, 0, 2, 3));
  }
}

// The Wan2.2 VAE's 2x2 pixel patchify: [B,C,T,H,W] ↔ [B,C·p·p,T,H/p,W/p], channel index
// c·p² + w_off·p + h_off (the width offset is the more significant one).
export function patchify(x: Tensor, p: number): Tensor {
  if (p === 1) return x.clone();
  if (x.ndim !== 5) throw new ModelInputError(`patchify: expected [B,C,T,H,W], got [${x.shape.join(', ')}]`);
  const [b, c, t, h, w] = x.shape as [number, number, number, number, number];
  if (h % p !== 0 || w % p !== 0)
    throw new ModelInputError(`patchify: height ${h} and width ${w} must be multiples of the patch size ${p}`);
  return x
    .view(b, c, t, h / p, p, w / p, p)
    .permute(0, 1, 6, 4, 2, 3, 5)
    .reshape(b, c * p * p, t, h / p, w / p);
}

export function unpatchify(x: Tensor, p: number): Tensor {
  if (p === 1) return x.clone();
  const [b, cp, t, h, w] = x.shape as [number, number, number, number, number];
  const c = cp / (p * p);
  if (!Number.isInteger(c)) throw new ModelInputError(`unpatchify: ${cp} channels are not a multiple of ${p * p}`);
  return x
    .view(b, c, p, p, t, h, w)
    .permute(0, 1, 4, 5, 3, 6, 2)
    .reshape(b, c, t, h * p, w * p);
}
