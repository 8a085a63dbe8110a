// The VAE and the text encoder from the files the original Wan release and ComfyUI ship
// (scripts/make-original-release-fixtures.py made them from the tiny test model with Debian's
// python3-torch): Wan2.2_VAE.pth, models_t5_umt5-xxl-enc-bf16.pth (torch.save, original module
// names), wan2.2_vae.safetensors, umT5 in scaled fp8. Each gives the weights of the diffusers /
// transformers layout bit for bit (fp8: the dequantised bytes decoded by the fixture script).
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { AutoencoderKLWan } from '../../src/models/wan/vae.js';
import { WAN22_TI2V_5B_VAE } from '../../src/models/wan/vae_config.js';
import { detectVaeLayout, diffusersVaeKeyOf, vaeConfigFromShapes } from '../../src/models/wan/vae_layouts.js';
import { UMT5EncoderModel } from '../../src/models/umt5/model.js';
import { UMT5_XXL, readUMT5Config } from '../../src/models/umt5/config.js';
import { transformersKeyOf, umt5ConfigFromShapes } from '../../src/models/umt5/layouts.js';
import {
  Generator,
  SafetensorsFile,
  randn,
  saveSafetensors,
  scope,
  type TensorInfo,
  type TensorSource,
} from '../../src/torch/index.js';
import type { Module } from '../../src/nn/index.js';
import { repoRoot } from '../helpers/release_examples.js';

const FIXTURES = path.join(repoRoot, 'test', 'fixtures');
const RELEASE = path.join(FIXTURES, 'original_release');
const TINY = path.join(FIXTURES, 'tiny_model');

function bytesOf(model: Module): Map<string, Buffer> {
  return new Map([...model.namedParameters()].map(([name, p]) => [name, Buffer.from(p.toTypedArray().buffer)]));
}

function assertSameWeights(got: Module, expected: Module, label: string): void {
  const a = bytesOf(got),
    b = bytesOf(expected);
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), `${label}: the parameter names`);
  for (const [name, bytes] of b) assert.ok(a.get(name)!.equals(bytes), `${label}: ${name}`);
}

/** A source that has only shapes (no data): what a published key list is. */
function shapesOnly(shapes: Map<string, number[]>): TensorSource {
  const info = (key: string): TensorInfo => ({ dtype: 'bfloat16', shape: shapes.get(key)!, begin: 0, end: 0 });
  return {
    keys: () => [...shapes.keys()],
    has: (k) => shapes.has(k),
    info,
    get: () => {
      throw new Error('shapes only');
    },
  };
}

test("the original VAE names map to diffusers' as convert_vae_22 renames them (hand-checked cases of the real 5B VAE)", () => {
  const cases: [string, string][] = [
    ['conv1.weight', 'quant_conv.weight'],
    ['conv2.bias', 'post_quant_conv.bias'],
    ['encoder.conv1.weight', 'encoder.conv_in.weight'],
    ['encoder.downsamples.0.downsamples.1.residual.3.gamma', 'encoder.down_blocks.0.resnets.1.norm2.gamma'],
    ['encoder.downsamples.1.downsamples.0.shortcut.weight', 'encoder.down_blocks.1.resnets.0.conv_shortcut.weight'],
    ['encoder.downsamples.1.downsamples.2.resample.1.weight', 'encoder.down_blocks.1.downsampler.resample.1.weight'],
    ['encoder.downsamples.2.downsamples.2.time_conv.bias', 'encoder.down_blocks.2.downsampler.time_conv.bias'],
    ['encoder.middle.2.residual.6.weight', 'encoder.mid_block.resnets.1.conv2.weight'],
    ['encoder.middle.1.to_qkv.weight', 'encoder.mid_block.attentions.0.to_qkv.weight'],
    ['encoder.head.0.gamma', 'encoder.norm_out.gamma'],
    ['decoder.head.2.weight', 'decoder.conv_out.weight'],
    ['decoder.upsamples.0.upsamples.3.time_conv.weight', 'decoder.up_blocks.0.upsampler.time_conv.weight'],
    ['decoder.upsamples.3.upsamples.2.residual.0.gamma', 'decoder.up_blocks.3.resnets.2.norm1.gamma'],
    ['decoder.middle.1.norm.gamma', 'decoder.mid_block.attentions.0.norm.gamma'],
  ];
  for (const [original, diffusers] of cases) assert.equal(diffusersVaeKeyOf(original), diffusers, original);
  for (const unknown of [
    'encoder.downsamples.0.downsamples.0.residual.4.weight',
    'decoder.clip.weight',
    'encoder.middle.3.residual.0.gamma',
  ])
    assert.equal(diffusersVaeKeyOf(unknown), undefined, unknown);
  assert.equal(detectVaeLayout(['encoder.conv1.weight', 'conv1.weight']), 'original');
  assert.equal(detectVaeLayout(['encoder.conv_in.weight', 'quant_conv.weight']), 'diffusers');
});

