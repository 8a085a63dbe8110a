// Reading a window of a video or a frames folder as a model takes it. For a video, ffmpeg does
// all the work: it seeks (-ss), samples the frames at the model's rate (the fps filter), turns
// them upright (its autorotation), scales them to cover the model's size and crops the centre,
// so only model-size frames cross the pipe, into one buffer per window allocated up front: the
// time is ffmpeg's decoding of the source span, the memory one window.
//
// Sampling in source time: frame k of a window is the frame shown at start + k / fps seconds of
// the source (from the container's start), whatever the source's rate, constant or variable: the
// fps filter with round=up gives output instant n the last input frame whose timestamp is at or
// before it. The seek keeps the frames from the keyframe before `start` (-noaccurate_seek), so
// the frame shown at `start` is there even when it began earlier. An instant at or after the
// source's end has no frame: the window is refused, or with `pad` the source's last frame is held.
// A frames folder has no times: its files are taken in natural name order (every step-th).
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';

import { FileFormatError, ModelInputError, OptionError } from '../errors.js';
import {
  IMAGE_EXTENSIONS,
  VIDEO_EXTENSIONS,
  coverFit,
  frameFiles,
  isVideoFile,
  readImage,
  type RgbVideo,
} from './images.js';
import { mp4VideoHeader } from './mp4.js';
import { lastLine, runTool, toolError } from './video_writer.js';

/** What a window was read from. */
export interface VideoSource {
  /** The path as given. */
  path: string;
  kind: 'video' | 'frames';
  /** Frame size as shown: a video's rotation and sample aspect ratio applied. */
  width: number;
  height: number;
  /** A video's average frame rate (null when it states none; frames folders: null). */
  fps: number | null;
  /** The video's timestamps are not evenly spaced (its nominal and average rates differ). */
  variableFrameRate: boolean;
  /** The video's rotation metadata, degrees counter-clockwise (0, 90, 180 or 270). */
  rotation: number;
  /** Seconds of the video (null when the container does not say; frames folders: null). */
  duration: number | null;
  /** Image files in a frames folder (videos: null). */
  files: number | null;
}

export interface ReadWindowOptions {
  /** Frames in a window. */
  numFrames: number;
  /** Seconds into the video where the window starts (0 by default; frames folders take 0 only). */
  start?: number;
  /**
   * Sample the video at this rate: frame k is the frame shown at start + k / fps. Omitted: the
   * video's frames in their order. Frames folders have no times and ignore it.
   */
  fps?: number;
  /** Frames in order (frames folders, videos read without fps): every step-th one (1 by default). */
  step?: number;
  /** Scale each frame to cover width x height and crop the centre (both or neither; default: the source's size). */
  width?: number;
  height?: number;
  /** Hold the source's last frame where the source ends before the window does (else refused). */
  pad?: boolean;
  /** Where the source ends before the window does, give the frames there are (fewer; the caller checks). */
  partial?: boolean;
}

/** Consecutive windows: how many (Infinity: until the source ends; a last window it ends inside is then padded, partial, or left out). */
export interface ReadWindowsOptions extends ReadWindowOptions {
  count?: number;
}

/** One window: its frames and what was taken, in numbers and in words. */
export interface VideoWindow {
  /** numFrames frames of width x height, RGB. */
  frames: Uint8Array[];
  width: number;
  height: number;
  source: VideoSource;
  /** A video sampled in time: the source seconds of its first and last frame and the rate. */
  time: { start: number; end: number; fps: number } | null;
  /** Frames taken in order (0-based; a video's counted from `start`), every `step`-th. */
  order: { first: number; last: number; step: number } | null;
  /** Trailing frames that hold the source's last frame (`pad`). */
  padded: number;
  /** The frames were scaled and cropped to the size asked. */
  resized: boolean;
  /**
   * One line: what was taken, e.g. "seconds 0.00-2.00 of clip.mp4 (60 fps -> 8 fps), 1920x1080
   * frames resized to cover 64x64 and centre-cropped".
   */
  description: string;
}

/** The source ends before the window does (and no `pad` was asked). */
export class ShortVideoError extends ModelInputError {
  override name = 'ShortVideoError';
}

