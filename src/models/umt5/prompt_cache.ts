// Prompt-embedding cache: WorldWander's prompts are fixed per task, so their embeddings are
// computed once and read back, and inference/training never load the 5.7B-parameter encoder.
// One safetensors file per (text encoder identity, dtype, prompt, max length), written
// atomically; it stores the prompt's `length` non-zero rows, and reads pad them back with zeros.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { FileFormatError, ModelInputError } from '../../errors.js';
import { rememberedDigest } from '../../io/digest.js';
import {
  cat,
  emptyCache,
  isTorchCheckpoint,
  noGrad,
  openTensorFile,
  openWeights,
  owned,
  saveSafetensors,
  SafetensorsFile,
  scope,
  zeros,
  type DType,
  type Device,
  type Tensor,
} from '../../torch/index.js';
import { dequantizedSource } from '../../torch/scaled_fp8.js';
import { asTransformersSource } from './layouts.js';
import { UMT5EncoderModel } from './model.js';
import { UMT5Tokenizer } from './tokenizer.js';

/**
 * Prompt → embeddings as Wan uses them: tokenized to max_length, encoded with the attention
 * mask, rows past each prompt's length (its tokens and `</s>`) set to zero.
 */
/** [B, maxLength, d_model] in the encoder's dtype, zero past each prompt's length. */
export function encodePrompts(
  model: UMT5EncoderModel,
  tokenizer: UMT5Tokenizer,
  prompts: readonly string[],
  { maxLength = 512 }: { maxLength?: number } = {},
): Tensor {
  return scope(() =>
    noGrad(() => {
      const { inputIds, attentionMask } = tokenizer.encodeTensors(prompts, { maxLength });
      const hidden = model.forward(inputIds, attentionMask);
      const keep = attentionMask.to({ dtype: hidden.dtype, device: hidden.device }).unsqueeze(-1);
      return hidden.mul(keep);
    }),
  );
}

export interface PromptKey {
  encoder: string;
  /** The dtype the encoder ran in (the embeddings' dtype). */
  dtype: DType;
  prompt: string;
  maxLength: number;
}

/**
 * Where a text encoder's files are: its weights (a folder in transformers' layout, or one file in
 * any layout: layouts.ts), its config.json (optional for a file: read off the shapes), and the
 * tokenizer's folder (tokenizer.json).
 */
export interface TextEncoderFiles {
  weights: string;
  config?: string;
  tokenizer: string;
}

/** A diffusers model folder's text_encoder/ and tokenizer/. */
export function diffusersTextEncoder(modelRoot: string): TextEncoderFiles {
  const weights = path.join(modelRoot, 'text_encoder');
  return { weights, config: path.join(weights, 'config.json'), tokenizer: path.join(modelRoot, 'tokenizer') };
}

const isFolder = (location: string): boolean => existsSync(location) && statSync(location).isDirectory();

/** The text encoder of `files`, from its folder or its single file. */
export function loadTextEncoder(
  files: TextEncoderFiles,
  options: { dtype?: DType; device?: Device } = {},
): UMT5EncoderModel {
  return isFolder(files.weights)
    ? UMT5EncoderModel.fromPretrained(files.weights, options)
    : UMT5EncoderModel.fromSingleFile(files.weights, { ...options, configFile: files.config });
}

/**
 * Identity of a text encoder + tokenizer pair: a hash of the config, the tokenizer.json, and
 * every weight file's safetensors header and content digest. Weights of the same names and
 * sizes but other values are another encoder (content digests are remembered per user: io/digest).
 */
