// The Hub from the command line, against a Hub on loopback: `worldwander download`, and the
// issue's own command, `infer --config configs/wan2-2_lora_three2one_synthetic.yaml` (model_id
// 'Wan2.2-TI2V-5B-Diffusers') with a LoRA `--ckpt hf://…`, downloading into an empty Hugging Face
// cache, then again offline from it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { FakeHub, loraRepo, tinyModelFiles } from '../helpers/fake_hub.js';
import { RELEASE_CONFIGS, RELEASE_EXAMPLES, repoRoot } from '../helpers/release_examples.js';

const cli = path.join(repoRoot, 'bin', 'worldwander.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'download-cli-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const COMMIT = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';

const model = { ...tinyModelFiles(), 'README.md': Buffer.from('# card') };
const hub = await new FakeHub([
  { repo: 'Wan-AI/Wan2.2-TI2V-5B-Diffusers', commit: COMMIT, files: model },
  loraRepo('org/worldwander-lora', COMMIT),
]).start();
after(() => hub.close());

/** The CLI in a child process (asynchronously: the Hub answers from this one). */
function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: scratch,
    env: { ...process.env, HF_ENDPOINT: hub.endpoint, HF_HOME: path.join(scratch, 'home'), ...env },
  });
  let stdout = '',
    stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok) => child.on('close', (status) => ok({ status: status ?? -1, stdout, stderr })));
}

