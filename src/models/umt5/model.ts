// UMT5EncoderModel (transformers): token embedding `shared`, `num_layers` blocks each with its own
// relative-position bias, T5 RMS norms, gated-GELU FFN, and `encoder.final_layer_norm`.
import { ModelInputError } from '../../errors.js';
import path from 'node:path';

import {
  embedding,
  full,
  scope,
  type DType,
  type Device,
  type Tensor,
  type TensorInfo,
  type TensorSource,
  openTensorFile,
  openWeights,
} from '../../torch/index.js';
import type { LayerOptions } from '../../nn/init.js';
import { loadPretrained, Module, ModuleList, type LoadProgress } from '../../nn/module.js';
import { readUMT5Config, type UMT5Config } from './config.js';
import { EmbeddingTable, UMT5Attention, UMT5DenseGatedActDense, UMT5LayerNorm } from './layers.js';
import { asTransformersSource, umt5ConfigFromShapes } from './layouts.js';
import { dequantizedSource } from '../../torch/scaled_fp8.js';

class UMT5SelfAttentionLayer extends Module {
  readonly SelfAttention: UMT5Attention;
  readonly layer_norm: UMT5LayerNorm;
  constructor(c: UMT5Config, options: LayerOptions) {
    super();
    this.SelfAttention = this.registerModule(
      'SelfAttention',
      new UMT5Attention(
        c.d_model,
        c.num_heads,
        c.d_kv,
        c.relative_attention_num_buckets,
        c.relative_attention_max_distance,
        options,
      ),
    );
    this.layer_norm = this.registerModule('layer_norm', new UMT5LayerNorm(c.d_model, c.layer_norm_epsilon, options));
  }
}

class UMT5FeedForwardLayer extends Module {
  readonly DenseReluDense: UMT5DenseGatedActDense;
  readonly layer_norm: UMT5LayerNorm;
  constructor(c: UMT5Config, options: LayerOptions) {
    super();
    this.DenseReluDense = this.registerModule('DenseReluDense', new UMT5DenseGatedActDense(c.d_model, c.d_ff, options));
    this.layer_norm = this.registerModule('layer_norm', new UMT5LayerNorm(c.d_model, c.layer_norm_epsilon, options));
  }
}

export class UMT5Block extends Module {
  readonly layer: ModuleList;
  readonly attention: UMT5SelfAttentionLayer;
  readonly ffn: UMT5FeedForwardLayer;

  constructor(c: UMT5Config, options: LayerOptions) {
    super();
    this.attention = new UMT5SelfAttentionLayer(c, options);
    this.ffn = new UMT5FeedForwardLayer(c, options);
    this.layer = this.registerModule('layer', new ModuleList([this.attention, this.ffn]));
  }

  forward(x: Tensor, maskBias: Tensor | null): Tensor {
    return scope(() => {
      const y = x.add(this.attention.SelfAttention.forward(this.attention.layer_norm.forward(x), maskBias));
      return y.add(this.ffn.DenseReluDense.forward(this.ffn.layer_norm.forward(y)));
    });
  }
}

class UMT5Stack extends Module {
  readonly block: ModuleList<UMT5Block>;
  readonly final_layer_norm: UMT5LayerNorm;
  constructor(c: UMT5Config, options: LayerOptions) {
    super();
    this.block = this.registerModule(
      'block',
      new ModuleList(Array.from({ length: c.num_layers }, () => new UMT5Block(c, options))),
    );
    this.final_layer_norm = this.registerModule(
      'final_layer_norm',
      new UMT5LayerNorm(c.d_model, c.layer_norm_epsilon, options),
    );
  }
}

/** Smallest finite value of a float dtype (the additive mask for padded keys). */
function dtypeMin(dtype: DType): number {
  if (dtype === 'bfloat16') return -3.3895313892515355e38;
  if (dtype === 'float16') return -65504;
  if (dtype === 'float64') return -Number.MAX_VALUE;
  return -3.4028234663852886e38;
}

export class UMT5EncoderModel extends Module {
  readonly shared: EmbeddingTable;
  readonly encoder: UMT5Stack;

  constructor(
    readonly config: UMT5Config,
    options: LayerOptions = {},
  ) {
    super();
    this.shared = this.registerModule('shared', new EmbeddingTable(config.vocab_size, config.d_model, options));
    this.encoder = this.registerModule('encoder', new UMT5Stack(config, options));
    this.eval();
  }

