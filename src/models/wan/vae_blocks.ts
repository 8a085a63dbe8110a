// The Wan VAE's blocks (diffusers names): residual block, per-frame attention, mid block,
// resamplers with their temporal convs, and the Wan2.2 residual down/up blocks with their
// parameter-free AvgDown3D / DupUp3D shortcuts.
// Intermediates are released as soon as used (`consume`), not at the end of a scope: at the real
// size one activation of the first stage is ~0.6 GB, and a block makes six of them
// (docs/vae.md, "Memory").
import {
  cat,
  consume,
  interpolate,
  pad,
  scaledDotProductAttention,
  scope,
  zerosLike,
  type Tensor,
} from '../../torch/index.js';
import type { LayerOptions } from '../../nn/init.js';
import { Module, ModuleList } from '../../nn/module.js';
import { tailForCache, type FeatureCache } from './vae_cache.js';
import { cachedConv, VaeConv2d, WanCausalConv3d, WanRMSNorm } from './vae_layers.js';

/** A block of the encoder or decoder: frames in, frames out, reading the cache when chunked. */
export interface VaeLayer extends Module {
  forward(x: Tensor, cache: FeatureCache | null, firstChunk?: boolean): Tensor;
}

/** [B,C,T,H,W] → [B·T,C,H,W], f, and back. */
function perFrame(x: Tensor, f: (frames: Tensor) => Tensor): Tensor {
  const [b, c, t, h, w] = x.shape as [number, number, number, number, number];
  const frames = consume(x.permute(0, 2, 1, 3, 4), (v) => v.reshape(b * t, c, h, w));
  const y = consume(frames, f);
  return consume(
    consume(y, (v) => v.view(b, t, y.size(1), y.size(2), y.size(3))),
    (v) => v.permute(0, 2, 1, 3, 4),
  );
}

export class WanResidualBlock extends Module implements VaeLayer {
  readonly norm1: WanRMSNorm;
  readonly conv1: WanCausalConv3d;
  readonly norm2: WanRMSNorm;
  readonly conv2: WanCausalConv3d;
  readonly conv_shortcut: WanCausalConv3d | null;

  constructor(inDim: number, outDim: number, options: LayerOptions = {}) {
    super();
    this.norm1 = this.registerModule('norm1', new WanRMSNorm(inDim, options));
    this.conv1 = this.registerModule('conv1', new WanCausalConv3d(inDim, outDim, 3, { padding: 1, ...options }));
    this.norm2 = this.registerModule('norm2', new WanRMSNorm(outDim, options));
    this.conv2 = this.registerModule('conv2', new WanCausalConv3d(outDim, outDim, 3, { padding: 1, ...options }));
    this.conv_shortcut =
      inDim !== outDim ? this.registerModule('conv_shortcut', new WanCausalConv3d(inDim, outDim, 1, options)) : null;
  }

  forward(x: Tensor, cache: FeatureCache | null): Tensor {
    const shortcut = this.conv_shortcut ? this.conv_shortcut.forward(x) : x;
    let y = consume(this.norm1.forward(x), (t) => t.silu());
    y = consume(y, (t) => cachedConv(this.conv1, t, cache));
    y = consume(
      consume(y, (t) => this.norm2.forward(t)),
      (t) => t.silu(),
    );
    y = consume(y, (t) => cachedConv(this.conv2, t, cache));
    const out = consume(y, (t) => t.add(shortcut));
    if (shortcut !== x) shortcut.dispose();
    return out;
  }
}

/** Single-head self-attention over the H·W positions of each frame, residual. */
export class WanAttentionBlock extends Module implements VaeLayer {
  readonly norm: WanRMSNorm;
  readonly to_qkv: VaeConv2d;
  readonly proj: VaeConv2d;

  constructor(
    readonly dim: number,
    options: LayerOptions = {},
  ) {
    super();
    this.norm = this.registerModule('norm', new WanRMSNorm(dim, { images: true, ...options }));
    this.to_qkv = this.registerModule('to_qkv', new VaeConv2d(dim, dim * 3, 1, options));
    this.proj = this.registerModule('proj', new VaeConv2d(dim, dim, 1, options));
  }

