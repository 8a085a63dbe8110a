// LoRA files of other Wan tools (kohya / musubi-tuner, ComfyUI), made from the release-shaped test
// LoRA by scripts/make-lora-format-fixtures.py: they load as the diffusers file does, each
// module's alpha honoured (the update scaled by alpha / rank).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { WanTransformer3DModel } from '../../src/models/wan/transformer.js';
import { loraStateDict } from '../../src/nn/lora.js';
import { SafetensorsFile } from '../../src/torch/index.js';
import { convertLora } from '../../src/worldwander/lora_convert.js';
import { loadLoraFile } from '../../src/worldwander/lora_file.js';
import { repoRoot } from '../helpers/release_examples.js';

const FIXTURES = path.join(repoRoot, 'test', 'fixtures');
const TINY = path.join(FIXTURES, 'tiny_model', 'transformer');

/** The effective update of each module, B·scale and A, as float64 arrays. */
function updates(file: string, alpha?: number): Map<string, number[]> {
  const model = WanTransformer3DModel.fromPretrained(TINY);
  try {
    const report = loadLoraFile(model, file, { alpha });
    const scale = report.alpha / report.rank;
    return new Map(
      [...loraStateDict(model)].map(([name, t]) => [
        name,
        t.toArray().map((v) => (name.endsWith('lora_B.weight') ? v * scale : v)),
      ]),
    );
  } finally {
    model.dispose();
  }
}

test('kohya (alpha 2) and ComfyUI (alpha 8) LoRAs give the updates of the diffusers file at alpha 2 and 8', () => {
  const diffusers = path.join(FIXTURES, 'ckpt', 'release_shaped.expected.safetensors');
  for (const [format, alpha] of [
    ['kohya', 2],
    ['comfy', 8],
  ] as const) {
    const expected = updates(diffusers, alpha);
    const got = updates(path.join(FIXTURES, 'lora_formats', `${format}.safetensors`));
    assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort(), format);
    for (const [name, values] of expected) {
      const mine = got.get(name)!;
      values.forEach((v, i) =>
        assert.ok(
          Math.abs(mine[i]! - v) <= 1e-6 * Math.max(1, Math.abs(v)),
          `${format} ${name}[${i}]: ${mine[i]} against ${v}`,
        ),
      );
    }
  }
});

test("convert: a LoRA round-trips kohya -> comfy -> diffusers with its alpha, and the release .ckpt converts to ComfyUI's format", () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'ww-lora-convert-'));
  try {
    const comfy = path.join(scratch, 'comfy.safetensors'),
      back = path.join(scratch, 'diffusers.safetensors');
    convertLora(path.join(FIXTURES, 'lora_formats', 'kohya.safetensors'), comfy, 'comfy');
    assert.ok(SafetensorsFile.open(comfy).has('diffusion_model.blocks.0.self_attn.q.lora_A.weight'));
    convertLora(comfy, back, 'diffusers');
    const expected = updates(path.join(FIXTURES, 'ckpt', 'release_shaped.expected.safetensors'), 2);
    const got = updates(back);
    for (const [name, values] of expected)
      values.forEach((v, i) =>
        assert.ok(Math.abs(got.get(name)![i]! - v) <= 1e-6 * Math.max(1, Math.abs(v)), `${name}[${i}]`),
      );
    // ours -> comfy -> ours keeps every byte
    const comfyAgain = path.join(scratch, 'comfy-again.safetensors'),
      backAgain = path.join(scratch, 'diffusers-again.safetensors');
    convertLora(back, comfyAgain, 'comfy');
    convertLora(comfyAgain, backAgain, 'diffusers');
    assert.ok(readFileSync(backAgain).equals(readFileSync(back)), 'ours -> comfy -> ours: the same file byte for byte');
    const fromCkpt = path.join(scratch, 'from-ckpt.safetensors');
    const r = convertLora(path.join(FIXTURES, 'ckpt', 'release_shaped.ckpt'), fromCkpt, 'kohya');
    assert.deepEqual([r.rank, r.alpha], [4, 4]);
    const kohya = SafetensorsFile.open(fromCkpt);
    assert.ok(
      kohya.has('lora_unet_blocks_1_cross_attn_o.lora_up.weight') && kohya.has('lora_unet_blocks_1_ffn_2.alpha'),
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
