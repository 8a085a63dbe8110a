// `worldwander convert` on model weights: the tiny model's transformer, VAE and text encoder
// between diffusers', the original release's and ComfyUI's names, checked tensor by tensor
// against the fixtures the Python scripts wrote (scripts/make-wan-layout-fixtures.py,
// scripts/make-original-release-fixtures.py); round trips keep every byte; wrong uses are named.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import {
  openTensorFile,
  openWeights,
  saveSafetensors,
  scope,
  tensor,
  type TensorSource,
} from '../../src/torch/index.js';
import { repoRoot } from '../helpers/release_examples.js';

const cli = path.join(repoRoot, 'bin', 'worldwander.js');
const FIXTURES = path.join(repoRoot, 'test', 'fixtures');
const TINY = path.join(FIXTURES, 'tiny_model');
const PARTS = path.join(FIXTURES, 'original_release');
const LAYOUTS = path.join(FIXTURES, 'wan_layouts');
const scratch = mkdtempSync(path.join(tmpdir(), 'ww-convert-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function convert(
  input: string,
  to: string,
  name: string,
  extra: string[] = [],
): { status: number; out: string; stdout: string; stderr: string } {
  const out = path.join(scratch, name);
  const r = spawnSync(process.execPath, [cli, 'convert', '--to', to, ...extra, input, out], { encoding: 'utf8' });
  return { status: r.status ?? -1, out, stdout: r.stdout, stderr: r.stderr };
}

/** Every tensor of `a` equals `b`'s of the same name, bit for bit, and neither has a tensor more. */
function assertSameTensors(a: TensorSource, b: TensorSource, label: string, skip: string[] = []): void {
  const keys = (s: TensorSource) =>
    s
      .keys()
      .filter((k) => !skip.includes(k))
      .sort();
  assert.deepEqual(keys(a), keys(b), `${label}: the names`);
  scope(() => {
    for (const key of keys(a)) {
      const [x, y] = [a.get(key), b.get(key)];
      assert.equal(x.dtype, y.dtype, `${label}: ${key} dtype`);
      assert.deepEqual(x.shape, y.shape, `${label}: ${key} shape`);
      assert.ok(Buffer.from(x.toTypedArray().buffer).equals(Buffer.from(y.toTypedArray().buffer)), `${label}: ${key}`);
    }
  });
}

let outputs = 0;

/** Converts `input` to `to` and checks the result against `expected`, tensor by tensor; returns the output file. */
function converts(
  input: string,
  to: string,
  expected: TensorSource,
  label: string,
  skip: string[] = [],
): { out: string; stdout: string } {
  const r = convert(input, to, `out-${outputs++}.safetensors`);
  assert.equal(r.status, 0, `${label}: ${r.stderr}`);
  assertSameTensors(openTensorFile(r.out), expected, label, skip);
  return r;
}

const tinyTransformer = path.join(TINY, 'transformer', 'diffusion_pytorch_model.safetensors');
const diffusersTransformer = (): TensorSource => openWeights(path.join(TINY, 'transformer'), 'diffusion_pytorch_model');
const comfyTransformer = path.join(LAYOUTS, 'comfy', 'diffusion_pytorch_model.safetensors');

test("the transformer: ComfyUI -> diffusers is the diffusers file, diffusers -> original the release's shards, and ours -> comfy -> ours keeps every byte", () => {
  const fromComfy = converts(comfyTransformer, 'diffusers', diffusersTransformer(), 'comfy -> diffusers');
  assert.match(
    fromComfy.stdout,
    /the transformer's 69 tensors from the original under model\.diffusion_model\. layout in the diffusers layout/,
  );
  converts(
    tinyTransformer,
    'original',
    openWeights(path.join(LAYOUTS, 'original'), 'diffusion_pytorch_model'),
    'diffusers -> original',
  );
  const comfy = converts(tinyTransformer, 'comfy', openTensorFile(comfyTransformer), 'diffusers -> comfy');
  const back = converts(comfy.out, 'diffusers', diffusersTransformer(), 'ours -> comfy -> ours');
  const again = converts(
    converts(back.out, 'comfy', openTensorFile(comfyTransformer), 'again').out,
    'diffusers',
    diffusersTransformer(),
    'again',
  );
  assert.ok(
    readFileSync(again.out).equals(readFileSync(back.out)),
    'ours -> comfy -> ours, twice: the same file byte for byte',
  );
});

test("the VAE: the release's Wan2.2_VAE.pth -> diffusers is the diffusers VAE; diffusers -> original is ComfyUI's wan2.2_vae.safetensors (each resampler after its stage's blocks)", () => {
  const vae = converts(
    path.join(PARTS, 'Wan2.2_VAE.pth'),
    'diffusers',
    openWeights(path.join(TINY, 'vae'), 'diffusion_pytorch_model'),
    '.pth -> diffusers',
  );
  assert.match(vae.stdout, /the vae's 118 tensors from the original layout/);
  converts(
    path.join(TINY, 'vae', 'diffusion_pytorch_model.safetensors'),
    'original',
    openTensorFile(path.join(PARTS, 'wan2.2_vae.safetensors')),
    'diffusers -> original',
  );
});

test("the text encoder: the release's umT5 .pth -> transformers names, and back to Wan's T5Encoder names", () => {
  const transformersFile = path.join(TINY, 'text_encoder', 'model.safetensors');
  const pth = path.join(PARTS, 'models_t5_umt5-xxl-enc-bf16.pth');
  converts(pth, 'diffusers', openTensorFile(transformersFile), '.pth -> transformers', ['encoder.embed_tokens.weight']);
  converts(transformersFile, 'original', openTensorFile(pth), 'transformers -> original');
});

/** float32 values rounded to bfloat16 (round to nearest, ties to even), as float32: by hand, on the bits. */
function bf16Rounded(values: Float32Array): Float32Array {
  const bits = new Uint32Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  for (let i = 0; i < bits.length; i++) {
    const lsb = (bits[i]! >>> 16) & 1;
    bits[i] = ((bits[i]! + 0x7fff + lsb) >>> 16) << 16;
  }
  return new Float32Array(bits.buffer);
}

test('--dtype bfloat16: every floating-point tensor in bfloat16, each value the float32 one rounded to nearest even; --dtype float32 back gives those values exactly; a LoRA is refused', () => {
  const input = path.join(TINY, 'vae', 'diffusion_pytorch_model.safetensors');
  const half = convert(input, 'diffusers', 'vae-bf16.safetensors', ['--dtype', 'bfloat16']);
  assert.equal(half.status, 0, half.stderr);
  assert.match(half.stdout, /floating-point tensors in bfloat16/);
  const [source, written] = [openTensorFile(input), openTensorFile(half.out)];
  assert.deepEqual(written.keys().sort(), source.keys().sort());
  const back = convert(half.out, 'diffusers', 'vae-back.safetensors', ['--dtype', 'float32']);
  assert.equal(back.status, 0, back.stderr);
  const widened = openTensorFile(back.out);
  scope(() => {
    for (const key of source.keys()) {
      assert.equal(source.info(key).dtype, 'float32', key);
      assert.equal(written.info(key).dtype, 'bfloat16', key);
      const expected = bf16Rounded(source.get(key).toTypedArray() as Float32Array);
      const got = widened.get(key);
      assert.equal(got.dtype, 'float32', key);
      assert.deepEqual(got.toTypedArray(), expected, key);
    }
  });
  assert.ok(readFileSync(half.out).length < 0.6 * readFileSync(input).length, 'about half the bytes');
  const lora = convert(path.join(FIXTURES, 'lora_formats', 'kohya.safetensors'), 'diffusers', 'l.safetensors', [
    '--dtype',
    'bfloat16',
  ]);
  assert.equal(lora.status, 2, lora.stderr);
  assert.match(lora.stderr, /is a LoRA: --dtype is for model weights/);
});

test('wrong uses are named: kohya for model weights, original for a LoRA, a file that is no model', () => {
  const kohya = convert(path.join(TINY, 'vae', 'diffusion_pytorch_model.safetensors'), 'kohya', 'x.safetensors');
  assert.equal(kohya.status, 2);
  assert.match(kohya.stderr, /holds model weights: --to kohya is a LoRA format/);
  const lora = convert(path.join(FIXTURES, 'lora_formats', 'kohya.safetensors'), 'original', 'y.safetensors');
  assert.equal(lora.status, 2, lora.stderr);
  assert.match(lora.stderr, /is a LoRA: --to original is for model weights/);
  const other = path.join(scratch, 'other.safetensors');
  scope(() => saveSafetensors(other, { 'fc.weight': tensor([1, 2]) }));
  const none = convert(other, 'diffusers', 'z.safetensors');
  assert.equal(none.status, 1);
  assert.match(none.stderr, /other\.safetensors: neither a Wan transformer, a Wan VAE nor a umT5 encoder/);
});
