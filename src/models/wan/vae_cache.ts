// The causal feature cache of the Wan VAE: one slot per temporally padded conv (and per temporal
// resampler), filled in forward call order. A slot holds the last CACHE_T frames of that layer's
// input from the previous chunk, so the next chunk sees them instead of zero padding.
import { cat, keep, Tensor } from '../../torch/index.js';

export const CACHE_T = 2;

/** 'Rep' marks an upsample3d whose first chunk skipped its time conv (diffusers' sentinel). */
export type CacheEntry = Tensor | 'Rep' | null;

export class FeatureCache {
  readonly #slots: CacheEntry[] = [];
  #index = 0;

  /** Called before each chunk: slots are visited again from the first. */
  startChunk(): void {
    this.#index = 0;
  }

  /** The next slot in call order. */
  nextSlot(): number {
    return this.#index++;
  }

  get(slot: number): CacheEntry {
    return this.#slots[slot] ?? null;
  }

  /** Stores a value (kept alive outside any scope), releasing what the slot held. */
  set(slot: number, value: CacheEntry): void {
    const old = this.#slots[slot];
    if (old && old !== 'Rep' && old !== value) old.dispose();
    if (value && value !== 'Rep') keep(value);
    this.#slots[slot] = value;
  }

  /** Slots used so far (the encoder uses 24 for the Wan2.2 config, the decoder 32). */
  get used(): number {
    return this.#slots.length;
  }

  clear(): void {
    for (const s of this.#slots) if (s && s !== 'Rep') s.dispose();
    this.#slots.length = 0;
    this.#index = 0;
  }

  /** `using cache = new FeatureCache()`: cleared at the end of the block. */
  [Symbol.dispose](): void {
    this.clear();
  }
}

/**
 * What a cached conv stores for the next chunk: the last CACHE_T frames of its input, with the
 * previous cache's last frame prepended when this chunk has a single frame.
 */
export function tailForCache(x: Tensor, previous: CacheEntry): Tensor {
  const frames = x.size(2);
  const tail = x.narrow(2, Math.max(0, frames - CACHE_T), Math.min(CACHE_T, frames));
  if (tail.size(2) < CACHE_T && previous instanceof Tensor) {
    const last = previous.narrow(2, previous.size(2) - 1, 1);
    const joined = cat([last, tail], 2);
    last.dispose();
    tail.dispose();
    return joined;
  }
  const copy = tail.clone();
  tail.dispose();
  return copy;
}
