// `worldwander eval`: the report (and the results page) of predictions against ground truth.
import { existsSync } from 'node:fs';
import path from 'node:path';

import { OptionError } from '../errors.js';
import { checkOutputFolder } from '../io/output_path.js';
import { LAYOUT } from '../data/layout.js';
import type { WorldWanderTask } from '../worldwander/prompts.js';
import { imageNamed } from '../data/layout.js';
import { checkComparable, pairedComparison, readEvalReport } from './compare.js';
import { evaluate, groundTruthSize, matchedCaseNames, meanTargetFrame, type EvalReport } from './evaluate.js';
import { Fvd } from './fvd.js';
import { Lpips } from './lpips.js';
import { PerceptualScorer } from './perceptual.js';
import { writeResultsPage } from './page.js';
import { writeReport } from './report.js';

export interface EvalCommandOptions {
  task: WorldWanderTask;
  predictions: string;
  groundTruth: string;
  output: string;
  frames: number;
  /** Training data in the release layout, for the mean-frame baseline. */
  trainData?: string;
  /** A training run's metrics.jsonl, for the loss plot. */
  metrics?: string;
  /** A PerceptionNet folder (config.json, model.safetensors): the perceptual, Fréchet and content scores. */
  perception?: string;
  /**
   * Standard LPIPS from the user's files: a torchvision AlexNet/VGG16 backbone and the lpips v0.1
   * heads (.pth or .safetensors).
   */
  lpipsBackbone?: string;
  lpipsHeads?: string;
  /** FVD from the user's I3D: StyleGAN-V's TorchScript export (i3d_torchscript.pt). */
  fvdI3d?: string;
  /** Another run's report.json on the same cases: the model against it, paired case by case. */
  compare?: string;
  html?: boolean;
  title?: string;
  fps: number;
  onProgress?: (what: string, done: number, total: number) => void;
}

export async function runEval(o: EvalCommandOptions): Promise<{ report: EvalReport; files: string[]; page?: string }> {
  for (const [name, dir] of [
    ['predictions', o.predictions],
    ['groundTruth', o.groundTruth],
  ] as const)
    if (!existsSync(dir)) throw new OptionError(name, `${dir} does not exist`);
  if (o.metrics && !existsSync(o.metrics)) throw new OptionError('metrics', `${o.metrics} does not exist`);
  checkOutputFolder(o.output, 'output', {
    inputs: [
      o.predictions,
      o.groundTruth,
      o.trainData,
      o.metrics,
      o.compare,
      o.perception,
      o.lpipsBackbone,
      o.lpipsHeads,
      o.fvdI3d,
    ],
  });
  if (o.compare && !existsSync(o.compare)) throw new OptionError('compare', `${o.compare} does not exist`);
  const other = o.compare ? readEvalReport(o.compare) : undefined; // read and checked first: a wrong file costs no evaluation
  if (other) checkComparable(other, o, o.compare!);
  if (o.perception && !existsSync(path.join(o.perception, 'config.json')))
    throw new OptionError('perception', `${o.perception} is not a PerceptionNet folder (no config.json)`);
  const base = { task: o.task, predictions: o.predictions, groundTruth: o.groundTruth, frames: o.frames };
  if (other) {
    // a report that shares no case is said before an evaluation that could not be compared
    const theirs = new Set(other.cases.map((c) => c.case));
    const names = matchedCaseNames(base);
    if (!names.some((n) => theirs.has(n)))
      throw new OptionError(
        'compare',
        `${o.compare} has none of this run's cases (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''})`,
      );
  }
  const { width, height } = await groundTruthSize(base);
  const meanFrame = o.trainData
    ? await meanTargetFrame(o.trainData, o.task, o.frames, width, height, (d, t) => o.onProgress?.('mean frame', d, t))
    : undefined;
  if (!o.lpipsBackbone !== !o.lpipsHeads)
    throw new OptionError(
      o.lpipsBackbone ? 'lpipsHeads' : 'lpipsBackbone',
      'LPIPS needs both files: the backbone (e.g. alexnet-owt-7be5be79.pth) and the heads (lpips/weights/v0.1/alex.pth)',
    );
  for (const [name, file] of [
    ['lpipsBackbone', o.lpipsBackbone],
    ['lpipsHeads', o.lpipsHeads],
  ] as const)
    if (file && !existsSync(file)) throw new OptionError(name, `${file} does not exist`);
  if (o.fvdI3d && !existsSync(o.fvdI3d)) throw new OptionError('fvdI3d', `${o.fvdI3d} does not exist`);
  let report: EvalReport;
  {
    using lpips = o.lpipsBackbone && o.lpipsHeads ? Lpips.load(o.lpipsBackbone, o.lpipsHeads) : undefined;
    using fvd = o.fvdI3d ? Fvd.load(o.fvdI3d) : undefined;
    using perception = o.perception ? PerceptualScorer.load(o.perception) : undefined;
    report = await evaluate({
      ...base,
      meanFrame,
      perception,
      lpips,
      fvd,
      onProgress: (d, t) => o.onProgress?.('cases', d, t),
    });
  }
  if (other) report.comparison = pairedComparison(report, other, o.compare!);
  const title = o.title ?? `WorldWander ${o.task}: ${path.basename(path.resolve(o.predictions))}`;
  const files = writeReport(o.output, report, { title, lossFile: o.metrics });
  let page: string | undefined;
  if (o.html) {
    const references =
      o.task === 'one2three'
        ? new Map(
            report.cases
              .map((c) => [c.case, imageNamed(path.join(o.groundTruth, LAYOUT.reference), c.case)])
              .filter((e): e is [string, string] => e[1] !== undefined),
          )
        : undefined;
    page = await writeResultsPage(path.join(o.output, 'page'), {
      title,
      fps: o.fps,
      sections: [{ report, references, lossFile: o.metrics }],
    });
  }
  return { report, files, page };
}