test('worldwander download: the snapshot in the Hugging Face cache, printed; offline and wrong names refused in one line', async () => {
  const cache = path.join(scratch, 'cache-download');
  const r = await run(['download', 'Wan-AI/Wan2.2-TI2V-5B-Diffusers'], { HF_HUB_CACHE: cache });
  assert.equal(r.status, 0, r.stderr);
  const snapshot = path.join(cache, 'models--Wan-AI--Wan2.2-TI2V-5B-Diffusers', 'snapshots', COMMIT);
  assert.equal(r.stdout.trim(), snapshot);
  assert.match(r.stderr, /downloading Wan-AI\/Wan2\.2-TI2V-5B-Diffusers \[#+\] 100% \d+\/\d+ [\d.]+ kB\/s/);
  assert.match(r.stderr, new RegExp(`Wan-AI/Wan2\\.2-TI2V-5B-Diffusers: 8 file\\(s\\) at commit ${COMMIT}`));
  assert.ok(!existsSync(path.join(snapshot, 'README.md')), 'what a run reads, no more');
  assert.ok(statSync(path.join(snapshot, 'transformer', 'diffusion_pytorch_model.safetensors')).size > 0);

  const some = await run(['download', 'Wan-AI/Wan2.2-TI2V-5B-Diffusers', '--include', '*.md'], { HF_HUB_CACHE: cache });
  assert.equal(some.status, 0, some.stderr);
  assert.equal(readFileSync(path.join(snapshot, 'README.md'), 'utf8'), '# card');

  const offline = await run(['download', 'org/worldwander-lora'], { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' });
  assert.equal(offline.status, 1);
  assert.equal(
    offline.stderr.trim(),
    `worldwander download: org/worldwander-lora is not in the Hugging Face cache (${cache}), and HF_HUB_OFFLINE=1 forbids downloading it`,
  );
  const wrong = await run(['download', './not/a/repo'], { HF_HUB_CACHE: cache });
  assert.equal(wrong.status, 2);
  assert.match(
    wrong.stderr,
    /^worldwander download: <repo>: \.\/not\/a\/repo is neither OWNER\/NAME\[@REVISION\] nor hf:\/\/OWNER\/NAME\[@REVISION\]\/PATH/,
  );
});

test("encode-prompts --model-dir REPO: only the text side is downloaded; the embeddings go to WorldWander's cache", async () => {
  const cache = path.join(scratch, 'cache-prompts');
  const r = await run(['encode-prompts', '--model-dir', 'Wan-AI/Wan2.2-TI2V-5B-Diffusers', '--dtype', 'float32'], {
    HF_HUB_CACHE: cache,
    WORLDWANDER_CACHE_DIR: path.join(scratch, 'ww-prompts'),
  });
  assert.equal(r.status, 0, r.stderr);
  const snapshot = path.join(cache, 'models--Wan-AI--Wan2.2-TI2V-5B-Diffusers', 'snapshots', COMMIT);
  assert.ok(existsSync(path.join(snapshot, 'text_encoder', 'model.safetensors')));
  assert.ok(existsSync(path.join(snapshot, 'transformer', 'config.json')));
  assert.ok(
    !existsSync(path.join(snapshot, 'transformer', 'diffusion_pytorch_model.safetensors')),
    'no transformer weights',
  );
  assert.ok(!existsSync(path.join(snapshot, 'vae')), 'no VAE');
  assert.match(
    r.stdout,
    new RegExp(`3 prompt\\(s\\) in ${path.join(scratch, 'ww-prompts', 'prompt_embeds')}: 3 encoded`),
  );
});

test("the issue's command: the release config's model_id and an hf:// LoRA downloaded, then run again offline", async () => {
  const cache = path.join(scratch, 'cache-infer');
  const args = (output: string): string[] => [
    'infer',
    '--config',
    path.join(RELEASE_CONFIGS, 'wan2-2_lora_three2one_synthetic.yaml'),
    '--ckpt',
    'hf://org/worldwander-lora/three2one.ckpt',
    '--input',
    RELEASE_EXAMPLES,
    '--output',
    output,
    ...['--height', '32', '--width', '64', '--frames', '5', '--steps', '2'],
  ];
  const r = await run(args(path.join(scratch, 'first')), {
    HF_HUB_CACHE: cache,
    WORLDWANDER_CACHE_DIR: path.join(scratch, 'ww'),
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /downloading Wan-AI\/Wan2\.2-TI2V-5B-Diffusers \[#+\] 100%/);
  assert.match(r.stderr, /downloading three2one\.ckpt \[#+\] 100%/);
  const record = JSON.parse(readFileSync(path.join(scratch, 'first', 'case1', 'run.json'), 'utf8'));
  assert.equal(record.model, path.join(cache, 'models--Wan-AI--Wan2.2-TI2V-5B-Diffusers', 'snapshots', COMMIT));
  assert.equal(record.lora, 'hf://org/worldwander-lora/three2one.ckpt');
  assert.ok(
    readdirSync(path.join(scratch, 'ww', 'prompt_embeds')).length > 0,
    'prompt embeddings outside the HF cache',
  );
  assert.ok(!existsSync(path.join(record.model, 'prompt_embeds')), 'the snapshot stays as huggingface_hub wrote it');

  const seen = hub.seen.length;
  const again = await run(args(path.join(scratch, 'second')), {
    HF_HUB_CACHE: cache,
    WORLDWANDER_CACHE_DIR: path.join(scratch, 'ww'),
    HF_HUB_OFFLINE: '1',
  });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(hub.seen.length, seen, 'no request');
  assert.ok(
    readFileSync(path.join(scratch, 'first', 'case1', 'frames', '00004.png')).equals(
      readFileSync(path.join(scratch, 'second', 'case1', 'frames', '00004.png')),
    ),
  );
});

test('a run whose prompts are all cached downloads no text encoder (encode-prompts once, then infer into an empty Hugging Face cache), and runs offline from that cache; without them it needs the encoder', async () => {
  const ww = path.join(scratch, 'ww-text');
  const repo = 'Wan-AI/Wan2.2-TI2V-5B-Diffusers';
  const infer = (output: string): string[] => [
    'infer',
    '--config',
    path.join(RELEASE_CONFIGS, 'wan2-2_lora_three2one_synthetic.yaml'),
    '--model-dir',
    repo,
    '--input',
    RELEASE_EXAMPLES,
    '--output',
    path.join(scratch, output),
    ...['--height', '32', '--width', '64', '--frames', '5', '--steps', '2'],
  ];
  const withEncoder = path.join(scratch, 'cache-text-a');
  const encoded = await run(['encode-prompts', '--model-dir', repo], {
    HF_HUB_CACHE: withEncoder,
    WORLDWANDER_CACHE_DIR: ww,
  });
  assert.equal(encoded.status, 0, encoded.stderr);

  const without = path.join(scratch, 'cache-text-b');
  const seen = hub.seen.length;
  const r = await run(infer('no-encoder'), { HF_HUB_CACHE: without, WORLDWANDER_CACHE_DIR: ww });
  assert.equal(r.status, 0, r.stderr);
  const asked = hub.seen.slice(seen).map((s) => s.url);
  assert.ok(
    asked.some((u) => u.includes('transformer/diffusion_pytorch_model.safetensors')),
    asked.join('\n'),
  );
  assert.ok(!asked.some((u) => u.includes('text_encoder')), `no request for the text encoder:\n${asked.join('\n')}`);
  const snapshot = path.join(without, 'models--Wan-AI--Wan2.2-TI2V-5B-Diffusers', 'snapshots', COMMIT);
  assert.ok(!existsSync(path.join(snapshot, 'text_encoder')), 'no text encoder in the cache');

  // the same frames as a run that has the encoder (the first cache, completed with the rest)
  const full = await run(infer('with-encoder'), { HF_HUB_CACHE: withEncoder, WORLDWANDER_CACHE_DIR: ww });
  assert.equal(full.status, 0, full.stderr);
  const frame = (output: string): Buffer => readFileSync(path.join(scratch, output, 'case1', 'frames', '00004.png'));
  assert.ok(frame('no-encoder').equals(frame('with-encoder')));

  const before = hub.seen.length;
  const offline = await run(infer('offline'), {
    HF_HUB_CACHE: without,
    WORLDWANDER_CACHE_DIR: ww,
    HF_HUB_OFFLINE: '1',
  });
  assert.equal(offline.status, 0, offline.stderr);
  assert.equal(hub.seen.length, before, 'no request');
  assert.ok(frame('offline').equals(frame('with-encoder')));

  // another user's cache (no recorded encoder, no prompts): the snapshot lacks what the run needs
  const other = await run(infer('other-user'), {
    HF_HUB_CACHE: without,
    WORLDWANDER_CACHE_DIR: path.join(scratch, 'ww-other'),
    HF_HUB_OFFLINE: '1',
  });
  assert.equal(other.status, 1);
  assert.match(
    other.stderr,
    /text_encoder\/config\.json \(and 1 more files\) of Wan-AI\/Wan2\.2-TI2V-5B-Diffusers is not in the Hugging Face cache/,
  );
  assert.match(other.stderr, /HF_HUB_OFFLINE=1 forbids downloading it/);
});
