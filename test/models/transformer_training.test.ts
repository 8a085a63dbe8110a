import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  Generator,
  autocast,
  memoryStats,
  mseLoss,
  randn,
  resetPeakMemory,
  type Tensor,
} from '../../src/torch/index.js';
import { WanTransformer3DModel } from '../../src/models/wan/transformer.js';
import { loraLayers } from '../../src/nn/index.js';
import { buildInContextInputs } from '../../src/worldwander/in_context.js';
import { AdamW } from '../../src/train/adamw.js';
import { TINY, maxAbsDiff, rand, tinyModel } from './transformer_fixtures.js';

function batch(seed: number) {
  const inputs = buildInContextInputs({
    target: rand([1, 4, 2, 4, 4], seed),
    condition: rand([1, 4, 2, 4, 4], seed + 1),
    ref: rand([1, 4, 1, 4, 4], seed + 2),
    timestep: 600,
    encoderHiddenStates: rand([1, 3, 8], seed + 3),
    useCollaborativePositionEncoding: true,
  });
  const velocity = rand([1, 4, 2, 4, 4], seed + 4);
  return { inputs, loss: (sample: Tensor) => mseLoss(sample, velocity) };
}

/** One AdamW step over the trainable parameters; asserts it changed the LoRA weights and nothing else. */
function adamwStepMovesOnlyAdapters(model: WanTransformer3DModel, snapshot: Map<string, number[]>): AdamW {
  const opt = new AdamW(
    model.trainableParameters().map(([, p]) => p),
    { lr: 1e-3, betas: [0.9, 0.95], weightDecay: 0.01 },
  );
  opt.step();
  for (const [name, p] of model.namedParameters()) {
    const changed = maxAbsDiff(p.toArray(), snapshot.get(name)!) > 0;
    assert.equal(changed, /\.lora_[AB]\.weight$/.test(name), `${name} ${changed ? 'changed' : 'unchanged'}`);
  }
  return opt;
}

/** Rank-4 LoRA with a non-zero B, so that every LoRA weight gets a gradient. */
function attachLoraWithNonZeroB(model: WanTransformer3DModel): void {
  model.attachLora({ rank: 4, generator: new Generator(3) });
  for (const [, m] of loraLayers(model))
    m.lora_B!.weight.requiresGrad_(false)
      .copy_(randn(m.lora_B!.weight.shape, new Generator(4)).mul(0.1))
      .requiresGrad_(true);
}

test('zero-initialised LoRA leaves the transformer output unchanged', () => {
  const model = tinyModel(7);
  const { inputs } = batch(10);
  const before = model.forward(inputs).toArray();
  const wrapped = model.attachLora({ rank: 4, generator: new Generator(1) });
  assert.equal(wrapped.length, 2 * 10); // per block: 4 in attn1, 4 in attn2, 2 in the FFN
  assert.ok(
    wrapped.includes('blocks.1.attn2.to_out.0') &&
      wrapped.includes('blocks.0.ffn.net.0.proj') &&
      wrapped.includes('blocks.0.ffn.net.2'),
  );
  assert.deepEqual(model.forward(inputs).toArray(), before);
});

test('gradients reach LoRA weights and nothing else; one AdamW step changes only LoRA weights', () => {
  const model = tinyModel(8);
  model.attachLora({ rank: 4, generator: new Generator(2) });
  const snapshot = new Map([...model.namedParameters()].map(([k, p]) => [k, p.toArray()]));
  const { inputs, loss } = batch(20);
  model.forwardBackward(inputs, loss);
  for (const [name, p] of model.namedParameters()) {
    const g = p.grad;
    if (/\.lora_B\.weight$/.test(name)) assert.ok(g && g.toArray().some((v) => v !== 0), `${name} has a gradient`);
    else if (/\.lora_A\.weight$/.test(name)) assert.ok(g, `${name} has a gradient (zero while B is zero)`);
    else assert.equal(g, null, `${name} must get no gradient`);
  }
  const opt = adamwStepMovesOnlyAdapters(model, snapshot);
  // With B non-zero, the next backward also reaches A.
  opt.zeroGrad();
  model.forwardBackward(inputs, loss);
  const a = loraLayers(model)[0]![1].lora_A!.weight.grad!;
  assert.ok(a.toArray().some((v) => v !== 0));
});