  /**
   * Loads a transformers `text_encoder/` folder (config.json + model[.safetensors|.safetensors.index.json]), strictly.
   * In float32 unless `dtype` says otherwise, as every fromPretrained here (and transformers') loads.
   */
  static fromPretrained(
    dir: string,
    { dtype = 'float32', device, onProgress }: { dtype?: DType; device?: Device; onProgress?: LoadProgress } = {},
  ): UMT5EncoderModel {
    const config = readUMT5Config(path.join(dir, 'config.json'));
    const source = withoutTiedCopy(openWeights(dir, 'model'));
    return loadPretrained(new UMT5EncoderModel(config, { init: 'empty', dtype, device }), source, dir, onProgress);
  }

  /**
   * Loads one weights file in any layout: transformers', the original release's
   * `models_t5_umt5-xxl-enc-bf16.pth` (Wan's T5Encoder names), ComfyUI's single files (fp8 scaled
   * included). The config is `configFile`'s, else read off the weights' shapes (layouts.ts).
   * In float32 unless `dtype` says otherwise.
   */
  static fromSingleFile(
    file: string,
    {
      configFile,
      dtype = 'float32',
      device,
      onProgress,
    }: { configFile?: string; dtype?: DType; device?: Device; onProgress?: LoadProgress } = {},
  ): UMT5EncoderModel {
    const { source: named } = asTransformersSource(dequantizedSource(openTensorFile(file)), file);
    const source = withoutTiedCopy(named);
    const config = configFile ? readUMT5Config(configFile) : umt5ConfigFromShapes(source, file);
    return loadPretrained(new UMT5EncoderModel(config, { init: 'empty', dtype, device }), source, file, onProgress);
  }

  /** input_ids [B, L] (int64), attention_mask [B, L] (1 = token, 0 = pad) → last_hidden_state [B, L, d_model]. */
  forward(inputIds: Tensor, attentionMask: Tensor | null = null): Tensor {
    if (inputIds.ndim !== 2)
      throw new ModelInputError(`UMT5EncoderModel: input_ids must be [B, L], got [${inputIds.shape.join(', ')}]`);
    if (
      attentionMask &&
      (attentionMask.ndim !== 2 ||
        attentionMask.size(0) !== inputIds.size(0) ||
        attentionMask.size(1) !== inputIds.size(1))
    ) {
      throw new ModelInputError(
        `UMT5EncoderModel: attention_mask [${attentionMask.shape.join(', ')}] must match input_ids [${inputIds.shape.join(', ')}]`,
      );
    }
    return scope(() => {
      const dtype = this.shared.weight.dtype;
      const ids = inputIds.dtype === 'int64' ? inputIds : inputIds.to({ dtype: 'int64' });
      let x = embedding(ids.to({ device: this.shared.weight.device }), this.shared.weight);
      let maskBias: Tensor | null = null;
      if (attentionMask) {
        const keep = attentionMask.to({ dtype, device: x.device });
        // (1 − mask)·min: 0 for tokens, the dtype's minimum for padded keys.
        maskBias = keep
          .neg()
          .add(1)
          .mul(full([1], dtypeMin(dtype), { dtype, device: x.device }))
          .view(keep.size(0), 1, 1, keep.size(1));
      }
      for (const block of this.encoder.block.items) {
        const next = scope(() => block.forward(x, maskBias));
        x.dispose();
        x = next;
      }
      return this.encoder.final_layer_norm.forward(x);
    });
  }
}

/**
 * Hides `encoder.embed_tokens.weight` (transformers' tied copy of `shared.weight`), using it only
 * when `shared.weight` is absent.
 */
function withoutTiedCopy(source: TensorSource): TensorSource {
  const tied = 'encoder.embed_tokens.weight';
  if (!source.has(tied)) return source;
  const useTied = !source.has('shared.weight');
  const rename = (key: string): string => (useTied && key === 'shared.weight' ? tied : key);
  return {
    keys: () =>
      source
        .keys()
        .filter((k) => k !== tied)
        .concat(useTied ? ['shared.weight'] : []),
    has: (key: string) => key !== tied && (source.has(key) || (useTied && key === 'shared.weight')),
    info: (key: string): TensorInfo => source.info(rename(key)),
    get: (key: string, options) => source.get(rename(key), options),
  };
}
