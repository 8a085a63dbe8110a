// What the app accepts from a client, checked before a job is queued: the settings (in range),
// an uploaded video (readable, whole, with enough frames) and reference image, each refused with
// a message the page shows. Uploaded files are stored under names the server chooses.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';
import { z } from 'zod';

import { WorldWanderError } from '../errors.js';
import { checkMp4 } from '../data/mp4.js';
import { ShortVideoError, readVideoWindow, type ReadWindowOptions } from '../data/video_reader.js';

/** A request the app refuses; the message is for the person at the page. */
export class InputRejected extends Error {
  override name = 'InputRejected';
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export const SettingsSchema = z.object({
  task: z.enum(['three2one', 'one2three']),
  steps: z.coerce.number().int().min(1).max(200),
  guidance: z.coerce.number().min(0).max(20),
  seed: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
  sampler: z.enum(['unipc', 'euler']),
  /** Seconds into the clip where the translated window starts. */
  start: z.coerce
    .number()
    .min(0)
    .max(24 * 3600),
});
export type JobSettings = z.infer<typeof SettingsSchema>;

/** The settings of a request, with the model's defaults where the client sent none; every bad value is named. */
export function parseSettings(fields: Record<string, string>, defaults: Omit<JobSettings, 'task'>): JobSettings {
  const raw = { ...defaults, ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== '')) };
  const parsed = SettingsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (issue) =>
      `${issue.path.join('.')} ${String((raw as Record<string, unknown>)[String(issue.path[0])])}: ${issue.message.toLowerCase()}`,
  );
  throw new InputRejected(`settings out of range: ${problems.join('; ')}`);
}

const VIDEO_EXTENSIONS = ['.mp4', '.mov', '.webm', '.mkv', '.avi', '.m4v'];
const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'];

/** The longest client file name kept for display; a longer one keeps its start and its end. */
export const MAX_SHOWN_NAME = 120;

/** A client's file name as the app shows it: control characters dropped, at most MAX_SHOWN_NAME characters. */
export function shownName(clientName: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = clientName.normalize('NFC').replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
  const chars = [...clean];
  if (chars.length <= MAX_SHOWN_NAME) return clean || 'upload';
  const tail = chars.slice(-16).join('');
  return `${chars.slice(0, MAX_SHOWN_NAME - 17).join('')}…${tail}`;
}

/** A server-chosen file name for an upload, keeping the client's extension only when it is a known one. */
export function uploadName(kind: 'video' | 'image', clientName: string): string {
  const ext = path.extname(clientName).toLowerCase();
  const known = kind === 'video' ? VIDEO_EXTENSIONS : IMAGE_EXTENSIONS;
  return `${kind}-${randomBytes(8).toString('hex')}${known.includes(ext) ? ext : known[0]}`;
}

function startsLikeMp4(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(8);
    return readSync(fd, head, 0, 8, 0) === 8 && head.toString('latin1', 4, 8) === 'ftyp';
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks an uploaded video: a whole MP4 (when it is one), and the window the job will take readable
 * (read as the job will read it, at the model's size and rate: a clip too short for it is refused
 * with its length and the length needed). Messages name the upload by the client's name.
 */
export async function checkVideo(file: string, shown: string, window: ReadWindowOptions): Promise<void> {
  if (startsLikeMp4(file)) {
    try {
      checkMp4(file);
    } catch (error) {
      throw new InputRejected(
        `${shown}: the MP4 is truncated or damaged (${(error as Error).message.replace(/^[^:]*: /, '').replace(/; was the disk full\?$/, '')})`,
      );
    }
  }
  try {
    await readVideoWindow(file, window);
  } catch (error) {
    const message = (error as Error).message.split(file).join(shown);
    // the app has no pad option: the reader's hint to pass one is not for the page
    if (error instanceof ShortVideoError) throw new InputRejected(message.replace(/ \(or pad, [^)]*\)$/, ''));
    if (error instanceof WorldWanderError)
      throw new InputRejected(message.startsWith(shown) ? message : `${shown}: not a video ffmpeg can read`);
    throw error;
  }
}

/** Checks an uploaded reference image: one sharp can decode. */
export async function checkImage(file: string, shown: string): Promise<void> {
  try {
    const meta = await sharp(file).metadata();
    if (!meta.width || !meta.height) throw new Error('no size');
  } catch {
    throw new InputRejected(`${shown}: the reference is not an image (PNG, JPEG or WebP)`);
  }
}