  forward(x: Tensor): Tensor {
    const attended = perFrame(x, (frames) => {
      const [n, c, h, w] = frames.shape as [number, number, number, number];
      const qkv = consume(this.norm.forward(frames), (t) => this.to_qkv.forward(t));
      // [n, 3C, HW] → [n, 1, HW, 3C]; q, k, v are the three channel thirds.
      const tokens = consume(qkv, (t) =>
        t
          .reshape(n, 1, c * 3, h * w)
          .permute(0, 1, 3, 2)
          .contiguous(),
      );
      const [q, k, v] = tokens.chunk(3, -1) as [Tensor, Tensor, Tensor];
      const o = scaledDotProductAttention(q, k, v);
      for (const t of [tokens, q, k, v]) t.dispose();
      const image = consume(o, (t) => t.squeeze(1).permute(0, 2, 1).reshape(n, c, h, w));
      return consume(image, (t) => this.proj.forward(t));
    });
    return consume(attended, (t) => t.add(x));
  }
}

export class WanMidBlock extends Module implements VaeLayer {
  readonly resnets: ModuleList<WanResidualBlock>;
  readonly attentions: ModuleList<WanAttentionBlock>;

  constructor(dim: number, options: LayerOptions = {}) {
    super();
    this.resnets = this.registerModule(
      'resnets',
      new ModuleList([new WanResidualBlock(dim, dim, options), new WanResidualBlock(dim, dim, options)]),
    );
    this.attentions = this.registerModule('attentions', new ModuleList([new WanAttentionBlock(dim, options)]));
  }

  forward(x: Tensor, cache: FeatureCache | null): Tensor {
    let y = this.resnets.at(0).forward(x, cache);
    y = consume(y, (t) => this.attentions.at(0).forward(t));
    return consume(y, (t) => this.resnets.at(1).forward(t, cache));
  }
}

export type ResampleMode = 'upsample2d' | 'upsample3d' | 'downsample2d' | 'downsample3d';

/** Holds the 2D conv at key `resample.1` (index 0 is the parameter-free pad or upsample). */
class ResampleConv extends Module {
  constructor(readonly conv: VaeConv2d) {
    super();
    this.registerModule('1', conv);
  }
}

/** [B,2C,T,H,W] from the up time conv → [B,C,2T,H,W]: frame 2i from the first C channels. */
function interleaveTime(y: Tensor): Tensor {
  const [b, c2, t, h, w] = y.shape as [number, number, number, number, number];
  return y
    .reshape(b, 2, c2 / 2, t, h, w)
    .permute(0, 2, 3, 1, 4, 5)
    .reshape(b, c2 / 2, 2 * t, h, w);
}

/**
 * Spatial 2x resampling with an optional causal time conv. With a cache this follows Wan's chunk
 * schedule; without one it is the same computation over the whole sequence at once: the first
 * frame bypasses the time conv, the rest go through it causally.
 */
export class WanResample extends Module implements VaeLayer {
  readonly resample: ResampleConv;
  readonly time_conv: WanCausalConv3d | null = null;

  constructor(
    readonly dim: number,
    readonly mode: ResampleMode,
    upsampleOutDim: number = Math.floor(dim / 2),
    options: LayerOptions = {},
  ) {
    super();
    const up = mode.startsWith('up');
    const conv = up
      ? new VaeConv2d(dim, upsampleOutDim, 3, { padding: 1, ...options })
      : new VaeConv2d(dim, dim, 3, { stride: 2, ...options });
    this.resample = this.registerModule('resample', new ResampleConv(conv));
    if (mode === 'upsample3d')
      this.time_conv = this.registerModule(
        'time_conv',
        new WanCausalConv3d(dim, dim * 2, [3, 1, 1], { padding: [1, 0, 0], ...options }),
      );
    if (mode === 'downsample3d')
      this.time_conv = this.registerModule(
        'time_conv',
        new WanCausalConv3d(dim, dim, [3, 1, 1], { stride: [2, 1, 1], ...options }),
      );
  }

