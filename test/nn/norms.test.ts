import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Generator, autocast, noGrad, randn, tensor } from '../../src/torch/index.js';
import { Conv3d, GroupNorm, LayerNorm, RMSNorm } from '../../src/nn/index.js';

const rows = [
  [1, 2, 3, 4],
  [-1, 0.5, 8, -2],
];

test('LayerNorm: (x − mean)/√(var + eps)·w + b per row, float32 compute for bfloat16 input', () => {
  const ln = new LayerNorm(4, { eps: 1e-5 });
  noGrad(() => ln.weight!.copy_(tensor([1, 2, 0.5, -1])));
  noGrad(() => ln.bias!.copy_(tensor([0, 1, 0, 0.25])));
  const expected = rows.flatMap((r) => {
    const m = r.reduce((a, b) => a + b) / 4;
    const v = r.reduce((a, b) => a + (b - m) ** 2, 0) / 4;
    return r.map((x, i) => ((x - m) / Math.sqrt(v + 1e-5)) * [1, 2, 0.5, -1][i]! + [0, 1, 0, 0.25][i]!);
  });
  ln.forward(tensor(rows))
    .toArray()
    .forEach((y, i) => assert.ok(Math.abs(y - expected[i]!) < 1e-5));
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
  rms
    .forward(tensor(rows))
    .toArray()
    .forEach((y, i) => assert.ok(Math.abs(y - expected[i]!) < 1e-5));
});

test('Conv3d with stride = kernel (patch embedding) equals the direct convolution', () => {
  const conv = new Conv3d(3, 5, [1, 2, 2], { stride: [1, 2, 2], generator: new Generator(1) });
  const x = randn([2, 3, 3, 4, 6], new Generator(2));
  // The convolution by its definition, in plain loops.
  const xv = x.toArray(),
    wv = conv.weight.toArray(),
    bv = conv.bias!.toArray();
  const direct: number[] = [];
  for (let n = 0; n < 2; n++)
    for (let o = 0; o < 5; o++)
      for (let f = 0; f < 3; f++)
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 3; j++) {
            let s = bv[o]!;
            for (let c = 0; c < 3; c++)
              for (let a = 0; a < 2; a++)
                for (let b = 0; b < 2; b++) {
                  s +=
                    wv[((o * 3 + c) * 2 + a) * 2 + b]! * xv[(((n * 3 + c) * 3 + f) * 4 + 2 * i + a) * 6 + 2 * j + b]!;
                }
            direct.push(s);
          }
  const got = conv.forward(x);
  assert.deepEqual(got.shape, [2, 5, 3, 2, 3]);
  got.toArray().forEach((v, i) => assert.ok(Math.abs(v - direct[i]!) < 1e-5));
  const tokens = conv.tokens(x);
  assert.deepEqual(tokens.shape, [2, 18, 5]);
  tokens
    .toArray()
    .forEach((v, i) => assert.ok(Math.abs(v - got.flatten(2).transpose(1, 2).contiguous().toArray()[i]!) < 1e-6));
});

test('GroupNorm: each group of channels normalised over its channels and positions, then w·x + b per channel', () => {
  // [1, 4, 2]: groups {0, 1} and {2, 3}, four values each
  const x = [
    [1, 3],
    [5, 7],
    [0, 0],
    [2, 2],
  ];
  const norm = new GroupNorm(2, 4, { eps: 0 });
  noGrad(() => {
    norm.weight.copy_(tensor([1, 2, 1, 1]));
    norm.bias.copy_(tensor([0, 0, 1, 0]));
  });
  const g1 = [1, 3, 5, 7],
    m1 = 4,
    s1 = Math.sqrt(g1.reduce((a, v) => a + (v - m1) ** 2, 0) / 4);
  const expected = [(1 - m1) / s1, (3 - m1) / s1, (2 * (5 - m1)) / s1, (2 * (7 - m1)) / s1, -1 + 1, -1 + 1, 1, 1];
  norm
    .forward(tensor([x]))
    .toArray()
    .forEach((y, i) => assert.ok(Math.abs(y - expected[i]!) < 1e-5, `${i}: ${y} vs ${expected[i]}`));
  assert.throws(() => new GroupNorm(3, 4), /4 channels do not split into 3 groups/);
});

test('GroupNorm under bfloat16 autocast (after a conv that hands it bfloat16): float32 out, the float32 result of the rounded input', () => {
  const gn = new GroupNorm(2, 4);
  noGrad(() => gn.weight.copy_(tensor([1, 2, 0.5, -1])));
  // [1, 4, 1, 2]: groups (channels 0, 1) and (2, 3), each normalised over its 4 values by hand
  const x = [1, 2, 3, 4, -1, 0.5, 8, -2];
  const expected = [0, 1].flatMap((g) => {
    const v = x.slice(4 * g, 4 * g + 4);
    const m = v.reduce((a, b) => a + b) / 4;
    const s = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / 4 + 1e-5);
    return v.map((u, i) => ((u - m) / s) * [1, 2, 0.5, -1][2 * g + Math.floor(i / 2)]!);
  });
  const y = autocast('bfloat16', () => gn.forward(tensor(x, { shape: [1, 4, 1, 2] }).bfloat16()));
  assert.equal(y.dtype, 'float32');
  y.toArray().forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-5, `${v} against ${expected[i]}`));
});
