// WanTransformer3DModel (diffusers), any config: patch embedding, condition embedder, blocks,
// modulated output norm, projection, unpatchify. Per-token timesteps (Wan2.2 TI2V), explicit
// RoPE frame positions and output slicing make it serve WorldWander's in-context sequences.
import path from 'node:path';

import { ModelInputError } from '../../errors.js';
import {
  backward,
  openTensorFile,
  openWeights,
  readJsonFile,
  scope,
  type DType,
  type Device,
  type Tensor,
} from '../../torch/index.js';
import {
  Conv3d,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  attachLora,
  forwardBackwardCheckpointed,
  loadPretrained,
  type LayerOptions,
  type LoadProgress,
  type LoraOptions,
  type WeightStorage,
} from '../../nn/index.js';
import { Modulation, scaleShiftTable, type TimestepRun } from './modulation.js';
import { WanRotaryPosEmbed, type RopeTables } from './rope.js';
import { WanTransformerBlock } from './transformer_block.js';
import { WanConditionEmbedder } from './transformer_embeddings.js';
import { innerDim, isOriginalConfig, parseTransformerConfig, type WanTransformerConfig } from './transformer_config.js';
import { dequantizedSource } from '../../torch/scaled_fp8.js';
import { asDiffusersSource, diffusersConfigFromOriginal } from './transformer_layouts.js';

/** The layers WorldWander adapts with LoRA: every attention projection and both FFN linears. */
export const WAN_LORA_TARGETS = ['to_q', 'to_k', 'to_v', 'to_out.0', 'ffn.net.0.proj', 'ffn.net.2'] as const;

export interface PretrainedOptions {
  dtype?: DType;
  device?: Device;
  /** Reports weight loading, tensor by tensor. */
  onProgress?: LoadProgress;
  /**
   * One weights file in any layout (e.g. a ComfyUI single file) instead of the folder's; the config
   * stays the folder's.
   */
  weights?: string;
  /**
   * Where the blocks' Linear weights are kept (`storeBlockWeights`): 'fp8' as e4m3fn bytes with a
   * scale (quantised per output row on load, or as a scaled fp8 file stores them), 'host' in host
   * memory (block swap); default in their parameters. Either way each is widened as its layer runs.
   */
  storage?: WeightStorage;
  /** Where the stored weights live (default the model's device; the CPU for block swap on a GPU). */
  storageDevice?: Device;
}

export interface TransformerInputs {
  /** Latents [B, in_channels, F, H, W]: the whole (possibly concatenated) sequence. */
  hiddenStates: Tensor;
  /** [B] (one timestep per sample) or [B, S] (one per token, S = tokens of hiddenStates). */
  timestep: Tensor;
  /** Text embeddings [B, T, text_dim]. */
  encoderHiddenStates: Tensor;
  /** RoPE frame position of each latent frame after patching; default 0, 1, 2, … */
  framePositions?: readonly number[];
  /** Keep only the last this-many patched frames of the output (the target); default all. */
  outputFrames?: number;
}

/** What the blocks work on, prepared from the inputs. */
interface Prepared {
  x: Tensor;
  temb: Tensor;
  timestepProj: Tensor;
  runs: TimestepRun[] | null;
  text: Tensor;
  rope: RopeTables;
  grid: { frames: number; height: number; width: number; batch: number; outputFrames: number };
}

export class WanTransformer3DModel extends Module {
  readonly rope: WanRotaryPosEmbed;
  readonly patch_embedding: Conv3d;
  readonly condition_embedder: WanConditionEmbedder;
  readonly blocks: ModuleList<WanTransformerBlock>;
  readonly norm_out: LayerNorm;
  readonly proj_out: Linear;
  readonly scale_shift_table: Tensor;
  /** The dtype activations are computed in (that of the bulk of the weights). */
  readonly dtype: DType;

  constructor(
    readonly config: WanTransformerConfig,
    options: LayerOptions = {},
  ) {
    super();
    const dim = innerDim(config);
    const [pt, ph, pw] = config.patch_size;
    this.dtype = options.dtype ?? 'float32';
    this.rope = this.registerModule(
      'rope',
      new WanRotaryPosEmbed(config.attention_head_dim, config.rope_max_seq_len, { device: options.device }),
    );
    this.patch_embedding = this.registerModule(
      'patch_embedding',
      new Conv3d(config.in_channels, dim, config.patch_size, { stride: config.patch_size, ...options }),
    );
    this.condition_embedder = this.registerModule(
      'condition_embedder',
      new WanConditionEmbedder(dim, config.freq_dim, config.text_dim, options),
    );
    const blocks: WanTransformerBlock[] = [];
    for (let i = 0; i < config.num_layers; i++) blocks.push(new WanTransformerBlock(config, options));
    this.blocks = this.registerModule('blocks', new ModuleList(blocks));
    this.norm_out = this.registerModule(
      'norm_out',
      new LayerNorm(dim, { eps: config.eps, elementwiseAffine: false, ...options }),
    );
    this.proj_out = this.registerModule('proj_out', new Linear(dim, config.out_channels * pt * ph * pw, options));
    this.scale_shift_table = this.registerParameter('scale_shift_table', scaleShiftTable([1, 2, dim], dim, options));
  }

