import type { Image } from '../data/png.js';
import { SampleRenderer, type RenderSize } from './sample.js';
import type { SampleSpec } from './spec.js';

/** One row of a contact sheet: a few frames of each view and the reference image. */
export interface SheetRow {
  first: Uint8Array[];
  third: Uint8Array[];
  reference: Uint8Array;
}

const GAP = 4;
const BACKGROUND = [24, 24, 28] as const;

/** `count` frame indices spread evenly over `frames` frames, first and last included. */
export function spreadFrames(frames: number, count: number): number[] {
  if (count <= 1 || frames <= 1) return [0];
  const n = Math.min(count, frames);
  return Array.from({ length: n }, (_, i) => Math.round((i * (frames - 1)) / (n - 1)));
}

/**
 * Lays rows out as a grid: first-person frames, a wider gap, third-person frames, a wider gap, the
 * reference. Every tile is width x height RGB.
 */
export function contactSheet(rows: SheetRow[], width: number, height: number): Image {
  const firstCount = Math.max(0, ...rows.map((r) => r.first.length));
  const thirdCount = Math.max(0, ...rows.map((r) => r.third.length));
  const tiles = firstCount + thirdCount + 1;
  const sheetWidth = GAP + tiles * (width + GAP) + 2 * GAP;
  const sheetHeight = GAP + rows.length * (height + GAP);
  const data = new Uint8Array(sheetWidth * sheetHeight * 3);
  for (let i = 0; i < data.length; i += 3) data.set(BACKGROUND, i);
  const paste = (tile: Uint8Array, left: number, top: number): void => {
    for (let y = 0; y < height; y++)
      data.set(tile.subarray(y * width * 3, (y + 1) * width * 3), ((top + y) * sheetWidth + left) * 3);
  };
  rows.forEach((row, r) => {
    const top = GAP + r * (height + GAP);
    row.first.forEach((tile, c) => paste(tile, GAP + c * (width + GAP), top));
    row.third.forEach((tile, c) => paste(tile, 2 * GAP + (firstCount + c) * (width + GAP), top));
    paste(row.reference, 3 * GAP + (firstCount + thirdCount) * (width + GAP), top);
  });
  return { width: sheetWidth, height: sheetHeight, channels: 3, data };
}

/** Renders the contact sheet of some samples with `columns` frames of each view. */
export function previewSheet(specs: SampleSpec[], size: RenderSize, columns = 4): Image {
  const indices = spreadFrames(size.frames, columns);
  const rows = specs.map((spec) => {
    const renderer = new SampleRenderer(spec, size);
    return {
      first: indices.map((i) => renderer.firstPerson(i)),
      third: indices.map((i) => renderer.thirdPerson(i)),
      reference: renderer.reference(),
    };
  });
  return contactSheet(rows, size.width, size.height);
}