test("Wan2.2_VAE.pth (torch.save) and ComfyUI's wan2.2_vae.safetensors load the diffusers folder's weights bit for bit, and decode the same", () =>
  scope(() => {
    const reference = AutoencoderKLWan.fromPretrained(path.join(TINY, 'vae'));
    const z = randn([1, 4, 2, 2, 2], new Generator(3));
    const expected = reference.decode(z).toArray();
    for (const file of ['Wan2.2_VAE.pth', 'wan2.2_vae.safetensors']) {
      const vae = AutoencoderKLWan.fromSingleFile(path.join(RELEASE, file), {
        configFile: path.join(TINY, 'vae', 'config.json'),
      });
      assertSameWeights(vae, reference, file);
      assert.deepEqual(vae.decode(z).toArray(), expected, `${file}: decode`);
      vae.dispose();
    }
    reference.dispose();
  }));

test("a VAE file's config is read off its shapes; the latent statistics are Wan2.2's for its shapes, and asked for otherwise", () =>
  scope(() => {
    // Tiny shapes: every field but the statistics equals the tiny config.json; the statistics are asked for.
    const file = path.join(RELEASE, 'Wan2.2_VAE.pth');
    assert.throws(
      () => AutoencoderKLWan.fromSingleFile(file),
      (e: Error) =>
        e.message.includes(file) &&
        /z_dim 4, base_dim 4, dim_mult \[1, 2, 2\]\): its latents_mean and latents_std are not in the weights; give its config\.json \(--vae-config\)/.test(
          e.message,
        ),
    );
    // The real 5B VAE's shapes (its module tree, nothing allocated) give the published config.
    const real = new AutoencoderKLWan(WAN22_TI2V_5B_VAE, { init: 'empty' });
    const shapes = new Map([...real.stateDict()].map(([k, t]) => [k, [...t.shape]]));
    const derived = vaeConfigFromShapes(shapesOnly(shapes), 'the 5B VAE');
    assert.deepEqual(derived, WAN22_TI2V_5B_VAE);
    real.dispose();
  }));

test("Wan's T5Encoder names map to transformers' (gate is wi_0, fc1 is wi_1), and the .pth loads the text encoder bit for bit", () =>
  scope(() => {
    assert.equal(transformersKeyOf('token_embedding.weight'), 'shared.weight');
    assert.equal(
      transformersKeyOf('blocks.23.ffn.gate.0.weight'),
      'encoder.block.23.layer.1.DenseReluDense.wi_0.weight',
    );
    assert.equal(transformersKeyOf('blocks.0.ffn.fc1.weight'), 'encoder.block.0.layer.1.DenseReluDense.wi_1.weight');
    assert.equal(
      transformersKeyOf('blocks.5.pos_embedding.embedding.weight'),
      'encoder.block.5.layer.0.SelfAttention.relative_attention_bias.weight',
    );
    assert.equal(transformersKeyOf('norm.weight'), 'encoder.final_layer_norm.weight');
    assert.equal(transformersKeyOf('blocks.0.attn.q.bias'), undefined);
    const reference = UMT5EncoderModel.fromPretrained(path.join(TINY, 'text_encoder'));
    const model = UMT5EncoderModel.fromSingleFile(path.join(RELEASE, 'models_t5_umt5-xxl-enc-bf16.pth'));
    assert.deepEqual(
      { ...model.config },
      { ...readUMT5Config(path.join(TINY, 'text_encoder', 'config.json')) },
      "the config read off the shapes is the folder's config.json",
    );
    assertSameWeights(model, reference, 'the .pth');
    model.dispose();
    reference.dispose();
  }));

