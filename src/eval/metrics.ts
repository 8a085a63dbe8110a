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
