// Separable Gaussian filtering of float planes (one channel, row-major), edges replicated: the
// building block of the blur-aware metrics (sharpness.ts) and of the calibration copies of the
// truth (calibration.ts).

/** The normalised Gaussian of standard deviation `sigma` px over ±ceil(3σ) taps. */
export function gaussianKernel(sigma: number): Float64Array {
  if (!(sigma > 0)) throw new RangeError(`gaussianKernel: sigma must be > 0, got ${sigma}`);
  const radius = Math.ceil(3 * sigma);
  const w = new Float64Array(2 * radius + 1);
  for (let i = -radius; i <= radius; i++) w[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / sum);
}

/** `plane` (width·height) filtered by the Gaussian of `sigma`, rows then columns, the border pixel repeated outside. */
export function gaussianBlurPlane(plane: Float64Array, width: number, height: number, sigma: number): Float64Array {
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) / 2;
  const clamp = (v: number, n: number): number => (v < 0 ? 0 : v >= n ? n - 1 : v);
  const rows = new Float64Array(plane.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let t = -r; t <= r; t++) s += k[t + r]! * plane[y * width + clamp(x + t, width)]!;
      rows[y * width + x] = s;
    }
  }
  const out = new Float64Array(plane.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let t = -r; t <= r; t++) s += k[t + r]! * rows[clamp(y + t, height) * width + x]!;
      out[y * width + x] = s;
    }
  }
  return out;
}

/** An 8-bit RGB frame blurred channel by channel (rounded back to 8 bits). */
export function gaussianBlurRgb(rgb: Uint8Array, width: number, height: number, sigma: number): Uint8Array {
  const out = new Uint8Array(rgb.length);
  const plane = new Float64Array(width * height);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane.length; p++) plane[p] = rgb[p * 3 + c]!;
    const blurred = gaussianBlurPlane(plane, width, height, sigma);
    for (let p = 0; p < plane.length; p++) out[p * 3 + c] = Math.round(blurred[p]!);
  }
  return out;
}