  /** `dir/config.json` (diffusers' keys or the original release's WanModel ones). */
  static readConfig(dir: string): WanTransformerConfig {
    const file = path.join(dir, 'config.json');
    const raw = readJsonFile(file, 'transformer config') as Record<string, unknown>;
    return parseTransformerConfig(isOriginalConfig(raw) ? diffusersConfigFromOriginal(raw, file) : raw, file);
  }

  /**
   * Builds the model from `dir/config.json` without drawing weights, then loads
   * `diffusion_pytorch_model.safetensors` (or its sharded index) strictly: every missing,
   * unexpected, mis-shaped or wrongly typed key is named. With bfloat16 the parts diffusers keeps
   * in float32 (time_embedder, every scale_shift_table, blocks.N.norm2) stay so.
   */
  static fromPretrained(
    dir: string,
    { dtype = 'float32', device, onProgress, weights, storage, storageDevice }: PretrainedOptions = {},
  ): WanTransformer3DModel {
    const config = WanTransformer3DModel.readConfig(dir);
    const where = weights ?? dir;
    const { source } = asDiffusersSource(
      dequantizedSource(weights ? openTensorFile(weights) : openWeights(dir, 'diffusion_pytorch_model')),
      where,
    );
    const model = new WanTransformer3DModel(config, { init: 'empty', dtype, device });
    if (storage) model.storeBlockWeights(storage, { values: false, device: storageDevice });
    return loadPretrained(model, source, where, onProgress).eval();
  }

  /**
   * Keeps the Linear weights of every block outside their parameters (nn/stored_weight.ts): 'fp8'
   * (one byte per weight resident, ~4.9 GB of the 5B model's 10 GB in bfloat16) or 'host' (block
   * swap). Each is widened to the model's dtype and device as its layer runs and released after.
   * `values: false` for a model whose weights are still to be loaded; `device`: where the stores
   * live (the CPU for block swap on a GPU).
   */
  storeBlockWeights(
    storage: WeightStorage,
    { values = true, device }: { values?: boolean; device?: Device } = {},
  ): void {
    for (const [, module] of this.blocks.namedModules())
      if (module instanceof Linear) module.storeWeight(storage, { values, device });
  }

  /** How the blocks' Linear weights are kept (null: in their parameters). */
  get blockWeightStorage(): WeightStorage | null {
    return this.blocks.at(0).attn1.to_q.storage;
  }

  /** LoRA adapters on WAN_LORA_TARGETS (the rest frozen); returns the adapted layer names. */
  attachLora(options: LoraOptions): string[] {
    return attachLora(this, { ...options, targets: WAN_LORA_TARGETS });
  }

  /** The velocity prediction [B, out_channels, F_out, H, W] (F_out: outputFrames·pt, default all). */
  forward(inputs: TransformerInputs): Tensor {
    return scope(() => {
      const p = this.#prepare(inputs);
      let x = p.x;
      for (const block of this.blocks.items) x = block.forward(x, p.text, p.timestepProj, p.runs, p.rope);
      return this.#head(x, p.temb, p.runs, p.grid);
    });
  }

