// The period-2 lattice share of a video: of its luma's energy off DC (Σ over frames of Σ|F|² over
// the 2D DFT's bins, the DC bin left out), the part on the two Nyquist lines, kx = W/2 (period 2 px
// along x, any ky) and ky = H/2. A decoder with a 2x2 unpatchify (Wan2.2's patch_size 2) draws its
// artefacts there: a checkerboard, or stripes every second pixel; natural frames put little energy
// there (the synthetic world's truth ~0.002). Computed without an FFT, by Parseval along each line:
//   Σ_ky |F(ky, W/2)|² = H Σ_y s(y)²,  s(y) = Σ_x Y(y, x)(−1)^x   (and likewise for ky = H/2)
// minus the bin (H/2, W/2), which lies on both; the total is HW ΣY² of the mean-removed luma.
import { luma } from './metrics.js';

/** One frame's energy on the Nyquist lines and off DC, in |F|² units; an odd last row or column is left out. */
export function latticeEnergy(
  rgb: Uint8Array,
  frameWidth: number,
  frameHeight: number,
): { lattice: number; total: number } {
  const y = luma(rgb, frameWidth, frameHeight);
  const width = frameWidth - (frameWidth % 2),
    height = frameHeight - (frameHeight % 2);
  let m = 0;
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) m += y[r * frameWidth + c]!;
  m /= width * height;
  const rows = new Float64Array(height);
  const cols = new Float64Array(width);
  let corner = 0,
    squares = 0;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const v = y[r * frameWidth + c]! - m;
      const sx = c % 2 ? -v : v;
      rows[r] = rows[r]! + sx;
      cols[c] = cols[c]! + (r % 2 ? -v : v);
      corner += r % 2 ? -sx : sx;
      squares += v * v;
    }
  }
  const sum2 = (a: Float64Array): number => a.reduce((s, v) => s + v * v, 0);
  return { lattice: height * sum2(rows) + width * sum2(cols) - corner * corner, total: width * height * squares };
}

/** The lattice share of a video (definition at the top); 0 for a flat video. */
export function videoLatticeShare(frames: readonly Uint8Array[], width: number, height: number): number {
  let lattice = 0,
    total = 0;
  for (const f of frames) {
    const e = latticeEnergy(f, width, height);
    lattice += e.lattice;
    total += e.total;
  }
  return total === 0 ? 0 : lattice / total;
}
