// Reconstructions of VAE levers side by side (the model card's docs/images/vae-*.png): for the
// first clips of a view folder (the VAE trainer's validation clips: never trained on), one frame
// of the truth, then each VAE's encode (z = μ) and decode of the first 9 frames; 4x nearest.
// With --generated DIR --task T: each VAE decodes the transformer's latents of the folder's first
// cases of task T (src/train/generated_latents.ts) instead, the truth being their target view.
// Usage: node dist/scripts/vae-figure.js --out FILE [--clips DIR | --generated DIR --task T]
//        [--count 3] [--frame 8] VAE_DIR...
import path from 'node:path';
import sharp from 'sharp';

import { readFrames, sideBySide, type RgbImage } from '../src/data/frames.js';
import { framesToTensor, tensorToFrames } from '../src/data/video_tensor.js';
import { AutoencoderKLWan } from '../src/models/wan/vae.js';
import { SafetensorsFile, noGrad, scope, type Tensor } from '../src/torch/index.js';
import { LAYOUT } from '../src/data/layout.js';
import { TASK_VIEWS, type WorldWanderTask } from '../src/worldwander/prompts.js';
import { listGeneratedLatents, readGeneratedSource } from '../src/train/generated_latents.js';

const args = process.argv.slice(2);
const options = new Map<string, string>();
const vaeDirs: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i]!.startsWith('--')) options.set(args[i]!, args[++i]!);
  else vaeDirs.push(args[i]!);
}
const out = options.get('--out');
if (!out || !vaeDirs.length)
  throw new Error('usage: vae-figure --out FILE [--clips DIR] [--count N] [--frame F] VAE_DIR...');
const generated = options.get('--generated'),
  task = options.get('--task');
if (generated && task !== 'three2one' && task !== 'one2three')
  throw new Error('--generated needs --task three2one or one2three');
const clips = options.get('--clips') ?? 'outputs/recipe/data-train/First_Video';
const count = Number(options.get('--count') ?? 3),
  frame = Number(options.get('--frame') ?? 8);
const SCALE = 4,
  GAP = 1,
  FRAMES = 9;

const generatedFiles = generated ? listGeneratedLatents(generated).filter((g) => g.task === task) : [];

/** The k-th case: its true frames, and what each VAE decodes (its encoding, or the generated latents). */
function caseAt(k: number): { truth: string; latents?: string } {
  if (!generated) return { truth: path.join(clips, `sample_${String(k).padStart(6, '0')}.mp4`) };
  const file = generatedFiles[k];
  if (!file) throw new Error(`${generated}: fewer than ${k + 1} cases of ${task}`);
  const view = LAYOUT[TASK_VIEWS[task as WorldWanderTask].target];
  return { truth: path.join(readGeneratedSource(generated).data, view, `${file.case}.mp4`), latents: file.file };
}

const vaes = vaeDirs.map((dir) => AutoencoderKLWan.fromPretrained(dir));
const rows: RgbImage[][] = [];
for (let k = 0; k < count; k++) {
  const { truth, latents } = caseAt(k);
  const video = await readFrames(truth, { maxFrames: FRAMES });
  const tile = (data: Uint8Array): RgbImage => ({ width: video.width, height: video.height, data });
  const row = [tile(video.frames[frame]!)];
  for (const vae of vaes) {
    const z = (): Tensor =>
      latents
        ? SafetensorsFile.open(latents)
            .get('latents')
            .narrow(2, 0, (FRAMES - 1) / vae.temporalCompression + 1)
        : vae.encode(framesToTensor(video.frames, video.width, video.height)).mean;
    const decoded = noGrad(() => scope(() => tensorToFrames(vae.decode(z()))));
    row.push(tile(decoded[frame]!));
  }
  rows.push(row);
}
for (const vae of vaes) vae.dispose();
const white = (width: number, height: number): RgbImage => ({
  width,
  height,
  data: new Uint8Array(width * height * 3).fill(255),
});
const lines = rows.map((row) => sideBySide(row.flatMap((t, c) => (c ? [white(GAP, t.height), t] : [t]))));
const grid = lines.flatMap((line, r) => (r ? [white(line.width, GAP), line] : [line]));
const width = lines[0]!.width,
  height = grid.reduce((h, part) => h + part.height, 0);
await sharp(Buffer.concat(grid.map((part) => part.data)), { raw: { width, height, channels: 3 } })
  .resize(width * SCALE, height * SCALE, { kernel: 'nearest' })
  .png()
  .toFile(out);
console.log(
  `${out}: frame ${frame} of ${count} clips of ${generated ? `${generated} (${task})` : clips}; columns: the truth, ${vaeDirs.join(', ')}`,
);
