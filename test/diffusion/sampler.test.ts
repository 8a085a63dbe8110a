// The sampling grid against the release's numbers, the samplers' orders on a problem whose exact
// flow is known, UniPC against an independent transliteration, and guidance.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Generator, memoryStats, randn, scope, tensor, type Tensor } from '../../src/torch/index.js';
import {
  FlowMatchEulerSampler,
  UniPCMultistepSampler,
  classifierFreeGuidance,
  denoise,
  makeSampler,
  samplingSchedule,
  type SamplerName,
} from '../../src/diffusion/index.js';
import { ReferenceUniPC } from './unipc_reference.js';

test("the sampling grid is the release's: timesteps for 8 and 50 steps as docs/wan22.md gives them", () => {
  const eight = samplingSchedule(8, 5);
  assert.deepEqual(eight.timesteps, [999, 972, 937, 892, 833, 749, 624, 416]);
  assert.equal(eight.sigmas.length, 9);
  assert.equal(eight.sigmas[8], 0);
  const fifty = samplingSchedule(50, 5);
  assert.deepEqual(fifty.timesteps.slice(0, 5), [999, 995, 991, 987, 982]);
  assert.deepEqual(fifty.timesteps.slice(-4), [302, 241, 172, 92]);
  // σ0 = shift(0.999) = 0.9998, and every σ is the shifted linspace, stored as float32
  assert.ok(Math.abs(fifty.sigmas[0]! - 4.995 / 4.996) < 1e-7);
  fifty.sigmas.slice(0, 50).forEach((s, k) => {
    const raw = 0.999 * (1 - k / 50);
    assert.ok(Math.abs(s - (5 * raw) / (1 + 4 * raw)) < 2e-7, `σ${k}`);
    assert.equal(fifty.timesteps[k], Math.trunc((1000 * 5 * raw) / (1 + 4 * raw)), `timestep ${k}`);
  });
});

/** Data x0 ~ N(μ, s²) per dimension: the exact velocity E[ε − x0 | x_σ = x] and the exact flow endpoint μ + s·z from noise z. */
const MU = [0.7, -1.2, 0.3, 2.0];
const S = [0.5, 1.5, 0.8, 0.9];
const Z = [1.3, -0.4, 0.8, -1.9];
function exactVelocity(x: number[], sigma: number): number[] {
  return x.map((v, k) => {
    const a = 1 - sigma,
      variance = a * a * S[k]! ** 2 + sigma * sigma,
      d = v - a * MU[k]!;
    return (sigma / variance) * d - (MU[k]! + ((a * S[k]! ** 2) / variance) * d);
  });
}

async function endpointError(name: SamplerName, steps: number): Promise<number> {
  const sampler = makeSampler(name, { steps, shift: 5 });
  const sigmas = sampler.sigmas;
  const latents = tensor(Z);
  const out = await denoise({
    sampler,
    latents,
    velocity: (x, _t, i) => tensor(exactVelocity(x.toArray(), sigmas[i]!)),
  });
  const error = Math.max(...out.toArray().map((v, k) => Math.abs(v - (MU[k]! + S[k]! * Z[k]!))));
  out.dispose();
  latents.dispose();
  return error;
}

test("on Gaussian data with the exact velocity, the endpoint error falls at the solver's order: Euler 1st, UniPC 2nd", async () => {
  const ns = [20, 40, 80, 160];
  for (const [name, low, high] of [
    ['euler', 0.9, 1.1],
    ['unipc', 1.6, 2.6],
  ] as const) {
    const errors = await Promise.all(ns.map((n) => endpointError(name, n)));
    // least-squares slope of log(error) against log(steps)
    const xs = ns.map(Math.log),
      ys = errors.map(Math.log);
    const mx = xs.reduce((a, b) => a + b) / xs.length,
      my = ys.reduce((a, b) => a + b) / ys.length;
    const slope = -xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    // UniPC's measured slope is ~1.7: the last step jumps to the x0 prediction at σ_{N-1} ≈ 5/N,
    // whose error is O(σ²) = O(1/N²), mixed with higher-order terms of either sign.
    assert.ok(
      slope > low && slope < high,
      `${name}: errors ${errors.map((e) => e.toExponential(2)).join(', ')} give order ${slope.toFixed(2)}`,
    );
  }
  assert.ok(
    (await endpointError('unipc', 40)) < (await endpointError('euler', 40)) / 5,
    'UniPC is far closer than Euler at 40 steps',
  );
});

test("UniPC equals an independent float64 transliteration of diffusers' step, step for step", () => {
  for (const steps of [1, 2, 3, 8, 25]) {
    const sampler = new UniPCMultistepSampler({ steps, shift: 5 });
    const reference = new ReferenceUniPC([...sampler.sigmas]);
    let x = [...Z];
    let t: Tensor = tensor(Z);
    for (let i = 0; i < steps; i++) {
      // an arbitrary smooth field, not the exact one, so that every term of the update matters
      const v = x.map((xv, k) => Math.sin(xv + k) - 0.3 * xv * sampler.sigmas[i]!);
      x = reference.step(v, x);
      const next = scope(() => sampler.step(tensor(v), t));
      t.dispose();
      t = next;
      const got = t.toArray();
      got.forEach((g, k) =>
        assert.ok(
          Math.abs(g - x[k]!) <= 2e-5 * Math.max(1, Math.abs(x[k]!)),
          `${steps} steps, step ${i}, dim ${k}: ${g} vs ${x[k]}`,
        ),
      );
    }
    t.dispose();
    sampler.dispose();
  }
});

test('Euler takes x + (σ_{i+1} − σ_i)·v', () =>
  scope(() => {
    const sampler = new FlowMatchEulerSampler({ steps: 4, shift: 3 });
    const { sigmas } = samplingSchedule(4, 3);
    const out = sampler.step(tensor([2, -1]), tensor([1, 1])).toArray();
    assert.ok(Math.abs(out[0]! - (1 + 2 * (sigmas[1]! - sigmas[0]!))) < 1e-6);
    assert.ok(Math.abs(out[1]! - (1 - (sigmas[1]! - sigmas[0]!))) < 1e-6);
  }));

test('guidance: uncond + g·(cond − uncond); g = 1 is the conditional branch', () =>
  scope(() => {
    const cond = tensor([1, 2, 3]),
      uncond = tensor([0.5, -1, 3]);
    assert.deepEqual(classifierFreeGuidance(cond, uncond, 5).toArray(), [0.5 + 5 * 0.5, -1 + 5 * 3, 3]);
    assert.deepEqual(classifierFreeGuidance(cond, uncond, 1).toArray(), [1, 2, 3]);
  }));

test('the loop keeps live tensor bytes flat across steps and releases everything at the end', async () => {
  const base = memoryStats().allocatedBytes;
  const live: number[] = [];
  const noise = randn([1, 4, 3, 8, 8], new Generator(1));
  const out = await denoise({
    sampler: new UniPCMultistepSampler({ steps: 12 }),
    latents: noise,
    velocity: (x) => scope(() => x.mul(0.5).sub(x.square().mul(0.1))),
    onStep: () => live.push(memoryStats().allocatedBytes),
  });
  // steps 2.. hold the latents, two x0 predictions and the last sample: the same from step 2 on
  assert.equal(live[live.length - 1], live[1], `live bytes by step: ${live.join(', ')}`);
  out.dispose();
  noise.dispose();
  assert.equal(memoryStats().allocatedBytes, base);
});
