// The transformer from the original Wan release's layout (sharded, original key names, WanModel's
// config.json) and ComfyUI's prefixed keys, made from the tiny test model by
// scripts/make-wan-layout-fixtures.py: the same weights and config as from diffusers' layout.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { WanTransformer3DModel } from '../../src/models/wan/transformer.js';
import { detectTransformerLayout, diffusersKeyOf } from '../../src/models/wan/transformer_layouts.js';
import { WAN22_TI2V_5B } from '../../src/models/wan/transformer_config.js';
import { SafetensorsFile, saveSafetensors } from '../../src/torch/index.js';
import { E4M3FN_VALUES } from '../../src/torch/float8.js';
import { repoRoot } from '../helpers/release_examples.js';

const FIXTURES = path.join(repoRoot, 'test', 'fixtures');
const scratch = mkdtempSync(path.join(tmpdir(), 'ww-layouts-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function bytesOf(model: WanTransformer3DModel): Map<string, Buffer> {
  return new Map([...model.namedParameters()].map(([name, p]) => [name, Buffer.from(p.toTypedArray().buffer)]));
}

test("the original release layout (2 shards) and ComfyUI's prefixed keys load the same weights and config as diffusers'", () => {
  const reference = WanTransformer3DModel.fromPretrained(path.join(FIXTURES, 'tiny_model', 'transformer'));
  const expected = bytesOf(reference);
  for (const layout of ['original', 'comfy']) {
    const model = WanTransformer3DModel.fromPretrained(path.join(FIXTURES, 'wan_layouts', layout));
    try {
      assert.deepEqual({ ...model.config }, { ...reference.config }, `${layout}: the config`);
      const got = bytesOf(model);
      assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort());
      for (const [name, bytes] of expected) assert.ok(got.get(name)!.equals(bytes), `${layout}: ${name}`);
    } finally {
      model.dispose();
    }
  }
  reference.dispose();
});

test("layouts are told by their keys; the renames are diffusers' (norm3 of the original is norm2)", () => {
  assert.deepEqual(detectTransformerLayout(['blocks.0.self_attn.q.weight', 'head.head.weight']), {
    layout: 'original',
    prefix: '',
  });
  assert.deepEqual(detectTransformerLayout(['model.diffusion_model.blocks.0.cross_attn.k.weight']), {
    layout: 'original',
    prefix: 'model.diffusion_model.',
  });
  assert.deepEqual(detectTransformerLayout(['blocks.0.attn1.to_q.weight', 'proj_out.weight']), {
    layout: 'diffusers',
    prefix: '',
  });
  const cases: [string, string][] = [
    ['blocks.3.self_attn.o.bias', 'blocks.3.attn1.to_out.0.bias'],
    ['blocks.3.cross_attn.norm_k.weight', 'blocks.3.attn2.norm_k.weight'],
    ['blocks.3.norm3.weight', 'blocks.3.norm2.weight'],
    ['blocks.3.ffn.0.weight', 'blocks.3.ffn.net.0.proj.weight'],
    ['blocks.3.ffn.2.bias', 'blocks.3.ffn.net.2.bias'],
    ['blocks.3.modulation', 'blocks.3.scale_shift_table'],
    ['head.modulation', 'scale_shift_table'],
    ['head.head.weight', 'proj_out.weight'],
    ['time_embedding.0.weight', 'condition_embedder.time_embedder.linear_1.weight'],
    ['time_projection.1.bias', 'condition_embedder.time_proj.bias'],
    ['text_embedding.2.weight', 'condition_embedder.text_embedder.linear_2.weight'],
  ];
  for (const [original, diffusers] of cases) assert.equal(diffusersKeyOf(original), diffusers, original);
  assert.equal(diffusersKeyOf('blocks.0.self_attn.qkv.weight'), undefined);
});

