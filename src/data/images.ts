// Images as 8-bit RGB: which files are images or videos, reading one image (PNG, JPEG, WebP, …
// through sharp/libvips), the image files of a frames folder in order, and the cover fit to a
// model size. src/data/frames.ts re-exports them beside the writers; the video reader
// (video_reader.ts) reads frames folders with them.
import { readdir } from 'node:fs/promises';
import path from 'node:path';

import sharp from 'sharp';

import { FileFormatError } from '../errors.js';

/** 8-bit RGB, rows top to bottom. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface RgbVideo {
  width: number;
  height: number;
  frames: Uint8Array[];
  /** Frames per second, when the source says (videos). */
  fps?: number;
}

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff'];
export const VIDEO_EXTENSIONS = ['.mp4', '.mov', '.mkv', '.webm', '.avi', '.m4v'];

export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

export function isVideoFile(file: string): boolean {
  return VIDEO_EXTENSIONS.includes(path.extname(file).toLowerCase());
}

/** An image file as RGB (alpha flattened onto white, greys expanded). */
export async function readImage(file: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(file)
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (error) {
    throw new FileFormatError(`${file}: cannot read the image (${(error as Error).message})`);
  }
}

/** The image files of a folder in natural name order (00002.png before 00010.png, frame_2 before frame_10). */
export async function frameFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter(isImageFile);
  names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return names.map((name) => path.join(dir, name));
}

/**
 * Scales an image to cover width x height and crops the centre (the training transform's
 * resize-then-centre-crop, for any input size). Unchanged when it already has the size.
 */
export async function coverFit(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (image.width === width && image.height === height) return image;
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}