/**
 * Reads `count` consecutive windows (window j starts where window j-1 ended: at start +
 * j·numFrames/fps, or numFrames·step frames on) from one ffmpeg process, each yielded as soon as
 * it is decoded: a whole clip in windows costs one pass.
 */
export async function* readVideoWindows(source: string, options: ReadWindowsOptions): AsyncGenerator<VideoWindow> {
  const count = options.count ?? 1;
  checkOptions(options, count);
  const info = await stat(source).catch(() => {
    throw new FileFormatError(`${source}: no such file or folder`);
  });
  if (info.isDirectory()) {
    if (options.start) throw startInFolder(source);
    yield* folderWindows(source, options, count);
    return;
  }
  if (!isVideoFile(source))
    throw new FileFormatError(`${source}: not a video file (${VIDEO_EXTENSIONS.join(', ')}) or a folder of frames`);
  yield* fileWindows(source, options, count);
}

/** The error for a start in seconds given with a frames folder (which has no times). */
export function startInFolder(folder: string): OptionError {
  return new OptionError('start', `is in seconds, and ${folder} is a frames folder with no times`);
}

/** One window: `numFrames` frames from `start` (see readVideoWindows). */
export async function readVideoWindow(source: string, options: ReadWindowOptions): Promise<VideoWindow> {
  for await (const window of readVideoWindows(source, { ...options, count: 1 })) return window;
  throw new Error(`readVideoWindow: ${source} gave no window`);
}

/**
 * The first `maxFrames` frames (all when omitted; fewer when the source has fewer) of a frames
 * folder or a video, in order, at the source's size.
 */
export async function readFrames(source: string, { maxFrames }: { maxFrames?: number } = {}): Promise<RgbVideo> {
  const frames: Uint8Array[] = [];
  let last: VideoWindow | undefined;
  // All of them: windows of 64 frames until the source ends.
  const options = { numFrames: maxFrames ?? 64, count: maxFrames === undefined ? Infinity : 1, partial: true };
  for await (const window of readVideoWindows(source, options)) {
    frames.push(...window.frames);
    last = window;
  }
  const { width, height, source: read } = last!;
  return { width, height, frames, ...(read.fps ? { fps: read.fps } : {}) };
}

/**
 * What becomes of a window the source ends inside, with `got` of its frames: 'pad' (hold the last
 * one), 'partial' (give those), 'end' (no more windows), or an error (from `refuse`).
 */
function atTheEnd(
  o: ReadWindowOptions,
  count: number,
  index: number,
  got: number,
  refuse: () => Error,
): 'pad' | 'partial' | 'end' {
  if (got === 0 && index > 0) return 'end'; // the source ended with the last window
  if (o.partial) return 'partial';
  if (o.pad && got > 0) return 'pad';
  if (count === Infinity && index > 0) return 'end';
  throw refuse();
}

function checkOptions(o: ReadWindowOptions, count: number): void {
  const positiveInteger = (value: number | undefined): boolean =>
    value === undefined || (Number.isInteger(value) && value >= 1);
  for (const [name, value] of [
    ['numFrames', o.numFrames],
    ['step', o.step],
    ['width', o.width],
    ['height', o.height],
    ['count', count === Infinity ? 1 : count],
  ] as const)
    if (!positiveInteger(value)) throw new OptionError(name, `must be a whole number of at least 1, got ${value}`);
  if ((o.width === undefined) !== (o.height === undefined))
    throw new OptionError(
      o.width === undefined ? 'width' : 'height',
      'width and height are given together or not at all',
    );
  if (o.fps !== undefined && !(Number.isFinite(o.fps) && o.fps > 0))
    throw new OptionError('fps', `must be a number of frames per second above 0, got ${o.fps}`);
  if (o.start !== undefined && !(Number.isFinite(o.start) && o.start >= 0))
    throw new OptionError('start', `must be seconds from the start, 0 or more, got ${o.start}`);
}

/** Seconds with two decimals, or three where two would round (1.005 stays 1.005). */
const seconds = (value: number): string =>
  Math.abs(value * 100 - Math.round(value * 100)) < 1e-6 ? value.toFixed(2) : value.toFixed(3);
