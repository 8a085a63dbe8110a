import { spawn, type ChildProcess } from 'node:child_process';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';

import { FileFormatError, OptionError, WorldWanderError } from '../errors.js';
import { releaseTemporary, temporaryPathFor, trackTemporary } from '../io/atomic.js';
import { checkMp4, mp4VideoTrack } from './mp4.js';

/** ffmpeg (or ffprobe) is not installed, or not on PATH. */
export class FfmpegMissingError extends WorldWanderError {
  override name = 'FfmpegMissingError';
  constructor(tool: string) {
    super(`${tool} was not found on PATH; install it (Debian: sudo apt-get install ffmpeg) or run scripts/setup.sh`);
  }
}

export interface VideoOptions {
  width: number;
  height: number;
  fps: number;
  /** x264 constant rate factor: 0 is lossless-ish, 23 is x264's default. */
  crf?: number;
  /** x264 preset: speed against file size. */
  preset?: string;
}

export interface VideoInfo {
  width: number;
  height: number;
  fps: number;
  frameCount: number;
}

/** A spawn failure of ffmpeg or ffprobe: FfmpegMissingError when it is not installed. */
export function toolError(tool: string, error: NodeJS.ErrnoException): Error {
  return error.code === 'ENOENT' ? new FfmpegMissingError(tool) : error;
}

/**
 * Runs a tool to completion, collecting stdout; rejects with one line naming `file` (or the tool)
 * and the last line the tool printed when it fails.
 */
export function runTool(tool: string, args: string[], file?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    const errors: Buffer[] = [];
    let received = 0;
    child.stdout.on('data', (data: Buffer) => {
      chunks.push(data);
      received += data.length;
    });
    child.stderr.on('data', (data: Buffer) => errors.push(data));
    child.on('error', (error) => reject(toolError(tool, error)));
    child.on('close', (code) => {
      if (code === 0) return resolve(Buffer.concat(chunks, received));
      const reason = lastLine(Buffer.concat(errors).toString(), file);
      reject(
        file
          ? new FileFormatError(`${file}: not a video ffmpeg can read (${reason})`)
          : new WorldWanderError(`${tool} failed (exit ${code}): ${reason}`),
      );
    });
  });
}

/** The last line a tool printed, without its "[h264 @ 0x…]" prefixes or the file's name: its reason. */
export function lastLine(stderr: string, file?: string): string {
  const line = stderr.trim().split('\n').at(-1) ?? '';
  const reason = line.replace(/^(\[[^\]]*\]\s*)+/, '');
  return (
    (file && reason.startsWith(`${file}: `) ? reason.slice(file.length + 2) : reason).trim().slice(0, 300) ||
    'no reason given'
  );
}

/** Resolves when ffmpeg and ffprobe run; rejects with FfmpegMissingError naming the one that does not. */
export async function checkFfmpeg(): Promise<void> {
  await runTool('ffmpeg', ['-hide_banner', '-version']);
  await runTool('ffprobe', ['-hide_banner', '-version']);
}

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2 || width % 2 || height % 2) {
    throw new OptionError(null, `H.264 (yuv420p) needs an even width and height of at least 2; got ${width}x${height}`);
  }
}

function encoderArgs(options: VideoOptions, path: string): string[] {
  return [
    '-c:v',
    'libx264',
    '-preset',
    options.preset ?? 'veryfast',
    '-crf',
    String(options.crf ?? 17),
    '-pix_fmt',
    'yuv420p',
    '-threads',
    '1',
    '-map_metadata',
    '-1',
    '-fflags',
    '+bitexact',
    '-flags',
    '+bitexact',
    '-f',
    'mp4',
    path,
  ];
}

/**
 * Streams raw RGB frames into ffmpeg, which encodes H.264 (yuv420p) MP4s. One writer can feed
 * several synchronized videos of the same size through one ffmpeg process (openMany): each write
 * then takes one frame per video. Files appear under their final names only after close()
 * succeeds and the files check out (written to `<path>.tmp-<pid>`, checked, then renamed): ffmpeg
 * can exit 0 on a full disk after printing "Error writing trailer", leaving a file without index.
 */
export class VideoWriter {
  readonly paths: string[];
  readonly options: VideoOptions;
  private readonly child: ChildProcess;
  private readonly partials: string[];
  private readonly finished: Promise<void>;
  private frames = 0;
  private failure: Error | undefined;
  private readonly errors: Buffer[] = [];

