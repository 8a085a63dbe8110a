// Remembered content digests: the store answers only for an unchanged file (same real path,
// size and mtime), and a model folder is never written when its cache is complete.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { digestStorePath, rememberedDigest } from '../../src/io/digest.js';
import { promptEmbeddings } from '../../src/models/umt5/prompt_cache.js';

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

test("a remembered digest is the file's SHA-256, and a rewritten file of the same size is read again", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'digest-'));
  try {
    const file = path.join(dir, 'w.bin');
    const store = path.join(dir, 'store', 'weight-digests.json');
    writeFileSync(file, 'aaaa');
    assert.equal(rememberedDigest(file, store), sha256('aaaa'));
    assert.equal(JSON.parse(readFileSync(store, 'utf8'))[file].sha256, sha256('aaaa'));
    // The store is what answers while the file is unchanged: a planted digest comes back.
    const planted = { [file]: { ...JSON.parse(readFileSync(store, 'utf8'))[file], sha256: 'planted' } };
    writeFileSync(store, JSON.stringify(planted));
    assert.equal(rememberedDigest(file, store), 'planted');
    writeFileSync(file, 'bbbb');
    utimesSync(file, new Date(2020, 1, 1), new Date(2020, 1, 1));
    assert.equal(rememberedDigest(file, store), sha256('bbbb'), 'same size, other mtime: read again');
    writeFileSync(store, '{not json');
    assert.equal(rememberedDigest(file, store), sha256('bbbb'), 'a damaged store is only a miss');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the store is per user: WORLDWANDER_CACHE_DIR, else XDG_CACHE_HOME/worldwander, else ~/.cache/worldwander', () => {
  assert.equal(digestStorePath({ WORLDWANDER_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' }), '/c/weight-digests.json');
  assert.equal(digestStorePath({ XDG_CACHE_HOME: '/x' }), '/x/worldwander/weight-digests.json');
  assert.equal(digestStorePath({}), path.join(os.homedir(), '.cache', 'worldwander', 'weight-digests.json'));
});

test('reading embeddings from a complete cache leaves the model folder untouched, even with fresh mtimes (a new clone)', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'digest-model-'));
  try {
    cpSync('test/fixtures/umt5_tiny', root, { recursive: true });
    const cacheDir = path.join(root, 'prompt_embeds');
    promptEmbeddings(root, ['a prompt'], { cacheDir, maxLength: 8 }).dispose();
    const snapshot = (): string[] =>
      readdirSync(root, { recursive: true })
        .map(String)
        .sort()
        .map((f) => {
          const s = statSync(path.join(root, f));
          return `${f}:${s.isFile() ? sha256(readFileSync(path.join(root, f))) : 'dir'}:${s.mtimeMs}`;
        });
    const weights = path.join(root, 'text_encoder', 'model.safetensors');
    utimesSync(weights, new Date(), new Date(Date.now() + 5000));
    const before = snapshot();
    let encoded = 0;
    promptEmbeddings(root, ['a prompt'], { cacheDir, maxLength: 8, onEncode: () => encoded++ }).dispose();
    assert.equal(encoded, 0, 'same weights, new mtime: the same encoder, read from the cache');
    assert.deepEqual(snapshot(), before);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
