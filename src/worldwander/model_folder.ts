// Where a Wan2.2-TI2V-5B model's parts are, in either folder layout, with single files in place
// of any part: the diffusers folder (transformer/, vae/, text_encoder/, tokenizer/) or the
// original Wan-AI release (config.json and diffusion_pytorch_model-*.safetensors at the root
// beside Wan2.2_VAE.pth, models_t5_umt5-xxl-enc-bf16.pth and the google/umt5-xxl tokenizer
// folder: the names of Wan2.2's wan/configs/wan_ti2v_5B.py). Each weights file is recognised by
// its keys when loaded (model_parts.ts). A model may also be a Hub repository (OWNER/NAME[@REVISION])
// whose snapshot is in the Hugging Face cache (io/hub_cache.ts); downloading it is model_hub.ts's.
// Path logic only: nothing here loads libtorch.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

import { FileFormatError, OptionError } from '../errors.js';
import { userCacheDir } from '../io/digest.js';
import {
  cachedCommit,
  formatRef,
  hubCacheDir,
  parseRepoRef,
  repoFolder,
  snapshotDir,
  snapshotFiles,
  type RepoRef,
  hubSnapshotOf,
} from '../io/hub_cache.js';
import { readJsonFile } from '../torch/json_file.js';
import { isOriginalConfig } from '../models/wan/transformer_config.js';
import type { TextEncoderFiles } from '../models/umt5/prompt_cache.js';
import { modelDirCandidates, type WorldWanderConfig } from './config.js';
import { readDefaults } from './model_defaults.js';
import { ALL_PROMPTS } from './prompts.js';
import { textSideCached } from './text_stamp.js';

export type ModelFolderLayout = 'diffusers' | 'original';

/** A VAE's weights (a diffusers vae/ folder, or one file in any layout) and its config.json (optional for a file). */
export interface VaeFiles {
  weights: string;
  config?: string;
}

export interface ModelFiles {
  dir: string;
  layout: ModelFolderLayout;
  /** The folder of the transformer's config.json (and weights, unless `weights` names one file). */
  transformer: { dir: string; weights?: string };
  vae: VaeFiles;
  text: TextEncoderFiles;
}

/** Single files in place of a folder's parts (`--transformer`, `--vae`, `--vae-config`, `--text-encoder`). */
export interface ModelFileOverrides {
  transformer?: string;
  vae?: string;
  vaeConfig?: string;
  textEncoder?: string;
}

const ORIGINAL = {
  vae: 'Wan2.2_VAE.pth',
  textEncoder: 'models_t5_umt5-xxl-enc-bf16.pth',
  tokenizer: path.join('google', 'umt5-xxl'),
};

/** Which layout a model folder is in, or null when it is neither. */
export function modelFolderLayout(dir: string): ModelFolderLayout | null {
  if (existsSync(path.join(dir, 'transformer', 'config.json'))) return 'diffusers';
  const config = path.join(dir, 'config.json');
  if (existsSync(config) && isOriginalConfig(readJsonFile(config, 'transformer config') as Record<string, unknown>))
    return 'original';
  return null;
}

export const MODEL_FOLDER_EXPECTED =
  'a Wan2.2-TI2V-5B folder: diffusers (transformer/, vae/, text_encoder/, tokenizer/) or the original release (config.json, diffusion_pytorch_model*.safetensors, Wan2.2_VAE.pth, models_t5_umt5-xxl-enc-bf16.pth, google/umt5-xxl/)';

/** The parts of the model in `dir`, with `overrides` in place of its own files; each file named is checked to exist. */
export function modelFiles(dir: string, overrides: ModelFileOverrides = {}): ModelFiles {
  const layout = modelFolderLayout(dir);
  if (!layout) throw new OptionError('modelDir', `${dir} is not ${MODEL_FOLDER_EXPECTED}`);
  const files: ModelFiles =
    layout === 'diffusers'
      ? {
          dir,
          layout,
          transformer: { dir: path.join(dir, 'transformer') },
          vae: { weights: path.join(dir, 'vae'), config: path.join(dir, 'vae', 'config.json') },
          text: {
            weights: path.join(dir, 'text_encoder'),
            config: path.join(dir, 'text_encoder', 'config.json'),
            tokenizer: path.join(dir, 'tokenizer'),
          },
        }
      : {
          dir,
          layout,
          transformer: { dir },
          vae: { weights: path.join(dir, ORIGINAL.vae) },
          text: { weights: path.join(dir, ORIGINAL.textEncoder), tokenizer: path.join(dir, ORIGINAL.tokenizer) },
        };
  const file = (option: keyof ModelFileOverrides, value: string): string => {
    if (!existsSync(value) || statSync(value).isDirectory()) throw new OptionError(option, `${value} is not a file`);
    return value;
  };
  if (overrides.transformer) files.transformer.weights = file('transformer', overrides.transformer);
  if (overrides.vae) files.vae = { weights: file('vae', overrides.vae) };
  if (overrides.vaeConfig) files.vae.config = file('vaeConfig', overrides.vaeConfig);
  if (overrides.textEncoder)
    files.text = { weights: file('textEncoder', overrides.textEncoder), tokenizer: files.text.tokenizer };
  return files;
}

