import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Generator, backward, randn, type Tensor } from '../../src/torch/index.js';
import { Linear, forwardBackwardCheckpointed } from '../../src/nn/index.js';

test('checkpointed backward gives the gradients of plain backward (parameters, input and shared context)', () => {
  const g = new Generator(0);
  const layers = [0, 1, 2].map(() => new Linear(5, 5, { generator: g }));
  const headLayer = new Linear(5, 1, { generator: g });
  const embed = new Linear(3, 5, { generator: g });
  const raw = randn([4, 3], g);
  const ctxRaw = randn([4, 5], g).requiresGrad_(true);
  const segment = (l: Linear) => (x: Tensor, ctx: readonly Tensor[]) => l.forward(x).tanh().mul(ctx[0]!).add(x);
  const head = (y: Tensor, ctx: readonly Tensor[]) => headLayer.forward(y.add(ctx[0]!)).square().mean();
  const params = [...layers, headLayer, embed].flatMap((l) => l.parameters());

  const plain = (): number[][] => {
    const x = embed.forward(raw);
    const ctx = ctxRaw.mul(2);
    let y = x;
    for (const l of layers) y = segment(l)(y, [ctx]);
    backward([head(y, [ctx])]);
    return [...params, ctxRaw].map((p) => p.grad!.toArray());
  };
  const expected = plain();
  for (const p of [...params, ctxRaw]) p.grad = null;
  const { loss } = forwardBackwardCheckpointed(embed.forward(raw), [ctxRaw.mul(2)], layers.map(segment), head);
  const got = [...params, ctxRaw].map((p) => p.grad!.toArray());
  assert.equal(loss.numel(), 1);
  got.forEach((grad, i) =>
    grad.forEach((v, j) =>
      assert.ok(Math.abs(v - expected[i]![j]!) < 1e-6, `param ${i}[${j}]: ${v} vs ${expected[i]![j]}`),
    ),
  );
  assert.ok(expected.every((grad) => grad.some((v) => v !== 0)));
});
