// fp8 weights against bfloat16 at the real size: the same translation (input, seed, settings) run
// with the transformer's block weights in bfloat16 and in fp8 (--weights-dtype fp8), one pipeline at
// a time (offload 'model'), and the relative L2 distance of what each stage gives: one transformer
// forward's velocity (the target's, guidance batch), the denoised latents, the decoded frames.
//
//   node dist/bench/fp8_error.js --model-dir outputs/real-size [--size 256] [--frames 17] [--steps 1]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Generator, SafetensorsFile, noGrad, randn, saveSafetensors, scope, tensor } from '../src/torch/index.js';
import { WorldWanderPipeline } from '../src/worldwander/pipeline.js';
import { buildInContextInputs } from '../src/worldwander/in_context.js';
import { promptEmbeddings } from '../src/models/umt5/prompt_cache.js';
import { TASK_PROMPT } from '../src/worldwander/prompts.js';
import { flagValue, processMemory, relativeL2 } from './stats.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => flagValue(args, name, fallback);
const modelDir = flag('--model-dir', 'outputs/real-size');
const size = Number(flag('--size', '256'));
const frames = Number(flag('--frames', '17'));
const steps = Number(flag('--steps', '1'));
const scratch = mkdtempSync(path.join(tmpdir(), 'ww-fp8-error-'));

/** One pipeline's outputs, written to `file`: velocity of one forward, denoised latents, decoded frames. */
async function outputs(weightsDtype: 'fp8' | undefined, file: string): Promise<void> {
  const started = performance.now();
  using pipeline = WorldWanderPipeline.fromPretrained(modelDir, {
    dtype: 'bfloat16',
    weightsDtype,
    vaeDtype: 'bfloat16',
    offload: 'model',
  });
  // a smooth moving clip at the model size, the same for both
  const video = {
    width: size,
    height: size,
    frames: Array.from({ length: frames }, (_, f) =>
      Uint8Array.from({ length: size * size * 3 }, (_, i) => {
        const [y, x, c] = [Math.floor(i / (size * 3)), Math.floor(i / 3) % size, i % 3];
        return Math.round(127.5 + 127.5 * Math.sin((x * (3 + c) + y * 2 + f * 6) / 20));
      }),
    ),
  };
  const { latents, timings } = await pipeline.translateLatents('three2one', {
    video,
    seed: 1234,
    numInferenceSteps: steps,
    height: size,
    width: size,
    numFrames: frames,
  });
  // one forward of the transformer on fixed inputs: the velocity of the target at t = 999
  const velocity = noGrad(() =>
    scope(() => {
      const g = new Generator(7);
      const shape = latents.shape;
      const condition = randn(shape, g);
      const target = randn(shape, g);
      const text = promptEmbeddings(pipeline.text, [TASK_PROMPT.three2one], { cacheDir: pipeline.promptCacheDir });
      const inputs = buildInContextInputs({
        target: target.to({ dtype: 'bfloat16' }),
        condition: condition.to({ dtype: 'bfloat16' }),
        timestep: tensor([999]),
        encoderHiddenStates: text,
        useCollaborativePositionEncoding: true,
      });
      return pipeline.transformer.forward(inputs).float();
    }),
  );
  // the transformer is still loaded: the VAE loads after it
  const decoded = noGrad(() => scope(() => pipeline.vae.decode(latents.to({ dtype: 'bfloat16' })).float()));
  saveSafetensors(file, { latents, decoded, velocity });
  latents.dispose();
  decoded.dispose();
  velocity.dispose();
  console.error(
    `${weightsDtype ?? 'bfloat16'}: ${((performance.now() - started) / 1000).toFixed(0)} s, stages ${JSON.stringify(timings)}, peak RSS ${(processMemory('self')!.hwm / 2 ** 30).toFixed(2)} GiB`,
  );
}

try {
  const bf16 = path.join(scratch, 'bf16.safetensors');
  const fp8 = path.join(scratch, 'fp8.safetensors');
  await outputs(undefined, bf16);
  await outputs('fp8', fp8);
  const [a, b] = [SafetensorsFile.open(fp8), SafetensorsFile.open(bf16)];
  const result: Record<string, number> = {};
  for (const key of ['velocity', 'latents', 'decoded']) {
    using x = a.get(key);
    using y = b.get(key);
    result[`${key}_rel_l2`] = relativeL2(x, y);
  }
  console.log(JSON.stringify({ modelDir, size, frames, steps, fp8_vs_bf16: result }));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
