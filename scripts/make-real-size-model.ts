// Writes a Wan2.2-TI2V-5B-Diffusers folder at the real sizes and key names with random weights, so
// the real-size path (loading, memory, time per stage) can be run without the real weights:
// transformer/ (WanTransformer3DModel, 4,999,787,712 parameters, bfloat16 in 5 GB shards with
// their index), vae/ (the Wan2.2 VAE, 704,688,668 parameters, float32 as diffusers stores it),
// text_encoder/ (umT5-XXL, 5,680,910,336 parameters, bfloat16 in shards with the tied
// embed_tokens copy as transformers writes it), tokenizer/ (the test fixture's tokenizer.json: it
// holds the pieces of the task prompts, ids well inside umT5's vocabulary) and model_index.json.
// About 26 GB on disk, written a tensor at a time, seeded (6-7 minutes here; the process peaks at
// ~5 GB, drawing umT5's 1B-entry embedding table and writing it).
// The weights are drawn like the modules' own: Linear and conv weights U(±1/√fan_in), biases 0,
// norm weights 1, scale_shift_table N(0, 1/dim), embeddings N(0, 1). The outputs mean nothing;
// what costs time and memory is the real model's.
//
// Usage: node dist/scripts/make-real-size-model.js OUT_DIR [--parts transformer,vae,text_encoder]
//          [--transformer-dtype bfloat16|float32] [--vae-dtype float32|bfloat16]
// OUT_DIR should be outside git (outputs/ or /tmp): these are generated weights.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import {
  Generator,
  empty,
  itemSize,
  saveSafetensorsFrom,
  type DType,
  type Tensor,
  type TensorInfo,
  type TensorSource,
} from '../src/torch/index.js';
import type { Module } from '../src/nn/index.js';
import { WanTransformer3DModel } from '../src/models/wan/transformer.js';
import { WAN22_TI2V_5B } from '../src/models/wan/transformer_config.js';
import { AutoencoderKLWan } from '../src/models/wan/vae.js';
import { WAN22_TI2V_5B_VAE } from '../src/models/wan/vae_config.js';
import { UMT5EncoderModel } from '../src/models/umt5/model.js';
import { UMT5_XXL } from '../src/models/umt5/config.js';
import { tokenizerJson } from './make-umt5-fixture.js';
import { modelIndexJson } from '../src/worldwander/model_defaults.js';

const SHARD_BYTES = 5e9; // diffusers' and transformers' save_pretrained(max_shard_size="5GB")
const PARTS = ['transformer', 'vae', 'text_encoder'] as const;
type Part = (typeof PARTS)[number];

/** Draws one tensor as the modules initialise theirs (see the header), in `dtype` directly. */
export function randomWeight(name: string, shape: readonly number[], dtype: DType, generator: Generator): Tensor {
  const leaf = name.slice(name.lastIndexOf('.') + 1);
  const t = empty(shape, { dtype });
  if (leaf === 'bias') return t.zero_();
  if (name.endsWith('scale_shift_table')) return t.normal_(0, 1 / Math.sqrt(shape[shape.length - 1]!), generator);
  if (name === 'shared.weight' || name.endsWith('embed_tokens.weight')) return t.normal_(0, 1, generator);
  if (name.endsWith('relative_attention_bias.weight')) return t.normal_(0, 0.5, generator);
  if (leaf === 'gamma' || shape.length === 1) return t.fill_(1); // norm weights
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  const bound = 1 / Math.sqrt(fanIn);
  return t.uniform_(-bound, bound, generator);
}

/** A TensorSource answering `model`'s keys and shapes with freshly drawn weights (one tensor at a time). */
function randomSource(model: Module, dtypeOf: (name: string) => DType, seed: number): TensorSource {
  const shapes = new Map([...model.stateDict()].map(([k, t]) => [k, t.shape]));
  const generator = new Generator(seed);
  const info = (key: string): TensorInfo => ({ dtype: dtypeOf(key), shape: [...shapes.get(key)!], begin: 0, end: 0 });
  return {
    keys: () => [...shapes.keys()],
    has: (key) => shapes.has(key),
    info,
    get: (key) => randomWeight(key, shapes.get(key)!, dtypeOf(key), generator),
  };
}

