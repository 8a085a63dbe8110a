// WanEncoder3d and WanDecoder3d (diffusers names), for the Wan2.1 layout (flat down_blocks,
// WanUpBlock) and the Wan2.2 residual layout (WanResidualDownBlock / WanResidualUpBlock).
import { consume, type Tensor } from '../../torch/index.js';
import type { LayerOptions } from '../../nn/init.js';
import { Module, ModuleList } from '../../nn/module.js';
import type { FeatureCache } from './vae_cache.js';
import {
  WanAttentionBlock,
  WanMidBlock,
  WanResample,
  WanResidualBlock,
  WanResidualDownBlock,
  WanResidualUpBlock,
  WanUpBlock,
  type ResampleMode,
  type VaeLayer,
} from './vae_blocks.js';
import type { WanVAEConfig } from './vae_config.js';
import { cachedConv, WanCausalConv3d, WanRMSNorm } from './vae_layers.js';

export class WanEncoder3d extends Module {
  readonly conv_in: WanCausalConv3d;
  readonly down_blocks: ModuleList<VaeLayer>;
  readonly mid_block: WanMidBlock;
  readonly norm_out: WanRMSNorm;
  readonly conv_out: WanCausalConv3d;

  constructor(c: WanVAEConfig, inChannels: number, outChannels: number, options: LayerOptions = {}) {
    super();
    const dims = [1, ...c.dim_mult].map((u) => c.base_dim * u);
    this.conv_in = this.registerModule(
      'conv_in',
      new WanCausalConv3d(inChannels, dims[0]!, 3, { padding: 1, ...options }),
    );
    const blocks: VaeLayer[] = [];
    let scale = 1;
    const last = c.dim_mult.length - 1;
    for (let i = 0; i <= last; i++) {
      let inDim = dims[i]!;
      const outDim = dims[i + 1]!;
      if (c.is_residual) {
        blocks.push(
          new WanResidualDownBlock(
            inDim,
            outDim,
            c.num_res_blocks,
            i !== last && c.temperal_downsample[i]!,
            i !== last,
            options,
          ),
        );
        continue;
      }
      for (let r = 0; r < c.num_res_blocks; r++) {
        blocks.push(new WanResidualBlock(inDim, outDim, options));
        if (c.attn_scales.includes(scale)) blocks.push(new WanAttentionBlock(outDim, options));
        inDim = outDim;
      }
      if (i !== last) {
        blocks.push(
          new WanResample(outDim, c.temperal_downsample[i] ? 'downsample3d' : 'downsample2d', undefined, options),
        );
        scale /= 2;
      }
    }
    this.down_blocks = this.registerModule('down_blocks', new ModuleList(blocks));
    const outDim = dims[dims.length - 1]!;
    this.mid_block = this.registerModule('mid_block', new WanMidBlock(outDim, options));
    this.norm_out = this.registerModule('norm_out', new WanRMSNorm(outDim, options));
    this.conv_out = this.registerModule(
      'conv_out',
      new WanCausalConv3d(outDim, outChannels, 3, { padding: 1, ...options }),
    );
  }

  forward(x: Tensor, cache: FeatureCache | null): Tensor {
    let y = cachedConv(this.conv_in, x, cache);
    for (const block of this.down_blocks.items) y = consume(y, (t) => block.forward(t, cache));
    y = consume(y, (t) => this.mid_block.forward(t, cache));
    y = consume(
      consume(y, (t) => this.norm_out.forward(t)),
      (t) => t.silu(),
    );
    return consume(y, (t) => cachedConv(this.conv_out, t, cache));
  }
}

export class WanDecoder3d extends Module {
  readonly conv_in: WanCausalConv3d;
  readonly mid_block: WanMidBlock;
  readonly up_blocks: ModuleList<VaeLayer>;
  readonly norm_out: WanRMSNorm;
  readonly conv_out: WanCausalConv3d;

  constructor(c: WanVAEConfig, outChannels: number, options: LayerOptions = {}) {
    super();
    const base = c.decoder_base_dim ?? c.base_dim;
    const mult = c.dim_mult;
    const dims = [mult[mult.length - 1]!, ...[...mult].reverse()].map((u) => base * u);
    const temporalUp = c.temperal_downsample.slice(0, mult.length - 1).reverse();
    this.conv_in = this.registerModule(
      'conv_in',
      new WanCausalConv3d(c.z_dim, dims[0]!, 3, { padding: 1, ...options }),
    );
    this.mid_block = this.registerModule('mid_block', new WanMidBlock(dims[0]!, options));
    const blocks: VaeLayer[] = [];
    const last = mult.length - 1;
    for (let i = 0; i <= last; i++) {
      let inDim = dims[i]!;
      const outDim = dims[i + 1]!;
      const up = i !== last;
      if (c.is_residual) {
        blocks.push(new WanResidualUpBlock(inDim, outDim, c.num_res_blocks, up && temporalUp[i]!, up, options));
        continue;
      }
      if (i > 0) inDim = Math.floor(inDim / 2);
      const mode: ResampleMode | null = up ? (temporalUp[i] ? 'upsample3d' : 'upsample2d') : null;
      blocks.push(new WanUpBlock(inDim, outDim, c.num_res_blocks, mode, options));
    }
    this.up_blocks = this.registerModule('up_blocks', new ModuleList(blocks));
    const outDim = dims[dims.length - 1]!;
    this.norm_out = this.registerModule('norm_out', new WanRMSNorm(outDim, options));
    this.conv_out = this.registerModule(
      'conv_out',
      new WanCausalConv3d(outDim, outChannels, 3, { padding: 1, ...options }),
    );
  }

  /** `firstChunk`: the first latent frame of a chunked decode, or a whole-sequence pass. */
  forward(x: Tensor, cache: FeatureCache | null, firstChunk: boolean): Tensor {
    let y = cachedConv(this.conv_in, x, cache);
    y = consume(y, (t) => this.mid_block.forward(t, cache));
    for (const block of this.up_blocks.items) y = consume(y, (t) => block.forward(t, cache, firstChunk));
    y = consume(
      consume(y, (t) => this.norm_out.forward(t)),
      (t) => t.silu(),
    );
    return consume(y, (t) => cachedConv(this.conv_out, t, cache));
  }
}
