// The metrics' calibration table on real clips (docs/eval.md): every metric of the truth, of its
// blurred, shifted and noised copies, of copy-input and of the mean frame.
// Usage: node dist/bench/calibration.js --data DIR [--task three2one|one2three] [--cases 16] [--perception DIR] [--mean-frame PNG]
import path from 'node:path';
import { parseArgs } from 'node:util';

import { labelPath, readLabelStrip } from '../src/data/labels.js';
import { LAYOUT, viewEntries } from '../src/data/layout.js';
import { readImage } from '../src/data/frames.js';
import { readVideoFrames } from '../src/data/video_writer.js';
import { calibrate, type CalibrationCase } from '../src/eval/calibration.js';
import { PerceptualScorer } from '../src/eval/perceptual.js';
import { TASKS, TASK_VIEWS, type WorldWanderTask } from '../src/worldwander/prompts.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    task: { type: 'string', default: 'three2one' },
    cases: { type: 'string', default: '16' },
    perception: { type: 'string' },
    'mean-frame': { type: 'string' },
  },
});
if (!values.data) throw new Error('--data DIR is required');
if (!TASKS.includes(values.task as WorldWanderTask))
  throw new Error(`--task: three2one or one2three, got ${values.task}`);
const views = TASK_VIEWS[values.task as WorldWanderTask];
const [inputView, targetView] = [LAYOUT[views.input], LAYOUT[views.target]];
const cases: CalibrationCase[] = [];
for (const [name, file] of [...viewEntries(path.join(values.data, targetView))].slice(0, Number(values.cases))) {
  const truth = await readVideoFrames(file);
  const input = await readVideoFrames(path.join(values.data, inputView, path.basename(file)), {
    maxFrames: truth.frames.length,
  });
  const maps = labelPath(values.data, views.target, name);
  cases.push({ truth, input: input.frames, trueMaps: readLabelStrip(maps, { ...truth, frames: truth.frames.length }) });
}
const scorer = values.perception ? PerceptualScorer.load(values.perception) : undefined;
const meanFrame = values['mean-frame'] ? (await readImage(values['mean-frame'])).data : undefined;
const rows = calibrate(cases, { scorer, meanFrame });
const f = (v: number | null | undefined, digits: number): string =>
  v === undefined || v === null ? '-' : v.toFixed(digits);
console.log(
  `${values.task}, ${cases.length} clips of ${values.data}${scorer ? `, PerceptionNet ${values.perception}` : ''}`,
);
console.log(
  '| copy | PSNR | SSIM | sharpness | gradient energy | edges | perceptual | Fréchet | mIoU | character IoU |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const [row, s] of rows) {
  console.log(
    `| ${row} | ${f(s.psnr === Infinity ? 99 : s.psnr, 2)} | ${f(s.ssim, 3)} | ${f(s.sharpness, 2)} | ${f(s.gradientEnergy, 2)} | ${f(s.edges, 3)} | ${f(s.perceptual, 4)} | ${f(s.frechet, 3)} | ${f(s.miou, 3)} | ${f(s.characterIou, 3)} |`,
  );
}
