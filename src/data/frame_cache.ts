// The frame cache of VAE training: each clip view decoded and transformed once, all its frames,
// stored raw (frames x H x W x 3 bytes, no header) under a name keyed by the source's identity
// (real path, size, modification time) and the transform, written atomically; a window is then
// a read at an offset. Without it every window starts an ffmpeg, whose start-up costs ~0.2 s of
// CPU per window on the 2-core machine: more than a third of a small VAE's step
// (docs/BENCHMARKS.md). The frames are those the loader returns, so training is unchanged.
// `fill` decodes what is missing up front, many videos per ffmpeg process.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';

import { FileFormatError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { transformFrame, type ClipTransform } from './clip_loader.js';
import { isVideoFile } from './frames.js';
import { mp4VideoTrack } from './mp4.js';
import { decodeVideos } from './video_writer.js';
import { sourceIdentity, type View } from './latent_cache.js';
import type { Clip } from './triplets.js';

/** Videos decoded by one ffmpeg process when filling, at most, and the decoded bytes they may hold. */
const FILL_GROUP = 64;
const FILL_BYTES = 256 * 1024 * 1024;

export class FrameCache {
  readonly #frameBytes: number;

  constructor(
    readonly dir: string,
    readonly transform: ClipTransform,
  ) {
    this.#frameBytes = transform.height * transform.width * 3;
    mkdirSync(dir, { recursive: true });
  }

  fileFor(source: string): string {
    const digest = createHash('sha256')
      .update(JSON.stringify([sourceIdentity(source), this.transform]))
      .digest('hex');
    return path.join(this.dir, digest.slice(0, 2), `${digest.slice(0, 32)}.rgb`);
  }

  /**
   * Decodes the clip views not cached yet, up to FILL_GROUP videos per ffmpeg process
   * (decodeVideos), so that the first epoch does not start a process per window either. Views
   * held as frames folders, and groups ffmpeg cannot decode together (videos of other sizes, or
   * shorter than their headers say), are left to `window`'s own decoding. Returns the views written.
   */
  async fill(
    views: readonly { clip: Clip; view: View }[],
    onProgress?: (done: number, total: number) => void,
  ): Promise<number> {
    const missing = new Map<string, number>(); // source -> its frames
    for (const { clip, view } of views)
      if (isVideoFile(clip[view]) && !existsSync(this.fileFor(clip[view]))) missing.set(clip[view], clip.frames);
    const byLength = new Map<number, string[]>();
    for (const [source, frames] of missing) byLength.set(frames, [...(byLength.get(frames) ?? []), source]);
    let done = 0,
      written = 0;
    for (const [frames, sources] of byLength) {
      // as many videos per process as FILL_BYTES of decoded frames hold (by the first one's header)
      const track = mp4VideoTrack(sources[0]!);
      const perVideo = frames * 3 * (track ? track.width * track.height : this.transform.width * this.transform.height);
      const groupSize = Math.max(1, Math.min(FILL_GROUP, Math.floor(FILL_BYTES / perVideo)));
      for (let at = 0; at < sources.length; at += groupSize) {
        const group = sources.slice(at, at + groupSize);
        const decoded: Uint8Array[] = [];
        const size = await decodeVideos(group, { maxFrames: frames }, (frame) => decoded.push(frame.slice())).catch(
          (e: unknown) => {
            if (e instanceof FileFormatError) return null;
            throw e;
          },
        );
        if (size && decoded.length === group.length * frames) {
          for (const [k, source] of group.entries()) {
            const images = decoded.slice(k * frames, (k + 1) * frames);
            const transformed = await Promise.all(
              images.map((data) => transformFrame({ width: size.width, height: size.height, data }, this.transform)),
            );
            const file = this.fileFor(source);
            mkdirSync(path.dirname(file), { recursive: true });
            await writeFileAtomic(file, Buffer.concat(transformed));
            written++;
          }
        }
        done += group.length;
        onProgress?.(done, missing.size);
      }
    }
    return written;
  }

  /**
   * Frames start … start + frames − 1 of a clip view; on a miss `decodeAll` gives every frame of
   * the view (transformed), which is stored first.
   */
  async window(
    clip: Clip,
    view: View,
    start: number,
    frames: number,
    decodeAll: () => Promise<Uint8Array[]>,
  ): Promise<Uint8Array[]> {
    const file = this.fileFor(clip[view]);
    let size = (await stat(file).catch(() => null))?.size;
    if (size === undefined) {
      const all = await decodeAll();
      mkdirSync(path.dirname(file), { recursive: true });
      await writeFileAtomic(file, Buffer.concat(all));
      size = all.length * this.#frameBytes;
    }
    if (size % this.#frameBytes !== 0 || size < (start + frames) * this.#frameBytes)
      throw new FileFormatError(
        `${file}: ${size} bytes, expected whole frames of ${this.transform.width}x${this.transform.height}x3 up to frame ${start + frames} of ${clip[view]} (a damaged frame cache entry: delete it and it is decoded again)`,
      );
    const handle = await open(file, 'r');
    try {
      const bytes = new Uint8Array(frames * this.#frameBytes);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, start * this.#frameBytes);
      if (bytesRead !== bytes.length)
        throw new FileFormatError(`${file}: ended early (read ${bytesRead} of ${bytes.length} bytes)`);
      return Array.from({ length: frames }, (_, i) => bytes.subarray(i * this.#frameBytes, (i + 1) * this.#frameBytes));
    } finally {
      await handle.close();
    }
  }
}
