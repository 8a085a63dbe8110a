import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import {
  Generator,
  SafetensorsFile,
  cat,
  noGrad,
  randn,
  saveSafetensors,
  scalarTensor,
  tensor,
} from '../../src/torch/index.js';
import { loraLayers, saveLora } from '../../src/nn/index.js';
import { main } from '../../src/cli/main.js';
import { WanTransformer3DModel } from '../../src/models/wan/transformer.js';
import { referenceForward, type Weights } from './transformer_reference.js';
import { TINY, maxAbsDiff, nested4, rand, tinyModel, weightsOf } from './transformer_fixtures.js';

/** A diffusers-style folder: config.json, two shards and their index, real key names. */
function writeTinyFolder(): { dir: string; weights: Weights } {
  const dir = mkdtempSync(path.join(tmpdir(), 'wan-tiny-'));
  const model = tinyModel(21);
  const sd = [...model.stateDict()];
  const half = Math.ceil(sd.length / 2);
  const shards = [sd.slice(0, half), sd.slice(half)];
  const weightMap: Record<string, string> = {};
  shards.forEach((entries, i) => {
    const name = `diffusion_pytorch_model-0000${i + 1}-of-00002.safetensors`;
    saveSafetensors(path.join(dir, name), new Map(entries), { format: 'pt' });
    for (const [k] of entries) weightMap[k] = name;
  });
  writeFileSync(
    path.join(dir, 'diffusion_pytorch_model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
  );
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      _class_name: 'WanTransformer3DModel',
      _diffusers_version: '0.35.0',
      ...TINY,
      image_dim: null,
      added_kv_proj_dim: null,
      pos_embed_seq_len: null,
    }),
  );
  return { dir, weights: weightsOf(model) };
}

function run(args: string[]): Promise<number> {
  const log = console.log;
  console.log = () => {};
  return main(args).finally(() => {
    console.log = log;
  });
}

const target = rand([1, 4, 2, 4, 4], 31),
  condition = rand([1, 4, 2, 4, 4], 32),
  text = rand([1, 3, 8], 33);
const textRows = [0, 1, 2].map((i) => text.select(0, 0).select(0, i).toArray());
const expectedInput = {
  latent: nested4(cat([condition, target], 2)),
  timesteps: [...new Array(8).fill(0), ...new Array(8).fill(400)],
  text: textRows,
  framePositions: [0, 1, 0, 1],
  outputFrames: 2,
};

test('worldwander forward transformer: a sharded diffusers folder loads and matches the float64 reference (three2one, CPE)', async () => {
  const { dir, weights } = writeTinyFolder();
  const inputs = path.join(dir, 'in.safetensors');
  saveSafetensors(inputs, {
    hidden_states: target,
    timestep: tensor([400]),
    encoder_hidden_states: text,
    condition_states: condition,
    use_cpe: scalarTensor(1),
  });
  const out = path.join(dir, 'out.safetensors');
  assert.equal(await run(['forward', 'transformer', '--model-dir', dir, '--inputs', inputs, '--out', out]), 0);
  const sample = SafetensorsFile.open(out).get('sample');
  assert.deepEqual(sample.shape, [1, 4, 2, 4, 4]);
  const expected = referenceForward(TINY, weights, expectedInput).flat(3);
  assert.ok(maxAbsDiff(sample.toArray(), expected) < 2e-4);

  // A per-token timestep over all tokens of the concatenated sequence gives the same result.
  const perToken = path.join(dir, 'in2.safetensors');
  saveSafetensors(perToken, {
    hidden_states: target,
    timestep: tensor([[...new Array(8).fill(0), ...new Array(8).fill(400)]]),
    encoder_hidden_states: text,
    condition_states: condition,
    use_cpe: scalarTensor(1),
  });
  assert.equal(await run(['forward', 'transformer', '--model-dir', dir, '--inputs', perToken, '--out', out]), 0);
  assert.ok(maxAbsDiff(SafetensorsFile.open(out).get('sample').toArray(), expected) < 2e-4);
});

