// conv3d over an already padded input with its im2col workspace bounded: libtorch's CPU conv3d
// (slow_conv3d) unfolds the whole input into a [C_in·k³, T·H·W] buffer, 15.6 GB for one 4-frame
// chunk at the first encoder stage of a 704x1280 video. Output frames (and, if one frame is still
// too large, output rows) are computed in groups whose buffer fits the budget; the result is the
// same sum over the same windows. Other devices take the plain call.
import { cat, conv3d, itemSize, type Tensor } from '../../torch/index.js';

export const COLUMN_BUDGET_BYTES = 256 * 1024 * 1024;

type Triple = readonly [number, number, number];

function catAndDispose(parts: Tensor[], dim: number): Tensor {
  if (parts.length === 1) return parts[0]!;
  const out = cat(parts, dim);
  for (const p of parts) p.dispose();
  return out;
}

/** Bytes of libtorch's im2col workspace for the whole of x. */
function columnBytes(x: Tensor, weight: Tensor, stride: Triple): number {
  const [b, cin, t, h, w] = x.shape as [number, number, number, number, number];
  const [kt, kh, kw] = [weight.size(2), weight.size(3), weight.size(4)];
  const out = (n: number, k: number, s: number): number => Math.floor((n - k) / s) + 1;
  return (
    b * cin * kt * kh * kw * out(t, kt, stride[0]) * out(h, kh, stride[1]) * out(w, kw, stride[2]) * itemSize[x.dtype]
  );
}

function windowConv(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  stride: Triple,
  frames: [number, number],
  rows?: [number, number],
): Tensor {
  const [kt, kh] = [weight.size(2), weight.size(3)];
  const byFrame = x.narrow(2, frames[0] * stride[0], (frames[1] - 1) * stride[0] + kt);
  const window = rows ? byFrame.narrow(3, rows[0] * stride[1], (rows[1] - 1) * stride[1] + kh) : byFrame;
  const out = conv3d(window, weight, bias, { stride: [...stride] });
  if (window !== byFrame) window.dispose();
  byFrame.dispose();
  return out;
}

/**
 * conv3d (no padding) of x [B, C, T, H, W] within the budget: the whole batch at once when its
 * columns fit (small models, training batches: one big call is several times faster than B small
 * ones), else batch elements one at a time, each within the budget.
 */
export function boundedConv3d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  stride: Triple,
  budget = COLUMN_BUDGET_BYTES,
): Tensor {
  if (x.size(0) > 1 && (x.device !== 'cpu' || columnBytes(x, weight, stride) <= budget))
    return conv3d(x, weight, bias, { stride: [...stride] });
  if (x.size(0) > 1)
    return catAndDispose(
      x.split(1, 0).map((s) => {
        const y = boundedConv3d(s, weight, bias, stride, budget);
        s.dispose();
        return y;
      }),
      0,
    );
  const [, cin, t, h, w] = x.shape as [number, number, number, number, number];
  const [kt, kh, kw] = [weight.size(2), weight.size(3), weight.size(4)];
  const tOut = Math.floor((t - kt) / stride[0]) + 1;
  const hOut = Math.floor((h - kh) / stride[1]) + 1;
  const wOut = Math.floor((w - kw) / stride[2]) + 1;
  const perRow = cin * kt * kh * kw * wOut * itemSize[x.dtype];
  if (x.device !== 'cpu' || perRow * hOut * tOut <= budget) return conv3d(x, weight, bias, { stride: [...stride] });
  const parts: Tensor[] = [];
  if (perRow * hOut <= budget) {
    const group = Math.max(1, Math.floor(budget / (perRow * hOut)));
    for (let f = 0; f < tOut; f += group)
      parts.push(windowConv(x, weight, bias, stride, [f, Math.min(group, tOut - f)]));
    return catAndDispose(parts, 2);
  }
  const rows = Math.max(1, Math.floor(budget / perRow));
  for (let f = 0; f < tOut; f++) {
    const frame: Tensor[] = [];
    for (let r = 0; r < hOut; r += rows)
      frame.push(windowConv(x, weight, bias, stride, [f, 1], [r, Math.min(rows, hOut - r)]));
    parts.push(catAndDispose(frame, 3));
  }
  return catAndDispose(parts, 2);
}
