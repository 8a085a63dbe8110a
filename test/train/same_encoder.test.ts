// A decoder taken from elsewhere must share the encoder: assertSameEncoder on small VAE-shaped
// weight files that differ in one tensor each.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { type Tensor, saveSafetensors, tensor } from '../../src/torch/index.js';
import { assertSameEncoder } from '../../src/train/same_encoder.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'same-encoder-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

/** A VAE folder whose weights are `base`, with `changed` (key → value) set instead. */
function vaeFolder(
  name: string,
  changed: Record<string, number> = {},
  dtype: 'float32' | 'bfloat16' = 'float32',
): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  const base: Record<string, number[]> = {
    'encoder.conv_in.weight': [0.5, -1.25, 2],
    'quant_conv.bias': [0.125, 3],
    'decoder.conv_out.weight': [1, 2, 3],
    'post_quant_conv.bias': [-0.5],
  };
  const tensors = new Map<string, Tensor>();
  for (const [key, values] of Object.entries(base)) {
    const v = key in changed ? values.map((x, i) => (i === 0 ? changed[key]! : x)) : values;
    tensors.set(key, tensor(v).to(dtype));
  }
  saveSafetensors(path.join(dir, 'diffusion_pytorch_model.safetensors'), tensors, { format: 'pt' });
  for (const t of tensors.values()) t.dispose();
  return dir;
}

test('a decoder tuned on the same encoder passes, whatever its decoder and storage dtype', () => {
  const staged = vaeFolder('staged');
  const tuned = vaeFolder('tuned', { 'decoder.conv_out.weight': 7, 'post_quant_conv.bias': 9 }, 'bfloat16');
  assert.doesNotThrow(() => assertSameEncoder(tuned, staged));
});

test('another encoder or quant_conv is refused, naming the key', () => {
  const staged = vaeFolder('staged2');
  // 0.5 + 2^-6 survives bfloat16 (8 significant bits)
  const encoder = vaeFolder('other-encoder', { 'encoder.conv_in.weight': 0.515625 }, 'bfloat16');
  assert.throws(() => assertSameEncoder(encoder, staged), /encoder\.conv_in\.weight differs from .*staged2/);
  const quant = vaeFolder('other-quant', { 'quant_conv.bias': 0.25 });
  assert.throws(() => assertSameEncoder(quant, staged), /quant_conv\.bias differs/);
});

test('a difference below bfloat16 resolution is the same encoder as stored', () => {
  const staged = vaeFolder('staged3');
  // 0.5 + 2^-12 rounds to 0.5 in bfloat16
  const tuned = vaeFolder('rounded', { 'encoder.conv_in.weight': 0.500244140625 });
  assert.doesNotThrow(() => assertSameEncoder(tuned, staged));
});

test('an encoder of other shapes is refused, naming the key and both shapes', () => {
  const staged = vaeFolder('staged4');
  const dir = path.join(scratch, 'other-shapes');
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, Tensor>([
    ['encoder.conv_in.weight', tensor([0.5, -1.25, 2, 4])],
    ['quant_conv.bias', tensor([0.125, 3])],
  ]);
  saveSafetensors(path.join(dir, 'diffusion_pytorch_model.safetensors'), tensors);
  for (const t of tensors.values()) t.dispose();
  assert.throws(
    () => assertSameEncoder(dir, staged),
    /encoder\.conv_in\.weight has shape \[4\], .*staged4's \[3\]: another VAE's encoder/,
  );
});
