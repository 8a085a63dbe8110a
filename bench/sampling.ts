// Sampling on this machine with a model folder (default: the bundled models/worldwander-small):
// the stages of one translation (read, VAE encode, denoise, VAE decode), batched against
// sequential classifier-free guidance, memory over a long sampling loop (RSS and the engine's
// live tensor bytes after steps 5, 25, 50 of a 50-step guided run, and its peak), and the FLOPs of
// one transformer forward here and at the real size (Wan2.2-TI2V-5B, 704x1280x49, two views).
//   node dist/bench/sampling.js [--model-dir DIR] [--runs N]
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { synthesize } from '../src/synth/run.js';
import { LAYOUT } from '../src/data/layout.js';
import { WorldWanderPipeline, type Translation } from '../src/worldwander/pipeline.js';
import { readDefaults } from '../src/worldwander/model_defaults.js';
import { memoryStats, resetPeakMemory } from '../src/torch/index.js';
import { WAN22_TI2V_5B } from '../src/models/wan/transformer_config.js';
import { forwardFlops } from './flops.js';
import { flagValue, median, processMemory } from './stats.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => flagValue(args, name, fallback);
const modelDir = flag('--model-dir', 'models/worldwander-small');
const runs = Number(flag('--runs', '3'));
if (!existsSync(path.join(modelDir, 'model_index.json'))) throw new Error(`${modelDir} is not a model folder`);
const defaults = readDefaults(modelDir);

const rssMiB = (): number => processMemory('self')!.rss / 2 ** 20;

const data = mkdtempSync(path.join(tmpdir(), 'ww-bench-sampling-'));
try {
  await synthesize({
    seed: 3,
    count: 1,
    width: defaults.width,
    height: defaults.height,
    frames: defaults.num_frames,
    fps: defaults.fps,
    format: 'mp4',
    out: data,
  });
  const clip = {
    video: path.join(data, LAYOUT.first, 'sample_000000.mp4'),
    referenceImage: path.join(data, LAYOUT.reference, 'sample_000000.png'),
  };
  const loadStarted = performance.now();
  const pipeline = WorldWanderPipeline.fromPretrained(modelDir);
  const load = (performance.now() - loadStarted) / 1000;
  try {
    console.log(
      JSON.stringify({
        modelDir,
        size: `${defaults.width}x${defaults.height}x${defaults.num_frames}`,
        steps: defaults.num_inference_steps,
        load_seconds: Number(load.toFixed(3)),
      }),
    );
    await pipeline.translate('one2three', { ...clip, numInferenceSteps: 2 }); // warm-up
    for (const task of ['three2one', 'one2three'] as const) {
      const modes: [string, number, number, 'batched' | 'sequential'][] = [
        [
          `the model folder's settings (${defaults.num_inference_steps} step${defaults.num_inference_steps === 1 ? '' : 's'}, g = ${defaults.guidance_scale})`,
          defaults.num_inference_steps,
          defaults.guidance_scale,
          'batched',
        ],
        ['20 steps, no guidance (g = 1)', 20, 1, 'batched'],
        ['20 steps, guidance 5, batched', 20, 5, 'batched'],
        ['20 steps, guidance 5, sequential', 20, 5, 'sequential'],
      ];
      for (const [label, numInferenceSteps, guidanceScale, guidance] of modes) {
        const timings: Translation['timings'][] = [];
        for (let r = 0; r < runs; r++)
          timings.push(
            (await pipeline.translate(task, { ...clip, numInferenceSteps, guidanceScale, guidance })).timings,
          );
        const m = (k: 'read' | 'encode' | 'denoise' | 'decode'): number =>
          Number(median(timings.map((t) => t[k])).toFixed(3));
        console.log(
          JSON.stringify({
            task,
            mode: label,
            read: m('read'),
            encode: m('encode'),
            denoise: m('denoise'),
            decode: m('decode'),
          }),
        );
      }
    }
    // memory over a 50-step run with guidance: after each step
    const rss: number[] = [],
      live: number[] = [];
    resetPeakMemory();
    await pipeline.translate('one2three', {
      ...clip,
      numInferenceSteps: 50,
      guidanceScale: 5,
      onStep: () => {
        rss.push(rssMiB());
        live.push(memoryStats().allocatedBytes / 2 ** 20);
      },
    });
    const at = (xs: number[], i: number): number => Number(xs[i]!.toFixed(1));
    console.log(
      JSON.stringify({
        memory: '50 steps, guidance 5',
        rss_mib_step: { 5: at(rss, 4), 25: at(rss, 24), 50: at(rss, 49) },
        live_tensor_mib_step: { 5: at(live, 4), 25: at(live, 24), 50: at(live, 49) },
        peak_tensor_mib: Number((memoryStats().peakAllocatedBytes / 2 ** 20).toFixed(1)),
      }),
    );
    // FLOPs of one forward: this model (one2three: condition + target + one reference frame of tokens) and the real one (three2one)
    const t = pipeline.transformer.config;
    const s = pipeline.vae.spatialCompression;
    const tokensPerFrame = (defaults.height / s / t.patch_size[1]) * (defaults.width / s / t.patch_size[2]);
    const latentFrames = (defaults.num_frames - 1) / pipeline.vae.temporalCompression + 1;
    const here = forwardFlops(
      t,
      (2 * latentFrames + 1) * tokensPerFrame,
      latentFrames * tokensPerFrame,
      defaults.max_sequence_length,
    );
    const realView = 13 * (704 / 16 / 2) * (1280 / 16 / 2);
    const real = forwardFlops(WAN22_TI2V_5B, 2 * realView, realView, 512);
    console.log(
      JSON.stringify({
        forward_gflops_here: Number((here / 1e9).toFixed(3)),
        forward_tflops_real_704x1280x49_two_views: Number((real / 1e12).toFixed(1)),
        real_tokens: 2 * realView,
      }),
    );
  } finally {
    pipeline.dispose();
  }
} finally {
  rmSync(data, { recursive: true, force: true });
}
