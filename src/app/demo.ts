// The bundled default run (`npm start`): held-out synthetic triplets from a seed the bundled model
// never saw, translated both ways with it, scored against the baselines, and shown on a results
// page. A second run with the same model and data reuses what is there.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { OptionError } from '../errors.js';
import { readImage } from '../data/frames.js';
import { LAYOUT } from '../data/layout.js';
import { MANIFEST_VERSION, readManifest } from '../synth/manifest.js';
import { synthesize } from '../synth/run.js';
import { evaluate, type EvalReport } from '../eval/evaluate.js';
import { writeResultsPage } from '../eval/page.js';
import { writeReport } from '../eval/report.js';
import { PerceptualScorer } from '../eval/perceptual.js';
import { writeCase } from '../worldwander/outputs.js';
import { WorldWanderPipeline } from '../worldwander/pipeline.js';
import {
  BUNDLED_MODEL,
  BUNDLED_PERCEPTION,
  DEMO_DATA,
  MODEL_CARD_FILES,
  readDefaults,
} from '../worldwander/model_defaults.js';
import { TASKS, TASK_VIEWS, type WorldWanderTask } from '../worldwander/prompts.js';
import { checkOutputFolder } from '../io/output_path.js';
import { jsonText } from '../io/json_text.js';

export { BUNDLED_MODEL, BUNDLED_PERCEPTION };
export { DEMO_DATA };

export interface DemoOptions {
  out: string;
  modelDir?: string;
  onNote?: (text: string) => void;
  onProgress?: (what: string, done: number, total: number) => void;
}

export interface DemoResult {
  page: string;
  reports: Record<WorldWanderTask, EvalReport>;
  reused: boolean;
  seconds: Record<string, number>;
}

/** What the demo's outputs depend on: the model folder's files (names, sizes, times) and the data. */
function identity(modelDir: string): string {
  const hash = createHash('sha256').update(JSON.stringify(DEMO_DATA));
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (MODEL_CARD_FILES.includes(name)) continue;
      const full = path.join(dir, name);
      const info = statSync(full);
      if (info.isDirectory()) walk(full);
      else hash.update(`${path.relative(modelDir, full)}:${info.size}:${info.mtimeMs};`);
    }
  };
  walk(modelDir);
  return hash.digest('hex').slice(0, 16);
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const modelDir = o.modelDir ?? BUNDLED_MODEL;
  if (!existsSync(path.join(modelDir, 'model_index.json')))
    throw new OptionError('modelDir', `${modelDir} is not a model folder (no model_index.json)`);
  checkOutputFolder(o.out, 'out', { inputs: [modelDir] });
  const defaults = readDefaults(modelDir);
  const seconds: Record<string, number> = {};
  const timed = async <T>(stage: string, f: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await f();
    } finally {
      seconds[stage] = Number(((performance.now() - started) / 1000).toFixed(2));
    }
  };
  // 1. held-out data at the model's size (synth runs first: its worker threads start ffmpeg before libtorch's threads exist)
  const data = path.join(o.out, 'data');
  // An earlier demo's data is finished or grown; data an older generator made (no class maps) is made again.
  const earlier = await readManifest(data).catch(() => undefined);
  const reuse = earlier?.version === MANIFEST_VERSION;
  await timed('data', () =>
    synthesize({
      ...DEMO_DATA,
      width: defaults.width,
      height: defaults.height,
      frames: defaults.num_frames,
      fps: defaults.fps,
      format: 'mp4',
      out: data,
      resume: reuse,
      overwrite: earlier !== undefined && !reuse,
    }),
  );
  const stamp = path.join(o.out, 'demo.json');
  const id = identity(modelDir);
  const reused =
    existsSync(stamp) &&
    JSON.parse(readFileSync(stamp, 'utf8')).identity === id &&
    existsSync(path.join(o.out, 'page', 'index.html'));
  const names = Array.from({ length: DEMO_DATA.count }, (_, i) => `sample_${String(i).padStart(6, '0')}`);
  // 2. translations, both ways
  if (!reused) {
    await timed('translate', async () => {
      using pipeline = WorldWanderPipeline.fromPretrained(modelDir);
      let done = 0;
      for (const task of TASKS) {
        for (const name of names) {
          const [inputView, targetView] = [LAYOUT[TASK_VIEWS[task].input], LAYOUT[TASK_VIEWS[task].target]];
          const input = path.join(data, inputView, `${name}.mp4`);
          const reference = path.join(data, LAYOUT.reference, `${name}.png`);
          const translation = await pipeline.translate(task, { video: input, referenceImage: reference, seed: 1234 });
          await writeCase(path.join(o.out, 'translations', task, name), translation, {
            case: name,
            task,
            model: modelDir,
            lora: null,
            input,
            reference: task === 'one2three' ? reference : undefined,
            groundTruth: path.join(data, targetView, `${name}.mp4`),
            fps: defaults.fps,
          });
          o.onProgress?.('translate', ++done, TASKS.length * names.length);
        }
      }
    });
  }
  // 3. scores against the baselines (the mean frame of the training data ships with the model)
  const reports = {} as Record<WorldWanderTask, EvalReport>;
  await timed('evaluate', async () => {
    const perceptionDir = path.join(modelDir, 'perception');
    using perception = existsSync(path.join(perceptionDir, 'config.json'))
      ? PerceptualScorer.load(perceptionDir)
      : undefined;
    if (!perception) o.onNote?.(`${perceptionDir} is missing: no perceptual, Fréchet or content scores`);
    for (const task of TASKS) {
      const meanFile = path.join(modelDir, 'mean_frames', `${task}.png`);
      const meanFrame = existsSync(meanFile) ? (await readImage(meanFile)).data : undefined;
      if (!meanFrame) o.onNote?.(`${meanFile} is missing: no mean-frame baseline`);
      reports[task] = await evaluate({
        task,
        predictions: path.join(o.out, 'translations', task),
        groundTruth: data,
        frames: defaults.num_frames,
        meanFrame,
        perception,
      });
      writeReport(path.join(o.out, 'reports', task), reports[task], {
        title: `Bundled small WorldWander, ${task}, held-out seed ${DEMO_DATA.seed}`,
      });
    }
  });
  // 4. the page
  const page = path.join(o.out, 'page', 'index.html');
  if (!reused) {
    await timed('page', () =>
      writeResultsPage(path.join(o.out, 'page'), {
        title: 'WorldWander.ts: the bundled small model, both ways',
        intro: `Held-out synthetic clips (seed ${DEMO_DATA.seed}, never trained on), ${defaults.width}x${defaults.height}, ${defaults.num_frames} frames at ${defaults.fps} fps, translated by ${modelDir} on this machine's CPU. Play drives every video of a case.`,
        fps: defaults.fps,
        sections: TASKS.map((task) => ({
          report: reports[task],
          references:
            task === 'one2three'
              ? new Map(names.map((n) => [n, path.join(data, LAYOUT.reference, `${n}.png`)]))
              : undefined,
          lossFile: existsSync(path.join(modelDir, 'training_metrics.jsonl'))
            ? path.join(modelDir, 'training_metrics.jsonl')
            : undefined,
        })),
      }),
    );
    mkdirSync(o.out, { recursive: true });
    writeFileSync(stamp, jsonText({ identity: id, seconds }, 2));
  }
  return { page, reports, reused, seconds };
}
