// The frame cache of VAE training: each clip view decoded and transformed once, all its frames,
// stored raw (frames x H x W x 3 bytes, no header) under a name keyed by the source's identity
// (real path, size, modification time) and the transform, written atomically; a window is then
// a read at an offset. Without it every window starts an ffmpeg, whose start-up costs ~0.2 s of
// CPU per window on the 2-core machine: more than a third of a small VAE's step
// (docs/BENCHMARKS.md). The frames are those the loader returns, so training is unchanged.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';

import { FileFormatError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { ClipTransform } from './clip_loader.js';
import { sourceIdentity, type View } from './latent_cache.js';
import type { Clip } from './triplets.js';

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
