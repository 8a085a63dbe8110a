import assert from 'node:assert/strict';
import { test } from 'node:test';

import { tensor, full, type Tensor } from '../../src/torch/index.js';
import { WanTransformer3DModel } from '../../src/models/wan/transformer.js';
import { WAN22_TI2V_5B, parseTransformerConfig } from '../../src/models/wan/transformer_config.js';
import { buildInContextInputs, inContextFramePositions } from '../../src/worldwander/in_context.js';
import { WanRotaryPosEmbed } from '../../src/models/wan/rope.js';
import { StateDictError } from '../../src/nn/index.js';
import { referenceForward } from './transformer_reference.js';
import { TINY, maxAbsDiff, nested4, rand, tinyModel, weightsOf } from './transformer_fixtures.js';

const flat4 = (a: number[][][][]): number[] => a.flat(3);

test('forward equals an independent float64 reference: three2one with CPE (per-token timesteps, shared positions, sliced output)', () => {
  const model = tinyModel(1);
  const target = rand([1, 4, 2, 4, 4], 2),
    condition = rand([1, 4, 2, 4, 4], 3),
    text = rand([1, 3, 8], 4);
  const inputs = buildInContextInputs({
    target,
    condition,
    timestep: 731,
    encoderHiddenStates: text,
    useCollaborativePositionEncoding: true,
  });
  const out = model.forward(inputs);
  assert.deepEqual(out.shape, [1, 4, 2, 4, 4]);
  const expected = referenceForward(TINY, weightsOf(model), {
    latent: nested4(inputs.hiddenStates),
    timesteps: [...new Array(8).fill(0), ...new Array(8).fill(731)],
    text: [0, 1, 2].map((i) => text.select(0, 0).select(0, i).toArray()),
    framePositions: [0, 1, 0, 1],
    outputFrames: 2,
  });
  const diff = maxAbsDiff(out.toArray(), flat4(expected));
  assert.ok(diff < 2e-4, `max |diff| ${diff}`);
});

test('forward equals the reference: one2three, uniform positions, a 3-layer model without cross-attention norm', () => {
  const config = { ...TINY, num_layers: 3, cross_attn_norm: false };
  const model = tinyModel(11, config);
  const target = rand([1, 4, 2, 2, 4], 5),
    condition = rand([1, 4, 2, 2, 4], 6),
    ref = rand([1, 4, 1, 2, 4], 7),
    text = rand([1, 2, 8], 8);
  const inputs = buildInContextInputs({
    target,
    condition,
    ref,
    timestep: 250,
    encoderHiddenStates: text,
    useCollaborativePositionEncoding: false,
  });
  assert.deepEqual(inputs.framePositions, [0, 1, 2, 3, 4]);
  const out = model.forward(inputs);
  const expected = referenceForward(config, weightsOf(model), {
    latent: nested4(inputs.hiddenStates),
    timesteps: [...new Array(6).fill(0), ...new Array(4).fill(250)],
    text: [0, 1].map((i) => text.select(0, 0).select(0, i).toArray()),
    framePositions: [0, 1, 2, 3, 4],
    outputFrames: 2,
  });
  const diff = maxAbsDiff(out.toArray(), flat4(expected));
  assert.ok(diff < 2e-4, `max |diff| ${diff}`);
});

