import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodePng } from '../data/png.js';
import { VideoWriter } from '../data/video_writer.js';
import { isTemporary as isAtomicTemporary, produceAtomically, writeFileAtomic } from '../io/atomic.js';
import { SampleRenderer, type RenderSize } from './sample.js';
import type { SampleSpec } from './spec.js';

export type OutputFormat = 'mp4' | 'png';

import { LAYOUT } from '../data/layout.js';

export { LAYOUT };

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

/** Where a sample's three outputs go, relative to the dataset folder: videos (an .mp4, or a folder of PNG frames) and the reference PNG. */
export function sampleEntries(name: string, format: OutputFormat): { first: string; third: string; reference: string } {
  const video = format === 'mp4' ? `${name}.mp4` : name;
  return { first: join(LAYOUT.first, video), third: join(LAYOUT.third, video), reference: join(LAYOUT.reference, `${name}.png`) };
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
    for (let i = 0; i < size.frames; i++) await writeFile(join(temp, frameFileName(i)), encodePng({ width: size.width, height: size.height, channels: 3, data: frames(i) }, PNG_OPTIONS));
  });
}

/** Renders one sample and writes its three outputs; returns the frames rendered and the files' records. */
export async function writeSample(out: string, spec: SampleSpec, size: RenderSize, format: OutputFormat): Promise<{ frames: number; files: FileRecord[] }> {
  const renderer = new SampleRenderer(spec, size);
  const entries = sampleEntries(sampleName(spec.index), format);
  const { width, height, fps } = size;
  if (format === 'mp4') {
    const videos = VideoWriter.openMany([join(out, entries.first), join(out, entries.third)], { width, height, fps });
    try {
      for (let i = 0; i < size.frames; i++) await videos.write(renderer.firstPerson(i), renderer.thirdPerson(i));
      await videos.close();
    } catch (error) {
      videos.abort();
      throw error;
    }
  } else {
    await writeFrameFolder(join(out, entries.first), (i) => renderer.firstPerson(i), size);
    await writeFrameFolder(join(out, entries.third), (i) => renderer.thirdPerson(i), size);
  }
  await writeFileAtomic(join(out, entries.reference), encodePng({ width, height, channels: 3, data: renderer.reference() }, PNG_OPTIONS));
  const files = await Promise.all([entries.first, entries.third, entries.reference].map((path) => fileRecord(out, path)));
  return { frames: 2 * size.frames + 1, files };
}
