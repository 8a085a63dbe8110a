// The Hugging Face Hub cache as huggingface_hub (Python) lays it out, read and written with plain
// fs, so weights a diffusers user already downloaded are found where they are, and what is
// downloaded here is found by Python (huggingface_hub's file_download.py and constants.py):
//
//   $HF_HUB_CACHE (else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
//   else ~/.cache/huggingface/hub)
//   └── models--OWNER--NAME/
//       ├── blobs/<etag>               the files' bytes, named by the Hub's ETag: the sha256 of an LFS file,
//       │                              the git blob sha1 of a small one; <etag>.incomplete while downloading
//       ├── refs/<revision>            a branch or tag's commit sha (40 hex, no newline)
//       ├── snapshots/<commit>/<path>  relative symlinks into ../../blobs/<etag> (one more ../ per folder)
//       └── .no_exist/<commit>/<path>  empty files: the Hub said the path does not exist at that commit
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { writeAll, writeFileAtomicSync } from './atomic.js';

/** A model repository on the Hub at a revision (a branch, a tag or a commit), and a file in it. */
export interface RepoRef {
  repo: string;
  revision: string;
}

export interface RepoFileRef extends RepoRef {
  path: string;
}

export const DEFAULT_REVISION = 'main';

/** huggingface_hub's validate_repo_id, for OWNER/NAME: word characters, '-' and '.', neither '--' nor '..'. */
const NAME = /^\w(?:[\w.-]{0,94}\w)?$/;
const isRepoName = (s: string): boolean => NAME.test(s) && !s.includes('--') && !s.includes('..');

export const isCommitHash = (revision: string): boolean => /^[0-9a-f]{40}$/.test(revision);

/**
 * `OWNER/NAME[@REVISION]` (the revision may hold slashes: `refs/pr/1`), or huggingface_hub's
 * `hf://OWNER/NAME[@REVISION]`; null when `text` is neither.
 */
export function parseRepoRef(text: string): RepoRef | null {
  const hf = text.startsWith('hf://');
  const body = hf ? text.slice(5).replace(/\/+$/, '') : text;
  const at = body.indexOf('@');
  const id = at < 0 ? body : body.slice(0, at);
  const raw = at < 0 ? DEFAULT_REVISION : body.slice(at + 1);
  const parts = id.split('/');
  if (parts.length !== 2 || !parts.every(isRepoName) || raw === '' || (hf && raw.includes('/'))) return null;
  return { repo: id, revision: hf ? decodeURIComponent(raw) : raw };
}

/**
 * huggingface_hub's file URL, `hf://OWNER/NAME[@REVISION]/PATH/IN/REPO` (HfFileSystem's form: a
 * revision with slashes is written URL-encoded, `@refs%2Fpr%2F1`); null when `text` is not one.
 */
export function parseHubFileRef(text: string): RepoFileRef | null {
  if (!text.startsWith('hf://')) return null;
  const parts = text.slice(5).split('/');
  if (parts.length < 3) return null;
  const ref = parseRepoRef(`hf://${parts[0]}/${parts[1]}`);
  const file = parts.slice(2).join('/');
  if (!ref || !isSafeRepoPath(file)) return null;
  return { ...ref, path: file };
}