test("umT5's config from the published key shapes (reference/wan22.md section 4) is google/umt5-xxl's", () => {
  const shapes = new Map<string, number[]>([
    ['shared.weight', [256384, 4096]],
    ['encoder.final_layer_norm.weight', [4096]],
  ]);
  for (let i = 0; i < 24; i++) {
    const p = `encoder.block.${i}.layer`;
    for (const x of ['q', 'k', 'v', 'o']) shapes.set(`${p}.0.SelfAttention.${x}.weight`, [4096, 4096]);
    shapes.set(`${p}.0.SelfAttention.relative_attention_bias.weight`, [32, 64]);
    shapes.set(`${p}.0.layer_norm.weight`, [4096]);
    shapes.set(`${p}.1.DenseReluDense.wi_0.weight`, [10240, 4096]);
    shapes.set(`${p}.1.DenseReluDense.wi_1.weight`, [10240, 4096]);
    shapes.set(`${p}.1.DenseReluDense.wo.weight`, [4096, 10240]);
    shapes.set(`${p}.1.layer_norm.weight`, [4096]);
  }
  assert.deepEqual(umt5ConfigFromShapes(shapesOnly(shapes), 'umt5-xxl'), UMT5_XXL);
});

test("ComfyUI's scaled fp8 umT5 file loads as the fixture script's dequantised weights", () =>
  scope(() => {
    const model = UMT5EncoderModel.fromSingleFile(path.join(RELEASE, 'umt5_fp8_e4m3fn_scaled.safetensors'), {
      dtype: 'float32',
    });
    const expected = SafetensorsFile.open(path.join(RELEASE, 'umt5_fp8_expected.safetensors'));
    const got = bytesOf(model);
    assert.deepEqual([...got.keys()].sort(), expected.keys().sort());
    for (const key of expected.keys())
      assert.ok(got.get(key)!.equals(Buffer.from(expected.get(key).toTypedArray().buffer)), key);
    model.dispose();
  }));

test('every loader loads in float32 unless asked otherwise, whatever the file holds (a bfloat16 text encoder here)', () =>
  scope(() => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ww-dtype-'));
    try {
      const source = SafetensorsFile.open(path.join(TINY, 'text_encoder', 'model.safetensors'));
      saveSafetensors(
        path.join(dir, 'model.safetensors'),
        new Map(source.keys().map((k) => [k, source.get(k, { dtype: 'bfloat16' })])),
      );
      copyFileSync(path.join(TINY, 'text_encoder', 'config.json'), path.join(dir, 'config.json'));
      for (const load of [
        () => UMT5EncoderModel.fromPretrained(dir),
        () => UMT5EncoderModel.fromSingleFile(path.join(dir, 'model.safetensors')),
      ]) {
        const model = load();
        assert.equal(model.shared.weight.dtype, 'float32');
        model.dispose();
      }
      const bf16 = UMT5EncoderModel.fromPretrained(dir, { dtype: 'bfloat16' });
      assert.equal(bf16.shared.weight.dtype, 'bfloat16');
      bf16.dispose();
      const vae = AutoencoderKLWan.fromPretrained(path.join(TINY, 'vae'));
      assert.equal(vae.dtype, 'float32');
      vae.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));
