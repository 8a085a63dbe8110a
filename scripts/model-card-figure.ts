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
import { readFrames } from '../src/data/frames.js';
import { framesToTensor, tensorToFrames } from '../src/data/video_tensor.js';
import { noGrad } from '../src/torch/index.js';
import { WorldWanderPipeline } from '../src/worldwander/pipeline.js';
import { readDefaults } from '../src/worldwander/model_defaults.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const modelDir = flag('--model-dir', 'models/worldwander-small');
const index = Number(flag('--case', '2'));
const out = flag('--out', path.join(modelDir, 'example.png'));
const FRAME = 8, SCALE = 3, GAP = 4;

const d = readDefaults(modelDir);
const data = mkdtempSync(path.join(tmpdir(), 'ww-figure-'));
const pipeline = WorldWanderPipeline.fromPretrained(modelDir);
try {
  await synthesize({ seed: 3, count: index + 1, width: d.width, height: d.height, frames: d.num_frames, fps: d.fps, format: 'mp4', out: data });
  const name = `sample_${String(index).padStart(6, '0')}`;
  const clip = (view: string): string => path.join(data, view, `${name}.mp4`);
  const rows: Uint8Array[][] = [];
  for (const task of ['three2one', 'one2three'] as const) {
    const [input, target] = task === 'three2one' ? [LAYOUT.third, LAYOUT.first] : [LAYOUT.first, LAYOUT.third];
    const o = { video: clip(input), referenceImage: path.join(data, LAYOUT.reference, `${name}.png`) };
    const shipped = await pipeline.translate(task, o);
    const sampled = await pipeline.translate(task, { ...o, numInferenceSteps: 20 });
    const truth = await readFrames(clip(target));
    const reconstruction = noGrad(() => {
      const x = framesToTensor(truth.frames.slice(0, d.num_frames), truth.width, truth.height);
      const posterior = pipeline.vae.encode(x);
      const z = posterior.mode();
      const y = pipeline.vae.decode(z);
      for (const t of [x, posterior.mean, posterior.logvar, z]) t.dispose();
      const frames = tensorToFrames(y);
      y.dispose();
      return frames;
    });
    rows.push([shipped.input[FRAME]!, reconstruction[FRAME]!, shipped.frames[FRAME]!, sampled.frames[FRAME]!, truth.frames[FRAME]!]);
  }
  const tile = async (rgb: Uint8Array): Promise<Buffer> => sharp(rgb, { raw: { width: d.width, height: d.height, channels: 3 } }).resize(d.width * SCALE, d.height * SCALE, { kernel: 'nearest' }).png().toBuffer();
  const w = d.width * SCALE, h = d.height * SCALE;
  const composites = [];
  for (const [r, row] of rows.entries()) for (const [c, rgb] of row.entries()) composites.push({ input: await tile(rgb), left: c * (w + GAP), top: r * (h + GAP) });
  await sharp({ create: { width: 5 * w + 4 * GAP, height: 2 * h + GAP, channels: 3, background: '#ffffff' } }).composite(composites).png().toFile(out);
  console.log(`${out}: rows three2one, one2three; columns input, VAE reconstruction of the ground truth, model (${d.num_inference_steps} step(s), g ${d.guidance_scale}), model (20 steps), ground truth`);
} finally {
  pipeline.dispose();
  rmSync(data, { recursive: true, force: true });
}
