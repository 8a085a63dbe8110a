// A model from the Hub: the files a run reads (configs, weights as the loaders pick them, shards
// named by their index, the tokenizer; not what a single file replaces, nor READMEs, schedulers,
// other variants), found in a Hugging Face cache laid out by hand as Python writes it, or
// downloaded from a Hub on loopback; a local folder of the name wins; offline, one line.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { hubSettings } from '../../src/io/hub_download.js';
import { loadConfig } from '../../src/worldwander/config.js';
import {
  locateModel,
  modelFiles,
  modelFolderLayout,
  modelFolderNeeds,
  modelPartsFor,
  promptCacheDirOf,
  resolveModelDir,
} from '../../src/worldwander/model_folder.js';
import { downloadRepo, ensureHubFile, ensureModelDir } from '../../src/worldwander/model_hub.js';
import { FakeHub, gitSha1, loraRepo, sha256, tinyModelFiles } from '../helpers/fake_hub.js';
import { RELEASE_CONFIGS, repoRoot } from '../helpers/release_examples.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'model-hub-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const TINY = path.join(repoRoot, 'test/fixtures/tiny_model');
const COMMIT = 'feedfacefeedfacefeedfacefeedfacefeedface';
const CONFIG_FILE = path.join(RELEASE_CONFIGS, 'wan2-2_lora_three2one_synthetic.yaml');
const config = loadConfig(CONFIG_FILE, []);

/** The tiny model as a diffusers repository has it, beside files no run reads. */
const REPO_FILES = {
  ...tinyModelFiles(),
  'README.md': '# a model card',
  'scheduler/scheduler_config.json': '{}',
  'assets/teaser.mp4': Buffer.alloc(4096, 7),
  'transformer/diffusion_pytorch_model.fp16.safetensors': Buffer.alloc(2048, 1),
};
/** A repository whose text encoder is sharded (the index names two of its three shard-like files). */
const SHARDED_FILES = {
  'transformer/config.json': '{}',
  'transformer/diffusion_pytorch_model.safetensors': 'T',
  'vae/config.json': '{}',
  'vae/diffusion_pytorch_model.safetensors': 'V',
  'text_encoder/config.json': '{}',
  'text_encoder/model.safetensors.index.json': JSON.stringify({
    metadata: {},
    weight_map: {
      a: 'model-00001-of-00002.safetensors',
      b: 'model-00002-of-00002.safetensors',
      c: 'model-00001-of-00002.safetensors',
    },
  }),
  'text_encoder/model-00001-of-00002.safetensors': 'S1',
  'text_encoder/model-00002-of-00002.safetensors': 'S2',
  'text_encoder/model.fp16-00001-of-00001.safetensors': 'F',
  'tokenizer/tokenizer.json': '{}',
  'tokenizer/special_tokens_map.json': '{}',
};
const hub = await new FakeHub([
  { repo: 'Wan-AI/Wan2.2-TI2V-5B-Diffusers', commit: COMMIT, files: REPO_FILES },
  { repo: 'org/sharded', commit: COMMIT, files: SHARDED_FILES },
  loraRepo('org/lora', COMMIT),
]).start();
after(() => hub.close());

let caches = 0;
/** A fresh cache folder, set in the environment as a user would (locateModel reads it there). */
function useCache(env: NodeJS.ProcessEnv = {}): string {
  const cache = path.join(scratch, `cache-${++caches}`);
  Object.assign(process.env, { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: cache, HF_HOME: path.join(scratch, 'home') });
  delete process.env.HF_HUB_OFFLINE;
  Object.assign(process.env, env);
  return cache;
}
const quick = { retryDelayMs: 0 };

/** The tiny model in the cache, by hand, as huggingface_hub's snapshot_download leaves it. */
function pythonCache(cache: string, files: Record<string, Buffer>): string {
  const storage = path.join(cache, 'models--Wan-AI--Wan2.2-TI2V-5B-Diffusers');
  mkdirSync(path.join(storage, 'blobs'), { recursive: true });
  mkdirSync(path.join(storage, 'refs'));
  writeFileSync(path.join(storage, 'refs', 'main'), COMMIT);
  for (const [name, bytes] of Object.entries(files)) {
    const etag = name.endsWith('.safetensors') ? sha256(bytes) : gitSha1(bytes);
    writeFileSync(path.join(storage, 'blobs', etag), bytes);
    const pointer = path.join(storage, 'snapshots', COMMIT, ...name.split('/'));
    mkdirSync(path.dirname(pointer), { recursive: true });
    symlinkSync(`${'../'.repeat(name.split('/').length + 1)}blobs/${etag}`, pointer);
  }
  return path.join(storage, 'snapshots', COMMIT);
}