const rate = (value: number): string => String(Number(value.toFixed(2)));
const ordinal = (n: number): string =>
  `${n}${n % 10 === 1 && n % 100 !== 11 ? 'st' : n % 10 === 2 && n % 100 !== 12 ? 'nd' : n % 10 === 3 && n % 100 !== 13 ? 'rd' : 'th'}`;
const every = (step: number, what: string): string => (step === 1 ? `every ${what}` : `every ${ordinal(step)} ${what}`);

/** ", 1920x1080 frames resized to cover 64x64 and centre-cropped" (the size as displayed: a rotation is said). */
function sizeText(source: VideoSource, width: number, height: number, resized: boolean): string {
  const turned = { 90: '90° counter-clockwise', 180: '180°', 270: '90° clockwise' }[source.rotation];
  const shown = `${source.width}x${source.height} frames${turned ? ` (as displayed: turned ${turned})` : ''}`;
  if (resized) return `, ${shown} resized to cover ${width}x${height} and centre-cropped`;
  return source.rotation ? `, ${shown}` : '';
}

// ---- frames folders ----

async function folderFiles(dir: string): Promise<string[]> {
  const files = await frameFiles(dir);
  if (files.length === 0)
    throw new FileFormatError(`${dir}: the folder holds no image frames (${IMAGE_EXTENSIONS.join(', ')})`);
  return files;
}

async function* folderWindows(dir: string, o: ReadWindowOptions, count: number): AsyncGenerator<VideoWindow> {
  const files = await folderFiles(dir);
  const step = o.step ?? 1;
  let size: { width: number; height: number; first: string } | undefined;
  for (let index = 0; index < count; index++) {
    const first = index * o.numFrames * step;
    const wanted = Array.from({ length: o.numFrames }, (_, k) => first + k * step);
    const present = wanted.filter((i) => i < files.length);
    const images = await Promise.all(present.map((i) => readImage(files[i]!)));
    size ??= images[0] && { width: images[0].width, height: images[0].height, first: files[present[0]!]! };
    images.forEach((image, i) => {
      if (image.width !== size!.width || image.height !== size!.height)
        throw new FileFormatError(
          `${files[present[i]!]}: frame of ${image.width}x${image.height}, but ${path.basename(size!.first)} is ${size!.width}x${size!.height}; every frame of a video must have one size`,
        );
    });
    const end =
      present.length < o.numFrames &&
      atTheEnd(
        o,
        count,
        index,
        present.length,
        () =>
          new ShortVideoError(
            `${dir}: has ${files.length} frame(s); ${o.numFrames} are taken (${every(step, 'file')} from file ${first + 1}, up to file ${wanted.at(-1)! + 1})${present.length ? '; or pad, to hold the last one' : ''}`,
          ),
      );
    if (end === 'end' || !size) return;
    const width = o.width ?? size.width,
      height = o.height ?? size.height;
    const frames = await Promise.all(images.map(async (image) => (await coverFit(image, width, height)).data));
    const padded = end === 'pad' ? o.numFrames - frames.length : 0;
    for (let k = 0; k < padded; k++) frames.push(frames.at(-1)!);
    const source: VideoSource = {
      path: dir,
      kind: 'frames',
      width: size.width,
      height: size.height,
      fps: null,
      variableFrameRate: false,
      rotation: 0,
      duration: null,
      files: files.length,
    };
    yield orderWindow(source, frames, width, height, index, o, padded);
    if (end) return;
  }
}

// ---- videos ----

interface ProbeJson {
  streams?: {
    codec_name?: string;
    width?: number;
    height?: number;
    sample_aspect_ratio?: string;
    avg_frame_rate?: string;
    r_frame_rate?: string;
    duration?: string;
    tags?: { rotate?: string };
    side_data_list?: { rotation?: number }[];
  }[];
  format?: { format_name?: string; start_time?: string; duration?: string };
}

const ratio = (text: string | undefined): number => {
  const [num, den] = (text ?? '').split(/[/:]/).map(Number);
  return num && den ? num / den : 0;
};

/**
 * What a video's first video stream is, checked: from an MP4's header when it says it plainly
 * (no process start), else from ffprobe; one line naming the file when it is not a video with times.
 */
