// Reading the inputs of a translation: still images (PNG, JPEG, WebP, … through sharp/libvips),
// folders of numbered frames, and videos (through ffmpeg: video_reader.ts), as 8-bit RGB; fitting
// them to a model size; writing frames back out. The synthetic world's PNGs keep the hand-written
// codec of src/data/png.ts (deterministic bytes, worker threads); everything a user brings goes
// through sharp.
import sharp from 'sharp';

import type { RgbImage } from './images.js';

export {
  IMAGE_EXTENSIONS,
  VIDEO_EXTENSIONS,
  coverFit,
  frameFiles,
  isImageFile,
  isVideoFile,
  readImage,
  type RgbImage,
  type RgbVideo,
} from './images.js';
export { readFrames } from './video_reader.js';

/**
 * Scales an image to fit inside width x height keeping its aspect, centred on its own border
 * colour (the mean of its outermost pixels): a reference image of a standing figure is never
 * stretched or cut (the release stretches it).
 */
export async function containFit(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (image.width === width && image.height === height) return image;
  const background = borderMean(image);
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, {
      fit: 'contain',
      position: 'centre',
      kernel: 'lanczos3',
      background: { r: background[0]!, g: background[1]!, b: background[2]! },
    })
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

function borderMean({ width, height, data }: RgbImage): number[] {
  const sum = [0, 0, 0];
  let count = 0;
  const add = (x: number, y: number): void => {
    for (let c = 0; c < 3; c++) sum[c]! += data[(y * width + x) * 3 + c]!;
    count++;
  };
  for (let x = 0; x < width; x++) {
    add(x, 0);
    add(x, height - 1);
  }
  for (let y = 1; y < height - 1; y++) {
    add(0, y);
    add(width - 1, y);
  }
  return sum.map((s) => Math.round(s / count));
}

/** Writes RGB as a PNG (sharp). */
export async function writePng(file: string, image: RgbImage): Promise<void> {
  await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png()
    .toFile(file);
}

/** Frames side by side, left to right (all of one height). */
export function sideBySide(parts: readonly RgbImage[]): RgbImage {
  const height = parts[0]!.height;
  if (parts.some((p) => p.height !== height)) throw new Error('sideBySide: the parts must have one height');
  const width = parts.reduce((w, p) => w + p.width, 0);
  const data = new Uint8Array(width * height * 3);
  let left = 0;
  for (const part of parts) {
    for (let y = 0; y < height; y++)
      data.set(part.data.subarray(y * part.width * 3, (y + 1) * part.width * 3), (y * width + left) * 3);
    left += part.width;
  }
  return { width, height, data };
}
