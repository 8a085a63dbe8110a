import assert from 'node:assert/strict';
import { test } from 'node:test';

import { empty, Generator, rand, randint, randn, randperm, scope } from '../../src/torch/index.js';

test('same seed gives the same numbers; a different seed does not', () =>
  scope(() => {
    const a = randn([1000], new Generator(42)).toArray();
    const b = randn([1000], new Generator(42)).toArray();
    const c = randn([1000], new Generator(43)).toArray();
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    // draws continue the stream: two halves differ, and replaying the seed replays both
    const g = new Generator(7);
    const first = rand([4], g).toArray();
    const second = rand([4], g).toArray();
    assert.notDeepEqual(first, second);
    const replay = new Generator(7);
    assert.deepEqual(rand([4], replay).toArray(), first);
    assert.deepEqual(rand([4], replay).toArray(), second);
  }));

test('distributions have the right moments and ranges', () =>
  scope(() => {
    const g = new Generator(1);
    const n = randn([100000], g);
    assert.ok(Math.abs(n.mean().item()) < 0.02, 'randn mean near 0');
    assert.ok(Math.abs(n.var().item() - 1) < 0.02, 'randn variance near 1');
    const u = rand([100000], g);
    assert.ok(u.amin(0).item() >= 0 && u.amax(0).item() < 1);
    assert.ok(Math.abs(u.mean().item() - 0.5) < 0.01);
    const i = randint(3, 7, [10000], g);
    assert.equal(i.dtype, 'int64');
    assert.equal(i.amin(0).item(), 3);
    assert.equal(i.amax(0).item(), 6);
    assert.deepEqual([...randperm(6, g).toArray()].sort(), [0, 1, 2, 3, 4, 5]);
    const w = empty([100000]).uniform_(-2, 2, g);
    assert.ok(w.amin(0).item() >= -2 && w.amax(0).item() <= 2 && Math.abs(w.mean().item()) < 0.03);
    const v = empty([100000]).normal_(3, 0.5, g);
    assert.ok(Math.abs(v.mean().item() - 3) < 0.01 && Math.abs(v.var().item() - 0.25) < 0.01);
  }));

test('generator state saves and restores (resuming a run)', () =>
  scope(() => {
    const g = new Generator(123);
    randn([10], g);
    const state = g.getState();
    const next = randn([10], g).toArray();
    const h = new Generator(999);
    h.setState(state);
    assert.deepEqual(randn([10], h).toArray(), next);
    assert.equal(g.initialSeed, 123n);
  }));
