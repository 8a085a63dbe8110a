// The Wan2.2 VAE's 2x2 pixel patchify: [B,C,T,H,W] ↔ [B,C·p·p,T,H/p,W/p], channel index
// c·p² + w_off·p + h_off (the width offset is the more significant one).
import { ModelInputError } from '../../errors.js';
import type { Tensor } from '../../torch/index.js';

export function patchify(x: Tensor, p: number): Tensor {
  if (p === 1) return x.clone();
  if (x.ndim !== 5) throw new ModelInputError(`patchify: expected [B,C,T,H,W], got [${x.shape.join(', ')}]`);
  const [b, c, t, h, w] = x.shape as [number, number, number, number, number];
  if (h % p !== 0 || w % p !== 0) throw new ModelInputError(`patchify: height ${h} and width ${w} must be multiples of the patch size ${p}`);
  return x.view(b, c, t, h / p, p, w / p, p).permute(0, 1, 6, 4, 2, 3, 5).reshape(b, c * p * p, t, h / p, w / p);
}

export function unpatchify(x: Tensor, p: number): Tensor {
  if (p === 1) return x.clone();
  const [b, cp, t, h, w] = x.shape as [number, number, number, number, number];
  const c = cp / (p * p);
  if (!Number.isInteger(c)) throw new ModelInputError(`unpatchify: ${cp} channels are not a multiple of ${p * p}`);
  return x.view(b, c, p, p, t, h, w).permute(0, 1, 4, 5, 3, 6, 2).reshape(b, c, t, h * p, w * p);
}