export function textEncoderIdentity(files: TextEncoderFiles): string {
  const hash = createHash('sha256');
  const add = (file: string): void => {
    hash.update(path.basename(file));
    hash.update(readFileSync(file));
  };
  const folder = isFolder(files.weights);
  if (files.config) add(files.config);
  add(path.join(files.tokenizer, 'tokenizer.json'));
  const weights = folder
    ? readdirSync(files.weights)
        .sort()
        .filter((n) => n.endsWith('.safetensors'))
        .map((n) => path.join(files.weights, n))
    : [files.weights];
  for (const file of weights) {
    const name = path.basename(file);
    if (isTorchCheckpoint(file)) {
      hash.update(`${name}\0`);
    } else {
      const st = SafetensorsFile.open(file);
      hash.update(
        `${name}\0${JSON.stringify(st.keys().map((k) => [k, st.info(k).dtype, st.info(k).shape]))}\0${JSON.stringify(st.metadata)}\0`,
      );
    }
    hash.update(rememberedDigest(file));
  }
  return `umt5-${hash.digest('hex').slice(0, 16)}`;
}

/** What a cached embedding is keyed by besides its prompt: the encoder's identity and the dtype it ran in. */
export interface TextEncoderStamp {
  encoder: string;
  dtype: DType;
}

/** The stamp of the text encoder of `files` (reads its config, tokenizer and weights). */
export function textEncoderStamp(files: TextEncoderFiles): TextEncoderStamp {
  return { encoder: textEncoderIdentity(files), dtype: storedDtype(files) };
}

export class PromptEmbeddingCache {
  constructor(readonly dir: string) {}

  fileFor(key: PromptKey): string {
    const digest = createHash('sha256')
      .update(JSON.stringify([key.encoder, key.dtype, key.prompt, key.maxLength]))
      .digest('hex');
    return path.join(this.dir, `${digest.slice(0, 32)}.safetensors`);
  }

  has(key: PromptKey): boolean {
    return existsSync(this.fileFor(key));
  }

  /** [maxLength, d_model] or null when absent; a file whose metadata names another key is an error. */
  get(key: PromptKey, { device }: { device?: Device } = {}): Tensor | null {
    const file = this.fileFor(key);
    if (!existsSync(file)) return null;
    const st = SafetensorsFile.open(file);
    const m = st.metadata;
    if (
      m.encoder !== key.encoder ||
      m.dtype !== key.dtype ||
      m.prompt !== key.prompt ||
      Number(m.max_length) !== key.maxLength
    ) {
      throw new FileFormatError(
        `${file}: cached embedding is for ${JSON.stringify({ encoder: m.encoder, dtype: m.dtype, prompt: m.prompt, max_length: m.max_length })}, expected ${JSON.stringify(key)}`,
      );
    }
    if (!st.has('prompt_embeds')) throw new FileFormatError(`${file}: no 'prompt_embeds' tensor`);
    const rows = st.get('prompt_embeds', { device });
    const missing = key.maxLength - rows.size(0);
    if (missing < 0) throw new FileFormatError(`${file}: ${rows.size(0)} rows exceed max length ${key.maxLength}`);
    if (missing === 0) return rows;
    using pieces = owned([rows, zeros([missing, rows.size(1)], { dtype: rows.dtype, device: rows.device })]);
    return cat(pieces, 0);
  }

  /** Stores the first `length` rows of a [maxLength, d_model] embedding. */
  put(key: PromptKey, embeds: Tensor, length: number): void {
    if (embeds.ndim !== 2 || embeds.size(0) !== key.maxLength)
      throw new ModelInputError(
        `PromptEmbeddingCache.put: expected [${key.maxLength}, d_model], got [${embeds.shape.join(', ')}]`,
      );
    if (embeds.dtype !== key.dtype)
      throw new ModelInputError(`PromptEmbeddingCache.put: embeddings are ${embeds.dtype}, the key says ${key.dtype}`);
    mkdirSync(this.dir, { recursive: true });
    using rows = embeds.narrow(0, 0, length).contiguous();
    saveSafetensors(
      this.fileFor(key),
      { prompt_embeds: rows },
      {
        encoder: key.encoder,
        dtype: key.dtype,
        prompt: key.prompt,
        max_length: String(key.maxLength),
        length: String(length),
      },
    );
  }
}