/** Which weights a run reads from the model folder (the others come from single files: ModelFileOverrides). */
export interface ModelParts {
  transformerWeights: boolean;
  vae: boolean;
  textEncoder: boolean;
  /** The run encodes prompts itself (encode-prompts): the text encoder even when its prompts are cached. */
  encodes?: boolean;
}

export const modelPartsFor = (o: ModelFileOverrides = {}): ModelParts => ({
  transformerWeights: !o.transformer,
  vae: !o.vae,
  textEncoder: !o.textEncoder,
});

/** The shard files a .safetensors.index.json names (its weight_map's values), relative to its folder. */
export function indexShards(file: string): string[] {
  const index = readJsonFile(file, 'safetensors index') as { weight_map?: unknown };
  const map = index?.weight_map;
  if (!map || typeof map !== 'object' || Object.values(map).some((v) => typeof v !== 'string' || !v))
    throw new FileFormatError(`${file}: no weight_map of shard file names`);
  return [...new Set(Object.values(map as Record<string, string>))].sort();
}

/**
 * The files (repository paths) a run reads from a model whose files are `listing`: the configs,
 * each part's weights as openWeights picks them (the index and the shards `shardsOf` it names, else
 * the single file), the tokenizer folder; null when the listing is in neither layout. A file the
 * run needs is named whether the listing has it or not (the caller finds what is missing).
 */
export function modelFolderNeeds(
  listing: ReadonlySet<string>,
  parts: ModelParts,
  shardsOf: (index: string) => string[],
): string[] | null {
  const files: string[] = [];
  const weights = (dir: string, prefix: string): void => {
    const at = (name: string): string => (dir ? `${dir}/${name}` : name);
    const index = at(`${prefix}.safetensors.index.json`);
    if (listing.has(index)) files.push(index, ...shardsOf(index).map(at));
    else files.push(at(`${prefix}.safetensors`));
  };
  const tokenizer = (dir: string): void => {
    files.push(...new Set([`${dir}/tokenizer.json`, ...[...listing].filter((f) => f.startsWith(`${dir}/`)).sort()]));
  };
  const original = ['diffusion_pytorch_model.safetensors.index.json', 'diffusion_pytorch_model.safetensors'];
  if (listing.has('transformer/config.json')) {
    if (listing.has('model_index.json')) files.push('model_index.json');
    files.push('transformer/config.json');
    if (parts.transformerWeights) weights('transformer', 'diffusion_pytorch_model');
    if (parts.vae) files.push('vae/config.json');
    if (parts.vae) weights('vae', 'diffusion_pytorch_model');
    if (parts.textEncoder) files.push('text_encoder/config.json');
    if (parts.textEncoder) weights('text_encoder', 'model');
    tokenizer('tokenizer');
  } else if (listing.has('config.json') && original.some((f) => listing.has(f))) {
    files.push('config.json');
    if (parts.transformerWeights) weights('', 'diffusion_pytorch_model');
    if (parts.vae) files.push(ORIGINAL.vae);
    if (parts.textEncoder) files.push(ORIGINAL.textEncoder);
    tokenizer(ORIGINAL.tokenizer.split(path.sep).join('/'));
  } else return null;
  return files;
}

/** Wan-AI's releases by the bare names the release's configs give as model_id. */
const WAN_AI_RELEASES = ['Wan2.2-TI2V-5B-Diffusers', 'Wan2.2-TI2V-5B'];

/** A Hub repository named by `text`: `OWNER/NAME[@REVISION]`, `hf://…`, or a Wan-AI release's bare name. */
export function modelRepoRef(text: string): RepoRef | null {
  return parseRepoRef(WAN_AI_RELEASES.includes(text.split('@')[0]!) ? `Wan-AI/${text}` : text);
}

/** A Hub repository's model and, when it holds every file the run reads, its cached snapshot. */
export interface HubModelLocation {
  kind: 'hub';
  ref: RepoRef;
  parts: ModelParts;
  cacheDir: string;
  /** The snapshot folder when it is complete; null when something must be downloaded. */
  dir: string | null;
  /** The files the cached snapshot lacks (empty when the cache has no snapshot of the revision). */
  missing: string[];
}

/** Where a model is: a local folder, or a Hub repository. */
export type ModelLocation = { kind: 'folder'; dir: string } | HubModelLocation;

/**
 * The parts of a Hub snapshot a run needs: without the text encoder when its stamp is recorded and
 * every prompt a run uses is cached for it (text_stamp.ts). `readDefaults` reads the folder's
 * model_index.json (the prompts' max length), which must be there.
 */
export function partsNeeded(snapshot: string, parts: ModelParts): ModelParts {
  if (!parts.textEncoder || parts.encodes) return parts;
  const cached = textSideCached(snapshot, ALL_PROMPTS, {
    cacheDir: promptCacheDirOf(snapshot),
    maxLength: readDefaults(snapshot).max_sequence_length,
  });
  return cached ? { ...parts, textEncoder: false } : parts;
}

