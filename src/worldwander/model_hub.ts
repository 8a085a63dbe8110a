// A model from the Hugging Face Hub: the files a run reads (model_folder.ts's modelFolderNeeds:
// configs, each part's weights as the loaders pick them, the tokenizer; not the text encoder when a
// single file stands in for it), downloaded into huggingface_hub's cache (io/hub_download.ts) before
// anything loads, and a LoRA named `hf://OWNER/NAME[@REVISION]/PATH`.
import { existsSync } from 'node:fs';
import path from 'node:path';

import { formatRef, parseHubFileRef, type RepoRef } from '../io/hub_cache.js';
import {
  HubError,
  fetchFiles,
  fetchHubFile,
  hubSettings,
  offlineError,
  repoPattern,
  resolveRevision,
  type FetchOptions,
  type HubSettings,
} from '../io/hub_download.js';
import {
  MODEL_FOLDER_EXPECTED,
  indexShards,
  modelFolderLayout,
  modelFolderNeeds,
  notCachedDetail,
  partsNeeded,
  type ModelLocation,
  type ModelParts,
} from './model_folder.js';

export interface HubOptions extends FetchOptions {
  /** The Hub's settings (default: from the environment, hubSettings()). */
  settings?: HubSettings;
}

const ALL_PARTS: ModelParts = { transformerWeights: true, vae: true, textEncoder: true };

/**
 * The files of a model repository a run reads, its shards named by its indexes (which are
 * downloaded first, quietly: they are small); null when the repository is in neither layout.
 */
async function modelRepoFiles(
  ref: RepoRef,
  resolved: { commit: string; files: string[] },
  parts: ModelParts,
  s: HubSettings,
  o: HubOptions,
): Promise<string[] | null> {
  const listing = new Set(resolved.files);
  const first = modelFolderNeeds(listing, parts, () => []);
  if (!first) return null;
  const snapshot = await fetchFiles(
    ref,
    resolved.commit,
    first.filter((f) => f.endsWith('.index.json')),
    s,
    { ...o, onProgress: undefined },
  );
  const needs = modelFolderNeeds(listing, parts, (index) => indexShards(path.join(snapshot, ...index.split('/'))))!;
  const absent = needs.find((f) => !listing.has(f));
  if (absent)
    throw new HubError(
      `${formatRef(ref)}: the repository has no ${absent} at ${resolved.commit} (${MODEL_FOLDER_EXPECTED})`,
    );
  return needs;
}

/** Downloads what a run reads of a model repository (at its revision's newest commit); returns the snapshot folder. */
export async function fetchModel(ref: RepoRef, parts: ModelParts, o: HubOptions = {}): Promise<string> {
  const s = o.settings ?? hubSettings();
  if (s.offline) throw offlineError(formatRef(ref), s);
  const resolved = await resolveRevision(ref, s);
  let needed = parts;
  if (parts.textEncoder && !parts.encodes) {
    // not the text encoder when every prompt is cached for it: the prompts' length is model_index.json's
    const index = resolved.files.filter((f) => f === 'model_index.json');
    const snapshot = await fetchFiles(ref, resolved.commit, index, s, { ...o, onProgress: undefined });
    needed = partsNeeded(snapshot, parts);
  }
  const files = await modelRepoFiles(ref, resolved, needed, s, o);
  if (!files) throw new HubError(`${formatRef(ref)} is not ${MODEL_FOLDER_EXPECTED}`);
  const dir = await fetchFiles(ref, resolved.commit, files, s, o);
  if (!modelFolderLayout(dir)) throw new HubError(`${formatRef(ref)} is not ${MODEL_FOLDER_EXPECTED}`);
  return dir;
}

/**
 * The folder of a located model: a local folder or a complete cached snapshot as it is, else the
 * snapshot once downloaded (refused with one line naming the repository and the variable under
 * HF_HUB_OFFLINE).
 */
export async function ensureModelDir(location: ModelLocation, o: HubOptions = {}): Promise<string> {
  if (location.kind === 'folder') return location.dir;
  if (location.dir) return location.dir;
  const s = o.settings ?? hubSettings();
  if (s.offline) throw new HubError(`${notCachedDetail(location)}, and ${s.offline} forbids downloading it`);
  return fetchModel(location.ref, location.parts, { ...o, settings: s });
}

/**
 * A file argument (--ckpt): a local file of that name wins; `hf://OWNER/NAME[@REVISION]/PATH` is
 * that file of a Hub repository, from the cache or downloaded into it; anything else is returned as
 * given (its reader names what is wrong).
 */
export async function ensureHubFile(file: string, o: HubOptions = {}): Promise<string> {
  if (existsSync(file)) return file;
  const ref = parseHubFileRef(file);
  return ref ? fetchHubFile(ref, o.settings ?? hubSettings(), o) : file;
}

export interface DownloadResult {
  dir: string;
  commit: string;
  files: string[];
}

/**
 * `worldwander download`: the files of a repository matching `include` (fnmatch patterns, as
 * huggingface_hub's allow_patterns), or without patterns what a run reads of a model repository
 * (every file of any other repository), into the cache.
 */
export async function downloadRepo(
  ref: RepoRef,
  include: readonly string[],
  o: HubOptions = {},
): Promise<DownloadResult> {
  const s = o.settings ?? hubSettings();
  if (s.offline) throw offlineError(formatRef(ref), s);
  const resolved = await resolveRevision(ref, s);
  const patterns = include.map(repoPattern);
  const files = include.length
    ? resolved.files.filter((f) => patterns.some((p) => p.test(f)))
    : ((await modelRepoFiles(ref, resolved, ALL_PARTS, s, o)) ?? resolved.files);
  if (!files.length) throw new HubError(`${formatRef(ref)}: no file matches ${include.join(' ')}`);
  const dir = await fetchFiles(ref, resolved.commit, files, s, o);
  return { dir, commit: resolved.commit, files };
}
