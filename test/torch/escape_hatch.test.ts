import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

test('OpenBLAS is asked for the kernels the CPU runs, whatever its model number', async () => {
  const { openblasCoretypeFor, cpuFlags, hasFastBf16 } = await import('../../src/torch/cpu_features.js');
  // the flags of an Intel Xeon (family 6, model 207) that OpenBLAS 0.3.21 runs with its generic kernels
  const xeon = 'fpu sse sse2 avx fma avx2 avx512f avx512dq avx512cd avx512bw avx512vl avx512_bf16 amx_bf16';
  assert.equal(openblasCoretypeFor(new Set(xeon.split(' '))), 'SkylakeX');
  assert.equal(openblasCoretypeFor(new Set('fpu sse avx fma avx2 avx512f'.split(' '))), 'Haswell'); // AVX-512 foundation only
  assert.equal(openblasCoretypeFor(new Set('fpu sse sse2 avx2'.split(' '))), undefined); // no FMA: OpenBLAS chooses
  assert.equal(openblasCoretypeFor(new Set()), undefined);
  assert.equal(hasFastBf16(new Set(xeon.split(' '))), true);
  assert.equal(hasFastBf16(new Set('fpu avx2 fma avx512f avx512bw'.split(' '))), false);
  const dir = mkdtempSync(path.join(tmpdir(), 'ww-cpuinfo-'));
  writeFileSync(path.join(dir, 'cpuinfo'), `processor\t: 0\nflags\t\t: fpu avx2 fma\nbugs\t\t: spectre\n`);
  assert.deepEqual([...cpuFlags(path.join(dir, 'cpuinfo'))], ['fpu', 'avx2', 'fma']);
  assert.equal(cpuFlags(path.join(dir, 'missing')).size, 0);
  rmSync(dir, { recursive: true });
  // this process: where OpenBLAS is loaded, it runs what was asked (the variable is set before the addon loads)
  const info = engineInfo();
  if (info.blasCore && process.env.OPENBLAS_CORETYPE)
    assert.equal(info.blasCore.toLowerCase(), process.env.OPENBLAS_CORETYPE.toLowerCase());
});
