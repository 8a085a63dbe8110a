// What a training step reads: the order of clips (a permutation per epoch, from the seed and the
// epoch alone, each rank taking every world-size-th entry), each clip's window (from the seed,
// epoch and position alone), and the clean latents of both views and the reference, either from
// the latent cache or decoded in worker processes and VAE-encoded here. No state but (epoch,
// position): a resumed run reads exactly what the uninterrupted one would.
import { createHash } from 'node:crypto';

import { FileFormatError } from '../errors.js';
import { Generator, noGrad, randperm, scope, stack, type Tensor } from '../torch/index.js';
import type { AutoencoderKLWan } from '../models/wan/vae.js';
import { normalizeLatents } from '../models/wan/latents.js';
import { ClipLoaderPool, type ClipTransform, type LoadedWindow } from '../data/clip_loader.js';
import { clipKeys, type LatentCache, type View } from '../data/latent_cache.js';
import { windowStartCount, type Clip } from '../data/triplets.js';
import { framesToTensor } from '../data/video_tensor.js';

export interface SampleRef {
  clip: Clip;
  start: number;
  /** seed/epoch/global index: the sample's name in the data order. */
  key: string;
}

/** A number in [0, 1) from the seed and a label: choices that need no generator state. */
function hashUniform(...parts: (string | number)[]): number {
  return createHash('sha256').update(parts.join('/')).digest().readUInt32LE(0) / 2 ** 32;
}

/** The permutation of clip indices of one epoch (the same on every rank). */
export function epochOrder(seed: number, epoch: number, clips: number): number[] {
  return scope(() => randperm(clips, new Generator(BigInt(seed) * 1_000_003n + BigInt(epoch))).toArray());
}

/**
 * The data order of one rank: its shard of each epoch's permutation (global indices r, r + W, …).
 * A sample is named by (epoch, global index), and everything random about it (its window, and the
 * trainer's noise, timestep and text dropout) derives from that name alone: a run of one process
 * with batch 2B sees exactly the samples and draws of two ranks with batch B, and a resumed run
 * needs nothing but (epoch, position).
 */
export class SampleOrder {
  #epoch: number;
  #position: number;
  #order: number[];

  constructor(
    readonly clips: readonly Clip[],
    readonly seed: number,
    readonly rank: number,
    readonly worldSize: number,
    readonly starts: (clip: Clip, choice: number) => number,
    epoch = 0,
    position = rank,
  ) {
    if (clips.length < worldSize)
      throw new FileFormatError(`${clips.length} clip(s) cannot be shared by ${worldSize} ranks`);
    this.#epoch = epoch;
    this.#position = position;
    this.#order = epochOrder(seed, epoch, clips.length);
  }

  get epoch(): number {
    return this.#epoch;
  }
  /** The next global index this rank reads in the epoch's permutation. */
  get position(): number {
    return this.#position;
  }

