import assert from 'node:assert/strict';
import { test } from 'node:test';

import { noGrad, tensor } from '../../src/torch/index.js';
import { LayerNorm, RMSNorm } from '../../src/nn/index.js';

const rows = [[1, 2, 3, 4], [-1, 0.5, 8, -2]];

test('LayerNorm: (x − mean)/√(var + eps)·w + b per row, float32 compute for bfloat16 input', () => {
  const ln = new LayerNorm(4, { eps: 1e-5 });
  noGrad(() => ln.weight!.copy_(tensor([1, 2, 0.5, -1])));
  noGrad(() => ln.bias!.copy_(tensor([0, 1, 0, 0.25])));
  const expected = rows.flatMap((r) => {
    const m = r.reduce((a, b) => a + b) / 4;
    const v = r.reduce((a, b) => a + (b - m) ** 2, 0) / 4;
    return r.map((x, i) => ((x - m) / Math.sqrt(v + 1e-5)) * [1, 2, 0.5, -1][i]! + [0, 1, 0, 0.25][i]!);
  });
  ln.forward(tensor(rows)).toArray().forEach((y, i) => assert.ok(Math.abs(y - expected[i]!) < 1e-5));
  const bf = ln.forward(tensor(rows).bfloat16());
  assert.equal(bf.dtype, 'bfloat16');
  bf.toArray().forEach((y, i) => assert.ok(Math.abs(y - expected[i]!) < 0.02 * Math.max(1, Math.abs(expected[i]!))));
  assert.equal(new LayerNorm(4, { elementwiseAffine: false }).parameters().length, 0);
});

test('RMSNorm: x/√(mean(x²) + eps)·w', () => {
  const rms = new RMSNorm(4, { eps: 1e-6 });
  noGrad(() => rms.weight!.copy_(tensor([2, 1, 1, 0.5])));
  const expected = rows.flatMap((r) => {
    const ms = r.reduce((a, b) => a + b * b, 0) / 4;
    return r.map((x, i) => (x / Math.sqrt(ms + 1e-6)) * [2, 1, 1, 0.5][i]!);
  });
  rms.forward(tensor(rows)).toArray().forEach((y, i) => assert.ok(Math.abs(y - expected[i]!) < 1e-5));
});
