// Ops against hand-computed values, on CPU and (where the libtorch has one) CUDA.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  arange,
  cat,
  conv1d,
  conv2d,
  conv3d,
  cudaIsAvailable,
  embedding,
  full,
  groupNorm,
  interpolate,
  layerNorm,
  linear,
  linspace,
  mseLoss,
  ones,
  pad,
  scaledDotProductAttention,
  mathAttention,
  scope,
  stack,
  tensor,
  where,
  zeros,
} from '../../src/torch/index.js';
import { assertClose } from '../helpers/assert_close.js';

const devices = ['cpu', ...(cudaIsAvailable() ? ['cuda'] : [])];

for (const device of devices) {
  const t = (data: Parameters<typeof tensor>[0], shape?: number[]) => tensor(data, { device, shape });
  const values = (x: { toArray(): number[] }) => x.toArray();

  describe(`ops on ${device}`, () => {
    test('elementwise arithmetic broadcasts like PyTorch', () =>
      scope(() => {
        const a = t([
          [1, 2, 3],
          [4, 5, 6],
        ]);
        const b = t([10, 20, 30]);
        assert.deepEqual(values(a.add(b)), [11, 22, 33, 14, 25, 36]);
        assert.deepEqual(values(a.sub(b, 2)), [-19, -38, -57, -16, -35, -54]);
        assert.deepEqual(values(a.mul(b)), [10, 40, 90, 40, 100, 180]);
        assertClose(values(b.div(a)), [10, 10, 10, 2.5, 4, 5]);
        assert.deepEqual(values(a.mul(2).add(1)), [3, 5, 7, 9, 11, 13]);
        assert.deepEqual(values(a.pow(2)), [1, 4, 9, 16, 25, 36]);
        assert.deepEqual(a.add(t([[1], [2]])).shape, [2, 3]);
      }));

    test('unary math matches closed forms', () =>
      scope(() => {
        const x = t([-2, -0.5, 0, 0.5, 2]);
        const xs = [-2, -0.5, 0, 0.5, 2];
        assertClose(values(x.exp()), xs.map(Math.exp), { rtol: 1e-6 });
        assertClose(values(x.cos()), xs.map(Math.cos), { atol: 1e-7 });
        assertClose(values(x.sin()), xs.map(Math.sin), { atol: 1e-7 });
        assertClose(values(x.tanh()), xs.map(Math.tanh), { atol: 1e-7 });
        assertClose(
          values(x.sigmoid()),
          xs.map((v) => 1 / (1 + Math.exp(-v))),
          { atol: 1e-7 },
        );
        assertClose(
          values(x.silu()),
          xs.map((v) => v / (1 + Math.exp(-v))),
          { atol: 1e-7 },
        );
        // exact gelu: x·Φ(x); Φ(-2) = 0.022750131948179, Φ(-0.5) = 0.308537538725987
        assertClose(
          values(x.gelu()),
          [-2 * 0.022750131948179, -0.5 * 0.308537538725987, 0, 0.5 * 0.691462461274013, 2 * 0.977249868051821],
          { atol: 1e-6 },
        );
        const tanhGelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
        assertClose(values(x.gelu('tanh')), xs.map(tanhGelu), { atol: 1e-6 });
        assertClose(
          values(x.abs().sqrt()),
          xs.map((v) => Math.sqrt(Math.abs(v))),
          { atol: 1e-7 },
        );
        assertClose(values(x.clamp(-1, 1)), [-1, -0.5, 0, 0.5, 1]);
        assertClose(values(x.clamp(undefined, 0)), [-2, -0.5, 0, 0, 0]);
      }));

    test('comparisons and where', () =>
      scope(() => {
        const a = t([1, 5, 3]);
        const b = t([2, 5, 1]);
        assert.deepEqual(values(a.lt(b)), [1, 0, 0]);
        assert.deepEqual(values(a.eq(b)), [0, 1, 0]);
        assert.deepEqual(values(a.ge(3)), [0, 1, 1]);
        assert.equal(a.gt(b).dtype, 'bool');
        assert.deepEqual(values(where(a.gt(b), a, b)), [2, 5, 3]);
        assert.deepEqual(values(where(a.gt(2), a, 0)), [0, 5, 3]);
        assert.deepEqual(values(where(a.gt(2), -1, b)), [2, -1, -1]);
      }));

    test('matmul, bmm and linear', () =>
      scope(() => {
        const a = t([
          [1, 2],
          [3, 4],
        ]);
        const b = t([
          [5, 6],
          [7, 8],
        ]);
        assert.deepEqual(values(a.matmul(b)), [19, 22, 43, 50]);
        const batched = stack([a, b]).bmm(stack([b, a]));
        assert.deepEqual(values(batched), [19, 22, 43, 50, 23, 34, 31, 46]);
        // y = x Wᵀ + b
        const y = linear(
          t([[1, 1]]),
          t([
            [1, 2],
            [3, 4],
            [5, 6],
          ]),
          t([0.5, 0, -1]),
        );
        assert.deepEqual(values(y), [3.5, 7, 10]);
      }));

    test('reductions over dims, keepdim', () =>
      scope(() => {
        const x = t([
          [1, 2, 3],
          [4, 6, 8],
        ]);
        assert.deepEqual(values(x.sum()), [24]);
        assert.deepEqual(values(x.sum(1)), [6, 18]);
        assert.deepEqual(x.sum(1, true).shape, [2, 1]);
        assert.deepEqual(values(x.mean(0)), [2.5, 4, 5.5]);
        assertClose(values(x.var(1)), [1, 4]);
        assertClose(values(x.var(1, { correction: 0 })), [2 / 3, 8 / 3]);
        assert.deepEqual(values(x.amax(1)), [3, 8]);
        assert.deepEqual(values(x.argmax(1)), [2, 2]);
        assertClose(values(x.norm(2, 1)), [Math.sqrt(14), Math.sqrt(116)]);
        assert.deepEqual(values(x.sum([0, 1])), [24]);
      }));

    test('softmax, layerNorm and groupNorm match hand computation', () =>
      scope(() => {
        const x = t([[1, 2, 3]]);
        const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
        const z = e[0]! + e[1]! + e[2]!;
        assertClose(
          values(x.softmax(-1)),
          e.map((v) => v / z),
          { atol: 1e-7 },
        );
        // layer norm of [1,2,3]: mean 2, var 2/3
        const s = Math.sqrt(2 / 3 + 1e-5);
        assertClose(values(layerNorm(x, [3])), [-1 / s, 0, 1 / s], { atol: 1e-6 });
        assertClose(values(layerNorm(x, [3], t([1, 2, 3]), t([0, 0, 1]))), [-1 / s, 0, 3 / s + 1], { atol: 1e-6 });
        // group norm, 2 groups over channels [1,3] and [5,9]: means 2, 7; vars 1, 4
        const g = groupNorm(t([1, 3, 5, 9], [1, 4, 1]), 2, null, null, 0);
        assertClose(values(g), [-1, 1, -1, 1], { atol: 1e-6 });
      }));

    test('conv1d, conv2d, conv3d with stride, padding and groups', () =>
      scope(() => {
        // 1D: [1,2,3,4] * [1,0,-1] with padding 1
        assert.deepEqual(
          values(conv1d(t([1, 2, 3, 4], [1, 1, 4]), t([1, 0, -1], [1, 1, 3]), null, { padding: 1 })),
          [-2, -2, -2, 3],
        );
        // 2D: 3x3 input, 2x2 ones kernel, stride 1 -> window sums; bias 1
        const img = t([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
        assert.deepEqual(values(conv2d(img, ones([1, 1, 2, 2], { device }), t([1]))), [13, 17, 25, 29]);
        assert.deepEqual(
          values(conv2d(img, ones([1, 1, 2, 2], { device }), null, { stride: 2, padding: 1 })),
          [1, 5, 11, 28],
        );
        // groups = 2: each channel convolved with its own 1x1 kernel
        const two = t([1, 2, 3, 4, 10, 20, 30, 40], [1, 2, 2, 2]);
        assert.deepEqual(
          values(conv2d(two, t([2, -1], [2, 1, 1, 1]), null, { groups: 2 })),
          [2, 4, 6, 8, -10, -20, -30, -40],
        );
        // 3D: 2x2x2 ones kernel over a 2x2x2 cube of 1..8 -> 36
        assert.deepEqual(
          values(
            conv3d(
              arange(1, 9, 1, { dtype: 'float32', device }).view(1, 1, 2, 2, 2),
              ones([1, 1, 2, 2, 2], { device }),
            ),
          ),
          [36],
        );
        // stride (1,2,2) as the Wan patch embedding uses
        const patch = conv3d(ones([1, 1, 1, 4, 4], { device }), ones([3, 1, 1, 2, 2], { device }), null, {
          stride: [1, 2, 2],
        });
        assert.deepEqual(patch.shape, [1, 3, 1, 2, 2]);
        assert.deepEqual(values(patch), new Array(12).fill(4));
      }));

    test('pad constant and replicate', () =>
      scope(() => {
        const x = t([1, 2, 3], [1, 1, 3]);
        assert.deepEqual(values(pad(x, [2, 1])), [0, 0, 1, 2, 3, 0]);
        assert.deepEqual(values(pad(x, [1, 1], 'constant', 7)), [7, 1, 2, 3, 7]);
        assert.deepEqual(values(pad(x, [2, 1], 'replicate')), [1, 1, 1, 2, 3, 3]);
        const cube = pad(ones([1, 1, 1, 1, 1], { device }), [1, 1, 1, 1, 2, 0]);
        assert.deepEqual(cube.shape, [1, 1, 3, 3, 3]);
        assert.equal(cube.sum().item(), 1);
      }));

    test('interpolate nearest, bilinear, trilinear', () =>
      scope(() => {
        const x = t([1, 2, 3, 4], [1, 1, 2, 2]);
        assert.deepEqual(
          values(interpolate(x, { scaleFactor: 2, mode: 'nearest' })),
          [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4],
        );
        assert.deepEqual(
          values(interpolate(x, { scaleFactor: 2, mode: 'nearest-exact' })),
          [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4],
        );
        // align_corners: corners stay, midpoint is the average
        assertClose(
          values(interpolate(x, { size: [3, 3], mode: 'bilinear', alignCorners: true })),
          [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4],
        );
        // half-pixel centres (align_corners false), 2 -> 4: weights 1, .75/.25, .25/.75, 1
        assertClose(values(interpolate(t([0, 4], [1, 1, 1, 2]), { size: [1, 4], mode: 'bilinear' })), [0, 1, 3, 4]);
        const cube = interpolate(arange(0, 2, 1, { dtype: 'float32', device }).view(1, 1, 2, 1, 1), {
          size: [3, 1, 1],
          mode: 'trilinear',
          alignCorners: true,
        });
        assertClose(values(cube), [0, 0.5, 1]);
      }));

    test('views and shape ops', () =>
      scope(() => {
        const x = arange(0, 6, 1, { dtype: 'float32', device }).view(2, 3);
        assert.deepEqual(values(x.transpose(0, 1).contiguous()), [0, 3, 1, 4, 2, 5]);
        assert.deepEqual(values(x.permute(1, 0).reshape(6)), [0, 3, 1, 4, 2, 5]);
        assert.deepEqual(x.unsqueeze(0).shape, [1, 2, 3]);
        assert.deepEqual(x.unsqueeze(0).squeeze(0).shape, [2, 3]);
        assert.deepEqual(x.flatten().shape, [6]);
        assert.deepEqual(x.flatten().unflatten(0, [3, -1]).shape, [3, 2]);
        assert.deepEqual(values(x.narrow(1, 1, 2)), [1, 2, 4, 5]);
        assert.deepEqual(values(x.slice(1, 0, 3, 2)), [0, 2, 3, 5]);
        assert.deepEqual(values(x.flip(1)), [2, 1, 0, 5, 4, 3]);
        assert.deepEqual(values(x.select(0, 1)), [3, 4, 5]);
        assert.deepEqual(values(t([1, 2]).expand(2, 2)), [1, 2, 1, 2]);
        assert.deepEqual(values(t([1, 2]).repeat(2)), [1, 2, 1, 2]);
        assert.deepEqual(values(t([1, 2]).repeatInterleave(2, 0)), [1, 1, 2, 2]);
      }));

    test('cat, stack, split, chunk, indexSelect, gather', () =>
      scope(() => {
        const a = t([[1, 2]]);
        const b = t([[3, 4]]);
        assert.deepEqual(values(cat([a, b], 0)), [1, 2, 3, 4]);
        assert.deepEqual(cat([a, b], 1).shape, [1, 4]);
        assert.deepEqual(stack([a, b], 0).shape, [2, 1, 2]);
        const x = arange(0, 5, 1, { dtype: 'float32', device });
        assert.deepEqual(x.split(2).map(values), [[0, 1], [2, 3], [4]]);
        assert.deepEqual(x.split([1, 4]).map(values), [[0], [1, 2, 3, 4]]);
        assert.deepEqual(x.chunk(2).map(values), [
          [0, 1, 2],
          [3, 4],
        ]);
        const index = tensor([4, 0], { dtype: 'int64', device });
        assert.deepEqual(values(x.indexSelect(0, index)), [4, 0]);
        const m = t([
          [1, 2],
          [3, 4],
        ]);
        assert.deepEqual(
          values(
            m.gather(
              1,
              tensor(
                [
                  [1, 0],
                  [0, 0],
                ],
                { dtype: 'int64', device },
              ),
            ),
          ),
          [2, 1, 3, 3],
        );
      }));

    test('embedding and mse loss', () =>
      scope(() => {
        const weight = t([
          [0, 0],
          [1, 2],
          [3, 4],
        ]);
        assert.deepEqual(values(embedding(tensor([2, 1, 2], { dtype: 'int64', device }), weight)), [3, 4, 1, 2, 3, 4]);
        assert.deepEqual(
          values(mseLoss(t([1, 2, 3]), t([1, 0, 0]))),
          [13 / 3].map((v) => Math.fround(v)),
        );
        assert.deepEqual(values(mseLoss(t([1, 2, 3]), t([1, 0, 0]), 'sum')), [13]);
      }));

    test('creation: zeros, ones, full, arange, linspace', () =>
      scope(() => {
        assert.deepEqual(values(zeros([2], { device })), [0, 0]);
        assert.deepEqual(values(full([2], 7, { device })), [7, 7]);
        assert.equal(arange(0, 3).dtype, 'int64');
        assert.equal(arange(0, 1, 0.5).dtype, 'float32');
        assert.deepEqual(values(arange(0, 1, 0.25, { device })), [0, 0.25, 0.5, 0.75]);
        assert.deepEqual(values(linspace(1, 0, 5, { dtype: 'float64', device })), [1, 0.75, 0.5, 0.25, 0]);
        assert.equal(ones([1], { device }).device.startsWith(device), true);
      }));

    test('scaled dot-product attention equals a float64 reference written here', () =>
      scope(() => {
        // q [1, 2 heads, 3, 2], k/v [1, 2, 4, 2]
        const q = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, 0.8, -0.9, 1.0, 0.2, -0.3];
        const k = [0.5, 0.1, -0.3, 0.2, 0.9, -0.4, 0.0, 0.3, -0.2, 0.6, 0.4, -0.1, 0.8, 0.7, -0.5, 0.2];
        const v = [1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, -5, -6, -7, -8];
        const expected: number[] = [];
        for (let h = 0; h < 2; h++) {
          for (let i = 0; i < 3; i++) {
            const scores = [0, 1, 2, 3].map(
              (j) =>
                (q[h * 6 + i * 2]! * k[h * 8 + j * 2]! + q[h * 6 + i * 2 + 1]! * k[h * 8 + j * 2 + 1]!) / Math.SQRT2,
            );
            const m = Math.max(...scores);
            const w = scores.map((s) => Math.exp(s - m));
            const z = w.reduce((a, b) => a + b);
            for (let d = 0; d < 2; d++)
              expected.push(w.reduce((acc, wj, j) => acc + (wj / z) * v[h * 8 + j * 2 + d]!, 0));
          }
        }
        const out = scaledDotProductAttention(t(q, [1, 2, 3, 2]), t(k, [1, 2, 4, 2]), t(v, [1, 2, 4, 2]));
        assertClose(values(out), expected, { atol: 1e-5 });
        const math = mathAttention(t(q, [1, 2, 3, 2]), t(k, [1, 2, 4, 2]), t(v, [1, 2, 4, 2]), null, 1 / Math.SQRT2);
        assertClose(values(math), expected, { atol: 1e-5 });
        // an explicit scale of 1 and a boolean mask hiding the last two keys
        const mask = tensor([1, 1, 0, 0], { dtype: 'bool', device, shape: [1, 1, 1, 4] });
        const masked = scaledDotProductAttention(t(q, [1, 2, 3, 2]), t(k, [1, 2, 4, 2]), t(v, [1, 2, 4, 2]), {
          mask,
          scale: 1,
        });
        const s0 = q[0]! * k[0]! + q[1]! * k[1]!;
        const s1 = q[0]! * k[2]! + q[1]! * k[3]!;
        const w0 = 1 / (1 + Math.exp(s1 - s0));
        assertClose(values(masked).slice(0, 2), [w0 * 1 + (1 - w0) * 3, w0 * 2 + (1 - w0) * 4], { atol: 1e-5 });
      }));

    test('dtype conversions keep values; bfloat16 round trip is exact for bf16 values', () =>
      scope(() => {
        const x = t([1.5, -2.25, 1024, 0.0078125]);
        for (const dtype of ['float64', 'bfloat16', 'float16'] as const) {
          const y = x.to({ dtype });
          assert.equal(y.dtype, dtype);
          assert.deepEqual(values(y.to({ dtype: 'float32' })), [1.5, -2.25, 1024, 0.0078125]);
        }
        // 1 + 2^-8 is not representable in bfloat16 (7 mantissa bits): it rounds to 1
        assert.deepEqual(values(t([1 + 2 ** -8, 1 + 2 ** -7]).to('bfloat16')), [1, 1 + 2 ** -7]);
        // raw bits: 0x3fc0 is 1.5 in bfloat16
        const bits = tensor(new Uint16Array([0x3fc0, 0xc000]), { dtype: 'bfloat16' });
        assert.deepEqual(values(bits), [1.5, -2]);
        assert.deepEqual(Array.from(t([1.5, -2]).to('bfloat16').toTypedArray() as Uint16Array), [0x3fc0, 0xc000]);
        assert.deepEqual(values(tensor([1, 0, 1], { dtype: 'bool' })), [1, 0, 1]);
        assert.deepEqual(values(tensor([-3, 7], { dtype: 'int32' })), [-3, 7]);
        assert.deepEqual(values(tensor([200], { dtype: 'uint8' })), [200]);
        assert.deepEqual(Array.from(tensor([5, -6], { dtype: 'int64' }).toTypedArray() as BigInt64Array), [5n, -6n]);
      }));
  });
}
