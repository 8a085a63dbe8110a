import assert from 'node:assert/strict';
import { test } from 'node:test';

import { tensor } from '../../src/torch/index.js';
import { AdamW } from '../../src/train/adamw.js';

function close(actual: number[], expected: number[], tol: number): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) <= tol, `index ${i}: ${a} vs ${expected[i]}`));
}

test('AdamW: two steps match a hand computation (decoupled decay, bias correction)', () => {
  const p = tensor([1, -2, 0.5], { dtype: 'float64' }).requiresGrad_(true);
  const lr = 0.1,
    b1 = 0.9,
    b2 = 0.95,
    eps = 1e-8,
    wd = 0.01;
  const opt = new AdamW([p], { lr, betas: [b1, b2], eps, weightDecay: wd });
  const grads = [
    [0.5, -1, 2],
    [-0.25, 0.3, 1],
  ];
  // Independent reference in plain numbers.
  let ref = [1, -2, 0.5];
  const m = [0, 0, 0],
    v = [0, 0, 0];
  grads.forEach((g, step) => {
    p.grad = tensor(g, { dtype: 'float64' });
    opt.step();
    const t = step + 1;
    ref = ref.map((x, i) => {
      const decayed = x * (1 - lr * wd);
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
      const mHat = m[i]! / (1 - b1 ** t);
      const vHat = v[i]! / (1 - b2 ** t);
      return decayed - (lr * mHat) / (Math.sqrt(vHat) + eps);
    });
    close(p.toArray(), ref, 1e-12);
    // The first Adam step moves each coordinate by lr·sign(g), after the decay.
    if (step === 0) close(p.toArray(), [0.999 - 0.1, -1.998 + 0.1, 0.4995 - 0.1], 1e-7);
  });
  opt.dispose();
});

test('AdamW: a parameter without a gradient is left alone; zeroGrad clears', () => {
  const a = tensor([1, 2]).requiresGrad_(true);
  const b = tensor([3, 4]).requiresGrad_(true);
  const opt = new AdamW([a, b], { lr: 0.5, weightDecay: 0 });
  a.grad = tensor([1, 1]);
  opt.step();
  close(b.toArray(), [3, 4], 0);
  close(a.toArray(), [0.5, 1.5], 1e-6);
  opt.zeroGrad();
  assert.equal(a.grad, null);
  assert.throws(() => new AdamW([tensor([1])], { lr: 1 }), /does not require grad/);
});