test('worldwander forward transformer --lora: equals the reference with W + (α/r)·B·A; a bad inputs file is a runtime error (1), a bad target a usage error (2)', async () => {
  const { dir, weights } = writeTinyFolder();
  const donor = WanTransformer3DModel.fromPretrained(dir);
  donor.attachLora({ rank: 2, alpha: 2, generator: new Generator(5) });
  for (const [, m] of loraLayers(donor))
    noGrad(() => m.lora_B!.weight.copy_(randn(m.lora_B!.weight.shape, new Generator(6)).mul(0.2)));
  const loraFile = path.join(dir, 'lora.safetensors');
  saveLora(loraFile, donor);
  const merged: Weights = new Map(weights);
  for (const [name, m] of loraLayers(donor)) {
    const A = m.lora_A!.weight.toArray(),
      B = m.lora_B!.weight.toArray();
    const [outF, r] = m.lora_B!.weight.shape as [number, number];
    const inF = A.length / r;
    const W = merged.get(`${name}.weight`)!.data.map((v, idx) => {
      const o = Math.floor(idx / inF),
        i = idx % inF;
      let s = 0;
      for (let k = 0; k < r; k++) s += B[o * r + k]! * A[k * inF + i]!;
      return v + s;
    });
    merged.set(`${name}.weight`, { data: W, shape: [outF, inF] });
  }
  const inputs = path.join(dir, 'in.safetensors');
  saveSafetensors(inputs, {
    hidden_states: target,
    timestep: tensor([400]),
    encoder_hidden_states: text,
    condition_states: condition,
  });
  const out = path.join(dir, 'out.safetensors');
  assert.equal(
    await run(['forward', 'transformer', '--model-dir', dir, '--inputs', inputs, '--out', out, '--lora', loraFile]),
    0,
  );
  const expected = referenceForward(TINY, merged, expectedInput).flat(3);
  const plain = referenceForward(TINY, weights, expectedInput).flat(3);
  const got = SafetensorsFile.open(out).get('sample').toArray();
  assert.ok(maxAbsDiff(got, expected) < 2e-4);
  assert.ok(maxAbsDiff(got, plain) > 1e-3, 'the LoRA changes the output');

  const bad = path.join(dir, 'bad.safetensors');
  saveSafetensors(bad, {
    hidden_states: target,
    timestep: tensor([[1, 2, 3]]),
    encoder_hidden_states: text,
    condition_states: condition,
  });
  const err = console.error;
  const messages: string[] = [];
  console.error = (m: string) => {
    messages.push(m);
  };
  try {
    assert.equal(await run(['forward', 'transformer', '--model-dir', dir, '--inputs', bad, '--out', out]), 1);
    assert.equal(await run(['forward', 'nothing', '--model-dir', dir, '--inputs', bad, '--out', out]), 2);
  } finally {
    console.error = err;
  }
  assert.match(messages[0]!, /timestep must be \[B\] or \[B, 16\]/);
  assert.match(messages[1]!, /unknown target 'nothing'/);
});

test('worldwander forward transformer --dtype bfloat16: fp32-kept parts stay float32 and the result is close to float32', async () => {
  const { dir, weights } = writeTinyFolder();
  const inputs = path.join(dir, 'in.safetensors');
  saveSafetensors(inputs, {
    hidden_states: target,
    timestep: tensor([400]),
    encoder_hidden_states: text,
    condition_states: condition,
    use_cpe: scalarTensor(1),
  });
  const out = path.join(dir, 'out.safetensors');
  const expected = referenceForward(TINY, weights, expectedInput).flat(3);
  const bf = WanTransformer3DModel.fromPretrained(dir, { dtype: 'bfloat16' });
  const dtypes = new Map([...bf.stateDict()].map(([k, t]) => [k, t.dtype]));
  for (const k of [
    'condition_embedder.time_embedder.linear_1.weight',
    'blocks.0.scale_shift_table',
    'blocks.1.norm2.bias',
    'scale_shift_table',
  ])
    assert.equal(dtypes.get(k), 'float32', k);
  for (const k of ['blocks.0.attn1.to_q.weight', 'condition_embedder.time_proj.weight', 'patch_embedding.weight'])
    assert.equal(dtypes.get(k), 'bfloat16', k);
  assert.equal(
    await run(['forward', 'transformer', '--model-dir', dir, '--inputs', inputs, '--out', out, '--dtype', 'bfloat16']),
    0,
  );
  const bfDiff = maxAbsDiff(SafetensorsFile.open(out).get('sample').toArray(), expected);
  assert.ok(bfDiff < 0.1 && bfDiff > 0, `bf16 diff ${bfDiff}`);
});
