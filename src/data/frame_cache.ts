// The frame cache of VAE training: each clip view decoded and transformed once, all its frames,
// stored raw (frames x H x W x 3 bytes, no header) under a name keyed by the source's identity
// (real path, size, modification time) and the transform, written atomically; a window is then
// a read at an offset. Without it every window starts an ffmpeg, whose start-up costs ~0.2 s of
// CPU per window on the 2-core machine: about half of a small VAE's step (docs/BENCHMARKS.md). The frames are those the loader returns, so training is unchanged.
// `fill` decodes what is missing up front, many videos per ffmpeg process.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';

import { FileFormatError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadWindows, type ClipTransform, type WindowRequest } from './clip_loader.js';
import { sourceIdentity, type View } from './latent_cache.js';
import type { Clip } from './triplets.js';

/** Clip views decoded together when filling (by one ffmpeg process, when they are small). */
const FILL_GROUP = 64;

export class FrameCache {
  readonly #frameBytes: number;

  constructor(
    readonly dir: string,
    readonly transform: ClipTransform,
  ) {
    this.#frameBytes = transform.height * transform.width * 3;
    mkdirSync(dir, { recursive: true });
  }

  async #store(file: string, frames: Uint8Array[]): Promise<void> {
    mkdirSync(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, Buffer.concat(frames));
  }

  fileFor(source: string): string {
    const digest = createHash('sha256')
      .update(JSON.stringify([sourceIdentity(source), this.transform]))
      .digest('hex');
    return path.join(this.dir, digest.slice(0, 2), `${digest.slice(0, 32)}.rgb`);
  }

  /**
   * Decodes the clip views not cached yet, FILL_GROUP videos per ffmpeg process (loadWindows), so
   * that the first epoch does not start a process per window either. Views held as frames
   * folders, and groups ffmpeg cannot decode together, are left to `window`'s own decoding.
   * Returns the views written.
   */
  async fill(
    views: readonly { clip: Clip; view: View }[],
    onProgress?: (done: number, total: number) => void,
  ): Promise<number> {
    const missing = new Map<string, { clip: Clip; view: View }>();
    for (const { clip, view } of views)
      if (!existsSync(this.fileFor(clip[view]))) missing.set(clip[view], { clip, view });
    const requests: WindowRequest[] = [...missing.values()].map(({ clip, view }) => ({
      clip,
      start: 0,
      frames: clip.frames,
      stride: 1,
      transform: this.transform,
      withReference: false,
      views: [view],
    }));
    // one length per group: every video of a process is read to the same frame
    requests.sort((a, b) => a.frames - b.frames);
    let written = 0;
    for (let at = 0; at < requests.length;) {
      let end = at + 1;
      while (end < requests.length && end - at < FILL_GROUP && requests[end]!.frames === requests[at]!.frames) end++;
      const group = requests.slice(at, end);
      const windows = await loadWindows(group);
      if (windows)
        for (const [k, r] of group.entries()) {
          const view = r.views![0]!;
          await this.#store(this.fileFor(r.clip[view]), windows[k]![view]);
          written++;
        }
      at = end;
      onProgress?.(at, requests.length);
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
    const opened = () =>
      open(file, 'r').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return null;
        throw e;
      });
    let handle = await opened();
    if (!handle) {
      await this.#store(file, await decodeAll());
      handle = (await opened())!;
    }
    try {
      const { size } = await handle.stat();
      if (size % this.#frameBytes !== 0 || size < (start + frames) * this.#frameBytes)
        throw new FileFormatError(
          `${file}: ${size} bytes, expected whole frames of ${this.transform.width}x${this.transform.height}x3 up to frame ${start + frames} of ${clip[view]} (a damaged frame cache entry: delete it and it is decoded again)`,
        );
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