test('the files a run reads: configs, weights as the loaders pick them (index and its shards), the tokenizer', () => {
  const sharded = new Set(Object.keys(SHARDED_FILES));
  const shards = (index: string): string[] => {
    assert.equal(index, 'text_encoder/model.safetensors.index.json');
    return ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  };
  const all = modelPartsFor({});
  assert.deepEqual(modelFolderNeeds(sharded, all, shards), [
    'transformer/config.json',
    'transformer/diffusion_pytorch_model.safetensors',
    'vae/config.json',
    'vae/diffusion_pytorch_model.safetensors',
    'text_encoder/config.json',
    'text_encoder/model.safetensors.index.json',
    'text_encoder/model-00001-of-00002.safetensors',
    'text_encoder/model-00002-of-00002.safetensors',
    'tokenizer/tokenizer.json',
    'tokenizer/special_tokens_map.json',
  ]);
  assert.deepEqual(
    modelFolderNeeds(sharded, modelPartsFor({ textEncoder: 'umt5.pth', transformer: 't.safetensors' }), shards),
    [
      'transformer/config.json',
      'vae/config.json',
      'vae/diffusion_pytorch_model.safetensors',
      'tokenizer/tokenizer.json',
      'tokenizer/special_tokens_map.json',
    ],
    'a single file in place of a part: that part is not read from the folder',
  );
  const original = new Set([
    'config.json',
    'diffusion_pytorch_model-00001-of-00002.safetensors',
    'diffusion_pytorch_model-00002-of-00002.safetensors',
    'diffusion_pytorch_model.safetensors.index.json',
    'Wan2.2_VAE.pth',
    'models_t5_umt5-xxl-enc-bf16.pth',
    'google/umt5-xxl/tokenizer.json',
    'google/umt5-xxl/spiece.model',
    'examples/i2v_input.JPG',
  ]);
  assert.deepEqual(
    modelFolderNeeds(original, all, () => [
      'diffusion_pytorch_model-00001-of-00002.safetensors',
      'diffusion_pytorch_model-00002-of-00002.safetensors',
    ]),
    [
      'config.json',
      'diffusion_pytorch_model.safetensors.index.json',
      'diffusion_pytorch_model-00001-of-00002.safetensors',
      'diffusion_pytorch_model-00002-of-00002.safetensors',
      'Wan2.2_VAE.pth',
      'models_t5_umt5-xxl-enc-bf16.pth',
      'google/umt5-xxl/tokenizer.json',
      'google/umt5-xxl/spiece.model',
    ],
  );
  assert.equal(
    modelFolderNeeds(new Set(['config.json', 'model.safetensors']), all, () => []),
    null,
    'not a Wan model',
  );
});

test("the release config's model_id is Wan-AI's repository, found in a cache Python wrote; a local folder of the name wins", () => {
  const cache = useCache();
  const files = tinyModelFiles();
  const snapshot = pythonCache(cache, files);
  assert.equal(resolveModelDir(config, CONFIG_FILE), snapshot);
  assert.equal(modelFiles(snapshot).layout, 'diffusers');
  assert.equal(resolveModelDir(config, CONFIG_FILE, 'Wan-AI/Wan2.2-TI2V-5B-Diffusers'), snapshot);
  assert.equal(resolveModelDir(config, CONFIG_FILE, `Wan-AI/Wan2.2-TI2V-5B-Diffusers@${COMMIT}`), snapshot);
  assert.equal(resolveModelDir(config, CONFIG_FILE, 'hf://Wan-AI/Wan2.2-TI2V-5B-Diffusers'), snapshot);

  const beside = path.join(scratch, 'beside');
  mkdirSync(beside);
  cpSync(TINY, path.join(beside, 'Wan2.2-TI2V-5B-Diffusers'), { recursive: true });
  cpSync(CONFIG_FILE, path.join(beside, 'three2one.yaml'));
  assert.deepEqual(locateModel(config, path.join(beside, 'three2one.yaml')), {
    kind: 'folder',
    dir: path.join(beside, 'Wan2.2-TI2V-5B-Diffusers'),
  });

  rmSync(path.join(snapshot, 'vae', 'diffusion_pytorch_model.safetensors'));
  const location = locateModel(config, CONFIG_FILE);
  assert.equal(location.kind === 'hub' && location.dir, null);
  assert.deepEqual(location.kind === 'hub' && location.missing, ['vae/diffusion_pytorch_model.safetensors']);
  assert.deepEqual(
    locateModel(config, CONFIG_FILE, undefined, { vae: path.join(TINY, 'vae/diffusion_pytorch_model.safetensors') })
      .dir,
    snapshot,
    'not missing when --vae stands in for it',
  );
  assert.throws(
    () => resolveModelDir(config, CONFIG_FILE),
    new RegExp(
      `^OptionError: modelDir: vae/diffusion_pytorch_model\\.safetensors of Wan-AI/Wan2\\.2-TI2V-5B-Diffusers is not in the Hugging Face cache \\(${cache}\\); \`worldwander download Wan-AI/Wan2\\.2-TI2V-5B-Diffusers\` fetches it$`,
    ),
  );
  assert.throws(
    () => resolveModelDir(config, CONFIG_FILE, 'no/such/place'),
    /^OptionError: modelDir: no\/such\/place is neither a folder nor a Hub repository \(OWNER\/NAME\[@REVISION\]\)/,
  );
});

