// Clip windows as training inputs: n frames at `stride` from `start`, each resized so that its
// long side is `resizeLong` (scaled up further if it would not cover the crop) and centre-cropped
// to height x width, the release's transform; the reference image fitted inside the size with its
// aspect kept (src/data/frames.ts, containFit). Decoding runs in worker processes
// (clip_worker.ts) with requests queued ahead, so that a training step that blocks the main
// thread never waits for ffmpeg or libvips when they are faster than the step. Processes, not
// worker threads: an ffmpeg started from a worker thread of a process whose main thread runs
// libtorch's OpenMP pool was seen never to be reaped (a zombie, and a request that never returns).
// `loadWindows` loads many windows in the calling process with one ffmpeg for all their videos.
import { stat } from 'node:fs/promises';
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

import sharp from 'sharp';

import { FileFormatError } from '../errors.js';
import { containFit, frameFiles, isVideoFile, readImage, type RgbImage } from './frames.js';
import { mp4VideoTrack } from './mp4.js';
import type { Clip } from './triplets.js';
import { windowSpan } from './triplets.js';
import { decodeVideos } from './video_writer.js';

export interface ClipTransform {
  height: number;
  width: number;
  resizeLong: number;
}

export interface WindowRequest {
  clip: Clip;
  start: number;
  frames: number;
  stride: number;
  transform: ClipTransform;
  withReference: boolean;
  /** The views to decode (both when omitted); a view left out comes back as no frames. */
  views?: readonly ('first' | 'third')[];
}

/** RGB frames at height x width (H·W·3 bytes each). */
export interface LoadedWindow {
  first: Uint8Array[];
  third: Uint8Array[];
  reference?: Uint8Array;
}

