// The latent cache, as the Wan trainers users pick have one: each clip window (and reference
// image) VAE-encoded once, stored as a safetensors file keyed by the source file's identity (real
// path, size, modification time), the window and transform, and the VAE's identity (its config
// and weights' digests), written atomically and reused across runs. With the cache, the window
// of a clip is a random choice among the fixed starts that were cached (`fixedWindowStarts`), no
// longer any start: the cache says so in its report.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

import { FileFormatError } from '../errors.js';
import { rememberedDigest } from '../io/digest.js';
import { prefetched } from '../io/prefetch.js';
import { SafetensorsFile, noGrad, owned, saveSafetensors, scope, stack, type Tensor } from '../torch/index.js';
import type { AutoencoderKLWan } from '../models/wan/vae.js';
import { normalizeLatents } from '../models/wan/latents.js';
import {
  ClipLoaderPool,
  loadWindows,
  type ClipTransform,
  type LoadedWindow,
  type WindowRequest,
} from './clip_loader.js';
import { framesToTensor } from './video_tensor.js';
import { fixedWindowStarts, type Clip } from './triplets.js';

export type View = 'first' | 'third';

/** What a cached latent was made from. */
export interface LatentKey {
  /** The video (file or frames folder) or the reference image. */
  source: string;
  /** Window start, frames and stride; all 0 for a reference image. */
  start: number;
  frames: number;
  stride: number;
  transform: ClipTransform;
  vae: string;
}

/** Identity of a source: its real path with size and mtime (of every frame of a folder). */
export function sourceIdentity(source: string): string {
  const real = realpathSync(source);
  const info = statSync(real);
  if (!info.isDirectory()) return `${real}:${info.size}:${info.mtimeMs}`;
  const hash = createHash('sha256');
  for (const name of readdirSync(real).sort()) {
    const s = statSync(path.join(real, name));
    hash.update(`${name}:${s.size}:${s.mtimeMs};`);
  }
  return `${real}:${hash.digest('hex')}`;
}

/** Identity of a VAE folder: its config and its weight files' content digests. */
export function vaeIdentity(weights: string, config?: string): string {
  return `vae-${weightsIdentity(weights, config)}`;
}

/** 16 hex digits of the digest of a config and a weights file or folder (its .safetensors files' content digests). */
export function weightsIdentity(weights: string, config?: string): string {
  const hash = createHash('sha256');
  if (config) hash.update(readFileSync(config));
  const files = statSync(weights).isDirectory()
    ? readdirSync(weights)
        .sort()
        .filter((n) => n.endsWith('.safetensors'))
        .map((n) => path.join(weights, n))
    : [weights];
  for (const file of files) hash.update(`${path.basename(file)}:${rememberedDigest(file)}`);
  return hash.digest('hex').slice(0, 16);
}

export class LatentCache {
  constructor(readonly dir: string) {}

  fileFor(key: LatentKey): string {
    const digest = createHash('sha256')
      .update(JSON.stringify([sourceIdentity(key.source), key.start, key.frames, key.stride, key.transform, key.vae]))
      .digest('hex');
    return path.join(this.dir, digest.slice(0, 2), `${digest.slice(0, 32)}.safetensors`);
  }

  has(key: LatentKey): boolean {
    return existsSync(this.fileFor(key));
  }

  /** The normalised latent mean [C, F', H', W'] (float32), or null when absent. */
  get(key: LatentKey): Tensor | null {
    return this.read(this.fileFor(key));
  }

  /** An entry by its file (from `fileFor`), or null when absent. */
  read(file: string): Tensor | null {
    if (!existsSync(file)) return null;
    const st = SafetensorsFile.open(file);
    if (!st.has('latents')) throw new FileFormatError(`${file}: a latent cache entry without 'latents'`);
    return st.get('latents');
  }

  put(key: LatentKey, latents: Tensor): void {
    const file = this.fileFor(key);
    mkdirSync(path.dirname(file), { recursive: true });
    saveSafetensors(
      file,
      { latents },
      {
        source: key.source,
        start: String(key.start),
        frames: String(key.frames),
        stride: String(key.stride),
        vae: key.vae,
      },
    );
  }
}

export interface CacheFillOptions {
  frames: number;
  stride: number;
  transform: ClipTransform;
  /** Windows cached per clip (spread evenly over it). */
  windows: number;
  withReference: boolean;
  vaeId: string;
  onProgress?: (done: number, total: number) => void;
}

