// Memory stays flat over long loops of scoped ops: the property training and sampling rely on.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Generator, keep, memoryStats, noGrad, owned, randn, scope, tensor, zeros } from '../../src/torch/index.js';

test('`using` releases a tensor, and an owned() group of them (filled inside the block), at the end of the block, also on a throw', () => {
  let single: ReturnType<typeof zeros> | undefined;
  let group: ReturnType<typeof zeros>[];
  const borrowed = zeros([1]);
  {
    using t = zeros([2]);
    using pieces = owned<ReturnType<typeof zeros>[]>([]);
    pieces.push(zeros([3]), zeros([4]));
    single = t;
    group = [...pieces];
    assert.equal(t.disposed, false);
  }
  assert.equal(single.disposed, true);
  assert.ok(group.every((g) => g.disposed));
  let held: { a: ReturnType<typeof zeros>; b: null; c: ReturnType<typeof zeros> } | undefined;
  assert.throws(() => {
    using views = owned({ a: zeros([1]), b: null, c: borrowed.add(1) });
    held = views;
    throw new Error('boom');
  }, /boom/);
  assert.ok(held!.a.disposed && held!.c.disposed);
  assert.equal(borrowed.disposed, false, 'what the block only used stays');
  borrowed.dispose();
});

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
  assert.throws(
    () =>
      scope(() => {
        zeros([1]);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.throws(() => kept.sum(), /disposed/);
});

test('10,000 scoped iterations of ops keep RSS growth under 64 MiB', () => {
  const g = new Generator(0);
  const weight = keep(randn([256, 256], g));
  let state = keep(zeros([64, 256]));
  const step = (): void => {
    const next = scope(() =>
      noGrad(() =>
        state
          .matmul(weight)
          .tanh()
          .add(randn([64, 256], g).mul(0.01))
          .softmax(-1)
          .mul(64),
      ),
    );
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

test('blocks past the allocator cache go back to the system: tensors of changing sizes do not grow RSS', () => {
  // glibc alone (its mmap threshold risen to 32 MiB, as it does after the first large free) grew
  // RSS by ~1.1 GB over 250 iterations of this loop; the addon pins the threshold at 1 MiB
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'fragmentation_loop.js');
  const run = (env: Record<string, string>): { growthMiB: number; live: number } =>
    JSON.parse(
      execFileSync(process.execPath, [child, '250'], {
        encoding: 'utf8',
        env: { ...process.env, WORLDWANDER_CPU_CACHE_MB: '8', ...env },
      }),
    );
  const pinned = run({});
  assert.equal(pinned.live, 0);
  assert.ok(pinned.growthMiB < 64, `RSS grew by ${pinned.growthMiB.toFixed(1)} MiB over 250 iterations`);
  // the same loop with glibc's risen threshold does grow: the check above can fail
  const risen = run({ MALLOC_MMAP_THRESHOLD_: String(32 << 20) });
  assert.ok(risen.growthMiB > 256, `with a 32 MiB threshold RSS grew by only ${risen.growthMiB.toFixed(1)} MiB`);
});