test('frame positions: CPE shares the condition positions with the target, uniform runs on (both tasks)', () => {
  assert.deepEqual(inContextFramePositions({ ref: 0, condition: 3, target: 3 }, true), [0, 1, 2, 0, 1, 2]);
  assert.deepEqual(inContextFramePositions({ ref: 0, condition: 3, target: 3 }, false), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(inContextFramePositions({ ref: 1, condition: 3, target: 3 }, true), [0, 1, 2, 3, 1, 2, 3]);
  assert.deepEqual(inContextFramePositions({ ref: 1, condition: 3, target: 3 }, false), [0, 1, 2, 3, 4, 5, 6]);
});

test('RoPE tables equal hand-built cos/sin tables for every token (CPE and uniform, both tasks)', () => {
  const rope = new WanRotaryPosEmbed(12, 32);
  const cases: [number[], string][] = [
    [[0, 1, 0, 1], 'three2one cpe'],
    [[0, 1, 2, 3], 'three2one uniform'],
    [[0, 1, 2, 1, 2], 'one2three cpe'],
    [[0, 1, 2, 3, 4], 'one2three uniform'],
  ];
  for (const [positions, name] of cases) {
    const { cos, sin } = rope.forward({ framePositions: positions, height: 2, width: 3 });
    assert.deepEqual(cos.shape, [1, positions.length * 6, 1, 6], name);
    const expectedCos: number[] = [],
      expectedSin: number[] = [];
    for (const f of positions)
      for (let h = 0; h < 2; h++)
        for (let w = 0; w < 3; w++) {
          // head 12 = t 4 | h 4 | w 4: two pairs per axis, θ_j = 10000^(-2j/4).
          for (const [p, j] of [
            [f, 0],
            [f, 1],
            [h, 0],
            [h, 1],
            [w, 0],
            [w, 1],
          ] as const) {
            expectedCos.push(Math.cos(p * 10000 ** (-j / 2)));
            expectedSin.push(Math.sin(p * 10000 ** (-j / 2)));
          }
        }
    assert.ok(maxAbsDiff(cos.toArray(), expectedCos) < 1e-6, name);
    assert.ok(maxAbsDiff(sin.toArray(), expectedSin) < 1e-6, name);
  }
  assert.throws(() => rope.forward({ framePositions: [32], height: 1, width: 1 }), /frame position 32 outside/);
});

test('shapes: both tasks, both position modes, batch 2; the output is the target only', () => {
  const model = tinyModel(2);
  const text = rand([2, 3, 8], 9);
  for (const useCpe of [true, false]) {
    const three = buildInContextInputs({
      target: rand([2, 4, 3, 4, 6], 1),
      condition: rand([2, 4, 3, 4, 6], 2),
      timestep: tensor([10, 900]),
      encoderHiddenStates: text,
      useCollaborativePositionEncoding: useCpe,
    });
    assert.deepEqual(three.hiddenStates.shape, [2, 4, 6, 4, 6]);
    assert.deepEqual(three.timestep.shape, [2, 36]);
    assert.deepEqual(three.timestep.select(0, 1).toArray(), [...new Array(18).fill(0), ...new Array(18).fill(900)]);
    assert.deepEqual(model.forward(three).shape, [2, 4, 3, 4, 6]);
    const one = buildInContextInputs({
      target: rand([2, 4, 3, 4, 6], 1),
      condition: rand([2, 4, 3, 4, 6], 2),
      ref: rand([2, 4, 1, 4, 6], 3),
      timestep: 500,
      encoderHiddenStates: text,
      useCollaborativePositionEncoding: useCpe,
    });
    assert.deepEqual(one.hiddenStates.shape, [2, 4, 7, 4, 6]);
    assert.deepEqual(one.timestep.shape, [2, 42]);
    assert.deepEqual(model.forward(one).shape, [2, 4, 3, 4, 6]);
  }
  assert.throws(
    () =>
      buildInContextInputs({
        target: rand([1, 4, 2, 4, 4], 1),
        condition: rand([1, 4, 2, 2, 4], 2),
        timestep: 1,
        encoderHiddenStates: text,
        useCollaborativePositionEncoding: true,
      }),
    /condition latent/,
  );
});

test('a [B] timestep equals the same value given per token', () => {
  const model = tinyModel(3);
  const x = rand([1, 4, 2, 4, 4], 1),
    text = rand([1, 3, 8], 2);
  const a = model.forward({ hiddenStates: x, timestep: tensor([321]), encoderHiddenStates: text });
  const b = model.forward({ hiddenStates: x, timestep: full([1, 8], 321), encoderHiddenStates: text });
  assert.ok(maxAbsDiff(a.toArray(), b.toArray()) < 1e-5);
  assert.throws(
    () => model.forward({ hiddenStates: x, timestep: full([1, 7], 1), encoderHiddenStates: text }),
    /timestep must be \[1\] or \[1, 8\]/,
  );
});

test('loadStateDict names every missing, unexpected and mis-shaped key', () => {
  const source = tinyModel(4);
  const target = tinyModel(5);
  const sd = new Map(source.stateDict());
  sd.delete('blocks.1.attn2.norm_k.weight');
  sd.set('blocks.0.attn1.add_k_proj.weight', tensor([1]));
  sd.set('proj_out.bias', tensor([1, 2, 3]));
  assert.throws(
    () => target.loadStateDict(sd, { where: 'tiny' }),
    (error: unknown) => {
      assert.ok(error instanceof StateDictError);
      assert.match(error.message, /blocks\.1\.attn2\.norm_k\.weight/);
      assert.match(error.message, /blocks\.0\.attn1\.add_k_proj\.weight/);
      assert.match(error.message, /proj_out\.bias: expected shape \[16\], got \[3\]/);
      return true;
    },
  );
});

test('Wan2.2-TI2V-5B: 4,999,787,712 parameters in 825 tensors, counted from the module tree on the meta device', () => {
  const model = new WanTransformer3DModel(WAN22_TI2V_5B, { init: 'empty', device: 'meta' });
  assert.equal(model.numParameters(), 4_999_787_712);
  assert.equal(model.parameters().length, 825);
  const block = model.blocks.at(0).numParameters();
  assert.equal(block, 163_656_704);
  const shapes = new Map([...model.stateDict()].map(([k, t]: [string, Tensor]) => [k, t.shape]));
  assert.deepEqual(shapes.get('patch_embedding.weight'), [3072, 48, 1, 2, 2]);
  assert.deepEqual(shapes.get('condition_embedder.time_proj.weight'), [18432, 3072]);
  assert.deepEqual(shapes.get('blocks.29.ffn.net.0.proj.weight'), [14336, 3072]);
  assert.deepEqual(shapes.get('proj_out.weight'), [192, 3072]);
  assert.equal(shapes.has('rope.freqs_cos_t'), false);
});

test('config.json: class defaults, ignored I2V keys, unknown keys and bad values named', () => {
  const c = parseTransformerConfig({
    _class_name: 'WanTransformer3DModel',
    in_channels: 48,
    out_channels: 48,
    num_attention_heads: 24,
    ffn_dim: 14336,
    num_layers: 30,
    added_kv_proj_dim: 5120,
    image_dim: 1280,
  });
  assert.deepEqual(c, WAN22_TI2V_5B);
  assert.throws(
    () => parseTransformerConfig({ num_heads: 3 }, 'x/config.json'),
    /x\/config\.json: unknown key 'num_heads'/,
  );
  assert.throws(() => parseTransformerConfig({ qk_norm: 'layer_norm' }), /'qk_norm' must be/);
  assert.throws(() => parseTransformerConfig({ attention_head_dim: 9 }), /does not split into even RoPE parts/);
});