export async function probeVideoSource(file: string): Promise<VideoSource> {
  const header = mp4VideoHeader(file);
  if (!header) return ffprobeVideoSource(file);
  return sourceOf(file, header.width, header.height, header.sampleAspect, header.rotation, {
    average: header.averageFps,
    nominal: header.nominalFps,
    duration: header.duration,
  });
}

/** What ffprobe says of a video's first video stream, checked (see probeVideoSource). */
export async function ffprobeVideoSource(file: string): Promise<VideoSource> {
  const out = await runTool(
    'ffprobe',
    [
      ...['-v', 'error', '-select_streams', 'v:0', '-of', 'json', '-show_entries'],
      'stream=codec_name,width,height,sample_aspect_ratio,avg_frame_rate,r_frame_rate,duration:stream_tags=rotate:stream_side_data=rotation:format=format_name,start_time,duration',
      file,
    ],
    file,
  );
  const probe = JSON.parse(out.toString()) as ProbeJson;
  const stream = probe.streams?.[0];
  const format = probe.format ?? {};
  if (!stream?.width || !stream.height) throw new FileFormatError(`${file}: holds no video stream`);
  const codec = stream.codec_name ?? 'unknown';
  if (/_pipe$|^image2$/.test(format.format_name ?? ''))
    throw new FileFormatError(`${file}: a single ${codec} image, not a video`);
  if (format.start_time === undefined && format.duration === undefined)
    throw new FileFormatError(
      `${file}: a bare ${codec} stream without timestamps, so the times of its frames are unknown; put it in a container (MP4, MKV) at its frame rate first`,
    );
  // The display matrix's angle is counter-clockwise; the older "rotate" tag's clockwise.
  const declared =
    stream.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? -Number(stream.tags?.rotate ?? 0);
  return sourceOf(file, stream.width, stream.height, ratio(stream.sample_aspect_ratio) || 1, declared, {
    average: ratio(stream.avg_frame_rate),
    nominal: ratio(stream.r_frame_rate),
    duration: Number(stream.duration ?? format.duration),
  });
}

/** A video's VideoSource from its coded size, pixel aspect, rotation (counter-clockwise) and timing. */
function sourceOf(
  file: string,
  codedWidth: number,
  codedHeight: number,
  sar: number,
  declared: number,
  timing: { average: number; nominal: number; duration: number },
): VideoSource {
  const rotation = ((Math.round(declared) % 360) + 360) % 360;
  // Coded pixels `sar` wide: shown (width·sar) x height, turned with the picture.
  const [width, height] =
    rotation % 180 ? [codedHeight, Math.round(codedWidth * sar)] : [Math.round(codedWidth * sar), codedHeight];
  const { average, nominal, duration } = timing;
  return {
    path: file,
    kind: 'video',
    width,
    height,
    fps: average || nominal || null,
    variableFrameRate: Boolean(average && nominal && Math.abs(average - nominal) > 0.01 * nominal),
    rotation,
    duration: Number.isFinite(duration) && duration > 0 ? duration : null,
    files: null,
  };
}

/**
 * The filters after sampling: scaled to cover width x height (by the displayed aspect) and
 * converted to RGB in one step, so a large frame is never converted whole, then the centre
 * cropped. Bicubic, ffmpeg's default: a frame of the size asked comes out exactly as ffmpeg's own
 * conversion to RGB gives it (what the training data's decoder gives).
 */
function fitFilters(width: number, height: number): string {
  return `scale=w='max(${width},round(${height}*dar))':h='max(${height},round(${width}/dar))':flags=bicubic,format=rgb24,crop=${width}:${height},setsar=1`;
}

