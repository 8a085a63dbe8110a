// A whole clip, window after window: the clip is sampled at the model's rate from start to end
// (one ffmpeg pass), cut into windows of the model's length, each translated with the run's seed,
// and the generated windows laid back to back into one video of the clip's length (a last window
// the clip ends inside is padded with its last frame, and its padding cut from the output).
//
// With `carry` (the default), a window starts on the last frame of the one before (they overlap by
// a frame) and that frame, as generated, is given to it as its first frame (held clean at timestep
// 0: TranslateOptions.firstFrame), so the window continues the picture instead of starting afresh:
// on validation it took the jump at the joins from 5-12 grey levels above the truth's own change
// to below it, and PSNR up by 0.06-0.16 dB (docs/experiments/whole-clip-joins.md).
import { readVideoWindows } from '../data/video_reader.js';
import { ModelInputError } from '../errors.js';
import type { WorldWanderPipeline, TranslateOptions, Translation } from './pipeline.js';
import type { WorldWanderTask } from './prompts.js';

export interface WholeClipOptions extends Omit<TranslateOptions, 'video' | 'start' | 'pad' | 'firstFrame' | 'onStep'> {
  /** A video file. */
  video: string;
  /** Seconds into the clip where the first window starts (default 0). */
  start?: number;
  /**
   * Start each window on the last frame the window before generated (see above; default true: it
   * won on validation, docs/experiments/whole-clip-joins.md); false: windows back to back.
   */
  carry?: boolean;
  /** Per denoising step of each window: its index, the windows in all, steps done and in all. */
  onStep?: (window: number, windows: number, done: number, total: number) => void;
}

/** Where a window's frames begin in the output. */
export interface Join {
  /** Output frame index of the window's first new frame. */
  frame: number;
  /** That frame's source second. */
  seconds: number;
}

export interface WholeClipTranslation extends Omit<Translation, 'window'> {
  /** A video's source seconds of the first and last frame, and the rate (frames folders: null). */
  time: { start: number; end: number; fps: number } | null;
  windows: number;
  /** Each window after the first: where its frames begin in the output. */
  joins: Join[];
  carry: boolean;
}

/** Which frames of a clip of `total` frames each window takes (its first index), `length` a window. */
export function windowStarts(total: number, length: number, carry: boolean): number[] {
  if (total <= length) return [0];
  const stride = carry ? length - 1 : length;
  if (stride < 1) throw new ModelInputError(`a window of ${length} frame(s) cannot carry a frame over to the next`);
  const starts: number[] = [];
  for (let s = 0; s + (carry ? 1 : 0) < total; s += stride) starts.push(s);
  return starts;
}

/**
 * Every frame of a clip from `start` to its end at `fps`, fitted to width x height (read in windows
 * of numFrames, one ffmpeg pass; the last window completed by holding the clip's last frame), how
 * many of them the clip has, and the reader's words for its first window.
 */
export async function readClip(
  video: string,
  o: { numFrames: number; fps: number; width: number; height: number; start?: number },
): Promise<{ frames: Uint8Array[]; length: number; description: string; timed: boolean }> {
  const frames: Uint8Array[] = [];
  let description = '';
  let padded = 0;
  let timed = false;
  for await (const w of readVideoWindows(video, { ...o, count: Infinity, pad: true })) {
    description ||= w.description;
    timed = w.time !== null;
    frames.push(...w.frames);
    padded = w.padded;
  }
  return { frames, length: frames.length - padded, description, timed };
}

export async function translateWholeClip(
  pipeline: WorldWanderPipeline,
  task: WorldWanderTask,
  o: WholeClipOptions,
): Promise<WholeClipTranslation> {
  const d = pipeline.defaults;
  const numFrames = o.numFrames ?? d.num_frames,
    fps = o.fps ?? d.fps,
    width = o.width ?? d.width,
    height = o.height ?? d.height;
  const carry = o.carry ?? true;
  const started = performance.now();
  const {
    frames: clip,
    length,
    description,
    timed,
  } = await readClip(o.video, { numFrames, fps, width, height, start: o.start });
  const read = (performance.now() - started) / 1000;
  const starts = windowStarts(length, numFrames, carry);
  const start = o.start ?? 0;
  const frames: Uint8Array[] = [];
  const joins: Join[] = [];
  const timings = { read, encode: 0, denoise: 0, decode: 0 };
  let load = 0;
  let last: Translation | null = null;
  for (const [index, first] of starts.entries()) {
    const window = clip.slice(first, first + numFrames);
    while (window.length < numFrames) window.push(window.at(-1)!);
    const carried = carry && index > 0 ? frames.at(-1)! : undefined;
    const t = await pipeline.translate(task, {
      ...o,
      video: { width, height, frames: window },
      firstFrame: carried,
      numFrames,
      width,
      height,
      onStep: (done, total) => o.onStep?.(index, starts.length, done, total),
    });
    const fresh = t.frames.slice(carried ? 1 : 0, length - first);
    if (index > 0) joins.push({ frame: frames.length, seconds: start + frames.length / fps });
    frames.push(...fresh);
    for (const k of ['encode', 'denoise', 'decode'] as const) timings[k] += t.timings[k];
    load += t.timings.load ?? 0; // parts loaded during the window (offload), apart from its stages
    last = t;
  }
  const windowWords = `${starts.length} window(s) of ${numFrames} frames${carry ? ', each starting on the last frame the one before generated' : ' back to back'}`;
  return {
    task,
    frames,
    input: clip.slice(0, length),
    reference: last!.reference,
    width,
    height,
    notes: [
      `${description.replace(/^seconds [\d.]+-[\d.]+/, `seconds ${start.toFixed(2)}-${(start + (length - 1) / fps).toFixed(2)}`)}; the whole clip in ${windowWords}`,
      ...last!.notes.slice(1),
    ],
    settings: last!.settings,
    timings: Object.fromEntries(
      Object.entries(load ? { ...timings, load } : timings).map(([k, v]) => [k, Number(v.toFixed(3))]),
    ) as Translation['timings'],
    time: timed ? { start, end: Number((start + (length - 1) / fps).toFixed(6)), fps } : null,
    windows: starts.length,
    joins,
    carry,
  };
}
