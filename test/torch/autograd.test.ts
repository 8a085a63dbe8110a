// Every differentiable op the models use, against central finite differences in float64.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  backward,
  cat,
  conv1d,
  conv2d,
  conv3d,
  embedding,
  enableGrad,
  gelu,
  groupNorm,
  interpolate,
  isGradEnabled,
  layerNorm,
  linear,
  mathAttention,
  mseLoss,
  noGrad,
  pad,
  scope,
  tensor,
} from '../../src/torch/index.js';
import { gradcheck } from '../helpers/gradcheck.js';

describe('gradients equal finite differences (float64)', () => {
  test('elementwise', () => {
    gradcheck('mul/add/sub/div', ([a, b]) => a!.mul(b!).add(a!).sub(b!.mul(0.5)).div(b!.abs().add(1)), [
      [2, 3],
      [2, 3],
    ]);
    gradcheck('exp/log/sqrt', ([a]) => a!.exp().add(a!.square().add(1).log()).add(a!.square().add(1).sqrt()), [[5]]);
    gradcheck(
      'rsqrt/reciprocal/pow',
      ([a]) => a!.square().add(0.5).rsqrt().add(a!.square().add(1).reciprocal()).add(a!.pow(3)),
      [[5]],
    );
    gradcheck('sin/cos/tanh', ([a]) => a!.sin().mul(a!.cos()).add(a!.tanh()), [[6]]);
    gradcheck('sigmoid/silu', ([a]) => a!.sigmoid().add(a!.silu()), [[6]]);
    gradcheck('gelu exact and tanh', ([a]) => gelu(a!).add(gelu(a!, 'tanh').mul(2)), [[6]]);
    gradcheck('where/maximum', ([a, b]) => a!.maximum(b!).add(a!.mul(b!.gt(0).to('float64'))), [[6], [6]]);
  });

  test('linear algebra and reductions', () => {
    gradcheck('matmul', ([a, b]) => a!.matmul(b!), [
      [2, 3],
      [3, 4],
    ]);
    gradcheck('bmm', ([a, b]) => a!.bmm(b!), [
      [2, 2, 3],
      [2, 3, 2],
    ]);
    gradcheck('linear', ([x, w, b]) => linear(x!, w!, b!), [[2, 3], [4, 3], [4]]);
    gradcheck(
      'sum/mean/var',
      ([a]) =>
        a!
          .sum(1, true)
          .mul(a!.mean(0))
          .add(a!.var(1, { keepdim: true })),
      [[3, 4]],
    );
    gradcheck('amax/norm', ([a]) => a!.amax(1).add(a!.norm(2, 1)), [[3, 4]]);
    gradcheck('softmax', ([a]) => a!.softmax(-1), [[2, 5]]);
  });

  test('norms', () => {
    gradcheck('layerNorm affine', ([x, w, b]) => layerNorm(x!, [4], w!, b!, 1e-6), [[3, 4], [4], [4]]);
    gradcheck('groupNorm affine', ([x, w, b]) => groupNorm(x!, 2, w!, b!, 1e-6), [[2, 4, 3], [4], [4]]);
    // RMS norm as Wan writes it: x · rsqrt(mean(x²) + eps) · w
    gradcheck('rms norm', ([x, w]) => x!.mul(x!.square().mean(-1, true).add(1e-6).rsqrt()).mul(w!), [[3, 4], [4]]);
  });

  test('convolutions, padding, resizing', () => {
    gradcheck(
      'conv2d stride 2 padding 1',
      ([x, w, b]) => conv2d(x!, w!, b!, { stride: 2, padding: 1 }),
      [[1, 2, 4, 4], [3, 2, 3, 3], [3]],
      { rtol: 1e-4 },
    );
    gradcheck('conv3d patch (1,2,2)', ([x, w, b]) => conv3d(x!, w!, b!, { stride: [1, 2, 2] }), [
      [1, 2, 2, 4, 4],
      [3, 2, 1, 2, 2],
      [3],
    ]);
    gradcheck('conv3d causal 3x3x3', ([x, w]) => conv3d(pad(x!, [1, 1, 1, 1, 2, 0]), w!), [
      [1, 2, 3, 3, 3],
      [2, 2, 3, 3, 3],
    ]);
    gradcheck('pad replicate', ([x]) => pad(x!, [1, 2, 1, 0], 'replicate').mul(pad(x!, [1, 2, 1, 0], 'replicate')), [
      [1, 1, 3, 3],
    ]);
    gradcheck('interpolate nearest-exact', ([x]) => interpolate(x!, { scaleFactor: 2, mode: 'nearest-exact' }), [
      [1, 2, 2, 3],
    ]);
    gradcheck('interpolate bilinear', ([x]) => interpolate(x!, { size: [3, 5], mode: 'bilinear' }), [[1, 1, 2, 3]]);
  });

  test('shapes, attention, embedding, loss', () => {
    gradcheck(
      'cat/narrow/permute/reshape',
      ([a, b]) => cat([a!, b!], 1).narrow(1, 1, 3).permute(1, 0).reshape(-1).square(),
      [
        [2, 2],
        [2, 3],
      ],
    );
    gradcheck('attention', ([q, k, v]) => mathAttention(q!, k!, v!, null, 0.7), [
      [1, 2, 3, 4],
      [1, 2, 5, 4],
      [1, 2, 5, 4],
    ]);
    gradcheck('mse loss', ([a, b]) => mseLoss(a!, b!), [
      [2, 3],
      [2, 3],
    ]);
    const index = () => tensor([2, 0, 2], { dtype: 'int64' });
    gradcheck('embedding', ([w]) => embedding(index(), w!), [[3, 2]]);
  });

  test('the remaining view, indexing and resizing ops the models use', () => {
    // clamp bounds sit between the sample values (all in (-1, 1)), away from the kinks
    gradcheck('clamp', ([a]) => a!.mul(3).clamp(-2.5, 2.5), [[2, 5]], { seed: 3 });
    gradcheck(
      'repeatInterleave/expand',
      ([a]) => a!.repeatInterleave(2, 1).mul(a!.unsqueeze(1).expand(2, 2, 3).reshape(2, 6)),
      [[2, 3]],
    );
    gradcheck(
      'select/indexSelect/gather',
      ([a]) =>
        cat([
          a!.select(0, 1),
          a!.indexSelect(1, tensor([2, 0, 2], { dtype: 'int64' })).flatten(),
          a!
            .gather(
              1,
              tensor(
                [
                  [1, 1, 0],
                  [2, 0, 0],
                ],
                { dtype: 'int64' },
              ),
            )
            .flatten(),
        ]),
      [[2, 3]],
    );
    gradcheck(
      'chunk/split/transpose/flip',
      ([a]) => {
        const [p, q] = a!.chunk(2, 1);
        const [r] = a!.split([1, 3], 1);
        return cat([p!.transpose(0, 1).flip(0).flatten(), q!.square().flatten(), r!.flatten()]);
      },
      [[3, 4]],
    );
    gradcheck('pad constant', ([x]) => pad(x!, [2, 1, 0, 1], 'constant', 0.5).square(), [[1, 1, 2, 3]]);
    gradcheck('conv1d groups 2', ([x, w]) => conv1d(x!, w!, null, { padding: 1, groups: 2 }), [
      [1, 4, 5],
      [4, 2, 3],
    ]);
    gradcheck('interpolate nearest', ([x]) => interpolate(x!, { scaleFactor: 2, mode: 'nearest' }).square(), [
      [1, 1, 2, 2],
    ]);
    gradcheck(
      'interpolate trilinear',
      ([x]) => interpolate(x!, { size: [3, 3, 2], mode: 'trilinear', alignCorners: true }),
      [[1, 1, 2, 2, 2]],
    );
    gradcheck('layerNorm plain', ([x]) => layerNorm(x!, [5], null, null, 1e-6), [[2, 5]]);
  });
});

