// The model card's picture (models/worldwander-small/example.png): for one held-out clip (seed 3,
// the demo's first clips), frame 8 of each task as the input view, the VAE's own reconstruction of
// the ground truth (the ceiling of any output), the model with its shipped settings, the model
// at 20 steps, and the ground truth; 3x nearest-neighbour upscaled.
// Usage: node dist/scripts/model-card-figure.js [--model-dir DIR] [--case N] [--out FILE]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

import { synthesize } from '../src/synth/run.js';
import { LAYOUT } from '../src/data/layout.js';
import { TASKS, TASK_VIEWS } from '../src/worldwander/prompts.js';
import { readFrames, sideBySide, type RgbImage } from '../src/data/frames.js';
import { framesToTensor, tensorToFrames } from '../src/data/video_tensor.js';
import { noGrad } from '../src/torch/index.js';
import { WorldWanderPipeline } from '../src/worldwander/pipeline.js';
import { readDefaults } from '../src/worldwander/model_defaults.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string =>
  args.includes(name) ? args[args.indexOf(name) + 1]! : fallback;
const modelDir = flag('--model-dir', 'models/worldwander-small');
const index = Number(flag('--case', '2'));
const out = flag('--out', path.join(modelDir, 'example.png'));
const FRAME = 8,
  SCALE = 3,
  GAP = 1;

const d = readDefaults(modelDir);
const data = mkdtempSync(path.join(tmpdir(), 'ww-figure-'));
const pipeline = WorldWanderPipeline.fromPretrained(modelDir);
try {
  await synthesize({
    seed: 3,
    count: index + 1,
    width: d.width,
    height: d.height,
    frames: d.num_frames,
    fps: d.fps,
    format: 'mp4',
    out: data,
  });
  const name = `sample_${String(index).padStart(6, '0')}`;
  const clip = (view: string): string => path.join(data, view, `${name}.mp4`);
  const rows: Uint8Array[][] = [];
  for (const task of TASKS) {
    const [input, target] = [LAYOUT[TASK_VIEWS[task].input], LAYOUT[TASK_VIEWS[task].target]];
    const o = { video: clip(input), referenceImage: path.join(data, LAYOUT.reference, `${name}.png`) };
    const shipped = await pipeline.translate(task, o);
    const sampled = await pipeline.translate(task, { ...o, numInferenceSteps: 20 });
    const truth = await readFrames(clip(target));
    const reconstruction = noGrad(() => {
      const x = framesToTensor(truth.frames.slice(0, d.num_frames), truth.width, truth.height);
      const posterior = pipeline.vae.encode(x);
      const y = pipeline.vae.decode(posterior.mean);
      for (const t of [x, posterior.mean, posterior.logvar]) t.dispose();
      const frames = tensorToFrames(y);
      y.dispose();
      return frames;
    });
    rows.push([
      shipped.input[FRAME]!,
      reconstruction[FRAME]!,
      shipped.frames[FRAME]!,
      sampled.frames[FRAME]!,
      truth.frames[FRAME]!,
    ]);
  }
  // rows of tiles with white gaps, stacked, then scaled up as one picture
  const white = (width: number, height: number): RgbImage => ({
    width,
    height,
    data: new Uint8Array(width * height * 3).fill(255),
  });
  const tile = (data: Uint8Array): RgbImage => ({ width: d.width, height: d.height, data });
  const lines = rows.map((row) =>
    sideBySide(row.flatMap((rgb, c) => (c ? [white(GAP, d.height), tile(rgb)] : [tile(rgb)]))),
  );
  const grid = lines.flatMap((line, r) => (r ? [white(line.width, GAP), line] : [line]));
  const width = lines[0]!.width,
    height = grid.reduce((h, part) => h + part.height, 0);
  await sharp(Buffer.concat(grid.map((part) => part.data)), { raw: { width, height, channels: 3 } })
    .resize(width * SCALE, height * SCALE, { kernel: 'nearest' })
    .png()
    .toFile(out);
  console.log(
    `${out}: rows three2one, one2three; columns input, VAE reconstruction of the ground truth, model (${d.num_inference_steps} step(s), g ${d.guidance_scale}), model (20 steps), ground truth`,
  );
} finally {
  pipeline.dispose();
  rmSync(data, { recursive: true, force: true });
}
