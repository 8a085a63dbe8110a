// Content digests of (large) files, computed once and remembered by real path, size and
// modification time: a replaced file is read again, an unchanged 11 GB one is not.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
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

/** The file's SHA-256, from `remember` (a JSON file) when its path, size and mtime are unchanged. */
export function rememberedDigest(file: string, remember?: string): string {
  const real = realpathSync(file);
  const { size, mtimeMs } = statSync(real);
  let known: Record<string, { size: number; mtimeMs: number; sha256: string }> = {};
  if (remember && existsSync(remember)) {
    try {
      known = JSON.parse(readFileSync(remember, 'utf8'));
    } catch {
      known = {};
    }
  }
  const entry = known[real];
  if (entry && entry.size === size && entry.mtimeMs === mtimeMs) return entry.sha256;
  const sha256 = fileDigest(real);
  if (remember) {
    known[real] = { size, mtimeMs, sha256 };
    mkdirSync(path.dirname(remember), { recursive: true });
    writeFileAtomicSync(remember, (fd) => writeAll(fd, Buffer.from(JSON.stringify(known, null, 1))));
  }
  return sha256;
}
