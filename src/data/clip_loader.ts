// Clip windows as training inputs: n frames at `stride` from `start`, each resized so that its
// long side is `resizeLong` (scaled up further if it would not cover the crop) and centre-cropped
// to height x width, the release's transform; the reference image fitted inside the size with its
// aspect kept (src/data/frames.ts, containFit). Decoding runs in worker processes
// (clip_worker.ts) with requests queued ahead, so that a training step that blocks the main
// thread never waits for ffmpeg or libvips when they are faster than the step. Processes, not
// worker threads: an ffmpeg started from a worker thread of a process whose main thread runs
// libtorch's OpenMP pool was seen never to be reaped (a zombie, and a request that never returns).
import { stat } from 'node:fs/promises';
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

import sharp from 'sharp';

import { FileFormatError } from '../errors.js';
import { containFit, frameFiles, readImage, type RgbImage } from './frames.js';
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
  const reference =
    r.withReference && r.clip.reference
      ? (await containFit(await readImage(r.clip.reference), r.transform.width, r.transform.height)).data
      : undefined;
  return { first: views[0]!, third: views[1]!, reference };
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
