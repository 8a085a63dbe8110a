// The model card's five bars (src/eval/bars.ts) for a model folder on the first N cases of a split,
// at one sampling setting (default: the folder's own): how each decoder and transformer lever of
// the model card was judged on the validation split. Writes OUT/bars.json (per task: the bars,
// the scores, the baselines' and every case's PSNR, sharpness and edges) and prints a line per task.
// Usage: node dist/scripts/validation-bars.js --model DIR --out DIR [--data outputs/recipe/data/validation]
//        [--train outputs/recipe/data/train] [--cases 16] [--steps S --guidance G --shift F]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { evaluate, meanTargetFrame } from '../src/eval/evaluate.js';
import { PerceptualScorer } from '../src/eval/perceptual.js';
import { translationBars } from '../src/eval/bars.js';
import { readDefaults } from '../src/worldwander/model_defaults.js';
import { TASKS, translateSplit } from '../src/worldwander/translate_split.js';

const { values: v } = parseArgs({
  options: {
    model: { type: 'string' },
    out: { type: 'string' },
    data: { type: 'string', default: 'outputs/recipe/data/validation' },
    train: { type: 'string', default: 'outputs/recipe/data/train' },
    cases: { type: 'string', default: '16' },
    steps: { type: 'string' },
    guidance: { type: 'string' },
    shift: { type: 'string' },
  },
});
if (!v.model || !v.out) {
  console.error(
    'usage: validation-bars --model DIR --out DIR [--data SPLIT] [--train SPLIT] [--cases N] [--steps S --guidance G --shift F]',
  );
  process.exit(2);
}
const defaults = readDefaults(v.model);
const settings = {
  steps: Number(v.steps ?? defaults.num_inference_steps),
  guidance: Number(v.guidance ?? defaults.guidance_scale),
  shift: Number(v.shift ?? defaults.flow_shift),
  cpe: true,
};
const frames = defaults.num_frames;
mkdirSync(v.out, { recursive: true });
await translateSplit(v.model, v.data!, Number(v.cases), v.out, settings);
using perception = PerceptualScorer.load(path.join(v.model, 'perception'));
const results: Record<string, unknown> = { settings, cases: Number(v.cases), data: v.data };
for (const task of TASKS) {
  // the mean-frame baseline of the training split, computed once per output folder
  const cached = path.join(v.out, `mean_frame_${task}.bin`);
  if (!existsSync(cached))
    writeFileSync(cached, await meanTargetFrame(v.train!, task, frames, defaults.width, defaults.height));
  const report = await evaluate({
    task,
    predictions: path.join(v.out, task),
    groundTruth: v.data!,
    frames,
    meanFrame: new Uint8Array(readFileSync(cached)),
    perception,
  });
  const bars = translationBars(report.overall);
  const { model } = report.overall;
  results[task] = {
    bars,
    model: report.overall.model,
    copyInput: report.overall.copyInput,
    meanFrame: report.overall.meanFrame,
    truth: report.overall.truth,
    cases: report.cases.map((c) => ({
      case: c.case,
      psnr: c.model.psnr,
      sharpness: c.model.sharpness,
      edges: c.model.edges,
    })),
  };
  const shown = {
    psnr: model.psnr,
    sharpness: model.sharpness,
    edges: model.edges,
    perceptual: model.perceptual,
    frechet: model.frechet,
    miou: model.miou,
  };
  const passed = Object.values(bars).filter(Boolean).length;
  console.log(
    `${task}: ${Object.entries(shown)
      .map(([k, x]) => `${k} ${x?.toFixed(3)}`)
      .join(', ')}; bars ${passed}/5` +
      (passed < 5
        ? ` (failed: ${Object.entries(bars)
            .filter(([, p]) => !p)
            .map(([b]) => b)
            .join(', ')})`
        : ''),
  );
}
writeFileSync(path.join(v.out, 'bars.json'), `${JSON.stringify(results, null, 2)}\n`);
