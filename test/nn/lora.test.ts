import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import {
  Generator,
  SafetensorsFile,
  noGrad,
  randn,
  saveSafetensors,
  tensor,
  type Tensor,
} from '../../src/torch/index.js';
import {
  Linear,
  Module,
  ModuleList,
  attachLora,
  loadLora,
  loraLayers,
  loraStateDict,
  mergeLora,
  normaliseLoraKey,
  saveLora,
} from '../../src/nn/index.js';

class Attn extends Module {
  to_q: Linear;
  to_k: Linear;
  other: Linear;
  readonly to_out: ModuleList<Linear>;
  constructor(g: Generator) {
    super();
    this.to_q = this.registerModule('to_q', new Linear(6, 4, { generator: g }));
    this.to_k = this.registerModule('to_k', new Linear(6, 4, { generator: g }));
    this.other = this.registerModule('other', new Linear(4, 4, { generator: g }));
    this.to_out = this.registerModule('to_out', new ModuleList([new Linear(4, 6, { generator: g })]));
  }
  forward(x: Tensor): Tensor {
    return this.to_out.at(0).forward(this.other.forward(this.to_q.forward(x).add(this.to_k.forward(x))));
  }
}
class Net extends Module {
  readonly blocks: ModuleList<Attn>;
  constructor(seed = 0) {
    super();
    const g = new Generator(seed);
    this.blocks = this.registerModule('blocks', new ModuleList([new Attn(g), new Attn(g)]));
  }
  forward(x: Tensor): Tensor {
    return this.blocks.at(1).forward(this.blocks.at(0).forward(x));
  }
}

const targets = ['to_q', 'to_k', 'to_out.0'];
const tmp = (): string => mkdtempSync(path.join(tmpdir(), 'lora-'));

test('attached by name suffix: zero B leaves the output unchanged, base frozen, A is U(±1/√in)', () => {
  const net = new Net();
  const x = randn([3, 6], new Generator(9));
  const before = net.forward(x).toArray();
  const names = attachLora(net, { rank: 2, alpha: 4, targets, generator: new Generator(1) });
  assert.deepEqual(names, [
    'blocks.0.to_q',
    'blocks.0.to_k',
    'blocks.0.to_out.0',
    'blocks.1.to_q',
    'blocks.1.to_k',
    'blocks.1.to_out.0',
  ]);
  assert.deepEqual(net.forward(x).toArray(), before);
  assert.deepEqual(
    net.trainableParameters().map(([n]) => n),
    names.flatMap((n) => [`${n}.lora_A.weight`, `${n}.lora_B.weight`]),
  );
  const a = net.blocks.at(0).to_q.lora_A!.weight.toArray();
  assert.ok(a.every((v) => Math.abs(v) <= 1 / Math.sqrt(6)) && a.some((v) => v !== 0));
  // state dict keeps the base keys and adds PEFT-style ones
  assert.ok(net.stateDict().has('blocks.0.to_q.weight') && net.stateDict().has('blocks.0.to_q.lora_B.weight'));
});

test('the adapter adds (α/r)·B·A x; merge() folds it into W with the same output', () => {
  const net = new Net();
  attachLora(net, { rank: 2, alpha: 4, targets, generator: new Generator(1) });
  const q = net.blocks.at(0).to_q;
  noGrad(() =>
    q.lora_B!.weight.copy_(
      tensor([
        [1, 0],
        [0, 1],
        [1, 1],
        [0.5, -2],
      ]),
    ),
  );
  const x = tensor([[1, 0, 0, 2, 0, -1]]);
  const W = q.weight.toArray(),
    b = q.bias!.toArray(),
    A = q.lora_A!.weight.toArray(),
    B = [
      [1, 0],
      [0, 1],
      [1, 1],
      [0.5, -2],
    ];
  const xv = [1, 0, 0, 2, 0, -1];
  const ax = [0, 1].map((r) => xv.reduce((s, v, i) => s + A[r * 6 + i]! * v, 0));
  const expected = [0, 1, 2, 3].map(
    (o) => xv.reduce((s, v, i) => s + W[o * 6 + i]! * v, b[o]!) + 2 * (B[o]![0]! * ax[0]! + B[o]![1]! * ax[1]!),
  );
  q.forward(x)
    .toArray()
    .forEach((y, i) => assert.ok(Math.abs(y - expected[i]!) < 1e-5));
  const input = randn([5, 6], new Generator(3));
  const unmerged = net.forward(input).toArray();
  assert.equal(mergeLora(net), 6);
  assert.equal(loraLayers(net).length, 0);
  assert.equal(net.blocks.at(0).to_q.lora_A, null);
  assert.ok(!net.stateDict().has('blocks.0.to_q.lora_A.weight'), 'merged adapters leave the state dict');
  net
    .forward(input)
    .toArray()
    .forEach((y, i) => assert.ok(Math.abs(y - unmerged[i]!) < 1e-5));
});

