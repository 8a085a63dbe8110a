// The guided in-context loop against a loop written out here: per step, the transformer on the
// in-context sequence (0 on condition tokens), guidance by hand, and the float64 transliteration
// of diffusers' UniPC step. Batched and two-pass guidance, guidance 1, and the parity target.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import {
  Generator,
  SafetensorsFile,
  noGrad,
  randn,
  saveSafetensors,
  scalarTensor,
  scope,
  tensor,
  type Tensor,
} from '../../src/torch/index.js';
import { WanTransformer3DModel } from '../../src/models/wan/transformer.js';
import { samplingSchedule } from '../../src/diffusion/index.js';
import { buildInContextInputs } from '../../src/worldwander/in_context.js';
import { denoiseInContext } from '../../src/worldwander/denoise.js';
import { main } from '../../src/cli/main.js';
import { ReferenceUniPC } from '../diffusion/unipc_reference.js';

const MODEL = 'test/fixtures/tiny_model/transformer';
const model = WanTransformer3DModel.fromPretrained(MODEL);
const g = new Generator(5);
const noise = randn([1, 4, 3, 4, 8], g),
  condition = randn([1, 4, 3, 4, 8], g),
  ref = randn([1, 4, 1, 4, 8], g);
const prompt = randn([1, 6, 8], g),
  negative = randn([1, 6, 8], g);

/** The loop by hand: velocities from plain forwards, guidance by hand, the reference sampler. */
function handLoop(steps: number, guidance: number, withRef: boolean, prefix?: number[]): number[] {
  const { sigmas, timesteps } = samplingSchedule(steps, 5);
  const sampler = new ReferenceUniPC(sigmas);
  let x = noise.toArray();
  // a given first frame: the first C·H·W values of each channel's frames ([1, C, F, H, W]) replaced
  const splice = (values: number[]): number[] =>
    prefix
      ? values.map((v, k) =>
          Math.floor(k / PER_FRAME) % FRAMES === 0
            ? prefix[Math.floor(k / (PER_FRAME * FRAMES)) * PER_FRAME + (k % PER_FRAME)]!
            : v,
        )
      : values;
  for (let i = 0; i < steps; i++) {
    x = splice(x);
    const v = scope(() =>
      noGrad(() => {
        const latents = tensor(Float32Array.from(x), { shape: noise.shape });
        const run = (text: Tensor) =>
          model
            .forward(
              buildInContextInputs({
                target: latents,
                condition,
                ref: withRef ? ref : null,
                timestep: timesteps[i]!,
                cleanTargetFrames: prefix ? 1 : 0,
                encoderHiddenStates: text,
                useCollaborativePositionEncoding: true,
              }),
            )
            .toArray();
        const cond = run(prompt);
        if (guidance === 1) return cond;
        const uncond = run(negative);
        return uncond.map((u, k) => u + guidance * (cond[k]! - u));
      }),
    );
    x = sampler.step(v, x);
  }
  return splice(x);
}

const FRAMES = 3,
  PER_FRAME = 4 * 8;

const maxDiff = (a: number[], b: number[]): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

test('batched and two-pass guidance both equal the loop written out by hand (three2one and one2three)', async () => {
  for (const withRef of [false, true]) {
    const expected = handLoop(6, 5, withRef);
    for (const guidance of ['batched', 'sequential'] as const) {
      const out = await denoiseInContext({
        transformer: model,
        noise,
        condition,
        ref: withRef ? ref : null,
        promptEmbeds: prompt,
        negativePromptEmbeds: negative,
        steps: 6,
        guidanceScale: 5,
        flowShift: 5,
        useCollaborativePositionEncoding: true,
        guidance,
      });
      const diff = maxDiff(out.toArray(), expected);
      assert.ok(diff < 1e-4, `${guidance}, ref ${withRef}: max |diff| ${diff}`);
      out.dispose();
    }
  }
});

test('guidance 1 is the conditional branch alone (the negative prompt plays no part)', async () => {
  const expected = handLoop(5, 1, false);
  const out = await denoiseInContext({
    transformer: model,
    noise,
    condition,
    promptEmbeds: prompt,
    negativePromptEmbeds: randn([1, 6, 8], new Generator(99)),
    steps: 5,
    guidanceScale: 1,
    flowShift: 5,
    useCollaborativePositionEncoding: true,
  });
  assert.ok(maxDiff(out.toArray(), expected) < 1e-4);
  const without = await denoiseInContext({
    transformer: model,
    noise,
    condition,
    promptEmbeds: prompt,
    steps: 5,
    guidanceScale: 1,
    flowShift: 5,
    useCollaborativePositionEncoding: true,
  });
  assert.deepEqual(without.toArray(), out.toArray());
});

test('worldwander forward denoise runs the whole guided loop from named tensors', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'denoise-'));
  try {
    const inputs = path.join(dir, 'in.safetensors'),
      out = path.join(dir, 'out.safetensors');
    saveSafetensors(inputs, {
      noise,
      prompt_embeds: prompt,
      negative_prompt_embeds: negative,
      condition_states: condition,
      ref_states: ref,
      num_inference_steps: tensor([6], { dtype: 'int64' }).squeeze(),
      guidance_scale: scalarTensor(5),
      flow_shift: scalarTensor(5),
      use_cpe: scalarTensor(1),
    });
    const log = console.log,
      error = console.error;
    console.log = () => {};
    console.error = () => {};
    try {
      assert.equal(await main(['forward', 'denoise', '--model-dir', MODEL, '--inputs', inputs, '--out', out]), 0);
    } finally {
      console.log = log;
      console.error = error;
    }
    const latents = SafetensorsFile.open(out).get('latents');
    assert.deepEqual(latents.shape, [1, 4, 3, 4, 8]);
    assert.equal(latents.dtype, 'float32');
    assert.ok(maxDiff(latents.toArray(), handLoop(6, 5, true)) < 1e-4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a given first target frame is held at every step with its tokens at timestep 0: the loop by hand with the frame spliced in', async () => {
  const inputs = scope(() =>
    buildInContextInputs({
      target: noise,
      condition,
      timestep: 700,
      cleanTargetFrames: 1,
      encoderHiddenStates: prompt,
      useCollaborativePositionEncoding: true,
    }).timestep.toArray(),
  );
  // 3 condition frames and the first target frame of 2x4 patches each: 32 tokens at 0, then 16 at 700
  assert.deepEqual(inputs, [...Array<number>(32).fill(0), ...Array<number>(16).fill(700)]);
  const first = randn([1, 4, 1, 4, 8], new Generator(9));
  for (const [steps, guidance] of [
    [3, 4],
    [1, 1],
  ] as const) {
    const expected = handLoop(steps, guidance, false, first.toArray());
    using got = await denoiseInContext({
      transformer: model,
      noise,
      condition,
      targetPrefix: first,
      promptEmbeds: prompt,
      negativePromptEmbeds: negative,
      steps,
      guidanceScale: guidance,
      flowShift: 5,
      useCollaborativePositionEncoding: true,
    });
    const values = got.toArray();
    assert.ok(maxDiff(values, expected) < 1e-4, `${steps} steps: ${maxDiff(values, expected)}`);
    using held = got.narrow(2, 0, 1);
    assert.deepEqual(held.toArray(), first.toArray(), 'the first frame is the one given, exactly');
  }
  assert.throws(
    () =>
      buildInContextInputs({
        target: noise,
        condition,
        timestep: 1,
        cleanTargetFrames: 4,
        encoderHiddenStates: prompt,
        useCollaborativePositionEncoding: true,
      }),
    /cleanTargetFrames 4 must be 0\.\.3/,
  );
});