  private constructor(paths: string[], options: VideoOptions) {
    checkSize(options.width, options.height);
    if (paths.length === 0) throw new Error('VideoWriter: no output paths');
    const { width, height } = options;
    this.paths = paths;
    this.options = options;
    this.partials = paths.map((path) => temporaryPathFor(path));
    for (const partial of this.partials) trackTemporary(partial);
    const input = [
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-s',
      `${width}x${height * paths.length}`,
      '-r',
      String(options.fps),
      '-i',
      'pipe:0',
    ];
    let outputs: string[];
    if (paths.length === 1) {
      outputs = encoderArgs(options, this.partials[0]!);
    } else {
      // The input frame is the videos' frames stacked vertically; crop each back out.
      const labels = paths.map((_, i) => `s${i}`);
      const crops = paths.map((_, i) => `[s${i}]crop=${width}:${height}:0:${i * height}[v${i}]`);
      outputs = [
        '-filter_complex',
        `[0:v]split=${paths.length}${labels.map((l) => `[${l}]`).join('')};${crops.join(';')}`,
      ];
      this.partials.forEach((partial, i) => outputs.push('-map', `[v${i}]`, ...encoderArgs(options, partial)));
    }
    this.child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...input, ...outputs], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const errors = this.errors;
    this.child.stderr!.on('data', (data: Buffer) => errors.push(data));
    // Writes after ffmpeg died fail with EPIPE; the exit status below carries the real reason.
    this.child.stdin!.on('error', () => {});
    this.finished = new Promise((resolve, reject) => {
      this.child.on('error', (error) => {
        this.failure = toolError('ffmpeg', error);
        reject(this.failure);
      });
      this.child.on('close', (code) => {
        if (code === 0) return resolve();
        this.failure ??= new WorldWanderError(
          `ffmpeg failed writing ${paths.join(', ')} (exit ${code}): ${Buffer.concat(errors).toString().trim().slice(-2000)}`,
        );
        reject(this.failure);
      });
    });
    this.finished.catch(() => {});
  }

  static open(path: string, options: VideoOptions): VideoWriter {
    return new VideoWriter([path], options);
  }

  /** One ffmpeg process writing several videos of the same size and frame count. */
  static openMany(paths: string[], options: VideoOptions): VideoWriter {
    return new VideoWriter(paths, options);
  }

  /**
   * Queues one frame (width*height*3 RGB bytes) for each video, in the order of the paths;
   * resolves when ffmpeg is ready for more.
   */
  async write(...frames: Uint8Array[]): Promise<void> {
    const { width, height } = this.options;
    if (frames.length !== this.paths.length)
      throw new Error(`VideoWriter: ${frames.length} frames given for ${this.paths.length} videos`);
    for (const frame of frames) {
      if (frame.length !== width * height * 3) {
        throw new Error(
          `VideoWriter: frame of ${frame.length} bytes, ${width * height * 3} expected (${width}x${height} RGB)`,
        );
      }
    }
    if (this.failure) throw this.failure;
    this.frames++;
    const stdin = this.child.stdin!;
    let ready = true;
    for (const frame of frames) ready = stdin.write(frame) && ready;
    if (!ready) {
      // A broken pipe means ffmpeg exited: report its own reason rather than EPIPE.
      await Promise.race([once(stdin, 'drain'), this.finished]).catch(async (error: unknown) => {
        await this.finished;
        throw error;
      });
    }
  }

  /** Finishes the files and moves them to their final names; returns the number of frames written to each. */
  async close(): Promise<number> {
    if (this.frames === 0) {
      await this.abort();
      throw new Error(`VideoWriter: no frames were written to ${this.paths.join(', ')}`);
    }
    this.child.stdin!.end();
    try {
      await this.finished;
      // With -loglevel error, anything on stderr is an error, whatever the exit code says.
      const reported = Buffer.concat(this.errors).toString().trim();
      if (reported)
        throw new WorldWanderError(`ffmpeg reported errors writing ${this.paths.join(', ')}: ${reported.slice(-2000)}`);
      for (const partial of this.partials) checkMp4(partial);
      for (let i = 0; i < this.paths.length; i++) await rename(this.partials[i]!, this.paths[i]!);
    } catch (error) {
      await Promise.all(this.partials.map((partial) => rm(partial, { force: true })));
      throw error;
    } finally {
      for (const partial of this.partials) releaseTemporary(partial);
    }
    return this.frames;
  }

  /** Kills ffmpeg; resolves once it has exited and its partial files are removed. */
  abort(): Promise<void> {
    this.child.kill('SIGKILL');
    return this.finished
      .finally(() => Promise.all(this.partials.map((partial) => rm(partial, { force: true }))))
      .catch(() => {})
      .finally(() => {
        for (const partial of this.partials) releaseTemporary(partial);
      });
  }
}