function ffmpegArgs(file: string, seek: number, accurate: boolean, filters: string, frames: number): string[] {
  return [
    ...['-hide_banner', '-v', 'error', '-nostdin'],
    ...(seek > 0 ? ['-ss', seek.toFixed(6), ...(accurate ? [] : ['-noaccurate_seek'])] : []),
    ...['-i', file, '-map', '0:v:0', '-vf', filters],
    ...(Number.isFinite(frames) ? ['-frames:v', String(frames)] : []),
    ...['-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
  ];
}

/**
 * Runs ffmpeg, yielding its frames in windows of `perWindow` frames, each one buffer allocated
 * once and filled as the pipe delivers; the last may be short (after ffmpeg exited cleanly).
 * Reading stops while a window is out with the caller, so ffmpeg waits too.
 */
async function* rawWindows(
  file: string,
  args: string[],
  frameBytes: number,
  perWindow: number,
  signal: AbortSignal,
): AsyncGenerator<{ data: Buffer; frames: number }> {
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (error) => reject(toolError('ffmpeg', error)));
    child.on('close', (code) => resolve(code));
  });
  exited.catch(() => {});
  const stop = (): boolean => child.kill('SIGKILL');
  signal.addEventListener('abort', stop);
  const windowBytes = frameBytes * perWindow;
  let data = Buffer.allocUnsafe(windowBytes),
    filled = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      for (let at = 0; at < chunk.length;) {
        const n = Math.min(chunk.length - at, windowBytes - filled);
        chunk.copy(data, filled, at, at + n);
        filled += n;
        at += n;
        if (filled === windowBytes) {
          yield { data, frames: perWindow };
          data = Buffer.allocUnsafe(windowBytes);
          filled = 0;
        }
      }
    }
    const code = await exited;
    if (signal.aborted) return;
    if (code !== 0) throw new FileFormatError(`${file}: ffmpeg could not decode it (${lastLine(stderr, file)})`);
    if (filled % frameBytes) throw new FileFormatError(`${file}: ffmpeg gave a part of a frame at the end`);
    yield { data, frames: filled / frameBytes };
  } finally {
    signal.removeEventListener('abort', stop);
    if (child.exitCode === null && child.signalCode === null) {
      stop();
      await exited.catch(() => {});
    }
  }
}

/** The last frame of `file` after `after` seconds (fitted as `filters` says), or null when none follows. */
async function lastFrameAfter(
  file: string,
  after: number,
  filters: string,
  frameBytes: number,
): Promise<Buffer | null> {
  // Seeking to `after` puts it at time 0: the frames strictly later are the clip's tail.
  const args = ffmpegArgs(file, after, false, `select='gt(t,0)',${filters}`, Infinity);
  let last: Buffer | null = null;
  for await (const window of rawWindows(file, args, frameBytes, 1, new AbortController().signal))
    if (window.frames) last = window.data;
  return last;
}

function frameViews(data: Buffer, frames: number, frameBytes: number): Uint8Array[] {
  return Array.from(
    { length: frames },
    (_, k) => new Uint8Array(data.buffer, data.byteOffset + k * frameBytes, frameBytes),
  );
}

/** Windows of a video file (see readVideoWindows). */
async function* fileWindows(file: string, o: ReadWindowOptions, count: number): AsyncGenerator<VideoWindow> {
  const abort = new AbortController();
  const probing = probeVideoSource(file);
  probing.catch(() => {});
  // With the size known the decoding starts beside the probe; else it needs the probe's size.
  const target = o.width && o.height ? { width: o.width, height: o.height } : await probing;
  const { width, height } = target;
  const frameBytes = width * height * 3;
  const start = o.start ?? 0;
  const step = o.step ?? 1;
  const sampling =
    o.fps === undefined ? (step > 1 ? `select='not(mod(n,${step}))',` : '') : `fps=fps=${o.fps}:round=up:start_time=0,`;
  const filters = fitFilters(width, height);
  const args = ffmpegArgs(file, start, o.fps === undefined, sampling + filters, count * o.numFrames);
  const windows = rawWindows(file, args, frameBytes, o.numFrames, abort.signal);
  const pending = windows.next();
  pending.catch(() => {});
  let source: VideoSource;
  try {
    source = await probing;
  } catch (error) {
    abort.abort();
    await pending.catch(() => {});
    await windows.return(undefined);
    throw error;
  }
  const resized = source.width !== width || source.height !== height;
  let next = pending;
  try {
    for (let index = 0; index < count; index++) {
      const result = await next;
      if (result.done) return;
      const { data, frames: got } = result.value;
      const frames = frameViews(data, got, frameBytes);
      let padded = 0;
      const windowStart = o.fps === undefined ? start : start + (index * o.numFrames) / o.fps;
      const end = got < o.numFrames && atTheEnd(o, count, index, got, () => shortError(source, o, windowStart, got));
      if (end === 'end') return;
      if (end === 'pad') {
        let held: Uint8Array = frames.at(-1)!;
        if (o.fps !== undefined) {
          // The clip's last frame: shown after the window's last instant that the clip reaches.
          const tail = await lastFrameAfter(file, windowStart + (got - 1) / o.fps, filters, frameBytes);
          if (tail) held = tail;
        }
        padded = o.numFrames - got;
        for (let k = 0; k < padded; k++) frames.push(held);
      }
      yield o.fps === undefined
        ? orderWindow(source, frames, width, height, index, o, padded)
        : timeWindow(source, frames, width, height, resized, windowStart, o.fps, padded);
      if (end) return;
      if (index + 1 < count) next = windows.next();
    }
  } finally {
    abort.abort();
    await windows.return(undefined);
  }
}

