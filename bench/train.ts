// Training steps on this machine, through `worldwander train` itself: the bundled small model's
// config (configs/small/three2one.yaml) from the recipe's staging model folder: float32 and
// bf16-mixed, with and without gradient checkpointing, from the latent cache and from videos
// (decoded in worker processes), in one and two processes. Per mode: median step time (steps after the first 3), samples/s, the median time a
// step waited for data, and RSS after step 5 and the last step.
// --batch B (default the config's 32) sets the global batch; two processes take B/2 each.
// --latent-cache DIR: another latent cache than the config's (the recipe's: outputs/recipe/latent-cache-d384).
//   node dist/bench/train.js [--model-dir outputs/recipe/model-d384] [--latent-cache DIR] [--steps 20] [--batch 32] [--modes a,b,...]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { flagValue, median } from './stats.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => flagValue(args, name, fallback);
const modelDir = flag('--model-dir', 'outputs/recipe/model-d384');
const steps = Number(flag('--steps', '20'));
const batch = Number(flag('--batch', '32'));
const latentCache = args.includes('--latent-cache') ? [`dataset.latent_cache=${flag('--latent-cache', '')}`] : [];
const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'worldwander.js');

const MODES: Record<string, { overrides: string[]; procs: number }> = {
  'fp32, latent cache': { overrides: ['training.precision=32'], procs: 1 },
  'bf16-mixed, latent cache': { overrides: ['training.precision=bf16-mixed'], procs: 1 },
  'fp32, latent cache, gradient checkpointing': {
    overrides: ['training.precision=32', 'training.gradient_checkpointing=True'],
    procs: 1,
  },
  'fp32, videos (1 worker)': { overrides: ['training.precision=32', 'dataset.latent_cache=~'], procs: 1 },
  'fp32, latent cache, 2 processes (half the batch each)': { overrides: ['training.precision=32'], procs: 2 },
};
const chosen = args.includes('--modes')
  ? flag('--modes', '')
      .split(',')
      .map((i) => Object.keys(MODES)[Number(i)]!)
  : Object.keys(MODES);

for (const name of chosen) {
  const mode = MODES[name]!;
  const out = mkdtempSync(path.join(tmpdir(), 'ww-bench-train-'));
  try {
    const started = performance.now();
    execFileSync(
      process.execPath,
      [
        cli,
        'train',
        '--config',
        'configs/small/three2one.yaml',
        '--model-dir',
        modelDir,
        '--output',
        out,
        ...(mode.procs > 1 ? ['--nproc-per-node', String(mode.procs)] : []),
        `training.batch_size=${batch / mode.procs}`,
        ...latentCache,
        ...mode.overrides,
        `training.max_steps=${steps}`,
        `training.save_val_interval_steps=${steps}`,
        'validation.num_inference_steps=1',
        'training.warmup_steps=0',
        'training.decay_steps=0',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const wall = (performance.now() - started) / 1000;
    const metrics = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            step: number;
            step_seconds: number;
            samples_per_second: number;
            data_wait_seconds: number;
            rss_mib: number;
          },
      );
    const timed = metrics.slice(3);
    console.log(
      JSON.stringify({
        mode: name,
        steps,
        batch,
        wall_seconds: Number(wall.toFixed(1)),
        step_seconds: median(timed.map((m) => m.step_seconds)),
        samples_per_second: median(timed.map((m) => m.samples_per_second)),
        data_wait_seconds: median(timed.map((m) => m.data_wait_seconds)),
        rss_mib: { step5: metrics[4]?.rss_mib, last: metrics.at(-1)?.rss_mib },
      }),
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