  forward(x: Tensor, cache: FeatureCache | null): Tensor {
    const timed = this.mode === 'upsample3d' ? this.#upTime(x, cache) : x;
    let y = perFrame(timed, (frames) => this.#spatial(frames));
    if (timed !== x) timed.dispose();
    if (this.mode === 'downsample3d') y = consume(y, (t) => this.#downTime(t, cache));
    return y;
  }

  #spatial(frames: Tensor): Tensor {
    const conv = this.resample.conv;
    if (this.mode.startsWith('up')) {
      const up = scope(() => interpolate(frames.float(), { scaleFactor: 2, mode: 'nearest-exact' }).typeAs(frames));
      return consume(up, (t) => conv.forward(t));
    }
    return consume(pad(frames, [0, 1, 0, 1]), (t) => conv.forward(t));
  }

  #upTime(x: Tensor, cache: FeatureCache | null): Tensor {
    const timeConv = this.time_conv!;
    if (!cache) {
      if (x.size(2) === 1) return x;
      const first = x.narrow(2, 0, 1);
      const rest = x.narrow(2, 1, x.size(2) - 1);
      const doubled = consume(
        consume(rest, (t) => timeConv.forward(t)),
        interleaveTime,
      );
      const out = cat([first, doubled], 2);
      first.dispose();
      doubled.dispose();
      return out;
    }
    const slot = cache.nextSlot();
    const previous = cache.get(slot);
    if (previous === null) {
      cache.set(slot, 'Rep');
      return x;
    }
    let tail: Tensor;
    if (previous === 'Rep') {
      tail = tailForCache(x, null);
      if (tail.size(2) < 2) tail = consume(tail, (t) => cat([zerosLike(t), t], 2));
    } else {
      tail = tailForCache(x, previous);
    }
    const y = timeConv.forward(x, previous === 'Rep' ? null : previous);
    cache.set(slot, tail);
    return consume(y, interleaveTime);
  }

  #downTime(x: Tensor, cache: FeatureCache | null): Tensor {
    const timeConv = this.time_conv!;
    if (!cache) {
      if (x.size(2) === 1) return x.clone();
      const first = x.narrow(2, 0, 1);
      const rest = timeConv.forward(x);
      const out = cat([first, rest], 2);
      first.dispose();
      rest.dispose();
      return out;
    }
    const slot = cache.nextSlot();
    const previous = cache.get(slot);
    if (previous === null || previous === 'Rep') {
      cache.set(slot, x.clone());
      return x.clone();
    }
    const last = previous.narrow(2, previous.size(2) - 1, 1);
    const joined = cat([last, x], 2);
    last.dispose();
    const tail = x.narrow(2, x.size(2) - 1, 1).clone();
    const out = consume(joined, (t) => timeConv.forward(t));
    cache.set(slot, tail);
    return out;
  }
}

/** Shortcut of the residual down block: space/time folded into channels, then group means. */
export function avgDown3d(x: Tensor, outChannels: number, factorT: number, factorS: number): Tensor {
  const padT = (factorT - (x.size(2) % factorT)) % factorT;
  const padded = padT > 0 ? pad(x, [0, 0, 0, 0, padT, 0]) : x;
  const [b, c, t, h, w] = padded.shape as [number, number, number, number, number];
  const factor = factorT * factorS * factorS;
  const folded = padded
    .view(b, c, t / factorT, factorT, h / factorS, factorS, w / factorS, factorS)
    .permute(0, 1, 3, 5, 7, 2, 4, 6)
    .reshape(b, outChannels, (c * factor) / outChannels, t / factorT, h / factorS, w / factorS);
  const out = folded.mean(2);
  folded.dispose();
  if (padded !== x) padded.dispose();
  return out;
}

/** Shortcut of the residual up block: channels repeated, then unfolded into space/time. */
export function dupUp3d(x: Tensor, outChannels: number, factorT: number, factorS: number, firstChunk: boolean): Tensor {
  const [b, c, t, h, w] = x.shape as [number, number, number, number, number];
  const repeats = (outChannels * factorT * factorS * factorS) / c;
  const repeated = x.repeatInterleave(repeats, 1);
  const out = consume(repeated, (r) =>
    r
      .view(b, outChannels, factorT, factorS, factorS, t, h, w)
      .permute(0, 1, 5, 2, 6, 3, 7, 4)
      .reshape(b, outChannels, t * factorT, h * factorS, w * factorS),
  );
  return firstChunk && factorT > 1 ? consume(out, (o) => o.narrow(2, factorT - 1, o.size(2) - (factorT - 1))) : out;
}