/** The keys of a clip's cached windows (per view) and of its reference. */
export function clipKeys(
  clip: Clip,
  o: Pick<CacheFillOptions, 'frames' | 'stride' | 'transform' | 'windows' | 'vaeId'>,
): { starts: number[]; view: (view: View, start: number) => LatentKey; reference: () => LatentKey } {
  const starts = fixedWindowStarts(clip.frames, o.frames, o.stride, o.windows);
  return {
    starts,
    view: (view, start) => ({
      source: clip[view],
      start,
      frames: o.frames,
      stride: o.stride,
      transform: o.transform,
      vae: o.vaeId,
    }),
    reference: () => ({
      source: clip.reference!,
      start: 0,
      frames: 0,
      stride: 0,
      transform: o.transform,
      vae: o.vaeId,
    }),
  };
}

/** Windows VAE-encoded per call: one batched call runs convolutions several times faster than single clips. */
const ENCODE_BATCH = 16;

/**
 * Encodes what the cache lacks, in batches, with the windows decoded ahead (a batch's videos by one
 * ffmpeg process, else in worker processes);
 * returns how many entries were written and found.
 */
export async function fillLatentCache(
  cache: LatentCache,
  vae: AutoencoderKLWan,
  clips: readonly Clip[],
  o: CacheFillOptions,
): Promise<{ written: number; found: number }> {
  type Job = { clip: Clip; start: number; views: View[]; reference: boolean };
  const jobs: Job[] = [];
  let found = 0;
  for (const clip of clips) {
    const keys = clipKeys(clip, o);
    for (const start of keys.starts) {
      const views = (['first', 'third'] as const).filter((view) => !cache.has(keys.view(view, start)));
      const reference =
        o.withReference && clip.reference !== undefined && start === keys.starts[0] && !cache.has(keys.reference());
      found += 2 - views.length;
      if (views.length || reference) jobs.push({ clip, start, views, reference });
    }
  }
  const encode = (videos: Uint8Array[][]): Tensor[] =>
    noGrad(() =>
      scope(() => {
        const batch = stack(
          videos.map((frames) =>
            framesToTensor(frames, o.transform.width, o.transform.height, {
              dtype: vae.dtype,
              device: vae.device,
            }).squeeze(0),
          ),
          0,
        );
        using posterior = vae.encode(batch);
        return normalizeLatents(posterior.mean, vae.config)
          .float()
          .split(1, 0)
          .map((t) => t.squeeze(0).contiguous());
      }),
    );
  const pool = new ClipLoaderPool();
  let written = 0;
  try {
    const request = (job: Job): WindowRequest => ({
      clip: job.clip,
      start: job.start,
      frames: o.frames,
      stride: o.stride,
      transform: o.transform,
      withReference: job.reference,
      views: job.views,
    });
    /** A group's windows: one ffmpeg process for all their videos where it can, else a worker's request each. */
    const load = async (group: Job[]): Promise<LoadedWindow[]> =>
      (await loadWindows(group.map(request))) ?? Promise.all(group.map((job) => pool.load(request(job))));
    let ahead = prefetched(load(jobs.slice(0, ENCODE_BATCH)));
    for (let at = 0; at < jobs.length; at += ENCODE_BATCH) {
      const group = jobs.slice(at, at + ENCODE_BATCH);
      const windows = await ahead;
      ahead = prefetched(load(jobs.slice(at + ENCODE_BATCH, at + 2 * ENCODE_BATCH)));
      const videos: { key: LatentKey; frames: Uint8Array[] }[] = [];
      const references: { key: LatentKey; frames: Uint8Array[] }[] = [];
      group.forEach((job, i) => {
        const keys = clipKeys(job.clip, o);
        for (const view of job.views) videos.push({ key: keys.view(view, job.start), frames: windows[i]![view] });
        if (job.reference) references.push({ key: keys.reference(), frames: [windows[i]!.reference!] });
      });
      for (const part of [videos, references]) {
        for (let k = 0; k < part.length; k += ENCODE_BATCH) {
          const slice = part.slice(k, k + ENCODE_BATCH);
          using latents = owned(encode(slice.map((v) => v.frames)));
          slice.forEach((v, i) => cache.put(v.key, latents[i]!));
          written += slice.length;
        }
      }
      o.onProgress?.(Math.min(at + ENCODE_BATCH, jobs.length), jobs.length);
    }
  } finally {
    await pool.close();
  }
  return { written, found };
}
