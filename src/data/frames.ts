// Reading the inputs of a translation: still images (PNG, JPEG, WebP, … through sharp/libvips),
// folders of numbered frames, and videos (through ffmpeg), as 8-bit RGB; fitting them to a model
// size; writing frames back out. The synthetic world's PNGs keep the hand-written codec of
// src/data/png.ts (deterministic bytes, worker threads); everything a user brings goes through sharp.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import sharp from 'sharp';

import { FileFormatError } from '../errors.js';
import { readVideoFrames } from './video_writer.js';

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
 * The first `maxFrames` frames (all when omitted) of a frames folder or a video file. Every frame
 * of a folder must have the first one's size.
 */
export async function readFrames(source: string, { maxFrames }: { maxFrames?: number } = {}): Promise<RgbVideo> {
  const info = await stat(source).catch(() => {
    throw new FileFormatError(`${source}: no such file or folder`);
  });
  if (info.isFile()) {
    if (!isVideoFile(source))
      throw new FileFormatError(`${source}: not a video file (${VIDEO_EXTENSIONS.join(', ')}) or a folder of frames`);
    const video = await readVideoFrames(source, { maxFrames });
    return { width: video.width, height: video.height, frames: video.frames, fps: video.fps };
  }
  const files = await frameFiles(source);
  if (files.length === 0)
    throw new FileFormatError(`${source}: the folder holds no image frames (${IMAGE_EXTENSIONS.join(', ')})`);
  const chosen = maxFrames === undefined ? files : files.slice(0, maxFrames);
  const images = await Promise.all(chosen.map(readImage));
  const first = images[0]!;
  images.forEach((image, i) => {
    if (image.width !== first.width || image.height !== first.height) {
      throw new FileFormatError(
        `${chosen[i]}: frame of ${image.width}x${image.height}, but ${path.basename(chosen[0]!)} is ${first.width}x${first.height}; every frame of a video must have one size`,
      );
    }
  });
  return { width: first.width, height: first.height, frames: images.map((i) => i.data) };
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