  /**
   * One training forward and backward: loss = lossFn(forward(inputs)), gradients accumulated
   * into every parameter that requires grad. With `checkpoint`, block activations are not kept:
   * each block is recomputed during the backward (same gradients, less memory).
   * Returns the loss value.
   */
  forwardBackward(
    inputs: TransformerInputs,
    lossFn: (sample: Tensor) => Tensor,
    { checkpoint = false }: { checkpoint?: boolean } = {},
  ): number {
    if (this.blockWeightStorage)
      throw new ModelInputError(
        `transformer: its block weights are kept ${this.blockWeightStorage === 'fp8' ? 'in fp8' : 'in host memory'}, for inference; train with them in their parameters (no fp8 or block swap)`,
      );
    return scope(() => {
      const p = this.#prepare(inputs);
      if (!checkpoint) {
        let x = p.x;
        for (const block of this.blocks.items) x = block.forward(x, p.text, p.timestepProj, p.runs, p.rope);
        const loss = lossFn(this.#head(x, p.temb, p.runs, p.grid));
        backward([loss]);
        return loss.item();
      }
      // Context order: text, timestepProj, temb (head only); RoPE tables and runs are constants.
      const segments = this.blocks.items.map(
        (block) => (x: Tensor, ctx: readonly Tensor[]) => block.forward(x, ctx[0]!, ctx[1]!, p.runs, p.rope),
      );
      const { loss } = forwardBackwardCheckpointed(p.x, [p.text, p.timestepProj, p.temb], segments, (y, ctx) =>
        lossFn(this.#head(y, ctx[2]!, p.runs, p.grid)),
      );
      return loss.item();
    });
  }

  #prepare({ hiddenStates, timestep, encoderHiddenStates, framePositions, outputFrames }: TransformerInputs): Prepared {
    const c = this.config;
    const [pt, ph, pw] = c.patch_size;
    if (hiddenStates.ndim !== 5 || hiddenStates.size(1) !== c.in_channels) {
      throw new ModelInputError(
        `transformer: hidden_states must be [B, ${c.in_channels}, F, H, W], got [${hiddenStates.shape.join(', ')}]`,
      );
    }
    const [batch, , f, h, w] = hiddenStates.shape as [number, number, number, number, number];
    if (f % pt || h % ph || w % pw)
      throw new ModelInputError(
        `transformer: latent [F, H, W] = [${f}, ${h}, ${w}] is not divisible by patch_size [${c.patch_size.join(', ')}]`,
      );
    const grid = { batch, frames: f / pt, height: h / ph, width: w / pw, outputFrames: outputFrames ?? f / pt };
    const tokens = grid.frames * grid.height * grid.width;
    if (!Number.isInteger(grid.outputFrames) || grid.outputFrames < 1 || grid.outputFrames > grid.frames) {
      throw new ModelInputError(
        `transformer: outputFrames must be an integer in [1, ${grid.frames}], got ${outputFrames}`,
      );
    }
    if (
      encoderHiddenStates.ndim !== 3 ||
      encoderHiddenStates.size(0) !== batch ||
      encoderHiddenStates.size(2) !== c.text_dim
    ) {
      throw new ModelInputError(
        `transformer: encoder_hidden_states must be [${batch}, T, ${c.text_dim}], got [${encoderHiddenStates.shape.join(', ')}]`,
      );
    }
    const perSample = timestep.ndim === 1 && timestep.size(0) === batch;
    const perToken = timestep.ndim === 2 && timestep.size(0) === batch && timestep.size(1) === tokens;
    if (!perSample && !perToken) {
      throw new ModelInputError(
        `transformer: timestep must be [${batch}] or [${batch}, ${tokens}] (one per token), got [${timestep.shape.join(', ')}]`,
      );
    }
    const positions = framePositions ?? Array.from({ length: grid.frames }, (_, i) => i);
    if (positions.length !== grid.frames)
      throw new ModelInputError(`transformer: ${positions.length} frame positions for ${grid.frames} patched frames`);

    const x = this.patch_embedding.tokens(hiddenStates.typeAs(this.patch_embedding.weight));
    const { temb, timestepProj, text, runs } = this.condition_embedder.forward(
      timestep,
      encoderHiddenStates.typeAs(this.patch_embedding.weight),
      tokens,
    );
    const rope = this.rope.forward({ framePositions: positions, height: grid.height, width: grid.width });
    return { x, temb, timestepProj, runs, text, rope, grid };
  }

  /** Output norm with shift/scale from temb, projection, slice to the target, unpatchify. */
  #head(x: Tensor, temb: Tensor, runs: readonly TimestepRun[] | null, grid: Prepared['grid']): Tensor {
    return scope(() => {
      const [pt, ph, pw] = this.config.patch_size;
      const perFrame = grid.height * grid.width;
      const keep = grid.outputFrames * perFrame;
      const total = x.size(1);
      const mod = Modulation.of(this.scale_shift_table, temb.unsqueeze(2), runs, ['shift', 'scale']).within(
        total - keep,
        keep,
      );
      const y = this.proj_out.forward(mod.affine(this.norm_out, x.narrow(1, total - keep, keep), 'shift', 'scale'));
      const c = this.config.out_channels;
      return y
        .reshape(grid.batch, grid.outputFrames, grid.height, grid.width, pt, ph, pw, c)
        .permute(0, 7, 1, 4, 2, 5, 3, 6)
        .reshape(grid.batch, c, grid.outputFrames * pt, grid.height * ph, grid.width * pw);
    });
  }
}