describe('autograd controls', () => {
  test('noGrad records nothing; enableGrad inside noGrad records again', () =>
    scope(() => {
      const x = tensor([1, 2], { dtype: 'float64' }).requiresGrad_();
      const y = noGrad(() => {
        assert.equal(isGradEnabled(), false);
        return x.mul(2);
      });
      assert.equal(isGradEnabled(), true);
      assert.equal(y.requiresGrad, false);
      const z = noGrad(() => enableGrad(() => x.mul(3)));
      assert.equal(z.requiresGrad, true);
    }));

  test('gradients accumulate, detach cuts, inputs restricts', () =>
    scope(() => {
      const a = tensor([1, 2], { dtype: 'float64' }).requiresGrad_();
      const b = tensor([3, 4], { dtype: 'float64' }).requiresGrad_();
      a.mul(b).sum().backward();
      a.mul(b).sum().backward();
      assert.deepEqual(a.grad!.toArray(), [6, 8]);
      a.grad = null;
      assert.equal(a.grad, null);
      a.mul(b.detach()).sum().backward();
      assert.deepEqual(a.grad!.toArray(), [3, 4]);
      b.grad = null;
      a.grad = null;
      backward([a.mul(b).sum()], null, { inputs: [b] });
      assert.equal(a.grad, null);
      assert.deepEqual(b.grad!.toArray(), [1, 2]);
      // an explicit output gradient
      const c = tensor([1, 1], { dtype: 'float64' }).requiresGrad_();
      c.mul(c).backward(tensor([10, 100], { dtype: 'float64' }));
      assert.deepEqual(c.grad!.toArray(), [20, 200]);
    }));
});
