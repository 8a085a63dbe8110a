// Content digests of (large) files, computed once and remembered by real path, size and
// modification time in one per-user store: a replaced file is read again, an unchanged 11 GB one
// is not. The store lives outside model folders, so reading a model never writes into it.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { writeAll, writeFileAtomicSync } from './atomic.js';

/** SHA-256 of a file's bytes, read in 16 MiB pieces. */
export function fileDigest(file: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(16 << 20);
  const fd = openSync(file, 'r');
  try {
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** WorldWander's per-user cache: $WORLDWANDER_CACHE_DIR, else $XDG_CACHE_HOME/worldwander, else ~/.cache/worldwander. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.WORLDWANDER_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'worldwander');
}

/** The remembered digests, in the per-user cache. */
export function digestStorePath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(userCacheDir(env), 'weight-digests.json');
}

type Store = Record<string, { size: number; mtimeMs: number; sha256: string }>;

function readStore(file: string): Store {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Store;
  } catch {
    return {}; // a damaged store only costs re-reading the files
  }
}

/** The file's SHA-256, from the store when its real path, size and mtime are unchanged there. */
export function rememberedDigest(file: string, store = digestStorePath()): string {
  const real = realpathSync(file);
  const { size, mtimeMs } = statSync(real);
  const known = readStore(store);
  const entry = known[real];
  if (entry && entry.size === size && entry.mtimeMs === mtimeMs) return entry.sha256;
  const sha256 = fileDigest(real);
  try {
    known[real] = { size, mtimeMs, sha256 };
    mkdirSync(path.dirname(store), { recursive: true });
    writeFileAtomicSync(store, (fd) => writeAll(fd, Buffer.from(JSON.stringify(known, null, 1))));
  } catch {
    // a read-only home: the digest is still right, only not remembered
  }
  return sha256;
}
