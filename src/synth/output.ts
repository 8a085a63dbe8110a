import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LABEL_LAYOUT } from '../data/labels.js';
import { LAYOUT as RELEASE_LAYOUT } from '../data/layout.js';
import { encodePng } from '../data/png.js';
import { VideoWriter } from '../data/video_writer.js';
import { isTemporary as isAtomicTemporary, produceAtomically, writeFileAtomic } from '../io/atomic.js';
import { SampleRenderer, type RenderSize } from './sample.js';
import type { SampleSpec } from './spec.js';

export type OutputFormat = 'mp4' | 'png';

/**
 * The folders of a synth run: the release's layout, and beside it the true class maps of both views
 * (readers of the release's layout ignore the two extra folders).
 */
export const LAYOUT = { ...RELEASE_LAYOUT, firstLabel: LABEL_LAYOUT.first, thirdLabel: LABEL_LAYOUT.third } as const;

/** Rendered frames are smooth: Paeth on every row compresses as well as the adaptive choice, in half the time. */
const PNG_OPTIONS = { filter: 4 } as const;

/** What a finished output file (or PNG frame folder) holds: checked on resume. */
export interface FileRecord {
  /** Relative to the dataset folder. */
  path: string;
  bytes: number;
  sha256: string;
}

export function sampleName(index: number): string {
  return `sample_${String(index).padStart(6, '0')}`;
}

/**
 * Where a sample's outputs go, relative to the dataset folder: videos (an .mp4, or a folder of PNG
 * frames), the reference PNG, and each view's class-map strip (src/data/labels.ts).
 */
export function sampleEntries(name: string, format: OutputFormat): Record<keyof typeof LAYOUT, string> {
  const video = format === 'mp4' ? `${name}.mp4` : name;
  const png = `${name}.png`;
  return {
    first: join(LAYOUT.first, video),
    third: join(LAYOUT.third, video),
    reference: join(LAYOUT.reference, png),
    firstLabel: join(LAYOUT.firstLabel, png),
    thirdLabel: join(LAYOUT.thirdLabel, png),
  };
}

/** Frame file name inside a PNG frame folder, as in the release's examples (00000.png, ...). */
export function frameFileName(index: number): string {
  return `${String(index).padStart(5, '0')}.png`;
}

/** Size and SHA-256 of a file, or of a folder's files (names and contents, in name order). */
export async function fileRecord(out: string, path: string): Promise<FileRecord> {
  const full = join(out, path);
  const hash = createHash('sha256');
  let bytes = 0;
  if ((await stat(full)).isDirectory()) {
    for (const name of (await readdir(full)).sort()) {
      const data = await readFile(join(full, name));
      hash.update(`${name}\0${data.length}\0`).update(data);
      bytes += data.length;
    }
  } else {
    const data = await readFile(full);
    hash.update(data);
    bytes = data.length;
  }
  return { path, bytes, sha256: hash.digest('hex') };
}

/** Every recorded file is there with its recorded size and content. */
export async function recordsHold(out: string, records: readonly FileRecord[]): Promise<boolean> {
  for (const record of records) {
    const now = await fileRecord(out, record.path).catch(() => null);
    if (!now || now.bytes !== record.bytes || now.sha256 !== record.sha256) return false;
  }
  return records.length > 0;
}

/** Temporary files of an atomic write: `<name>.tmp-<pid>` (and `.partial`, from version 1 runs). */
export function isTemporary(entry: string): boolean {
  return isAtomicTemporary(entry) || entry.endsWith('.partial');
}

/** Removes what an interrupted run left half-written. */
export async function removeTemporaries(out: string): Promise<void> {
  for (const dir of [out, ...Object.values(LAYOUT).map((folder) => join(out, folder))]) {
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const entry of entries) if (isTemporary(entry)) await rm(join(dir, entry), { recursive: true, force: true });
  }
}

export async function makeLayout(out: string): Promise<void> {
  for (const folder of Object.values(LAYOUT)) await mkdir(join(out, folder), { recursive: true });
}

/** Writes frames as numbered PNGs into a folder that appears under its final name only when complete. */
async function writeFrameFolder(path: string, frames: (i: number) => Uint8Array, size: RenderSize): Promise<void> {
  await produceAtomically(path, async (temp) => {
    await mkdir(temp, { recursive: true });
    for (let i = 0; i < size.frames; i++)
      await writeFile(
        join(temp, frameFileName(i)),
        encodePng({ width: size.width, height: size.height, channels: 3, data: frames(i) }, PNG_OPTIONS),
      );
  });
}

/** The class maps of a clip's frames as one greyscale PNG, frame 0 on top. */
function labelStrip(maps: Uint8Array, size: RenderSize): Buffer {
  return encodePng({ width: size.width, height: size.height * size.frames, channels: 1, data: maps }, PNG_OPTIONS);
}

/** Renders one sample and writes its outputs; returns the frames rendered and the files' records. */
export async function writeSample(
  out: string,
  spec: SampleSpec,
  size: RenderSize,
  format: OutputFormat,
): Promise<{ frames: number; files: FileRecord[] }> {
  const renderer = new SampleRenderer(spec, size);
  const entries = sampleEntries(sampleName(spec.index), format);
  const { width, height, fps } = size;
  const pixels = width * height;
  const firstLabels = new Uint8Array(pixels * size.frames),
    thirdLabels = new Uint8Array(pixels * size.frames);
  const views = (i: number): [Uint8Array, Uint8Array] => {
    const first = renderer.firstPersonView(i),
      third = renderer.thirdPersonView(i);
    firstLabels.set(first.labels, i * pixels);
    thirdLabels.set(third.labels, i * pixels);
    return [first.rgb, third.rgb];
  };
  if (format === 'mp4') {
    const videos = VideoWriter.openMany([join(out, entries.first), join(out, entries.third)], { width, height, fps });
    try {
      for (let i = 0; i < size.frames; i++) await videos.write(...views(i));
      await videos.close();
    } catch (error) {
      await videos.abort();
      throw error;
    }
  } else {
    const rendered = Array.from({ length: size.frames }, (_, i) => views(i));
    await writeFrameFolder(join(out, entries.first), (i) => rendered[i]![0], size);
    await writeFrameFolder(join(out, entries.third), (i) => rendered[i]![1], size);
  }
  await writeFileAtomic(join(out, entries.firstLabel), labelStrip(firstLabels, size));
  await writeFileAtomic(join(out, entries.thirdLabel), labelStrip(thirdLabels, size));
  await writeFileAtomic(
    join(out, entries.reference),
    encodePng({ width, height, channels: 3, data: renderer.reference() }, PNG_OPTIONS),
  );
  const files = await Promise.all(Object.values(entries).map((path) => fileRecord(out, path)));
  return { frames: 2 * size.frames + 1, files };
}
