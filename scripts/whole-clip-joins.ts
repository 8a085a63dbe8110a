// How a whole clip's windows join (docs/experiments/whole-clip-joins.md): each clip of a split
// translated whole, back to back and with carry, both tasks; per join the jump across it in
// excess of the ground truth's own change there, against the same excess inside windows; PSNR
// against the ground truth; and a strip of the frames around the first join for the eye.
// Usage: node dist/scripts/whole-clip-joins.js --model DIR --data SPLIT --out DIR [--cases N]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { LAYOUT, viewEntries } from '../src/data/layout.js';
import { sideBySide, writePng } from '../src/data/frames.js';
import { mean, psnr } from '../src/eval/metrics.js';
import { WorldWanderPipeline } from '../src/worldwander/pipeline.js';
import { TASKS, TASK_VIEWS } from '../src/worldwander/prompts.js';
import { readClip, translateWholeClip } from '../src/worldwander/whole_clip.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/worldwander-small' },
    data: { type: 'string' },
    out: { type: 'string' },
    cases: { type: 'string', default: '16' },
  },
});
if (!values.data || !values.out) {
  console.error('usage: whole-clip-joins --model DIR --data SPLIT --out DIR [--cases N]');
  process.exit(2);
}

const change = (a: Uint8Array, b: Uint8Array): number => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
};

using pipeline = WorldWanderPipeline.fromPretrained(values.model);
const { width, height, num_frames: numFrames, fps } = pipeline.defaults;
mkdirSync(values.out, { recursive: true });
type Row = { task: string; carry: boolean; joinExcess: number[]; withinExcess: number[]; psnr: number[] };
const rows: Row[] = [];
for (const task of TASKS) {
  const views = TASK_VIEWS[task];
  const inputs = [...viewEntries(path.join(values.data, LAYOUT[views.input])).entries()].slice(0, Number(values.cases));
  for (const carry of [false, true]) {
    const row: Row = { task, carry, joinExcess: [], withinExcess: [], psnr: [] };
    for (const [name, video] of inputs) {
      const reference = task === 'one2three' ? path.join(values.data, LAYOUT.reference, `${name}.png`) : undefined;
      const out = await translateWholeClip(pipeline, task, { video, referenceImage: reference, carry, seed: 0 });
      const truth = (
        await readClip(path.join(values.data, LAYOUT[views.target], `${name}.mp4`), { numFrames, fps, width, height })
      ).frames;
      const joins = new Set(out.joins.map((j) => j.frame));
      for (let f = 1; f < out.frames.length; f++) {
        const excess = change(out.frames[f]!, out.frames[f - 1]!) - change(truth[f]!, truth[f - 1]!);
        (joins.has(f) ? row.joinExcess : row.withinExcess).push(excess);
      }
      row.psnr.push(mean(out.frames.map((frame, i) => psnr(frame, truth[i]!))));
      if (name === inputs[0]![0]) {
        const j = out.joins[0]!.frame;
        const strip = (frames: Uint8Array[]) =>
          sideBySide(frames.slice(j - 2, j + 2).map((data) => ({ width, height, data })));
        const gen = strip(out.frames);
        const gt = strip(truth);
        await writePng(path.join(values.out, `${task}-${carry ? 'carry' : 'back-to-back'}-join.png`), {
          width: gen.width,
          height: gen.height * 2,
          data: Buffer.concat([gen.data, gt.data]),
        });
      }
    }
    rows.push(row);
    console.error(
      `${task} ${carry ? 'carry' : 'back to back'}: join excess ${mean(row.joinExcess).toFixed(2)}, within ${mean(row.withinExcess).toFixed(2)}, PSNR ${mean(row.psnr).toFixed(2)} dB`,
    );
  }
}
const table = [
  '| task | windows | join excess | within-window excess | PSNR (dB) |',
  '|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.task} | ${r.carry ? 'carry' : 'back to back'} | ${mean(r.joinExcess).toFixed(2)} | ${mean(r.withinExcess).toFixed(2)} | ${mean(r.psnr).toFixed(2)} |`,
  ),
].join('\n');
writeFileSync(path.join(values.out, 'joins.json'), JSON.stringify(rows, null, 1));
writeFileSync(path.join(values.out, 'joins.md'), `${table}\n`);
console.log(table);