/** Writes a whole video from a list (or iterable) of RGB frames. */
export async function writeVideo(path: string, frames: Iterable<Uint8Array>, options: VideoOptions): Promise<number> {
  const writer = VideoWriter.open(path, options);
  try {
    for (const frame of frames) await writer.write(frame);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return writer.close();
}

/**
 * Size, frame rate and frame count of a video's first video stream: decoded and counted, or with
 * `{ fast: true }` read from the container's header (nb_frames) when it has one.
 */
export async function probeVideo(path: string, { fast = false }: { fast?: boolean } = {}): Promise<VideoInfo> {
  const probe = async (entries: string, extra: string[] = []): Promise<Record<string, string | number> | undefined> => {
    const args = ['-v', 'error', '-select_streams', 'v:0', ...extra, '-show_entries', entries, '-of', 'json', path];
    const out = await runTool('ffprobe', args, path);
    return (JSON.parse(out.toString()) as { streams?: Record<string, string | number>[] }).streams?.[0];
  };
  if (fast) {
    const stream = await probe('stream=width,height,avg_frame_rate,r_frame_rate,nb_frames');
    const count = Number(stream?.nb_frames);
    if (stream && Number.isInteger(count) && count > 0) return videoInfo(stream, count);
  }
  const stream = await probe('stream=width,height,avg_frame_rate,r_frame_rate,nb_read_frames', ['-count_frames']);
  if (!stream) throw new FileFormatError(`${path}: no video stream`);
  return videoInfo(stream, Number(stream.nb_read_frames));
}

function videoInfo(stream: Record<string, string | number>, frameCount: number): VideoInfo {
  const rate = String(stream.avg_frame_rate !== '0/0' ? stream.avg_frame_rate : stream.r_frame_rate);
  const [num, den] = rate.split('/').map(Number);
  return { width: Number(stream.width), height: Number(stream.height), fps: den ? num! / den : num!, frameCount };
}

export interface DecodedVideo extends VideoInfo {
  /** width*height*3 RGB bytes per frame. */
  frames: Uint8Array[];
}

/**
 * Decodes the frames of a video to RGB at its coded size: all of them, or the first `maxFrames`
 * (tests and the training data's checks; inference and eval read through video_reader.ts).
 */
export async function readVideoFrames(path: string, { maxFrames }: { maxFrames?: number } = {}): Promise<DecodedVideo> {
  const info = await probeVideo(path, { fast: true }); // the size; the frames are counted as decoded
  const frames: Uint8Array[] = [];
  await decodeVideos([path], { maxFrames, size: info }, (frame) => frames.push(frame));
  return { ...info, frameCount: frames.length, frames };
}

/**
 * Decodes the frames of one or more videos of one size (all of each, or its first `maxFrames`) in
 * a single ffmpeg process (each trimmed, then concatenated), handing each RGB frame to `onFrame`
 * in order as it arrives: many short clips cost one process start, not one each. The size is
 * `size` (the first video's, when the caller has probed it), else the MP4 header's, else
 * ffprobe's. Rejects (naming the failure) when the videos differ in size or one cannot be read.
 */
export async function decodeVideos(
  paths: readonly string[],
  { maxFrames, size }: { maxFrames?: number; size?: { width: number; height: number } },
  onFrame: (frame: Uint8Array, width: number, height: number) => void,
): Promise<{ width: number; height: number; frames: number }> {
  if (paths.length === 0) throw new OptionError(null, 'decodeVideos: no videos');
  const { width, height } = size ?? mp4VideoTrack(paths[0]!) ?? (await probeVideo(paths[0]!, { fast: true }));
  const frameBytes = width * height * 3;
  const trim = maxFrames === undefined ? '' : `trim=end_frame=${maxFrames},`;
  const trims = paths.map((_, i) => `[${i}:v:0]${trim}setpts=PTS-STARTPTS[v${i}]`);
  const graph = `${trims.join(';')};${paths.map((_, i) => `[v${i}]`).join('')}concat=n=${paths.length}:v=1:a=0[out]`;
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    ...paths.flatMap((p) => ['-i', p]),
    '-filter_complex',
    graph,
    '-map',
    '[out]',
    '-fps_mode',
    'passthrough',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const errors: Buffer[] = [];
  child.stderr.on('data', (data: Buffer) => errors.push(data));
  // Each frame gets its own buffer (the callers may keep it), filled as the pipe delivers: no
  // copying of what came before (a growing concatenation was quadratic in the frame size).
  let frame = Buffer.allocUnsafe(frameBytes);
  let filled = 0;
  let frames = 0;
  child.stdout.on('data', (data: Buffer) => {
    for (let at = 0; at < data.length;) {
      if (filled === 0 && data.length - at >= frameBytes) {
        // A whole frame inside the chunk: handed out as a view of it (each chunk is a new buffer).
        onFrame(new Uint8Array(data.buffer, data.byteOffset + at, frameBytes), width, height);
        frames++;
        at += frameBytes;
        continue;
      }
      const n = Math.min(data.length - at, frameBytes - filled);
      data.copy(frame, filled, at, at + n);
      filled += n;
      at += n;
      if (filled === frameBytes) {
        onFrame(new Uint8Array(frame.buffer, frame.byteOffset, frameBytes), width, height);
        frames++;
        frame = Buffer.allocUnsafe(frameBytes);
        filled = 0;
      }
    }
  });
  const [code] = (await Promise.race([
    once(child, 'close'),
    once(child, 'error').then(([error]) => {
      throw toolError('ffmpeg', error as NodeJS.ErrnoException);
    }),
  ])) as [number | null];
  const videos = paths.length === 1 ? paths[0] : `${paths.length} videos from ${paths[0]}`;
  if (code !== 0)
    throw new FileFormatError(
      `${videos}: ffmpeg could not decode it (${lastLine(Buffer.concat(errors).toString(), paths[0])})`,
    );
  if (filled)
    throw new FileFormatError(
      `decodeVideos: ${filled} bytes left after the last whole ${width}x${height} frame of ${videos}`,
    );
  return { width, height, frames };
}