function hubLocation(ref: RepoRef, parts: ModelParts): ModelLocation {
  const cacheDir = hubCacheDir();
  const storage = repoFolder(cacheDir, ref.repo);
  const commit = cachedCommit(storage, ref.revision);
  const dir = commit && snapshotDir(storage, commit);
  const listing = dir ? snapshotFiles(dir) : new Set<string>();
  const needs =
    dir && modelFolderNeeds(listing, partsNeeded(dir, parts), (index) => indexShards(path.join(dir, index)));
  const missing = needs ? needs.filter((f) => !listing.has(f)) : [];
  return { kind: 'hub', ref, parts, cacheDir, dir: needs && !missing.length ? dir : null, missing };
}

function localModel(dir: string, parts: ModelParts): ModelLocation {
  // a run of the text side alone (encode-prompts) takes a folder of just text_encoder/ and tokenizer/
  const textOnly = parts.textEncoder && !parts.transformerWeights && !parts.vae;
  const textSide = ['text_encoder', 'tokenizer'].every((part) => existsSync(path.join(dir, part)));
  if (!modelFolderLayout(dir) && !(textOnly && textSide))
    throw new OptionError('modelDir', `${dir} is not ${MODEL_FOLDER_EXPECTED}`);
  return { kind: 'folder', dir };
}

/** A model named on the command line (--model-dir): a local folder, which wins, else a Hub repository of which the run reads `parts`. */
export function locateNamedModel(name: string, parts: ModelParts = modelPartsFor()): ModelLocation {
  if (existsSync(name)) return localModel(name, parts);
  const ref = modelRepoRef(name);
  if (!ref)
    throw new OptionError(
      'modelDir',
      `${name} is neither a folder nor a Hub repository (OWNER/NAME[@REVISION]): give ${MODEL_FOLDER_EXPECTED}`,
    );
  return hubLocation(ref, parts);
}

/**
 * Where a model's prompt embeddings are cached: MODEL/prompt_embeds beside a local folder's
 * weights; for a snapshot in the Hugging Face cache (models--OWNER--NAME/snapshots/<commit>)
 * WorldWander's per-user cache, $WORLDWANDER_CACHE_DIR/prompt_embeds (entries are keyed by the
 * text encoder's identity), so the Hugging Face cache stays as huggingface_hub writes it, and may
 * be read-only.
 */
export function promptCacheDirOf(modelDir: string): string {
  return hubSnapshotOf(modelDir) ? path.join(userCacheDir(), 'prompt_embeds') : path.join(modelDir, 'prompt_embeds');
}

/**
 * The model of a run: `explicit` (--model-dir) or the config's model_id, as a local folder (which
 * wins), else as a Hub repository (OWNER/NAME[@REVISION]; the release's bare 'Wan2.2-TI2V-5B-Diffusers'
 * is Wan-AI's) looked up in the Hugging Face cache. Nothing is downloaded here (model_hub.ts does).
 */
export function locateModel(
  config: WorldWanderConfig,
  configFile: string,
  explicit?: string,
  overrides: ModelFileOverrides = {},
): ModelLocation {
  if (explicit) return locateNamedModel(explicit, modelPartsFor(overrides));
  const candidates = modelDirCandidates(config, configFile);
  const found = candidates.find((dir) => modelFolderLayout(dir) !== null) ?? candidates.find((dir) => existsSync(dir));
  if (found) return localModel(found, modelPartsFor(overrides));
  const ref = modelRepoRef(config.model_id);
  if (!ref)
    throw new OptionError(
      'modelDir',
      `the config's model_id '${config.model_id}' is not a local model folder (looked in ${candidates.join(' and ')}) nor a Hub repository (OWNER/NAME[@REVISION]): give the folder of Wan2.2-TI2V-5B-Diffusers or of the original Wan2.2-TI2V-5B release, or its repository`,
    );
  return hubLocation(ref, modelPartsFor(overrides));
}

/** Why a Hub model cannot be used without a download, in one line. */
export function notCachedDetail(location: HubModelLocation): string {
  const { missing } = location;
  const what = missing.length
    ? `${missing[0]}${missing.length > 1 ? ` (and ${missing.length - 1} more files)` : ''} of ${formatRef(location.ref)}`
    : formatRef(location.ref);
  return `${what} is not in the Hugging Face cache (${location.cacheDir})`;
}

/**
 * The model folder, without downloading: a local folder, or the cached snapshot of a Hub
 * repository that holds every file the run reads (`worldwander download` fetches one).
 */
export function resolveModelDir(
  config: WorldWanderConfig,
  configFile: string,
  explicit?: string,
  overrides: ModelFileOverrides = {},
): string {
  const location = locateModel(config, configFile, explicit, overrides);
  if (location.kind === 'folder') return location.dir;
  if (location.dir) return location.dir;
  throw new OptionError(
    'modelDir',
    `${notCachedDetail(location)}; \`worldwander download ${formatRef(location.ref)}\` fetches it`,
  );
}
