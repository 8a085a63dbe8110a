import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodePng } from '../data/png.js';
import { VideoWriter } from '../data/video_writer.js';
import { SampleRenderer, type RenderSize } from './sample.js';
import type { SampleSpec } from './spec.js';

export type OutputFormat = 'mp4' | 'png';

/** The release's folder names. */
export const LAYOUT = { first: 'First_Video', third: 'Third_Video', reference: 'Reference_Image' } as const;

const PARTIAL = '.partial';
/** Rendered frames are smooth: Paeth on every row compresses as well as the adaptive choice, in half the time. */
const PNG_OPTIONS = { filter: 4 } as const;

export function sampleName(index: number): string {
  return `sample_${String(index).padStart(6, '0')}`;
}

/** Where a sample's three files go: videos (an .mp4, or a folder of PNG frames) and the reference PNG. */
export function samplePaths(out: string, name: string, format: OutputFormat): { first: string; third: string; reference: string } {
  const video = format === 'mp4' ? `${name}.mp4` : name;
  return {
    first: join(out, LAYOUT.first, video),
    third: join(out, LAYOUT.third, video),
    reference: join(out, LAYOUT.reference, `${name}.png`),
  };
}

/** Frame file name inside a PNG frame folder, as in the release's examples (00000.png, ...). */
export function frameFileName(index: number): string {
  return `${String(index).padStart(5, '0')}.png`;
}

/** Writes a file under a temporary name and renames it, so the final name only ever holds whole files. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await writeFile(path + PARTIAL, data);
  await rename(path + PARTIAL, path);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** A sample is finished when all three of its outputs exist under their final names. */
export async function isSampleComplete(out: string, name: string, format: OutputFormat): Promise<boolean> {
  const paths = samplePaths(out, name, format);
  const found = await Promise.all([exists(paths.first), exists(paths.third), exists(paths.reference)]);
  return found.every(Boolean);
}

/** Removes what an interrupted run left half-written. */
export async function removePartials(out: string): Promise<void> {
  for (const folder of Object.values(LAYOUT)) {
    const dir = join(out, folder);
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const entry of entries) if (entry.endsWith(PARTIAL)) await rm(join(dir, entry), { recursive: true, force: true });
  }
  await rm(join(out, `manifest.json${PARTIAL}`), { force: true });
}

export async function makeLayout(out: string): Promise<void> {
  for (const folder of Object.values(LAYOUT)) await mkdir(join(out, folder), { recursive: true });
}

/** Writes frames as numbered PNGs into a folder that appears under its final name only when complete. */
class FrameFolderWriter {
  private frames = 0;
  private constructor(readonly path: string) {}

  static async open(path: string): Promise<FrameFolderWriter> {
    await rm(path + PARTIAL, { recursive: true, force: true });
    await mkdir(path + PARTIAL, { recursive: true });
    return new FrameFolderWriter(path);
  }

  async write(frame: Uint8Array, width: number, height: number): Promise<void> {
    await writeFile(join(this.path + PARTIAL, frameFileName(this.frames++)), encodePng({ width, height, channels: 3, data: frame }, PNG_OPTIONS));
  }

  async close(): Promise<void> {
    await rm(this.path, { recursive: true, force: true });
    await rename(this.path + PARTIAL, this.path);
  }
}

/** Renders one sample and writes its three outputs; returns the number of frames rendered. */
export async function writeSample(out: string, spec: SampleSpec, size: RenderSize, format: OutputFormat): Promise<number> {
  const renderer = new SampleRenderer(spec, size);
  const paths = samplePaths(out, sampleName(spec.index), format);
  const { width, height, fps } = size;
  if (format === 'mp4') {
    const videos = VideoWriter.openMany([paths.first, paths.third], { width, height, fps });
    try {
      for (let i = 0; i < size.frames; i++) await videos.write(renderer.firstPerson(i), renderer.thirdPerson(i));
      await videos.close();
    } catch (error) {
      videos.abort();
      throw error;
    }
  } else {
    const first = await FrameFolderWriter.open(paths.first);
    const third = await FrameFolderWriter.open(paths.third);
    for (let i = 0; i < size.frames; i++) {
      await first.write(renderer.firstPerson(i), width, height);
      await third.write(renderer.thirdPerson(i), width, height);
    }
    await Promise.all([first.close(), third.close()]);
  }
  await writeFileAtomic(paths.reference, encodePng({ width, height, channels: 3, data: renderer.reference() }, PNG_OPTIONS));
  return 2 * size.frames + 1;
}
