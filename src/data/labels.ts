// True per-pixel class maps of a synthetic clip: `First_Label/<case>.png` and `Third_Label/<case>.png`
// beside the videos, one 8-bit greyscale PNG per clip, its frames stacked top to bottom (frame 0 on
// top, height = frame height · frames), each pixel's value the class id (PerceptionNet's
// class_names order, LABEL_NAMES: 0 sky, 1 ground, 2 road, 3 building, 4 prop, 5 character).
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { FileFormatError } from '../errors.js';
import { decodePng } from './png.js';

export const LABEL_LAYOUT = { first: 'First_Label', third: 'Third_Label' } as const;
export const LABEL_NAMES = ['sky', 'ground', 'road', 'building', 'prop', 'character'] as const;
export const LABEL_CLASSES = LABEL_NAMES.length;
export type LabelName = (typeof LABEL_NAMES)[number];
/** A class id: an index into `LABEL_NAMES`. */
export type LabelId = 0 | 1 | 2 | 3 | 4 | 5;
export const LABEL_ID: Readonly<Record<LabelName, LabelId>> = {
  sky: 0,
  ground: 1,
  road: 2,
  building: 3,
  prop: 4,
  character: 5,
};

export function labelPath(root: string, view: 'first' | 'third', caseName: string): string {
  return path.join(root, LABEL_LAYOUT[view], `${caseName}.png`);
}

/** The first `frames` class maps (width·height each) of a label strip, checked against the clip's size. */
export function readLabelStrip(
  file: string,
  { width, height, frames }: { width: number; height: number; frames?: number },
): Uint8Array[] {
  let image;
  try {
    image = decodePng(readFileSync(file));
  } catch (error) {
    throw new FileFormatError(`${file}: not a readable PNG label strip (${(error as Error).message})`);
  }
  if (image.channels !== 1)
    throw new FileFormatError(`${file}: a label strip is 8-bit greyscale, this PNG has ${image.channels} channels`);
  if (image.width !== width || image.height % height !== 0)
    throw new FileFormatError(`${file}: ${image.width}x${image.height} is not a strip of ${width}x${height} frames`);
  const count = image.height / height;
  if (frames !== undefined && count < frames)
    throw new FileFormatError(`${file}: holds ${count} frames, ${frames} are needed`);
  const out: Uint8Array[] = [];
  for (let f = 0; f < (frames ?? count); f++) {
    const map = image.data.slice(f * width * height, (f + 1) * width * height);
    const bad = map.findIndex((c) => c >= LABEL_CLASSES);
    if (bad >= 0)
      throw new FileFormatError(
        `${file}: frame ${f} holds class ${map[bad]} at pixel ${bad}; classes are 0..${LABEL_CLASSES - 1}`,
      );
    out.push(map);
  }
  return out;
}