/** The release's resize-long-side-then-centre-crop. */
export async function transformFrame(
  image: RgbImage,
  { height, width, resizeLong }: ClipTransform,
): Promise<Uint8Array> {
  let scale = resizeLong / Math.max(image.width, image.height);
  if (image.width * scale < width || image.height * scale < height)
    scale = Math.max(width / image.width, height / image.height);
  const w = Math.max(width, Math.round(image.width * scale)),
    h = Math.max(height, Math.round(image.height * scale));
  if (w === image.width && h === image.height && w === width && h === height) return image.data;
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(w, h, { fit: 'fill', kernel: 'lanczos3' })
    .extract({ left: Math.floor((w - width) / 2), top: Math.floor((h - height) / 2), width, height })
    .raw()
    .toBuffer();
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** Frames start, start + stride, … of a video file or a frames folder. */
async function readWindow(video: string, start: number, frames: number, stride: number): Promise<RgbImage[]> {
  const indices = Array.from({ length: frames }, (_, i) => start + i * stride);
  if ((await stat(video)).isDirectory()) {
    const files = await frameFiles(video);
    return Promise.all(
      indices.map((i) => {
        if (!files[i]) throw new FileFormatError(`${video}: has ${files.length} frames, frame ${i} was asked for`);
        return readImage(files[i]!);
      }),
    );
  }
  const decoded: Uint8Array[] = [];
  const { width, height } = await decodeVideos([video], { maxFrames: start + windowSpan(frames, stride) }, (frame) =>
    decoded.push(frame),
  );
  return indices.map((i) => {
    const data = decoded[i];
    if (!data) throw new FileFormatError(`${video}: has ${decoded.length} frames, frame ${i} was asked for`);
    return { width, height, data };
  });
}

/** Reads and transforms one window of a triplet (in the calling thread). */
export async function loadWindow(r: WindowRequest): Promise<LoadedWindow> {
  const wanted = r.views ?? ['first', 'third'];
  const views = await Promise.all(
    (['first', 'third'] as const).map(async (view) => {
      if (!wanted.includes(view)) return [];
      const images = await readWindow(r.clip[view], r.start, r.frames, r.stride);
      return Promise.all(images.map((image) => transformFrame(image, r.transform)));
    }),
  );
  return { first: views[0]!, third: views[1]!, reference: await loadReference(r) };
}

/** Decoded frames one ffmpeg process of `loadWindows` may hold at a time. */
const GROUP_BYTES = 256 * 1024 * 1024;

/**
 * Several windows with one ffmpeg process for all their videos (decodeVideos; more, each within
 * GROUP_BYTES of decoded frames, when they are large): each process start costs ~0.2 s of CPU on
 * the 2-core machine, more than decoding a small clip. The frames are loadWindow's. Returns null
 * where this cannot be done (frames folders, videos of different sizes, a video shorter than its
 * header says): load those windows one by one.
 */
export async function loadWindows(requests: readonly WindowRequest[]): Promise<LoadedWindow[] | null> {
  const viewsOf = (r: WindowRequest) => (['first', 'third'] as const).filter((v) => (r.views ?? [v]).includes(v));
  const files = requests.flatMap((r) => viewsOf(r).map((v) => r.clip[v]));
  if (!files.every(isVideoFile)) return null;
  const maxFrames = Math.max(0, ...requests.map((r) => r.start + windowSpan(r.frames, r.stride)));
  if (requests.some((r) => viewsOf(r).length > 0 && r.clip.frames < maxFrames)) return null;
  const track = files.length ? mp4VideoTrack(files[0]!) : null;
  const perVideo = maxFrames * 3 * (track ? track.width * track.height : 1);
  const groupSize = Math.max(1, Math.floor(GROUP_BYTES / perVideo));
  const decoded: Uint8Array[] = [];
  let size: { width: number; height: number } | null = null;
  for (let at = 0; at < files.length; at += groupSize) {
    const group = files.slice(at, at + groupSize);
    size = await decodeVideos(group, { maxFrames }, (frame) => decoded.push(frame.slice())).catch((e: unknown) => {
      if (e instanceof FileFormatError) return null;
      throw e;
    });
    if (!size) return null;
  }
  if (decoded.length !== files.length * maxFrames) return null;
  let video = 0;
  const jobs = requests.map((r) => {
    const bases = new Map(viewsOf(r).map((v) => [v, maxFrames * video++]));
    return { r, bases };
  });
  return Promise.all(
    jobs.map(async ({ r, bases }) => {
      const view = (v: 'first' | 'third'): Promise<Uint8Array[]> => {
        const base = bases.get(v);
        if (base === undefined) return Promise.resolve([]);
        return Promise.all(
          Array.from({ length: r.frames }, (_, i) =>
            transformFrame({ ...size!, data: decoded[base + r.start + i * r.stride]! }, r.transform),
          ),
        );
      };
      const [first, third] = await Promise.all([view('first'), view('third')]);
      return { first, third, reference: await loadReference(r) };
    }),
  );
}

/** A window's reference image, fitted inside its size, when asked for. */
async function loadReference(r: WindowRequest): Promise<Uint8Array | undefined> {
  return r.withReference && r.clip.reference
    ? (await containFit(await readImage(r.clip.reference), r.transform.width, r.transform.height)).data
    : undefined;
}

type Pending = { resolve: (w: LoadedWindow) => void; reject: (e: Error) => void };

/** Worker processes that load windows; `load` queues a request and resolves when it is decoded. */
export class ClipLoaderPool {
  readonly #workers: ChildProcess[] = [];
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #failure: Error | null = null;
  #closing = false;

  constructor(processes = Math.max(1, Math.min(4, availableParallelism() - 1))) {
    for (let i = 0; i < processes; i++) {
      const worker = fork(fileURLToPath(new URL('./clip_worker.js', import.meta.url)), [], {
        serialization: 'advanced',
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      worker.on(
        'message',
        (m: { id: number; window?: LoadedWindow; error?: { message: string; expected: boolean } }) => {
          const p = this.#pending.get(m.id);
          if (!p) return;
          this.#pending.delete(m.id);
          if (m.window) p.resolve(m.window);
          else p.reject(m.error!.expected ? new FileFormatError(m.error!.message) : new Error(m.error!.message));
        },
      );
      worker.on('exit', (code, signal) => {
        if (!this.#closing) this.#fail(new Error(`a clip loader process stopped (${signal ?? `exit ${code}`})`));
      });
      this.#workers.push(worker);
    }
  }

  load(request: WindowRequest): Promise<LoadedWindow> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#next++;
    const promise = new Promise<LoadedWindow>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#workers[id % this.#workers.length]!.send({ id, request });
    return promise;
  }

  #fail(error: Error): void {
    this.#failure = error;
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }

  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitCode !== null || w.signalCode !== null) return resolve();
            w.once('exit', () => resolve());
            w.kill();
          }),
      ),
    );
  }
}
