// AutoencoderKLWan (diffusers): video [B,3,T,H,W] in [-1,1] ↔ latents [B,z,1+(T-1)/4,H/16,W/16]
// for the Wan2.2 config. Encoding runs frame 0 alone and then chunks of `temporal` frames through
// the causal feature cache; decoding runs one latent frame at a time. Only the cache (the last 2
// frames of each causal conv's input) lives across chunks, so memory is bounded by a chunk.
import path from 'node:path';

import { ModelInputError } from '../../errors.js';
import {
  cat,
  consume,
  openTensorFile,
  openWeights,
  owned,
  randn,
  scope,
  type DType,
  type Device,
  type Generator,
  type Tensor,
} from '../../torch/index.js';
import type { LayerOptions } from '../../nn/init.js';
import { loadPretrained, Module, type LoadProgress } from '../../nn/module.js';
import { FeatureCache } from './vae_cache.js';
import { WanDecoder3d, WanEncoder3d } from './vae_coders.js';
import { compression, patchedChannels, readVaeConfig, type WanVAEConfig } from './vae_config.js';
import { WanCausalConv3d, patchify, unpatchify } from './vae_layers.js';
import { asDiffusersVaeSource, vaeConfigFromShapes } from './vae_layouts.js';
import { dequantizedSource } from '../../torch/scaled_fp8.js';

export interface VaePassOptions {
  /** false: one whole-sequence causal pass (the reference the chunked schedule must equal; holds every frame). */
  chunked?: boolean;
}

export class AutoencoderKLWan extends Module {
  readonly encoder: WanEncoder3d;
  readonly quant_conv: WanCausalConv3d;
  readonly post_quant_conv: WanCausalConv3d;
  readonly decoder: WanDecoder3d;
  readonly temporalCompression: number;
  readonly spatialCompression: number;
  readonly videoChannels: number;

  constructor(
    readonly config: WanVAEConfig,
    options: LayerOptions = {},
  ) {
    super();
    const { encoderIn, decoderOut, videoChannels } = patchedChannels(config);
    const z = config.z_dim;
    this.encoder = this.registerModule('encoder', new WanEncoder3d(config, encoderIn, 2 * z, options));
    this.quant_conv = this.registerModule('quant_conv', new WanCausalConv3d(2 * z, 2 * z, 1, options));
    this.post_quant_conv = this.registerModule('post_quant_conv', new WanCausalConv3d(z, z, 1, options));
    this.decoder = this.registerModule('decoder', new WanDecoder3d(config, decoderOut, options));
    const { temporal, spatial } = compression(config);
    this.temporalCompression = temporal;
    this.spatialCompression = spatial;
    this.videoChannels = videoChannels;
    this.eval();
  }

  /** The dtype and device of the weights (inputs are taken in these). */
  get dtype(): DType {
    return this.quant_conv.weight.dtype;
  }
  get device(): Device {
    return this.quant_conv.weight.device;
  }

  /** Loads a diffusers `vae/` folder (config.json + diffusion_pytorch_model[.safetensors|.index.json]), strictly. */
  static fromPretrained(
    dir: string,
    { dtype = 'float32', device, onProgress }: { dtype?: DType; device?: Device; onProgress?: LoadProgress } = {},
  ): AutoencoderKLWan {
    const config = readVaeConfig(path.join(dir, 'config.json'));
    return loadPretrained(
      new AutoencoderKLWan(config, { init: 'empty', dtype, device }),
      openWeights(dir, 'diffusion_pytorch_model'),
      dir,
      onProgress,
    );
  }

  /**
   * Loads one weights file in any layout: diffusers', or the original release's `Wan2.2_VAE.pth`
   * and ComfyUI's `wan2.2_vae.safetensors` (original names). The config is `configFile`'s, else
   * read off the weights' shapes (vae_layouts.ts).
   */
  static fromSingleFile(
    file: string,
    {
      configFile,
      dtype = 'float32',
      device,
      onProgress,
    }: { configFile?: string; dtype?: DType; device?: Device; onProgress?: LoadProgress } = {},
  ): AutoencoderKLWan {
    const { source } = asDiffusersVaeSource(dequantizedSource(openTensorFile(file)), file);
    const config = configFile ? readVaeConfig(configFile) : vaeConfigFromShapes(source, file);
    return loadPretrained(new AutoencoderKLWan(config, { init: 'empty', dtype, device }), source, file, onProgress);
  }