function videoRate(source: VideoSource): string {
  if (source.fps === null) return 'frame rate not stated';
  return source.variableFrameRate
    ? `variable frame rate, ${rate(source.fps)} fps on average`
    : `${rate(source.fps)} fps`;
}

function timeWindow(
  source: VideoSource,
  frames: Uint8Array[],
  width: number,
  height: number,
  resized: boolean,
  start: number,
  fps: number,
  padded: number,
): VideoWindow {
  const end = start + (frames.length - 1) / fps;
  const held = padded
    ? `; ${source.duration === null ? 'the clip ends' : `the clip ends at ${seconds(source.duration)} s`}, its last frame held for the last ${padded} frame(s)`
    : '';
  return {
    frames,
    width,
    height,
    source,
    time: { start, end, fps },
    order: null,
    padded,
    resized,
    description: `seconds ${seconds(start)}-${seconds(end)} of ${source.path} (${videoRate(source)} -> ${rate(fps)} fps)${sizeText(source, width, height, resized)}${held}`,
  };
}

/** A window of frames in order: a frames folder's files, or a video's frames read without a rate. */
function orderWindow(
  source: VideoSource,
  frames: Uint8Array[],
  width: number,
  height: number,
  index: number,
  o: ReadWindowOptions,
  padded: number,
): VideoWindow {
  const step = o.step ?? 1;
  const first = index * o.numFrames * step;
  const last = first + (frames.length - padded - 1) * step;
  const resized = source.width !== width || source.height !== height;
  const unit = source.kind === 'frames' ? 'file' : 'frame';
  const from = o.start ? ` from ${seconds(o.start)} s` : '';
  const of =
    source.kind === 'frames'
      ? ` of the ${source.files} in ${source.path}`
      : `${from} of ${source.path} (${videoRate(source)})`;
  return {
    frames,
    width,
    height,
    source,
    time: null,
    order: { first, last, step },
    padded,
    resized,
    description: `${step === 1 ? '' : `${every(step, unit)}, `}${unit}s ${first + 1}-${last + 1}${of}${sizeText(source, width, height, resized)}${padded ? `; the last ${unit} taken held for the last ${padded} frame(s)` : ''}`,
  };
}

function shortError(source: VideoSource, o: ReadWindowOptions, start: number, got: number): ShortVideoError {
  const file = source.path;
  const length = source.duration === null ? 'of unstated length' : `${seconds(source.duration)} s long`;
  if (o.fps === undefined) {
    const from = o.start ? ` from ${seconds(o.start)} s` : '';
    return new ShortVideoError(
      `${file}: has ${got} frame(s)${from} where ${o.numFrames} are taken (${every(o.step ?? 1, 'frame')})${got ? '; or pad, to hold the last one' : ''}`,
    );
  }
  if (got === 0)
    return new ShortVideoError(`${file}: ${length}; the window from ${seconds(start)} s starts at or after its end`);
  const end = start + (o.numFrames - 1) / o.fps;
  return new ShortVideoError(
    `${file}: ${length}; ${o.numFrames} frames at ${rate(o.fps)} fps from ${seconds(start)} s need a clip longer than ${seconds(end)} s (or pad, to hold its last frame)`,
  );
}