/** Writes `source` as one file or as shards of at most SHARD_BYTES with transformers'/diffusers' index. */
function writeWeights(dir: string, prefix: string, source: TensorSource, names: Map<string, string>): number {
  const bytesOf = (key: string): number => {
    const { shape, dtype } = source.info(key);
    return shape.reduce((a, b) => a * b, 1) * itemSize[dtype];
  };
  const shards: Map<string, string>[] = [new Map()];
  let size = 0,
    total = 0;
  for (const [name, key] of names) {
    const bytes = bytesOf(key);
    if (size > 0 && size + bytes > SHARD_BYTES) {
      shards.push(new Map());
      size = 0;
    }
    shards[shards.length - 1]!.set(name, key);
    size += bytes;
    total += bytes;
  }
  if (shards.length === 1) {
    saveSafetensorsFrom(path.join(dir, `${prefix}.safetensors`), source, names, { format: 'pt' });
    return total;
  }
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const file = `${prefix}-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    console.error(`  ${file}: ${shard.size} tensors`);
    saveSafetensorsFrom(path.join(dir, file), source, shard, { format: 'pt' });
    for (const name of shard.keys()) weightMap[name] = file;
  });
  writeFileSync(
    path.join(dir, `${prefix}.safetensors.index.json`),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
  );
  return total;
}

const identity = (model: Module): Map<string, string> => new Map([...model.stateDict().keys()].map((k) => [k, k]));

/** A diffusers part folder: its config.json and `model`'s tensors drawn in `dtype`. */
function writePart(out: string, part: string, config: object, model: Module, dtype: DType, seed: number): number {
  const dir = path.join(out, part);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  return writeWeights(
    dir,
    'diffusion_pytorch_model',
    randomSource(model, () => dtype, seed),
    identity(model),
  );
}

function writeTransformer(out: string, dtype: DType): number {
  const config = {
    _class_name: 'WanTransformer3DModel',
    _diffusers_version: '0.35.0',
    ...WAN22_TI2V_5B,
    image_dim: null,
    added_kv_proj_dim: null,
    pos_embed_seq_len: null,
  };
  using model = new WanTransformer3DModel(WAN22_TI2V_5B, { init: 'empty', device: 'meta' });
  return writePart(out, 'transformer', config, model, dtype, 5);
}

function writeVae(out: string, dtype: DType): number {
  const config = {
    _class_name: 'AutoencoderKLWan',
    _diffusers_version: '0.35.0',
    clip_output: false,
    ...WAN22_TI2V_5B_VAE,
  };
  using model = new AutoencoderKLWan(WAN22_TI2V_5B_VAE, { init: 'empty', device: 'meta' });
  return writePart(out, 'vae', config, model, dtype, 22);
}

function writeTextEncoder(out: string): number {
  const dir = path.join(out, 'text_encoder');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify(
      {
        architectures: ['UMT5EncoderModel'],
        model_type: 'umt5',
        ...UMT5_XXL,
        dense_act_fn: 'gelu_new',
        is_gated_act: true,
        decoder_start_token_id: 0,
        tie_word_embeddings: false,
        scalable_attention: true,
        torch_dtype: 'bfloat16',
      },
      null,
      2,
    ),
  );
  mkdirSync(path.join(out, 'tokenizer'), { recursive: true });
  writeFileSync(path.join(out, 'tokenizer', 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  using model = new UMT5EncoderModel(UMT5_XXL, { init: 'empty', device: 'meta' });
  const names = identity(model);
  names.set('encoder.embed_tokens.weight', 'shared.weight'); // transformers writes the tied copy too
  return writeWeights(
    dir,
    'model',
    randomSource(model, () => 'bfloat16', 2024),
    names,
  );
}

function main(): void {
  const args = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i < 0 ? undefined : args.splice(i, 2)[1];
  };
  const parts = (flag('--parts') ?? PARTS.join(',')).split(',') as Part[];
  const transformerDtype = (flag('--transformer-dtype') ?? 'bfloat16') as DType;
  const vaeDtype = (flag('--vae-dtype') ?? 'float32') as DType;
  const out = args[0];
  if (!out || args.length !== 1) {
    console.error(
      'usage: make-real-size-model OUT_DIR [--parts transformer,vae,text_encoder] [--transformer-dtype bfloat16|float32] [--vae-dtype float32|bfloat16]',
    );
    process.exit(2);
  }
  for (const part of parts)
    if (!PARTS.includes(part)) throw new Error(`--parts: unknown part '${part}' (known: ${PARTS.join(', ')})`);
  for (const [name, dtype] of [
    ['--transformer-dtype', transformerDtype],
    ['--vae-dtype', vaeDtype],
  ])
    if (dtype !== 'bfloat16' && dtype !== 'float32') throw new Error(`${name}: '${dtype}' is not bfloat16 or float32`);
  mkdirSync(out, { recursive: true });
  const started = performance.now();
  const write = { transformer: () => writeTransformer(out, transformerDtype), vae: () => writeVae(out, vaeDtype) };
  for (const part of parts) {
    const bytes = part === 'text_encoder' ? writeTextEncoder(out) : write[part]();
    console.error(`${part}: ${(bytes / 1e9).toFixed(2)} GB (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  }
  if (!existsSync(path.join(out, 'model_index.json')))
    writeFileSync(path.join(out, 'model_index.json'), modelIndexJson());
  console.log(`wrote ${out} (${parts.join(', ')}) in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

main();