test("LoRA on a bfloat16 base under bf16 autocast (train's bf16-mixed LoRA): the adapters and their gradients float32, B's non-zero, one AdamW step moves them and no base weight", () => {
  const model = new WanTransformer3DModel(TINY, { generator: new Generator(8), dtype: 'bfloat16' });
  model.attachLora({ rank: 4, generator: new Generator(2) });
  const snapshot = new Map([...model.namedParameters()].map(([k, p]) => [k, p.toArray()]));
  const { inputs, loss } = batch(20);
  const value = autocast('bfloat16', () => model.forwardBackward(inputs, loss, { checkpoint: true }));
  assert.ok(Number.isFinite(value) && value > 0, `loss ${value}`);
  for (const [name, p] of model.namedParameters()) {
    const lora = /\.lora_[AB]\.weight$/.test(name);
    if (lora || /^blocks\..*\.(to_[qkv]|to_out\.0|proj|net\.2)\.weight$/.test(name))
      assert.equal(p.dtype, lora ? 'float32' : 'bfloat16', `${name} dtype`);
    if (/\.lora_B\.weight$/.test(name))
      assert.ok(p.grad?.dtype === 'float32' && p.grad.toArray().some((v) => v !== 0), `${name} has a gradient`);
    else if (!lora) assert.equal(p.grad, null, `${name} must get no gradient`);
  }
  adamwStepMovesOnlyAdapters(model, snapshot);
});

test('checkpointed and plain backward agree through the transformer (LoRA and full fine-tuning)', () => {
  for (const lora of [true, false]) {
    const model = tinyModel(9);
    if (lora) attachLoraWithNonZeroB(model);
    const { inputs, loss } = batch(30);
    const plainLoss = model.forwardBackward(inputs, loss);
    const trainable = model.trainableParameters();
    const plain = trainable.map(([, p]) => p.grad!.toArray());
    for (const [, p] of trainable) p.grad = null;
    const ckptLoss = model.forwardBackward(inputs, loss, { checkpoint: true });
    assert.ok(Math.abs(plainLoss - ckptLoss) < 1e-6);
    trainable.forEach(([name, p], i) => {
      const got = p.grad;
      assert.ok(got, `${name} has a checkpointed gradient`);
      const scale = Math.max(1e-3, ...plain[i]!.map(Math.abs));
      assert.ok(maxAbsDiff(got.toArray(), plain[i]!) <= 1e-4 * scale, `${name} (lora=${lora})`);
    });
    if (!lora) assert.ok(trainable.some(([n]) => n.startsWith('condition_embedder.time_embedder')));
  }
});

test("under bf16 autocast, checkpointed LoRA gradients are the plain backward's (a weight cast in the no-grad forward is not reused by the recompute)", () => {
  const model = tinyModel(9);
  attachLoraWithNonZeroB(model);
  const { inputs, loss } = batch(30);
  const trainable = model.trainableParameters();
  const gradients = (checkpoint: boolean): number[][] => {
    for (const [, p] of trainable) p.grad = null;
    autocast('bfloat16', () => model.forwardBackward(inputs, loss, { checkpoint }));
    return trainable.map(([name, p]) => {
      assert.ok(p.grad, `${name} has a gradient (checkpoint ${checkpoint})`);
      return p.grad.toArray();
    });
  };
  const plain = gradients(false);
  const checkpointed = gradients(true);
  trainable.forEach(([name], i) => assert.deepEqual(checkpointed[i], plain[i], name));
});

test('gradient checkpointing lowers the peak of live tensor bytes of a training step', () => {
  const config = { ...TINY, num_layers: 6, ffn_dim: 64 };
  const model = tinyModel(12, config);
  const inputs = buildInContextInputs({
    target: rand([1, 4, 4, 8, 8], 50),
    condition: rand([1, 4, 4, 8, 8], 51),
    timestep: 500,
    encoderHiddenStates: rand([1, 3, 8], 52),
    useCollaborativePositionEncoding: true,
  });
  const velocity = rand([1, 4, 4, 8, 8], 53);
  const peak = (checkpoint: boolean): number => {
    for (const [, p] of model.namedParameters()) p.grad = null;
    const base = memoryStats().allocatedBytes;
    resetPeakMemory();
    model.forwardBackward(inputs, (sample) => mseLoss(sample, velocity), { checkpoint });
    return memoryStats().peakAllocatedBytes - base;
  };
  const plain = peak(false),
    checkpointed = peak(true);
  // 6 blocks of activations against one block's plus the kept block inputs
  assert.ok(checkpointed < 0.6 * plain, `peak ${checkpointed} bytes checkpointed, ${plain} plain`);
});
