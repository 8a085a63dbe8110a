/** Small measurements on RGB frames that synth tests compare against independent expectations. */

/** Normalised joint colour histogram with `bins` levels per channel. */
export function colorHistogram(frames: Uint8Array[], bins = 8): Float64Array {
  const hist = new Float64Array(bins * bins * bins);
  let total = 0;
  const shift = 8 - Math.log2(bins);
  for (const frame of frames) {
    for (let i = 0; i < frame.length; i += 3) {
      hist[((frame[i]! >> shift) * bins + (frame[i + 1]! >> shift)) * bins + (frame[i + 2]! >> shift)]!++;
      total++;
    }
  }
  for (let i = 0; i < hist.length; i++) hist[i]! /= total;
  return hist;
}

/** Histogram intersection: 1 for identical colour distributions, 0 for disjoint ones. */
export function histogramOverlap(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.min(a[i]!, b[i]!);
  return sum;
}

export function meanColor(frames: Uint8Array[]): [number, number, number] {
  const sum = [0, 0, 0];
  let n = 0;
  for (const frame of frames) {
    for (let i = 0; i < frame.length; i += 3) {
      sum[0]! += frame[i]!;
      sum[1]! += frame[i + 1]!;
      sum[2]! += frame[i + 2]!;
      n++;
    }
  }
  return [sum[0]! / n, sum[1]! / n, sum[2]! / n];
}

/** Pixels where two frames differ by more than `threshold` in some channel. */
export function differenceMask(a: Uint8Array, b: Uint8Array, threshold = 0): Uint8Array {
  const mask = new Uint8Array(a.length / 3);
  for (let p = 0; p < mask.length; p++) {
    const o = p * 3;
    if (
      Math.abs(a[o]! - b[o]!) > threshold ||
      Math.abs(a[o + 1]! - b[o + 1]!) > threshold ||
      Math.abs(a[o + 2]! - b[o + 2]!) > threshold
    )
      mask[p] = 1;
  }
  return mask;
}

export interface MaskStats {
  count: number;
  /** Centroid, in pixels. */
  x: number;
  y: number;
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
}

export function maskStats(mask: Uint8Array, width: number): MaskStats {
  let count = 0,
    sx = 0,
    sy = 0,
    minX = Infinity,
    maxX = -Infinity,
    minY = Infinity,
    maxY = -Infinity;
  for (let p = 0; p < mask.length; p++) {
    if (!mask[p]) continue;
    const x = p % width,
      y = Math.floor(p / width);
    count++;
    sx += x + 0.5;
    sy += y + 0.5;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  return { count, x: sx / count, y: sy / count, minX, maxX, minY, maxY };
}

/**
 * The horizontal shift d (pixels) that best explains b(x) = a(x + d) over rows [top, bottom):
 * positive when the picture content moves left from a to b.
 */
export function horizontalShift(
  a: Uint8Array,
  b: Uint8Array,
  width: number,
  top: number,
  bottom: number,
  maxShift: number,
): number {
  let best = 0,
    bestCost = Infinity;
  for (let d = -maxShift; d <= maxShift; d++) {
    let cost = 0,
      n = 0;
    for (let y = top; y < bottom; y++) {
      for (let x = Math.max(0, -d); x < Math.min(width, width - d); x++) {
        const pa = (y * width + x + d) * 3,
          pb = (y * width + x) * 3;
        cost += Math.abs(a[pa]! - b[pb]!) + Math.abs(a[pa + 1]! - b[pb + 1]!) + Math.abs(a[pa + 2]! - b[pb + 2]!);
        n++;
      }
    }
    if (cost / n < bestCost) {
      bestCost = cost / n;
      best = d;
    }
  }
  return best;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((p, q) => p - q);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
