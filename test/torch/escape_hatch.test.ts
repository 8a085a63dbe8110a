import assert from 'node:assert/strict';
import { test } from 'node:test';

import { atenSchema, callAten, engineInfo, hasAten, scope, tensor, type Tensor } from '../../src/torch/index.js';

test('any ATen operator runs by schema name, defaults filled from the schema', () =>
  scope(() => {
    const a = tensor([0, 10]);
    const b = tensor([10, 20]);
    assert.deepEqual((callAten('aten::lerp', 'Scalar', a, b, 0.25) as Tensor).toArray(), [2.5, 12.5]);
    // cumsum's dtype is keyword-only and defaults to None
    assert.deepEqual((callAten('cumsum', '', tensor([1, 2, 3]), 0) as Tensor).toArray(), [1, 3, 6]);
    // multiple returns come back as an array
    const [values, indices] = callAten('aten::max', 'dim', tensor([[1, 5, 2]]), 1) as Tensor[];
    assert.deepEqual(values!.toArray(), [5]);
    assert.deepEqual(indices!.toArray(), [1]);
    assert.match(atenSchema('aten::lerp', 'Scalar'), /lerp.Scalar\(Tensor self, Tensor end, Scalar weight\)/);
    assert.equal(hasAten('aten::definitely_not_an_op'), false);
    assert.throws(() => callAten('aten::definitely_not_an_op', ''), /has no operator aten::definitely_not_an_op/);
    assert.throws(() => callAten('aten::lerp', 'Scalar', a), /missing argument 'end'/);
    assert.throws(() => callAten('aten::lerp', 'Scalar', a, 'x', 1), /argument 'end': expected a tensor/);
  }));

test('engine info reports version, threads, bf16 and attention kernel consistently', () => {
  const info = engineInfo();
  assert.match(info.libtorchVersion, /^\d+\.\d+/);
  assert.equal(info.nativeAttention, hasAten('aten::scaled_dot_product_attention'));
  assert.equal(info.nativeAttention, Number(info.libtorchVersion.split('.')[0]) >= 2);
  assert.ok(info.intraOpThreads >= 1);
  assert.equal(typeof info.bf16Supported, 'boolean');
  assert.equal(info.cudaDeviceCount > 0, info.cudaAvailable);
});

test('the BLAS kind is read from the mapped library names', async () => {
  const { blasKindOf } = await import('../../src/torch/index.js');
  assert.equal(
    blasKindOf([
      '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so',
      '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3',
    ]),
    'openblas',
  );
  assert.equal(blasKindOf(['/opt/intel/lib/libmkl_rt.so.2']), 'mkl');
  assert.equal(blasKindOf(['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0']), 'reference');
  assert.equal(blasKindOf([]), 'none mapped');
});