export interface PromptEmbeddingOptions {
  cacheDir: string;
  maxLength?: number;
  dtype?: DType;
  device?: Device;
  /** Called with the prompts that had to be encoded (the encoder is loaded only then). */
  onEncode?: (prompts: string[]) => void;
  /**
   * The text encoder's stamp when it is known without its weights (a Hub snapshot's recorded one:
   * worldwander/text_stamp.ts); its weights are then read only for a prompt not in the cache.
   */
  stamp?: TextEncoderStamp;
}

/** The cache key of each prompt for the encoder of `stamp` (in its dtype unless `dtype` says; max length 512 unless said). */
function promptKeyOf(
  stamp: TextEncoderStamp,
  { maxLength = 512, dtype = stamp.dtype }: { maxLength?: number; dtype?: DType },
): (prompt: string) => PromptKey {
  return (prompt) => ({ encoder: stamp.encoder, dtype, prompt, maxLength });
}

/** Whether every one of `prompts` is in the cache for the encoder of `stamp` (its dtype unless `dtype` says). */
export function promptsCached(
  stamp: TextEncoderStamp,
  prompts: readonly string[],
  o: { cacheDir: string; maxLength?: number; dtype?: DType },
): boolean {
  const cache = new PromptEmbeddingCache(o.cacheDir);
  const keyOf = promptKeyOf(stamp, o);
  return prompts.every((prompt) => cache.has(keyOf(prompt)));
}

/** The dtype the encoder's weights are stored in (its embedding table's). */
function storedDtype(files: TextEncoderFiles): DType {
  if (!isFolder(files.weights))
    return asTransformersSource(dequantizedSource(openTensorFile(files.weights)), files.weights).source.info(
      'shared.weight',
    ).dtype;
  const source = openWeights(files.weights, 'model');
  return source.info(source.has('shared.weight') ? 'shared.weight' : 'encoder.embed_tokens.weight').dtype;
}

/** Loads the text encoder, encodes `missing` into the cache, and releases it. */
function encodeMissing(
  files: TextEncoderFiles,
  missing: string[],
  device: Device | undefined,
  cache: PromptEmbeddingCache,
  keyOf: (prompt: string) => PromptKey,
): void {
  const { dtype, maxLength } = keyOf(missing[0]!);
  const tokenizer = UMT5Tokenizer.fromPretrained(files.tokenizer);
  using model = loadTextEncoder(files, { dtype, device });
  const lengths = tokenizer.encode(missing, { maxLength }).lengths;
  missing.forEach((prompt, i) => {
    using embeds = encodePrompts(model, tokenizer, [prompt], { maxLength });
    using row = embeds.select(0, 0);
    cache.put(keyOf(prompt), row, lengths[i]!);
  });
}

/**
 * Embeddings [B, maxLength, d_model] for `prompts`, from the cache where present; missing ones
 * are encoded with the text encoder of `text` (a diffusers model folder, or the files) and stored.
 */
export function promptEmbeddings(
  text: string | TextEncoderFiles,
  prompts: readonly string[],
  o: PromptEmbeddingOptions,
): Tensor {
  const files = typeof text === 'string' ? diffusersTextEncoder(text) : text;
  const cache = new PromptEmbeddingCache(o.cacheDir);
  const keyOf = promptKeyOf(o.stamp ?? textEncoderStamp(files), o);
  const missing = [...new Set(prompts.filter((p) => !cache.has(keyOf(p))))];
  if (missing.length) {
    if (!existsSync(files.weights))
      throw new ModelInputError(
        `the text encoder ${files.weights} is not there to embed ${missing.map((p) => JSON.stringify(p)).join(', ')} (not in the prompt cache ${o.cacheDir}): download it (worldwander download), or encode the prompts where it is (worldwander encode-prompts)`,
      );
    o.onEncode?.(missing);
    encodeMissing(files, missing, o.device, cache, keyOf);
    emptyCache(); // the encoder's freed weights (GBs) go back to the system, not into the allocator's cache
  }
  using rows = owned(prompts.map((prompt) => cache.get(keyOf(prompt), { device: o.device })!));
  using batched = owned(rows.map((r) => r.unsqueeze(0)));
  return cat(batched, 0);
}