test('save/load round trip under diffusers names; rank from the file, alpha from metadata', () => {
  const net = new Net();
  attachLora(net, { rank: 3, alpha: 6, targets, generator: new Generator(1) });
  for (const [, t] of loraStateDict(net)) noGrad(() => t.copy_(randn(t.shape, new Generator(t.numel()))));
  const file = path.join(tmp(), 'lora.safetensors');
  saveLora(file, net);
  const saved = SafetensorsFile.open(file);
  assert.ok(saved.keys().includes('transformer.blocks.1.to_out.0.lora_A.weight'));
  const fresh = new Net();
  const report = loadLora(fresh, saved);
  assert.deepEqual([report.modules, report.rank, report.alpha], [6, 3, 6]);
  const x = randn([2, 6], new Generator(5));
  assert.deepEqual(fresh.forward(x).toArray(), net.forward(x).toArray());
});

test('loading accepts PEFT adapter-named keys and base weights of a whole PEFT state dict; alpha defaults to rank', () => {
  const net = new Net();
  attachLora(net, { rank: 2, targets, generator: new Generator(1) });
  for (const [, t] of loraStateDict(net)) noGrad(() => t.copy_(randn(t.shape, new Generator(7))));
  const peft = new Map<string, Tensor>();
  for (const [k, t] of loraStateDict(net)) peft.set(k.replace(/\.(lora_[AB])\.weight$/, '.$1.default.weight'), t);
  peft.set('blocks.0.to_q.base_layer.weight', tensor([0]));
  const file = path.join(tmp(), 'peft.safetensors');
  saveSafetensors(file, peft);
  const fresh = new Net();
  const report = loadLora(fresh, SafetensorsFile.open(file));
  assert.equal(report.alpha, 2);
  assert.deepEqual(report.ignored, ['blocks.0.to_q.base_layer.weight']);
  const x = randn([2, 6], new Generator(5));
  assert.deepEqual(fresh.forward(x).toArray(), net.forward(x).toArray());
  assert.equal(loadLora(new Net(), SafetensorsFile.open(file), { alpha: 8 }).alpha, 8);
  assert.deepEqual(normaliseLoraKey('base_model.model.blocks.0.ffn.net.2.lora_B.default.weight'), {
    module: 'blocks.0.ffn.net.2',
    part: 'lora_B',
    adapter: 'default',
  });
});

test('loading names missing, unexpected and mis-shaped LoRA keys', () => {
  const net = new Net();
  attachLora(net, { rank: 2, targets, generator: new Generator(1) });
  const sd = new Map(loraStateDict(net));
  sd.delete('blocks.1.to_k.lora_B.weight');
  sd.set(
    'blocks.0.nothing.lora_A.weight',
    tensor([
      [1, 2, 3, 4, 5, 6],
      [1, 2, 3, 4, 5, 6],
    ]),
  );
  sd.set(
    'blocks.0.to_q.lora_B.weight',
    tensor([
      [1, 2],
      [3, 4],
    ]),
  );
  const file = path.join(tmp(), 'bad.safetensors');
  saveSafetensors(file, sd);
  const target = new Net();
  attachLora(target, { rank: 2, targets });
  assert.throws(
    () => loadLora(target, SafetensorsFile.open(file)),
    (e: unknown) => {
      const m = (e as Error).message;
      assert.match(m, /missing \(1\): blocks\.1\.to_k\.lora_B\.weight/);
      assert.match(m, /unexpected \(1\): blocks\.0\.nothing\.lora_A\.weight/);
      assert.match(m, /blocks\.0\.to_q\.lora_B\.weight: expected \[4, 2\], got \[2, 2\]/);
      return true;
    },
  );
});