test('a repository not in the cache is downloaded: only what a run reads; offline it is one line', async () => {
  const cache = useCache({ HF_HUB_OFFLINE: '1' });
  const start = hub.seen.length;
  await assert.rejects(
    ensureModelDir(locateModel(config, CONFIG_FILE)),
    new RegExp(
      `^HubError: Wan-AI/Wan2\\.2-TI2V-5B-Diffusers is not in the Hugging Face cache \\(${cache}\\), and HF_HUB_OFFLINE=1 forbids downloading it$`,
    ),
  );
  assert.equal(hub.seen.length, start, 'offline: no request');
  delete process.env.HF_HUB_OFFLINE;

  const dir = await ensureModelDir(locateModel(config, CONFIG_FILE), quick);
  const storage = path.join(cache, 'models--Wan-AI--Wan2.2-TI2V-5B-Diffusers');
  assert.equal(dir, path.join(storage, 'snapshots', COMMIT));
  const wanted = Object.keys(tinyModelFiles()).sort();
  const got = (at: string, prefix = ''): string[] =>
    readdirSync(at, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? got(path.join(at, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
    );
  assert.deepEqual(got(dir).sort(), wanted, 'no README, scheduler, assets or fp16 variant');
  assert.equal(modelFolderLayout(dir), 'diffusers');
  for (const name of wanted) assert.deepEqual(readFileSync(path.join(dir, name)), tinyModelFiles()[name], name);
  assert.equal(resolveModelDir(config, CONFIG_FILE), dir, 'the next run finds it without the Hub');

  const seen = hub.seen.length;
  process.env.HF_HUB_OFFLINE = '1';
  assert.equal(await ensureModelDir(locateModel(config, CONFIG_FILE)), dir);
  assert.equal(hub.seen.length, seen);
});

test('sharded weights: the index first, then the shards it names and no other file', async () => {
  useCache();
  const ref = { repo: 'org/sharded', revision: 'main' };
  const result = await downloadRepo(ref, [], { ...quick, settings: hubSettings() });
  assert.deepEqual(
    result.files,
    modelFolderNeeds(new Set(Object.keys(SHARDED_FILES)), modelPartsFor({}), () => [
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]),
  );
  assert.equal(readFileSync(path.join(result.dir, 'text_encoder', 'model-00002-of-00002.safetensors'), 'utf8'), 'S2');
  const some = await downloadRepo({ repo: 'org/lora', revision: 'main' }, ['*.json'], {
    settings: hubSettings(),
  }).catch((e: Error) => e.message);
  assert.equal(some, 'org/lora: no file matches *.json');
  const lora = await downloadRepo({ repo: 'org/lora', revision: 'main' }, [], { ...quick, settings: hubSettings() });
  assert.deepEqual(lora.files, ['three2one.ckpt'], 'not a model: every file');
});

test('prompt embeddings of a Hub snapshot are kept out of the Hugging Face cache', () => {
  process.env.WORLDWANDER_CACHE_DIR = path.join(scratch, 'ww');
  assert.equal(promptCacheDirOf(TINY), path.join(TINY, 'prompt_embeds'));
  assert.equal(
    promptCacheDirOf(path.join(scratch, 'hub', 'models--Wan-AI--Wan2.2-TI2V-5B-Diffusers', 'snapshots', COMMIT)),
    path.join(scratch, 'ww', 'prompt_embeds'),
  );
});

test('a LoRA as hf://OWNER/NAME/PATH comes from the Hub; a local file is taken as it is', async () => {
  useCache();
  const file = await ensureHubFile('hf://org/lora/three2one.ckpt', quick);
  assert.deepEqual(readFileSync(file), readFileSync(path.join(repoRoot, 'test/fixtures/ckpt/release_shaped.ckpt')));
  assert.match(file, /models--org--lora\/snapshots\/feedface[0-9a-f]{32}\/three2one\.ckpt$/);
  const local = path.join(repoRoot, 'test/fixtures/ckpt/release_shaped.ckpt');
  assert.equal(await ensureHubFile(local), local);
  assert.equal(await ensureHubFile('missing.ckpt'), 'missing.ckpt', 'neither: its reader says what is wrong');
});