  /** The next `count` samples (across epoch ends; an epoch's last incomplete round is dropped). */
  take(count: number): SampleRef[] {
    const out: SampleRef[] = [];
    const usable = this.clips.length - (this.clips.length % this.worldSize);
    while (out.length < count) {
      if (this.#position >= usable) {
        this.#epoch++;
        this.#position = this.rank;
        this.#order = epochOrder(this.seed, this.#epoch, this.clips.length);
      }
      const clip = this.clips[this.#order[this.#position]!]!;
      const key = sampleKey(this.seed, this.#epoch, this.#position);
      out.push({ clip, start: this.starts(clip, hashUniform(key, 'window')), key });
      this.#position += this.worldSize;
    }
    return out;
  }

  /** The samples `take(count)` would give, without moving (for prefetching). */
  peek(count: number): SampleRef[] {
    const saved = [this.#epoch, this.#position, this.#order] as const;
    const samples = this.take(count);
    [this.#epoch, this.#position, this.#order] = saved;
    return samples;
  }
}

/** The name of a sample, from which its random draws are seeded. */
export function sampleKey(seed: number, epoch: number, index: number): string {
  return `${seed}/${epoch}/${index}`;
}

/** A seed (53 bits) from a sample's key and a label. */
export function sampleSeed(key: string, label: string): bigint {
  return createHash('sha256').update(`${key}/${label}`).digest().readBigUInt64LE(0) >> 11n;
}

/** A batch's clean latents [B, C, F, H, W] (float32, normalised), the reference's when asked. */
export interface LatentBatch {
  first: Tensor;
  third: Tensor;
  reference: Tensor | null;
  names: string[];
}

export interface LatentSource {
  /** How a clip's window start is chosen from a uniform number. */
  start(clip: Clip, choice: number): number;
  batch(samples: readonly SampleRef[]): Promise<LatentBatch>;
  /** Starts decoding samples that will be asked for soon (no-op for the cache). */
  prefetch(samples: readonly SampleRef[]): void;
  close(): Promise<void>;
  /** Seconds spent waiting for data so far. */
  readonly waited: number;
}

export interface WindowSpec {
  frames: number;
  stride: number;
  transform: ClipTransform;
}

/** Latents read from the cache (filled before training): windows are among the cached starts. */
export class CachedLatents implements LatentSource {
  waited = 0;
  readonly #files = new Map<string, string>();

  constructor(
    readonly cache: LatentCache,
    readonly spec: WindowSpec & { windows: number; vaeId: string },
    readonly withReference: boolean,
  ) {}

  start(clip: Clip, choice: number): number {
    const starts = clipKeys(clip, this.spec).starts;
    return starts[Math.floor(choice * starts.length)]!;
  }

  /** A cached latent; the entry's file name is worked out once per clip and window (it stats the source). */
  #read(clip: Clip, key: string, make: () => Parameters<LatentCache['fileFor']>[0]): Tensor {
    const memo = `${clip.name}/${key}`;
    let file = this.#files.get(memo);
    if (!file) {
      file = this.cache.fileFor(make());
      this.#files.set(memo, file);
    }
    const latents = this.cache.read(file);
    if (!latents)
      throw new FileFormatError(
        `${file}: the latent cache lacks ${clip.name} (${key}); fill it again (worldwander cache-latents)`,
      );
    return latents;
  }

  async batch(samples: readonly SampleRef[]): Promise<LatentBatch> {
    const started = performance.now();
    const result = scope(() => {
      const load = (view: View) =>
        stack(
          samples.map(({ clip, start }) =>
            this.#read(clip, `${view}@${start}`, () => clipKeys(clip, this.spec).view(view, start)),
          ),
          0,
        );
      return {
        first: load('first'),
        third: load('third'),
        reference: this.withReference
          ? stack(
              samples.map(({ clip }) => this.#read(clip, 'reference', () => clipKeys(clip, this.spec).reference())),
              0,
            )
          : null,
        names: samples.map((s) => `${s.clip.name}@${s.start}`),
      };
    });
    this.waited += (performance.now() - started) / 1000;
    return result;
  }

  prefetch(): void {}
  async close(): Promise<void> {}
}

/** Windows decoded in worker processes (requested ahead) and VAE-encoded here, as the release trains. */
export class DecodedLatents implements LatentSource {
  waited = 0;
  readonly #pool: ClipLoaderPool;
  readonly #requested = new Map<string, Promise<LoadedWindow>>();

  constructor(
    readonly vae: AutoencoderKLWan,
    readonly spec: WindowSpec,
    readonly withReference: boolean,
    threads?: number,
  ) {
    this.#pool = new ClipLoaderPool(threads);
  }

  start(clip: Clip, choice: number): number {
    return Math.floor(choice * windowStartCount(clip.frames, this.spec.frames, this.spec.stride));
  }

  #key(s: SampleRef): string {
    return `${s.clip.name}@${s.start}`;
  }

  prefetch(samples: readonly SampleRef[]): void {
    for (const s of samples) {
      const key = this.#key(s);
      if (!this.#requested.has(key))
        this.#requested.set(
          key,
          this.#pool.load({
            clip: s.clip,
            start: s.start,
            frames: this.spec.frames,
            stride: this.spec.stride,
            transform: this.spec.transform,
            withReference: this.withReference,
          }),
        );
    }
  }

  async batch(samples: readonly SampleRef[]): Promise<LatentBatch> {
    this.prefetch(samples);
    const started = performance.now();
    const windows = await Promise.all(samples.map((s) => this.#requested.get(this.#key(s))!));
    this.waited += (performance.now() - started) / 1000;
    for (const s of samples) this.#requested.delete(this.#key(s));
    const { width, height } = this.spec.transform;
    const encode = (frames: Uint8Array[][]): Tensor =>
      noGrad(() =>
        scope(() => {
          const videos = frames.map((f) =>
            framesToTensor(f, width, height, { dtype: this.vae.dtype, device: this.vae.device }),
          );
          using posterior = this.vae.encode(
            videos.length === 1
              ? videos[0]!
              : stack(
                  videos.map((v) => v.squeeze(0)),
                  0,
                ),
          );
          return normalizeLatents(posterior.mean, this.vae.config).float();
        }),
      );
    return {
      first: encode(windows.map((w) => w.first)),
      third: encode(windows.map((w) => w.third)),
      reference: this.withReference ? encode(windows.map((w) => [w.reference!])) : null,
      names: samples.map((s) => this.#key(s)),
    };
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}
