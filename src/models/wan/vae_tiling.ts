// Spatially tiled decoding: overlapping latent tiles are decoded one at a time (each with its own
// chunked feature cache) and blended into the output with linear ramps across each overlap, so
// memory is bounded by one tile's activations plus the output video. The decoder's mid-block
// attention spans a whole frame, so tiles differ from an untiled decode near and inside seams.
import { ModelInputError } from '../../errors.js';
import { keep, scope, tensor, zeros, type Tensor } from '../../torch/index.js';
import type { AutoencoderKLWan } from './vae.js';

export interface TileOptions {
  /** Tile size and stride in latent pixels; overlap = tile − stride (> 0). */
  tileHeight: number;
  tileWidth: number;
  strideHeight: number;
  strideWidth: number;
}

/** Tile starts covering [0, size): every `stride`, the last one flush with the end. */
export function tileStarts(size: number, tile: number, stride: number): number[] {
  if (size <= tile) return [0];
  const starts: number[] = [];
  for (let s = 0; s + tile < size; s += stride) starts.push(s);
  starts.push(size - tile);
  return [...new Set(starts)];
}

/**
 * Blend weight along one axis of a tile of `length` pixels: ramps of `overlap` pixels
 * ((k+0.5)/overlap) where a neighbouring tile overlaps this one, 1 elsewhere.
 */
export function blendRamp(length: number, overlapBefore: number, overlapAfter: number): Float32Array {
  const w = new Float32Array(length).fill(1);
  for (let k = 0; k < overlapBefore; k++) w[k] = Math.min(w[k]!, (k + 0.5) / overlapBefore);
  for (let k = 0; k < overlapAfter; k++) w[length - 1 - k] = Math.min(w[length - 1 - k]!, (k + 0.5) / overlapAfter);
  return w;
}

export function decodeTiled(vae: AutoencoderKLWan, latent: Tensor, o: TileOptions): Tensor {
  for (const [k, v] of Object.entries(o))
    if (!Number.isInteger(v) || v < 1)
      throw new ModelInputError(`decodeTiled: ${k} must be a positive integer, got ${v}`);
  if (o.strideHeight > o.tileHeight || o.strideWidth > o.tileWidth)
    throw new ModelInputError('decodeTiled: strides must not exceed the tile size (tiles must touch or overlap)');
  const [b, , t, h, w] = latent.shape as [number, number, number, number, number];
  const s = vae.spatialCompression;
  const frames = 1 + vae.temporalCompression * (t - 1);
  const rows = tileStarts(h, o.tileHeight, o.strideHeight);
  const cols = tileStarts(w, o.tileWidth, o.strideWidth);
  using sum = keep(zeros([b, vae.videoChannels, frames, h * s, w * s], { dtype: latent.dtype, device: latent.device }));
  using weight = keep(zeros([1, 1, 1, h * s, w * s], { dtype: latent.dtype, device: latent.device }));
  rows.forEach((top, i) => {
    cols.forEach((left, j) => {
      scope(() => {
        const th = Math.min(o.tileHeight, h),
          tw = Math.min(o.tileWidth, w);
        const tile = vae.decode(latent.narrow(3, top, th).narrow(4, left, tw));
        const over = (starts: number[], k: number, size: number): [number, number] => [
          k > 0 ? (starts[k - 1]! + size - starts[k]!) * s : 0,
          k < starts.length - 1 ? (starts[k]! + size - starts[k + 1]!) * s : 0,
        ];
        const [ob, oa] = over(rows, i, th);
        const [lb, la] = over(cols, j, tw);
        const wy = blendRamp(th * s, ob, oa);
        const wx = blendRamp(tw * s, lb, la);
        const mask = new Float32Array(wy.length * wx.length);
        for (let y = 0; y < wy.length; y++)
          for (let x = 0; x < wx.length; x++) mask[y * wx.length + x] = wy[y]! * wx[x]!;
        const m = tensor(mask, {
          shape: [1, 1, 1, wy.length, wx.length],
          dtype: latent.dtype,
          device: latent.device,
        });
        sum
          .narrow(3, top * s, th * s)
          .narrow(4, left * s, tw * s)
          .add_(tile.mul(m));
        weight
          .narrow(3, top * s, th * s)
          .narrow(4, left * s, tw * s)
          .add_(m);
      });
    });
  });
  return sum.div(weight);
}