test('an original-layout file with a key the table does not know is refused, naming it (never a silent skip)', () => {
  const dir = path.join(scratch, 'extra');
  cpSync(path.join(FIXTURES, 'wan_layouts', 'comfy'), dir, { recursive: true });
  const file = path.join(dir, 'diffusion_pytorch_model.safetensors');
  const source = SafetensorsFile.open(file);
  const tensors = new Map(source.keys().map((k) => [k, source.get(k)]));
  tensors.set(
    'model.diffusion_model.blocks.0.self_attn.lora.weight',
    tensors.get('model.diffusion_model.blocks.0.self_attn.q.weight')!,
  );
  saveSafetensors(file, tensors);
  assert.throws(
    () => WanTransformer3DModel.fromPretrained(dir),
    /extra: 1 key\(s\) of the original Wan layout have no diffusers name here: model\.diffusion_model\.blocks\.0\.self_attn\.lora\.weight/,
  );
  for (const t of new Set(tensors.values())) t.dispose();
});

test("ComfyUI's scaled fp8 (float8 e4m3fn with per-tensor scales): the weights are the float64 reference's dequantised values, bit for bit", () => {
  const model = WanTransformer3DModel.fromPretrained(path.join(FIXTURES, 'wan_layouts', 'comfy_fp8'));
  const expected = SafetensorsFile.open(path.join(FIXTURES, 'wan_layouts', 'comfy_fp8', 'expected.safetensors'));
  try {
    const got = bytesOf(model);
    assert.deepEqual([...got.keys()].sort(), expected.keys().sort());
    for (const key of expected.keys()) {
      const t = expected.get(key);
      assert.ok(got.get(key)!.equals(Buffer.from(t.toTypedArray().buffer)), key);
      t.dispose();
    }
  } finally {
    model.dispose();
  }
});

test('e4m3fn values by hand: 1, -1, the largest (448), the smallest normal and subnormal, NaN', () => {
  assert.equal(E4M3FN_VALUES[0x38], 1);
  assert.equal(E4M3FN_VALUES[0xb8], -1);
  assert.equal(E4M3FN_VALUES[0x7e], 448);
  assert.equal(E4M3FN_VALUES[0x08], 2 ** -6);
  assert.equal(E4M3FN_VALUES[0x01], 2 ** -9);
  assert.ok(Number.isNaN(E4M3FN_VALUES[0x7f]!) && Number.isNaN(E4M3FN_VALUES[0xff]!));
});

test("at real size: the 5B release's original key list (WanModel's module tree, 30 blocks) renames onto our model's 825 tensors with none left over", () => {
  // The original names written from Wan's WanModel (wan/modules/model.py): per block self_attn and
  // cross_attn (q, k, v, o with biases; norm_q, norm_k), norm3 (the only norm with weights), ffn.0
  // and ffn.2, modulation; then the embeddings, the head and its modulation.
  const original: string[] = [
    'patch_embedding.weight',
    'patch_embedding.bias',
    'head.head.weight',
    'head.head.bias',
    'head.modulation',
  ];
  for (const m of ['text_embedding.0', 'text_embedding.2', 'time_embedding.0', 'time_embedding.2', 'time_projection.1'])
    original.push(`${m}.weight`, `${m}.bias`);
  for (let n = 0; n < 30; n++) {
    for (const attn of ['self_attn', 'cross_attn']) {
      for (const x of ['q', 'k', 'v', 'o'])
        original.push(`blocks.${n}.${attn}.${x}.weight`, `blocks.${n}.${attn}.${x}.bias`);
      original.push(`blocks.${n}.${attn}.norm_q.weight`, `blocks.${n}.${attn}.norm_k.weight`);
    }
    original.push(
      `blocks.${n}.norm3.weight`,
      `blocks.${n}.norm3.bias`,
      `blocks.${n}.ffn.0.weight`,
      `blocks.${n}.ffn.0.bias`,
      `blocks.${n}.ffn.2.weight`,
      `blocks.${n}.ffn.2.bias`,
      `blocks.${n}.modulation`,
    );
  }
  const model = new WanTransformer3DModel(WAN22_TI2V_5B, { init: 'empty', device: 'meta' });
  const ours = [...model.stateDict().keys()].sort();
  const renamed = original.map((k) => diffusersKeyOf(k));
  assert.ok(
    renamed.every((k) => k !== undefined),
    'every original key has a diffusers name',
  );
  assert.equal(new Set(renamed).size, original.length, 'no two original keys share a name');
  assert.deepEqual([...renamed].sort(), ours, "the renamed list is exactly our model's keys");
  assert.equal(detectTransformerLayout(original.map((k) => `model.diffusion_model.${k}`)).layout, 'original');
});
