// The Hugging Face cache read as huggingface_hub (Python) writes it: a cache folder built here by
// hand exactly as file_download.py lays it out (blobs named by sha256 / git sha1, refs/main holding
// the commit without a newline, snapshots/<commit>/<path> as relative symlinks into blobs/, a
// .no_exist marker), and links written here in the same relative form.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import {
  cachedCommit,
  cachedFile,
  hubCacheDir,
  linkIntoSnapshot,
  parseHubFileRef,
  parseRepoRef,
  repoFolder,
  snapshotFiles,
  writeRef,
} from '../../src/io/hub_cache.js';
import { gitSha1, sha256 } from '../helpers/fake_hub.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'hub-cache-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

const COMMIT = 'a'.repeat(8) + '0123456789abcdef0123456789abcdef';
const CONFIG = Buffer.from('{"_class_name": "WanTransformer3DModel"}\n');
const WEIGHTS = Buffer.from('not really safetensors, but bytes of an LFS file');

/** models--test-org--tiny as Python's hf_hub_download leaves it after two files and one 404. */
function pythonCache(cache: string): string {
  const storage = path.join(cache, 'models--test-org--tiny');
  mkdirSync(path.join(storage, 'blobs'), { recursive: true });
  mkdirSync(path.join(storage, 'refs'));
  mkdirSync(path.join(storage, 'snapshots', COMMIT, 'transformer'), { recursive: true });
  mkdirSync(path.join(storage, '.no_exist', COMMIT, 'transformer'), { recursive: true });
  writeFileSync(path.join(storage, 'blobs', gitSha1(CONFIG)), CONFIG);
  writeFileSync(path.join(storage, 'blobs', sha256(WEIGHTS)), WEIGHTS);
  writeFileSync(path.join(storage, 'refs', 'main'), COMMIT);
  symlinkSync(
    `../../../blobs/${gitSha1(CONFIG)}`,
    path.join(storage, 'snapshots', COMMIT, 'transformer', 'config.json'),
  );
  symlinkSync(
    `../../../blobs/${sha256(WEIGHTS)}`,
    path.join(storage, 'snapshots', COMMIT, 'transformer', 'diffusion_pytorch_model.safetensors.index.json'),
  );
  writeFileSync(path.join(storage, '.no_exist', COMMIT, 'transformer', 'diffusion_pytorch_model.safetensors'), '');
  return storage;
}

