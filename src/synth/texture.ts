import { latticeNoise } from './rng.js';

export function smoothstep(edge0: number, edge1: number, x: number): number {
  const t = Math.min(1, Math.max(0, (x - edge0) / (edge1 - edge0)));
  return t * t * (3 - 2 * t);
}

/**
 * Smooth value noise in [0, 1): lattice hashes blended with a cubic ease. With `period` > 0 the
 * x axis wraps every `period` lattice cells (for directions around the horizon).
 */
export function valueNoise(x: number, y: number, seed: number, period = 0): number {
  const ix = Math.floor(x), iy = Math.floor(y);
  const fx = x - ix, fy = y - iy;
  const sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy);
  const x0 = period > 0 ? ((ix % period) + period) % period : ix;
  const x1 = period > 0 ? (x0 + 1) % period : ix + 1;
  const a = latticeNoise(x0, iy, seed), b = latticeNoise(x1, iy, seed);
  const c = latticeNoise(x0, iy + 1, seed), d = latticeNoise(x1, iy + 1, seed);
  return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
}
