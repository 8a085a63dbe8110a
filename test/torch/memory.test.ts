// Memory stays flat over long loops of scoped ops: the property training and sampling rely on.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Generator, keep, memoryStats, noGrad, randn, scope, tensor, zeros } from '../../src/torch/index.js';

test('scope releases everything but what it returns, which moves to the enclosing scope', () => {
  let inner: ReturnType<typeof zeros> | undefined;
  let dropped: ReturnType<typeof zeros> | undefined;
  const outer = scope(() => {
    const result = scope(() => {
      dropped = zeros([2]);
      inner = zeros([3]);
      return { inner, list: [zeros([1])] };
    });
    assert.equal(dropped!.disposed, true);
    assert.equal(result.inner.disposed, false);
    assert.equal(result.list[0]!.disposed, false);
    return 42;
  });
  assert.equal(outer, 42);
  assert.equal(inner!.disposed, true, 'returned from the inner scope but not from the outer one');
  const kept = scope(() => keep(zeros([1])));
  assert.equal(kept.disposed, false);
  kept.dispose();
  assert.throws(() => scope(() => { zeros([1]); throw new Error('boom'); }), /boom/);
  assert.throws(() => kept.sum(), /disposed/);
});

test('10,000 scoped iterations of ops keep RSS growth under 64 MiB', () => {
  const g = new Generator(0);
  const weight = keep(randn([256, 256], g));
  let state = keep(zeros([64, 256]));
  const step = (): void => {
    const next = scope(() => noGrad(() => state.matmul(weight).tanh().add(randn([64, 256], g).mul(0.01)).softmax(-1).mul(64)));
    state.dispose();
    state = next;
  };
  // warm up allocator and JIT before the baseline
  for (let i = 0; i < 500; i++) step();
  global.gc?.();
  const before = process.memoryUsage().rss;
  const liveBefore = memoryStats().allocatedBytes;
  for (let i = 0; i < 10_000; i++) step();
  // live tensor bytes are counted exactly by the allocator: the loop leaves none behind
  assert.equal(memoryStats().allocatedBytes, liveBefore);
  global.gc?.();
  const growth = process.memoryUsage().rss - before;
  // each iteration allocates ~6 tensors of 64 KiB: leaking them would cost ~3.7 GiB
  assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(Number.isFinite(state.sum().item()));
  tensor([0]).dispose();
});