test("the cache folder follows huggingface_hub's variables in its order", () => {
  assert.equal(hubCacheDir({ HF_HUB_CACHE: '/a', HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c' }), '/a');
  assert.equal(hubCacheDir({ HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c' }), '/b');
  assert.equal(hubCacheDir({ HF_HOME: '/c', XDG_CACHE_HOME: '/x' }), '/c/hub');
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/huggingface/hub');
  assert.match(hubCacheDir({}), /\/\.cache\/huggingface\/hub$/);
  assert.match(hubCacheDir({ HF_HOME: '~/hf' }), /^\/.*\/hf\/hub$/, 'a leading ~ is the home folder, as expanduser');
  assert.equal(repoFolder('/c', 'Wan-AI/Wan2.2-TI2V-5B-Diffusers'), '/c/models--Wan-AI--Wan2.2-TI2V-5B-Diffusers');
});

test('repository ids and hf:// file URLs are read as huggingface_hub writes them; paths are not', () => {
  assert.deepEqual(parseRepoRef('Wan-AI/Wan2.2-TI2V-5B-Diffusers'), {
    repo: 'Wan-AI/Wan2.2-TI2V-5B-Diffusers',
    revision: 'main',
  });
  assert.deepEqual(parseRepoRef('o/n@v1.0'), { repo: 'o/n', revision: 'v1.0' });
  assert.deepEqual(parseRepoRef('o/n@refs/pr/1'), { repo: 'o/n', revision: 'refs/pr/1' });
  assert.deepEqual(parseRepoRef('hf://o/n@refs%2Fpr%2F1'), { repo: 'o/n', revision: 'refs/pr/1' });
  for (const notOne of ['./x', '../x/y', 'a/b/c', '/abs/path', 'a--b/c', 'a/b..c', 'x', 'a/b@', 'a/.b', 'hf://o/n@a/b'])
    assert.equal(parseRepoRef(notOne), null, notOne);
  assert.deepEqual(parseHubFileRef('hf://o/n/sub/lora.safetensors'), {
    repo: 'o/n',
    revision: 'main',
    path: 'sub/lora.safetensors',
  });
  assert.deepEqual(parseHubFileRef('hf://o/n@v2/three2one.ckpt'), {
    repo: 'o/n',
    revision: 'v2',
    path: 'three2one.ckpt',
  });
  for (const notOne of ['o/n/file', 'hf://o/n', 'hf://o/n/../x', 'hf://o/n/a//b', 'hf://o/n/'])
    assert.equal(parseHubFileRef(notOne), null, notOne);
});

test('a cache written by Python is read: refs, snapshot links into blobs, .no_exist markers', () => {
  const cache = path.join(scratch, 'python');
  const storage = pythonCache(cache);
  const ref = { repo: 'test-org/tiny', revision: 'main' };
  assert.equal(cachedCommit(storage, 'main'), COMMIT);
  assert.equal(cachedCommit(storage, COMMIT), COMMIT, 'a commit is its own');
  assert.equal(cachedCommit(storage, 'dev'), null);
  const config = cachedFile(cache, { ...ref, path: 'transformer/config.json' });
  assert.equal(config?.kind, 'file');
  assert.equal(
    config.kind === 'file' && config.path,
    path.join(storage, 'snapshots', COMMIT, 'transformer', 'config.json'),
  );
  assert.deepEqual(readFileSync((config as { path: string }).path), CONFIG);
  assert.deepEqual(cachedFile(cache, { ...ref, revision: COMMIT, path: 'transformer/config.json' }), config);
  assert.deepEqual(cachedFile(cache, { ...ref, path: 'transformer/diffusion_pytorch_model.safetensors' }), {
    kind: 'no-exist',
    commit: COMMIT,
  });
  assert.equal(cachedFile(cache, { ...ref, path: 'vae/config.json' }), null);
  assert.equal(cachedFile(cache, { ...ref, revision: 'dev', path: 'transformer/config.json' }), null);
  assert.deepEqual([...snapshotFiles(path.join(storage, 'snapshots', COMMIT))].sort(), [
    'transformer/config.json',
    'transformer/diffusion_pytorch_model.safetensors.index.json',
  ]);
  rmSync(path.join(storage, 'blobs', sha256(WEIGHTS)));
  assert.deepEqual(
    [...snapshotFiles(path.join(storage, 'snapshots', COMMIT))],
    ['transformer/config.json'],
    'a link whose blob is gone is no file',
  );
});

test("links and refs are written in huggingface_hub's form", () => {
  const storage = path.join(scratch, 'written', 'models--o--n');
  const top = linkIntoSnapshot(storage, COMMIT, 'model_index.json', 'e'.repeat(40));
  const nested = linkIntoSnapshot(storage, COMMIT, 'text_encoder/model-00001-of-00002.safetensors', 'f'.repeat(64));
  assert.equal(readlinkSync(top), `../../blobs/${'e'.repeat(40)}`);
  assert.equal(readlinkSync(nested), `../../../blobs/${'f'.repeat(64)}`);
  assert.equal(linkIntoSnapshot(storage, COMMIT, 'model_index.json', 'd'.repeat(40)), top, 'a link is replaced');
  assert.equal(readlinkSync(top), `../../blobs/${'d'.repeat(40)}`);
  writeRef(storage, 'main', COMMIT);
  writeRef(storage, 'refs/pr/1', COMMIT);
  writeRef(storage, COMMIT, COMMIT);
  assert.equal(readFileSync(path.join(storage, 'refs', 'main'), 'utf8'), COMMIT, 'no newline');
  assert.equal(readFileSync(path.join(storage, 'refs', 'refs', 'pr', '1'), 'utf8'), COMMIT);
  assert.deepEqual(snapshotFiles(path.join(storage, 'refs')), new Set(['main', 'refs/pr/1']), 'a commit gets no ref');
});