/** A path inside a repository that stays inside it (huggingface_hub's _validate_relative_filename). */
export function isSafeRepoPath(file: string): boolean {
  if (file === '' || file.startsWith('/') || file.includes('\\') || file.includes('\0')) return false;
  return file.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

export const formatRef = (ref: RepoRef): string =>
  ref.revision === DEFAULT_REVISION ? ref.repo : `${ref.repo}@${ref.revision}`;

const expandHome = (p: string): string => (p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p);

/** huggingface_hub's HF_HOME: $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  return expandHome(env.HF_HOME || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'huggingface'));
}

/** huggingface_hub's HF_HUB_CACHE: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else HF_HOME/hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  return explicit ? expandHome(explicit) : path.join(hfHome(env), 'hub');
}

/** The cache's folder of a model repository: `models--OWNER--NAME` (repo_folder_name). */
export function repoFolder(cacheDir: string, repo: string): string {
  return path.join(cacheDir, ['models', ...repo.split('/')].join('--'));
}

/** The commit a revision stands for in the cache: itself when it is one, else refs/<revision>; null when unknown. */
export function cachedCommit(storage: string, revision: string): string | null {
  if (isCommitHash(revision)) return revision;
  const ref = path.join(storage, 'refs', ...revision.split('/'));
  if (!existsSync(ref) || lstatSync(ref).isDirectory()) return null;
  const commit = readFileSync(ref, 'utf8').trim();
  return commit || null;
}

/** Records that `revision` (a branch or tag) is at `commit`, as _cache_commit_hash_for_specific_revision does. */
export function writeRef(storage: string, revision: string, commit: string): void {
  if (revision === commit) return;
  const ref = path.join(storage, 'refs', ...revision.split('/'));
  if (existsSync(ref) && readFileSync(ref, 'utf8') === commit) return;
  mkdirSync(path.dirname(ref), { recursive: true });
  writeFileAtomicSync(ref, (fd) => writeAll(fd, Buffer.from(commit)));
}

export const snapshotDir = (storage: string, commit: string): string => path.join(storage, 'snapshots', commit);

/** The repository folder's name (models--OWNER--NAME) and commit of a snapshot folder; null for any other folder. */
export function hubSnapshotOf(dir: string): { repoFolder: string; commit: string } | null {
  const m = /[/\\](models--[^/\\]+)[/\\]snapshots[/\\]([0-9a-f]{40})$/.exec(path.resolve(dir));
  return m ? { repoFolder: m[1]!, commit: m[2]! } : null;
}
export const blobPath = (storage: string, etag: string): string => path.join(storage, 'blobs', etag);
export const incompletePath = (storage: string, etag: string): string => `${blobPath(storage, etag)}.incomplete`;
const noExistPath = (storage: string, commit: string, file: string): string =>
  path.join(storage, '.no_exist', commit, ...file.split('/'));

/** snapshots/<commit>/<file> → the blob, as a relative link (_create_symlink), replacing what was there. */
export function linkIntoSnapshot(storage: string, commit: string, file: string, etag: string): string {
  const pointer = path.join(snapshotDir(storage, commit), ...file.split('/'));
  mkdirSync(path.dirname(pointer), { recursive: true });
  rmSync(pointer, { force: true });
  symlinkSync(path.relative(path.dirname(pointer), blobPath(storage, etag)), pointer);
  return pointer;
}

/** Remembers that the Hub has no `file` at `commit` (huggingface_hub's .no_exist marker). */
export function markNoExist(storage: string, commit: string, file: string): void {
  const marker = noExistPath(storage, commit, file);
  mkdirSync(path.dirname(marker), { recursive: true });
  if (!existsSync(marker)) writeFileSync(marker, '');
}

export type CachedFile = { kind: 'file'; path: string; commit: string } | { kind: 'no-exist'; commit: string } | null;

/**
 * A file of a repository in the cache (try_to_load_from_cache): its snapshot path, or the Hub's
 * recorded word that it does not exist at the revision's commit, or null when the cache does not know.
 */
export function cachedFile(cacheDir: string, ref: RepoFileRef): CachedFile {
  const storage = repoFolder(cacheDir, ref.repo);
  const commit = cachedCommit(storage, ref.revision);
  if (!commit) return null;
  if (existsSync(noExistPath(storage, commit, ref.path))) return { kind: 'no-exist', commit };
  const file = path.join(snapshotDir(storage, commit), ...ref.path.split('/'));
  return existsSync(file) && !lstatSync(file).isDirectory() ? { kind: 'file', path: file, commit } : null;
}

/** The files of a snapshot folder as repo paths (links whose blob is gone are left out). */
export function snapshotFiles(dir: string): Set<string> {
  const files = new Set<string>();
  const walk = (at: string, prefix: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      const name = prefix + entry.name;
      if (entry.isDirectory()) walk(full, `${name}/`);
      else if (existsSync(full)) files.add(name);
    }
  };
  if (existsSync(dir)) walk(dir, '');
  return files;
}
