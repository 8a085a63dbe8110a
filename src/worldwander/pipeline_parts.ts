// The pipeline's model parts and what stays in memory between its stages. Each part is loaded
// when a stage first asks for it; with offload 'none' it then stays, with 'model' (and 'blocks')
// only one part is held at a time: asking for one releases the other first, and what it held goes
// back to the system (the allocator's cache emptied), so the peak is the largest part's, not
// their sum. On the 5B model that is the transformer (10 GB in bfloat16, ~5 GB in fp8) against the
// VAE (2.8 GB in float32).
import os from 'node:os';

import { emptyCache, hasFastBf16, itemSize, type DType } from '../torch/index.js';
import type { AutoencoderKLWan } from '../models/wan/vae.js';
import type { WanTransformer3DModel } from '../models/wan/transformer.js';
import type { WanTransformerConfig } from '../models/wan/transformer_config.js';
import type { WanVAEConfig } from '../models/wan/vae_config.js';

/**
 * What stays in memory between stages: 'none' keeps the transformer and the VAE once loaded;
 * 'model' holds one part at a time (diffusers' model offload; here a released part is read from
 * its files again when next needed); 'blocks' is 'model' with the transformer's block weights in
 * host memory, copied to the device a layer at a time (block swap; on a CPU the same as 'model').
 */
export type OffloadMode = 'none' | 'model' | 'blocks';

type Part = 'transformer' | 'vae';

export interface PartLoaders {
  transformer: () => WanTransformer3DModel;
  vae: () => AutoencoderKLWan;
}

/** Bytes of the parts' weights (fp8 weights at one byte): what 'auto' offload weighs against the memory. */
export function partBytes(
  counts: { transformer: number; vae: number },
  { dtype = 'float32', weightsDtype, vaeDtype = 'float32' }: { dtype?: DType; weightsDtype?: 'fp8'; vaeDtype?: DType },
): number {
  return counts.transformer * (weightsDtype === 'fp8' ? 1 : itemSize[dtype]) + counts.vae * itemSize[vaeDtype];
}

/**
 * The offload a CPU run needs: 'model' when the transformer's and the VAE's weights together would
 * take more than a quarter of the machine's memory (the 5B model's 12.8 GB in bfloat16, or 7.8 GB
 * with fp8 weights, on this 24 GB machine), else 'none'. On a GPU the device's memory decides, which
 * this engine does not read: 'none' there unless asked.
 */
export function autoOffload(bytes: number, device: string, totalMemory = os.totalmem()): OffloadMode {
  if (device !== 'cpu') return 'none';
  return bytes > totalMemory / 4 ? 'model' : 'none';
}

/**
 * The VAE dtype `infer` picks: bfloat16 on a CPU with bf16 instructions, measured 2.5-4x faster than
 * float32 there (docs/BENCHMARKS.md) and within 0.02 dB of its reconstruction on the bundled VAE;
 * float32 elsewhere (without them bf16 runs ~30x slower) and on GPUs, as the release computes it.
 */
export function defaultVaeDtype(device: string): DType {
  return device === 'cpu' && hasFastBf16() ? 'bfloat16' : 'float32';
}

export class PipelineParts {
  #transformer: WanTransformer3DModel | null;
  #vae: AutoencoderKLWan | null;
  /** Seconds spent loading parts since the last `takeLoadSeconds()`. */
  #loadSeconds = 0;

  constructor(
    readonly transformerConfig: WanTransformerConfig,
    readonly vaeConfig: WanVAEConfig,
    readonly offload: OffloadMode,
    private readonly loaders: PartLoaders | null,
    models: { transformer?: WanTransformer3DModel; vae?: AutoencoderKLWan } = {},
  ) {
    this.#transformer = models.transformer ?? null;
    this.#vae = models.vae ?? null;
  }

  /** Parts given already loaded (a trainer's models): never loaded, released or disposed here. */
  static of(transformer: WanTransformer3DModel, vae: AutoencoderKLWan): PipelineParts {
    return new PipelineParts(transformer.config, vae.config, 'none', null, { transformer, vae });
  }

  get transformer(): WanTransformer3DModel {
    return (this.#transformer ??= this.#load('transformer') as WanTransformer3DModel);
  }

  get vae(): AutoencoderKLWan {
    return (this.#vae ??= this.#load('vae') as AutoencoderKLWan);
  }

  /** Which parts are in memory now. */
  get loaded(): Part[] {
    return [...(this.#transformer ? ['transformer' as const] : []), ...(this.#vae ? ['vae' as const] : [])];
  }

  /** Seconds spent loading since the last call (and resets the count). */
  takeLoadSeconds(): number {
    const s = this.#loadSeconds;
    this.#loadSeconds = 0;
    return s;
  }

  /** Loads every part now (offload 'none': the load happens up front, not in the first translation). */
  loadAll(): void {
    void this.transformer;
    void this.vae;
  }

  /** Releases what it loaded (before another model, the text encoder, loads); the next use loads it again. */
  release(): void {
    if (!this.loaders) return;
    const held = this.#transformer ?? this.#vae;
    this.#transformer?.dispose();
    this.#vae?.dispose();
    this.#transformer = this.#vae = null;
    if (held) emptyCache(); // freed weights would otherwise stay in the allocator's cache, resident
  }

  #load(part: Part): WanTransformer3DModel | AutoencoderKLWan {
    if (!this.loaders) throw new Error(`the pipeline's ${part} was released and cannot be loaded again`);
    if (this.offload !== 'none') this.release();
    const started = performance.now();
    try {
      return this.loaders[part]();
    } finally {
      emptyCache(); // the load's temporary buffers (dtype conversions) leave with it
      this.#loadSeconds += (performance.now() - started) / 1000;
    }
  }

  dispose(): void {
    this.release();
  }
}
