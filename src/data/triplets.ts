// The training data: ego/exo triplets in the EgoExo-8K layout (First_Video/, Third_Video/,
// Reference_Image/; MP4 files or PNG frame folders, as `worldwander synth` writes them). Pairs are
// matched by name, not by sorted position as the release does, and what does not pair is
// reported. Frame counts are checked across the views. Rules for bad clips, stated once:
//   - a name in one view only, a missing reference (one2three), views of different frame counts,
//     a clip shorter than the sampled window, a file that cannot be probed: the clip is left out
//     and named in the report; training goes on with the rest;
//   - no usable clip at all, or a file that fails to read during training: fatal, naming it.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import { FileFormatError } from '../errors.js';
import { frameFiles, IMAGE_EXTENSIONS, isImageFile, isVideoFile } from './frames.js';
import { mp4VideoTrack } from './mp4.js';
import { probeVideo } from './video_writer.js';

export interface Clip {
  name: string;
  first: string;
  third: string;
  reference?: string;
  frames: number;
}

export interface DatasetReport {
  /** Names found in one view folder but not in the other. */
  unpaired: { name: string; only: 'first' | 'third' }[];
  /** Clips left out, with the reason. */
  skipped: { name: string; reason: string }[];
}

export interface TripletIndex {
  clips: Clip[];
  report: DatasetReport;
}

export interface TripletRoots {
  first: string;
  third: string;
  /** Reference images (needed for one2three). */
  reference?: string | null;
}

function stem(name: string): string {
  return name.replace(/\.[^.]+$/, '');
}

/** The video entries (video files or frame folders) of a view folder, by name. */
async function entries(dir: string): Promise<Map<string, string>> {
  const names = await readdir(dir).catch(() => {
    throw new FileFormatError(`${dir}: cannot read the view folder (missing?)`);
  });
  const found = new Map<string, string>();
  for (const name of names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    const full = path.join(dir, name);
    const info = await stat(full);
    if (info.isFile() && isVideoFile(name)) found.set(stem(name), full);
    else if (info.isDirectory()) found.set(name, full);
  }
  return found;
}

/** Frames of a video file (from an MP4's index when it has one, else ffprobe) or a frames folder. */
export async function frameCount(video: string): Promise<number> {
  if ((await stat(video)).isDirectory()) return (await frameFiles(video)).length;
  return mp4VideoTrack(video)?.frameCount ?? (await probeVideo(video, { fast: true })).frameCount;
}

/** Frames a window of n frames at `stride` spans. */
export function windowSpan(n: number, stride: number): number {
  return (n - 1) * stride + 1;
}

/**
 * Indexes the triplets: pairs by name, counts frames, checks the views agree and that a window of
 * `sampleFrames` at `stride` fits. `needReference`: one2three.
 */
export async function indexTriplets(
  roots: TripletRoots,
  { sampleFrames, stride, needReference }: { sampleFrames: number; stride: number; needReference: boolean },
): Promise<TripletIndex> {
  const [first, third] = await Promise.all([entries(roots.first), entries(roots.third)]);
  const references = roots.reference
    ? new Map(
        (
          await readdir(roots.reference).catch(() => {
            throw new FileFormatError(`${roots.reference}: cannot read the reference folder (missing?)`);
          })
        )
          .filter(isImageFile)
          .map((n) => [stem(n), path.join(roots.reference!, n)]),
      )
    : new Map<string, string>();
  const report: DatasetReport = { unpaired: [], skipped: [] };
  for (const name of first.keys()) if (!third.has(name)) report.unpaired.push({ name, only: 'first' });
  for (const name of third.keys()) if (!first.has(name)) report.unpaired.push({ name, only: 'third' });
  const span = windowSpan(sampleFrames, stride);
  const clips: Clip[] = [];
  for (const [name, firstPath] of first) {
    const thirdPath = third.get(name);
    if (!thirdPath) continue;
    const reference = references.get(name);
    if (needReference && !reference) {
      report.skipped.push({
        name,
        reason: `no reference image in ${roots.reference ?? '(no reference folder given)'} (${IMAGE_EXTENSIONS.join(', ')})`,
      });
      continue;
    }
    let counts: [number, number];
    try {
      counts = (await Promise.all([frameCount(firstPath), frameCount(thirdPath)])) as [number, number];
    } catch (error) {
      report.skipped.push({ name, reason: `cannot read: ${(error as Error).message}` });
      continue;
    }
    if (counts[0] !== counts[1]) {
      report.skipped.push({ name, reason: `the views have ${counts[0]} (first) and ${counts[1]} (third) frames` });
      continue;
    }
    if (counts[0] < span) {
      report.skipped.push({
        name,
        reason: `${counts[0]} frames, fewer than a window of ${sampleFrames} frames at stride ${stride} spans (${span})`,
      });
      continue;
    }
    clips.push({ name, first: firstPath, third: thirdPath, reference, frames: counts[0] });
  }
  return { clips, report };
}

/** Every start a window fits at: 0 .. frames − span (never out of range, also when frames = span). */
export function windowStartCount(frames: number, n: number, stride: number): number {
  return Math.max(0, frames - windowSpan(n, stride) + 1);
}

/**
 * A fixed set of `k` window starts spread evenly over the clip (first and last included): what a
 * latent cache holds, so that the random start of the release becomes a random choice among them.
 */
export function fixedWindowStarts(frames: number, n: number, stride: number, k: number): number[] {
  const count = windowStartCount(frames, n, stride);
  if (count === 0) return [];
  if (k <= 1 || count === 1) return [0];
  const m = Math.min(k, count);
  return [...new Set(Array.from({ length: m }, (_, i) => Math.round((i * (count - 1)) / (m - 1))))];
}

/**
 * What a trainer does with the clips it cannot use: an error naming them (the default), or with
 * `skipInvalid` a note per line and training on the rest. `option` names the config key.
 */
export function checkDatasetReport(
  report: DatasetReport,
  {
    skipInvalid,
    option,
    where,
    note,
  }: { skipInvalid: boolean; option: string; where: string; note: (text: string) => void },
): void {
  const lines = describeReport(report);
  if (!lines.length) return;
  if (!skipInvalid)
    throw new FileFormatError(
      `${where}: ${report.unpaired.length + report.skipped.length} clip(s) cannot be trained on: ${lines.join('; ')}. Fix or remove them, or set ${option}: true to train on the rest`,
    );
  for (const line of lines) note(`dataset: ${line}`);
}

/** Describes a report in a few lines (at most `limit` names per kind). */
export function describeReport(report: DatasetReport, limit = 5): string[] {
  const lines: string[] = [];
  const list = (items: string[]): string =>
    `${items.slice(0, limit).join(', ')}${items.length > limit ? `, … (${items.length - limit} more)` : ''}`;
  const onlyFirst = report.unpaired.filter((u) => u.only === 'first').map((u) => u.name);
  const onlyThird = report.unpaired.filter((u) => u.only === 'third').map((u) => u.name);
  if (onlyFirst.length) lines.push(`${onlyFirst.length} name(s) only in First_Video: ${list(onlyFirst)}`);
  if (onlyThird.length) lines.push(`${onlyThird.length} name(s) only in Third_Video: ${list(onlyThird)}`);
  for (const s of report.skipped.slice(0, limit)) lines.push(`left out ${s.name}: ${s.reason}`);
  if (report.skipped.length > limit) lines.push(`… and ${report.skipped.length - limit} more left out`);
  return lines;
}
