// Both tasks on the first `count` cases of a split in the release's layout, written as eval reads
// them: OUT/<task>/<target view>/<case>/NNNNN.png (the recipe's sampling and report stages, and
// scripts/validation-bars.ts), with the seed the recipe has always used.
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { writePng } from '../data/frames.js';
import { LAYOUT } from '../data/layout.js';
import { WorldWanderPipeline } from './pipeline.js';
import { TASKS, TASK_VIEWS } from './prompts.js';

export interface SplitSampling {
  steps: number;
  guidance: number;
  shift: number;
  cpe: boolean;
}

export async function translateSplit(
  modelDir: string,
  root: string,
  count: number,
  out: string,
  settings: SplitSampling,
): Promise<void> {
  using pipeline = WorldWanderPipeline.fromPretrained(modelDir);
  for (const task of TASKS) {
    for (let i = 0; i < count; i++) {
      const name = `sample_${String(i).padStart(6, '0')}`;
      const input = path.join(root, LAYOUT[TASK_VIEWS[task].input], `${name}.mp4`);
      const dir = path.join(out, task, LAYOUT[TASK_VIEWS[task].target], name);
      const result = await pipeline.translate(task, {
        video: input,
        referenceImage: path.join(root, LAYOUT.reference, `${name}.png`),
        numInferenceSteps: settings.steps,
        guidanceScale: settings.guidance,
        flowShift: settings.shift,
        seed: 1234,
        useCollaborativePositionEncoding: settings.cpe,
      });
      mkdirSync(dir, { recursive: true });
      for (const [f, frame] of result.frames.entries())
        await writePng(path.join(dir, `${String(f).padStart(5, '0')}.png`), {
          width: result.width,
          height: result.height,
          data: frame,
        });
    }
  }
}
