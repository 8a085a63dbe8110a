import assert from 'node:assert/strict';

import { noGrad, scope, tensor, type Tensor } from '../../src/torch/index.js';

/**
 * Checks autograd's gradient of sum(w ⊙ f(inputs)) against central finite differences in
 * float64, for every element of every input. `w` is a fixed pseudo-random weighting so that
 * errors cannot cancel out in a plain sum.
 */
export function gradcheck(
  name: string,
  f: (inputs: Tensor[]) => Tensor,
  shapes: number[][],
  { eps = 1e-6, atol = 1e-6, rtol = 1e-4, seed = 1 } = {},
): void {
  let state = seed;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648 - 0.5;
  };
  const data = shapes.map((shape) => Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 2 * next()));
  scope(() => {
    const out0 = noGrad(() => f(data.map((d, i) => tensor(d, { shape: shapes[i] }))));
    const weights = tensor(
      Float64Array.from({ length: out0.numel() }, () => next() + 1),
      { shape: [...out0.shape] },
    );
    const objective = (values: Float64Array[]): number =>
      scope(() =>
        noGrad(() =>
          f(values.map((d, i) => tensor(d, { shape: shapes[i] })))
            .mul(weights)
            .sum()
            .item(),
        ),
      );

    const leaves = data.map((d, i) => tensor(d, { shape: shapes[i] }).requiresGrad_());
    f(leaves).mul(weights).sum().backward();
    leaves.forEach((leaf, i) => {
      const analytic = leaf.grad?.toArray() ?? new Array<number>(data[i]!.length).fill(0);
      const values = data.map((d) => Float64Array.from(d));
      for (let j = 0; j < data[i]!.length; j++) {
        const original = values[i]![j]!;
        values[i]![j] = original + eps;
        const plus = objective(values);
        values[i]![j] = original - eps;
        const minus = objective(values);
        values[i]![j] = original;
        const numeric = (plus - minus) / (2 * eps);
        const a = analytic[j]!;
        assert.ok(
          Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric),
          `${name}: d/d input${i}[${j}]: autograd ${a}, finite difference ${numeric}`,
        );
      }
    });
  });
}
