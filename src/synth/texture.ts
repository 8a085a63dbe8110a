import { Rng } from './rng.js';

export function smoothstep(edge0: number, edge1: number, x: number): number {
  const t = Math.min(1, Math.max(0, (x - edge0) / (edge1 - edge0)));
  return t * t * (3 - 2 * t);
}

/**
 * Smooth value noise in [0, 1): random values on an integer lattice that repeats every `size`
 * cells in both directions, blended with a cubic ease. A table lookup, so cheap per pixel.
 */
export class ValueNoise {
  private readonly values: Float32Array;
  private readonly mask: number;

  /** `size` must be a power of two. */
  constructor(
    seed: number,
    readonly size = 64,
  ) {
    if ((size & (size - 1)) !== 0) throw new Error(`ValueNoise: size ${size} is not a power of two`);
    this.mask = size - 1;
    const rng = new Rng(seed);
    this.values = Float32Array.from({ length: size * size }, () => rng.next());
  }

  at(x: number, y: number): number {
    const ix = Math.floor(x),
      iy = Math.floor(y);
    const fx = x - ix,
      fy = y - iy;
    const sx = fx * fx * (3 - 2 * fx),
      sy = fy * fy * (3 - 2 * fy);
    const m = this.mask,
      n = this.size;
    const x0 = ix & m,
      x1 = (ix + 1) & m,
      y0 = (iy & m) * n,
      y1 = ((iy + 1) & m) * n;
    const v = this.values;
    const a = v[y0 + x0]!,
      b = v[y0 + x1]!,
      c = v[y1 + x0]!,
      d = v[y1 + x1]!;
    return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
  }
}