  /** Latent frames for `frames` video frames; throws unless frames = 1 + temporal·k. */
  latentFrames(frames: number): number {
    const r = this.temporalCompression;
    if (!Number.isInteger(frames) || frames < 1 || (frames - 1) % r !== 0) {
      throw new ModelInputError(
        `AutoencoderKLWan: a video needs 1 + ${r}k frames (1, ${1 + r}, ${1 + 2 * r}, …, 49, …), got ${frames}`,
      );
    }
    return 1 + (frames - 1) / r;
  }

  #checkVideo(video: Tensor): void {
    const s = this.spatialCompression;
    if (video.ndim !== 5 || video.size(1) !== this.videoChannels) {
      throw new ModelInputError(
        `AutoencoderKLWan.encode: expected video [B,${this.videoChannels},T,H,W], got [${video.shape.join(', ')}]`,
      );
    }
    this.latentFrames(video.size(2));
    if (video.size(3) % s !== 0 || video.size(4) % s !== 0) {
      throw new ModelInputError(
        `AutoencoderKLWan.encode: height ${video.size(3)} and width ${video.size(4)} must be multiples of ${s}`,
      );
    }
  }

  /** Encoder moments [B, 2z, T', H', W'] (mean and logvar halves). */
  encodeMoments(video: Tensor, { chunked = true }: VaePassOptions = {}): Tensor {
    this.#checkVideo(video);
    using x = patchify(video, this.config.patch_size ?? 1);
    if (!chunked) return scope(() => this.quant_conv.forward(this.encoder.forward(x, null)));
    using cache = new FeatureCache();
    using pieces = owned<Tensor[]>([]);
    const r = this.temporalCompression;
    for (let start = 0; start < x.size(2); start += start === 0 ? 1 : r) {
      const length = start === 0 ? 1 : r;
      cache.startChunk();
      pieces.push(scope(() => this.quant_conv.forward(this.encoder.forward(x.narrow(2, start, length), cache))));
    }
    return pieces.length === 1 ? pieces[0]!.clone() : cat(pieces, 2);
  }

  /** The posterior over latents; `.mode()` (the mean) is what the pipeline uses. */
  encode(video: Tensor, options: VaePassOptions = {}): DiagonalGaussian {
    using moments = this.encodeMoments(video, options);
    return new DiagonalGaussian(moments);
  }

  /**
   * Latents [B,z,T',H',W'] → video [B,3,1+temporal·(T'-1),H,W], clamped to [-1,1] (unless `clamp:
   * false`, for training).
   */
  decode(latent: Tensor, { chunked = true, clamp = true }: VaePassOptions & { clamp?: boolean } = {}): Tensor {
    if (latent.ndim !== 5 || latent.size(1) !== this.config.z_dim) {
      throw new ModelInputError(
        `AutoencoderKLWan.decode: expected latent [B,${this.config.z_dim},T,H,W], got [${latent.shape.join(', ')}]`,
      );
    }
    const patched = scope(() => {
      const z = this.post_quant_conv.forward(latent);
      if (!chunked) return this.decoder.forward(z, null, true);
      const cache = new FeatureCache();
      const pieces: Tensor[] = [];
      try {
        for (let i = 0; i < z.size(2); i++) {
          cache.startChunk();
          pieces.push(scope(() => this.decoder.forward(z.narrow(2, i, 1), cache, i === 0)));
        }
        return pieces.length === 1 ? pieces[0]! : cat(pieces, 2);
      } finally {
        cache.clear();
      }
    });
    const video = unpatchify(patched, this.config.patch_size ?? 1);
    patched.dispose();
    return clamp ? consume(video, (t) => t.clamp(-1, 1)) : video;
  }
}

/** The VAE posterior N(mean, exp(logvar)) over latents (diffusers DiagonalGaussianDistribution). */
export class DiagonalGaussian {
  /** mean and logvar are the two channel halves of the encoder's moments; logvar clamped to [-30, 20]. */
  readonly mean: Tensor;
  readonly logvar: Tensor;

  constructor(moments: Tensor) {
    using halves = owned(moments.chunk(2, 1) as [Tensor, Tensor]);
    this.mean = halves[0].contiguous();
    this.logvar = halves[1].clamp(-30, 20);
  }

  /** The pipeline's choice: the mean. */
  mode(): Tensor {
    return this.mean.clone();
  }

  /** mean + exp(logvar/2)·ε, ε ~ N(0, 1) from `generator`. */
  sample(generator: Generator): Tensor {
    using eps = randn(this.mean.shape, generator, { dtype: this.mean.dtype, device: this.mean.device });
    using std = this.logvar.mul(0.5).exp();
    using scaled = std.mul(eps);
    return scaled.add(this.mean);
  }

  /** `using x = ...`: released at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    this.mean.dispose();
    this.logvar.dispose();
  }
}