/** Wan2.2 encoder stage: residual blocks, an optional downsampler, plus the AvgDown3D shortcut. */
/** `count` residual blocks, the first taking inDim channels. */
function residualBlocks(
  count: number,
  inDim: number,
  outDim: number,
  options: LayerOptions,
): ModuleList<WanResidualBlock> {
  return new ModuleList(
    Array.from({ length: count }, (_, i) => new WanResidualBlock(i === 0 ? inDim : outDim, outDim, options)),
  );
}

/** x through the residual blocks, then the resampler if any; x itself is left to the caller. */
function stage(
  x: Tensor,
  resnets: ModuleList<WanResidualBlock>,
  resample: WanResample | null,
  cache: FeatureCache | null,
): Tensor {
  let y = x;
  for (const resnet of resnets.items)
    y = y === x ? resnet.forward(y, cache) : consume(y, (t) => resnet.forward(t, cache));
  return resample ? consume(y, (t) => resample.forward(t, cache)) : y;
}

/** y + shortcut, releasing both. */
function addShortcut(y: Tensor, shortcut: Tensor): Tensor {
  const out = y.add(shortcut);
  y.dispose();
  shortcut.dispose();
  return out;
}

export class WanResidualDownBlock extends Module implements VaeLayer {
  readonly resnets: ModuleList<WanResidualBlock>;
  readonly downsampler: WanResample | null;

  constructor(
    inDim: number,
    readonly outDim: number,
    numResBlocks: number,
    readonly temporalDown: boolean,
    readonly downFlag: boolean,
    options: LayerOptions = {},
  ) {
    super();
    this.resnets = this.registerModule('resnets', residualBlocks(numResBlocks, inDim, outDim, options));
    this.downsampler = downFlag
      ? this.registerModule(
          'downsampler',
          new WanResample(outDim, temporalDown ? 'downsample3d' : 'downsample2d', undefined, options),
        )
      : null;
  }

  forward(x: Tensor, cache: FeatureCache | null): Tensor {
    const y = stage(x, this.resnets, this.downsampler, cache);
    return addShortcut(y, avgDown3d(x, this.outDim, this.temporalDown ? 2 : 1, this.downFlag ? 2 : 1));
  }
}

/** Wan2.2 decoder stage: num_res_blocks+1 residual blocks, an optional upsampler, DupUp3D shortcut. */
export class WanResidualUpBlock extends Module implements VaeLayer {
  readonly resnets: ModuleList<WanResidualBlock>;
  readonly upsampler: WanResample | null;

  constructor(
    inDim: number,
    readonly outDim: number,
    numResBlocks: number,
    readonly temporalUp: boolean,
    readonly upFlag: boolean,
    options: LayerOptions = {},
  ) {
    super();
    this.resnets = this.registerModule('resnets', residualBlocks(numResBlocks + 1, inDim, outDim, options));
    this.upsampler = upFlag
      ? this.registerModule(
          'upsampler',
          new WanResample(outDim, temporalUp ? 'upsample3d' : 'upsample2d', outDim, options),
        )
      : null;
  }

  forward(x: Tensor, cache: FeatureCache | null, firstChunk = false): Tensor {
    const y = stage(x, this.resnets, this.upsampler, cache);
    return this.upFlag ? addShortcut(y, dupUp3d(x, this.outDim, this.temporalUp ? 2 : 1, 2, firstChunk)) : y;
  }
}

/** Wan2.1 decoder stage: residual blocks then `upsamplers.0`. */
export class WanUpBlock extends Module implements VaeLayer {
  readonly resnets: ModuleList<WanResidualBlock>;
  readonly upsamplers: ModuleList<WanResample> | null;

  constructor(
    inDim: number,
    outDim: number,
    numResBlocks: number,
    upsampleMode: ResampleMode | null,
    options: LayerOptions = {},
  ) {
    super();
    this.resnets = this.registerModule('resnets', residualBlocks(numResBlocks + 1, inDim, outDim, options));
    this.upsamplers = upsampleMode
      ? this.registerModule('upsamplers', new ModuleList([new WanResample(outDim, upsampleMode, undefined, options)]))
      : null;
  }

  forward(x: Tensor, cache: FeatureCache | null): Tensor {
    return stage(x, this.resnets, this.upsamplers?.at(0) ?? null, cache);
  }
}
