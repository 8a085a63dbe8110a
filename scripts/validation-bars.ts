// The model card's five bars (src/eval/bars.ts) for a model folder on the first N cases of a split,
// at one sampling setting (default: the folder's own): how each decoder and transformer lever of
// the model card was judged on the validation split. The baselines are the folder's own
// mean_frames/ (the training split's mean frame, as `demo` uses it) and its perception/. Writes
// OUT/bars.json (per task: the bars, the scores, the baselines' and every case's PSNR, sharpness
// and edges) and prints a line per task.
// Usage: node dist/scripts/validation-bars.js --model DIR --out DIR [--data outputs/recipe/data-validation]
//        [--cases 16] [--steps S --guidance G --shift F]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { evaluate } from '../src/eval/evaluate.js';
import { PerceptualScorer } from '../src/eval/perceptual.js';
import { translationBars } from '../src/eval/bars.js';
import { readImage } from '../src/data/frames.js';
import { readDefaults } from '../src/worldwander/model_defaults.js';
import { TASKS } from '../src/worldwander/prompts.js';
import { translateSplit } from '../src/worldwander/translate_split.js';

const { values: v } = parseArgs({
  options: {
    model: { type: 'string' },
    out: { type: 'string' },
    data: { type: 'string', default: 'outputs/recipe/data-validation' },
    cases: { type: 'string', default: '16' },
    steps: { type: 'string' },
    guidance: { type: 'string' },
    shift: { type: 'string' },
  },
});
if (!v.model || !v.out) {
  console.error(
    'usage: validation-bars --model DIR --out DIR [--data SPLIT] [--cases N] [--steps S --guidance G --shift F]',
  );
  process.exit(2);
}
const model = v.model,
  out = v.out,
  data = v.data!;
const meanFrameFile = (task: string): string => path.join(model, 'mean_frames', `${task}.png`);
try {
  // what the bars need, checked before minutes of translating
  for (const file of [...TASKS.map(meanFrameFile), path.join(model, 'perception', 'config.json')])
    if (!existsSync(file)) throw new Error(`${file} is missing: the bars need the model folder's baselines`);
  const defaults = readDefaults(model);
  const settings = {
    steps: Number(v.steps ?? defaults.num_inference_steps),
    guidance: Number(v.guidance ?? defaults.guidance_scale),
    shift: Number(v.shift ?? defaults.flow_shift),
    cpe: true,
  };
  mkdirSync(out, { recursive: true });
  await translateSplit(model, data, Number(v.cases), out, settings);
  using perception = PerceptualScorer.load(path.join(model, 'perception'));
  const results: Record<string, unknown> = { settings, cases: Number(v.cases), data };
  for (const task of TASKS) {
    const report = await evaluate({
      task,
      predictions: path.join(out, task),
      groundTruth: data,
      frames: defaults.num_frames,
      meanFrame: (await readImage(meanFrameFile(task))).data,
      perception,
    });
    const bars = translationBars(report.overall);
    const { model: scores, copyInput, meanFrame, truth } = report.overall;
    results[task] = {
      bars,
      model: scores,
      copyInput,
      meanFrame,
      truth,
      cases: report.cases.map((c) => ({
        case: c.case,
        psnr: c.model.psnr,
        sharpness: c.model.sharpness,
        edges: c.model.edges,
      })),
    };
    const shown = {
      psnr: scores.psnr,
      sharpness: scores.sharpness,
      edges: scores.edges,
      perceptual: scores.perceptual,
      frechet: scores.frechet,
      miou: scores.miou,
    };
    const failed = Object.entries(bars)
      .filter(([, passed]) => !passed)
      .map(([bar]) => bar);
    console.log(
      `${task}: ${Object.entries(shown)
        .map(([k, x]) => `${k} ${x?.toFixed(3)}`)
        .join(', ')}; bars ${5 - failed.length}/5` + (failed.length ? ` (failed: ${failed.join(', ')})` : ''),
    );
  }
  writeFileSync(path.join(out, 'bars.json'), `${JSON.stringify(results, null, 2)}\n`);
} catch (error) {
  // one line naming what was wrong; translations written so far stay in OUT
  console.error(`validation-bars: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
