// The release's dataset layout (EgoExo-8K) and its lookups: the two views and the reference
// images, matched by case name.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { IMAGE_EXTENSIONS, isImageFile, isVideoFile } from './frames.js';

export const LAYOUT = { first: 'First_Video', third: 'Third_Video', reference: 'Reference_Image' } as const;

/** A case's name: its file's name without the extension. */
export function caseName(file: string): string {
  return path.basename(file).replace(/\.[^.]+$/, '');
}

/** A video entry of a layout folder: a video file or a folder holding frames. */
export function isVideoEntry(entry: string): boolean {
  const info = statSync(entry, { throwIfNoEntry: false });
  if (!info) return false;
  if (info.isFile()) return isVideoFile(entry);
  return info.isDirectory() && readdirSync(entry).some(isImageFile);
}

/** The video entries of a view folder, by case name. */
export function viewEntries(dir: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const name of readdirSync(dir).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    const full = path.join(dir, name);
    if (isVideoEntry(full)) entries.set(caseName(name), full);
  }
  return entries;
}

/** The image of `name` in a folder (any image extension), if there is one. */
export function imageNamed(dir: string, name: string): string | undefined {
  for (const ext of IMAGE_EXTENSIONS) {
    for (const candidate of [name + ext, name + ext.toUpperCase()])
      if (existsSync(path.join(dir, candidate))) return path.join(dir, candidate);
  }
  return undefined;
}

export function isReleaseLayout(dir: string): boolean {
  return [LAYOUT.first, LAYOUT.third].some((view) =>
    statSync(path.join(dir, view), { throwIfNoEntry: false })?.isDirectory(),
  );
}
