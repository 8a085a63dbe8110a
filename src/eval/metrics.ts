// Frame metrics for 8-bit RGB frames (H·W·3 bytes), the definitions stated once:
//   PSNR: 10·log10(255² / MSE), MSE over every pixel and the three RGB channels of a frame
//         (sRGB values as stored, data range 255); identical frames give +∞, reported as 100 dB
//         (a cap, so that means stay finite). A video's PSNR is the mean of its frames'.
//   SSIM: Wang et al. 2004 on the luma Y = 0.299 R + 0.587 G + 0.114 B (BT.601, in [0, 255]),
//         an 11x11 Gaussian window with σ = 1.5 over the valid positions (no padding),
//         C1 = (0.01·255)², C2 = (0.03·255)², the mean of the SSIM map; a video's is the mean of its frames'.

export const PSNR_CAP = 100;

export function mse(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new RangeError(`mse: frames of ${a.length} and ${b.length} bytes`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return sum / a.length;
}

export function psnr(a: Uint8Array, b: Uint8Array): number {
  const m = mse(a, b);
  return m === 0 ? PSNR_CAP : Math.min(PSNR_CAP, 10 * Math.log10((255 * 255) / m));
}

/** Per-frame PSNR of two videos of one size and frame count. */
export function videoPsnr(a: readonly Uint8Array[], b: readonly Uint8Array[]): number[] {
  if (a.length !== b.length) throw new RangeError(`videoPsnr: ${a.length} and ${b.length} frames`);
  return a.map((frame, i) => psnr(frame, b[i]!));
}

export function mean(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}

const SSIM_C1 = (0.01 * 255) ** 2;
const SSIM_C2 = (0.03 * 255) ** 2;

/** The 11-tap Gaussian (σ = 1.5), normalised. */
function gaussian11(): Float64Array {
  const w = new Float64Array(11);
  for (let i = 0; i < 11; i++) w[i] = Math.exp(-((i - 5) ** 2) / (2 * 1.5 ** 2));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / sum);
}
const WINDOW = gaussian11();

/** BT.601 luma of an RGB frame, in [0, 255]. */
export function luma(rgb: Uint8Array, width: number, height: number): Float64Array {
  const y = new Float64Array(width * height);
  for (let p = 0; p < y.length; p++) y[p] = 0.299 * rgb[p * 3]! + 0.587 * rgb[p * 3 + 1]! + 0.114 * rgb[p * 3 + 2]!;
  return y;
}

/** Separable 11x11 Gaussian filter over the valid positions: (width−10) x (height−10). */
function filterValid(x: Float64Array, width: number, height: number): Float64Array {
  const w = width - 10,
    h = height - 10;
  const rows = new Float64Array(w * height);
  for (let yy = 0; yy < height; yy++) {
    for (let xx = 0; xx < w; xx++) {
      let s = 0;
      for (let k = 0; k < 11; k++) s += WINDOW[k]! * x[yy * width + xx + k]!;
      rows[yy * w + xx] = s;
    }
  }
  const out = new Float64Array(w * h);
  for (let yy = 0; yy < h; yy++) {
    for (let xx = 0; xx < w; xx++) {
      let s = 0;
      for (let k = 0; k < 11; k++) s += WINDOW[k]! * rows[(yy + k) * w + xx]!;
      out[yy * w + xx] = s;
    }
  }
  return out;
}

/** SSIM of two RGB frames (definition at the top of this file). Frames need at least 11x11 pixels. */
export function ssim(a: Uint8Array, b: Uint8Array, width: number, height: number): number {
  if (a.length !== b.length || a.length !== width * height * 3)
    throw new RangeError(`ssim: frames of ${a.length} and ${b.length} bytes for ${width}x${height} RGB`);
  if (width < 11 || height < 11)
    throw new RangeError(`ssim: frames of ${width}x${height} are smaller than the 11x11 window`);
  const x = luma(a, width, height),
    y = luma(b, width, height);
  const product = (p: Float64Array, q: Float64Array): Float64Array => p.map((v, i) => v * q[i]!);
  const [mx, my] = [filterValid(x, width, height), filterValid(y, width, height)];
  const [xx, yy, xy] = [
    filterValid(product(x, x), width, height),
    filterValid(product(y, y), width, height),
    filterValid(product(x, y), width, height),
  ];
  let sum = 0;
  for (let i = 0; i < mx.length; i++) {
    const [ux, uy] = [mx[i]!, my[i]!];
    const vx = xx[i]! - ux * ux,
      vy = yy[i]! - uy * uy,
      cov = xy[i]! - ux * uy;
    sum += ((2 * ux * uy + SSIM_C1) * (2 * cov + SSIM_C2)) / ((ux * ux + uy * uy + SSIM_C1) * (vx + vy + SSIM_C2));
  }
  return sum / mx.length;
}

/** Per-frame SSIM of two videos. */
export function videoSsim(a: readonly Uint8Array[], b: readonly Uint8Array[], width: number, height: number): number[] {
  if (a.length !== b.length) throw new RangeError(`videoSsim: ${a.length} and ${b.length} frames`);
  return a.map((frame, i) => ssim(frame, b[i]!, width, height));
}
