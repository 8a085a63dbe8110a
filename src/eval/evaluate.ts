// `worldwander eval`: predicted videos against the ground truth, case by case (matched by name),
// with two baselines on the same cases: copy-input (the condition video itself as the prediction)
// and mean frame (the per-pixel mean target frame of the training data). Metrics (metrics.ts):
// per-frame PSNR and SSIM, then per case (mean over frames) and overall (mean over cases).
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { FileFormatError, OptionError } from '../errors.js';
import { coverFit, isVideoFile, readFrames, type RgbVideo } from '../data/frames.js';
import { decodeVideos, probeVideo } from '../data/video_writer.js';
import { LAYOUT } from '../data/layout.js';
import { viewEntries } from '../worldwander/cases.js';
import type { WorldWanderTask } from '../worldwander/prompts.js';
import type { PairedComparison } from './compare.js';
import { mean, videoPsnr, videoSsim } from './metrics.js';

export interface MethodScores {
  psnr: number;
  ssim: number;
  /** Per frame, in frame order. */
  psnrFrames: number[];
  ssimFrames: number[];
}

export interface CaseResult {
  case: string;
  /** What was compared (paths). */
  prediction: string;
  groundTruth: string;
  input: string;
  model: MethodScores;
  copyInput: MethodScores;
  meanFrame?: MethodScores;
}

export interface EvalReport {
  task: WorldWanderTask;
  width: number;
  height: number;
  frames: number;
  cases: CaseResult[];
  /** Means over cases. */
  overall: { model: { psnr: number; ssim: number }; copyInput: { psnr: number; ssim: number }; meanFrame?: { psnr: number; ssim: number } };
  definitions: string;
  /** Predictions without ground truth, and ground truth without predictions. */
  unmatched: { predictions: string[]; groundTruth: string[] };
  /** With `eval --compare`: the model against another report's, paired case by case. */
  comparison?: PairedComparison;
}

export const METRIC_DEFINITIONS =
  'PSNR: 10·log10(255²/MSE) over all pixels and the three RGB channels of a frame (8-bit sRGB values, data range 255), capped at 100 dB; ' +
  'SSIM: Wang et al. (2004) on BT.601 luma (0.299R + 0.587G + 0.114B), 11x11 Gaussian window σ = 1.5, valid positions only, C1 = (0.01·255)², C2 = (0.03·255)²; ' +
  'a video\'s score is the mean of its frames\', the overall score the mean of the cases\'. Videos of another size are scaled to cover the ground truth\'s size and centre-cropped first.';

/** Said in every report and by `worldwander eval`: what is not measured, and why. */
export const NOT_MEASURED =
  'LPIPS and FVD are not computed: both score with pretrained networks (AlexNet or VGG with the LPIPS heads; I3D) ' +
  'that nothing here downloads, and loading user-supplied weights for them is not implemented yet.';

/** The predictions of a folder: the target view of a release layout, or `<case>/generated.mp4` (or frames/) as infer writes them. */
export function predictionEntries(dir: string, task: WorldWanderTask): Map<string, string> {
  const view = path.join(dir, task === 'three2one' ? LAYOUT.first : LAYOUT.third);
  if (existsSync(view)) return viewEntries(view);
  const found = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const caseDir = path.join(dir, name);
    if (!statSync(caseDir).isDirectory()) continue;
    const video = [path.join(caseDir, 'generated.mp4'), path.join(caseDir, 'frames')].find((p) => existsSync(p));
    if (video) found.set(name, video);
  }
  return found;
}

async function framesAt(source: string, frames: number, width?: number, height?: number): Promise<RgbVideo> {
  const video = await readFrames(source, { maxFrames: frames });
  if (width === undefined || height === undefined || (video.width === width && video.height === height)) return video;
  const fitted = await Promise.all(video.frames.map(async (data) => (await coverFit({ width: video.width, height: video.height, data }, width, height)).data));
  return { width, height, frames: fitted };
}

function scores(prediction: readonly Uint8Array[], truth: RgbVideo): MethodScores {
  const psnrFrames = videoPsnr(prediction, truth.frames);
  const ssimFrames = videoSsim(prediction, truth.frames, truth.width, truth.height);
  return { psnr: mean(psnrFrames), ssim: mean(ssimFrames), psnrFrames, ssimFrames };
}

/** The per-pixel mean frame (rounded) of the target view of every clip of a training set, over `frames` frames each. */
export async function meanTargetFrame(trainingData: string, task: WorldWanderTask, frames: number, width: number, height: number, onProgress?: (done: number, total: number) => void): Promise<Uint8Array> {
  const view = path.join(trainingData, task === 'three2one' ? LAYOUT.first : LAYOUT.third);
  if (!existsSync(view)) throw new OptionError('trainData', `${trainingData} has no ${path.basename(view)}/ (the training data in the release layout)`);
  const entries = [...viewEntries(view).values()];
  // Sums of integers in float64 are exact, so neither grouping nor order changes the result.
  const sum = new Float64Array(width * height * 3);
  const groupSum = new Float64Array(sum.length);
  let count = 0;
  let groupCount = 0;
  const accumulate = (frame: Uint8Array): void => {
    for (let k = 0; k < groupSum.length; k++) groupSum[k]! += frame[k]!;
    groupCount++;
  };
  const add = async (frame: Uint8Array, w: number, h: number): Promise<void> => {
    accumulate(w === width && h === height ? frame : (await coverFit({ width: w, height: h, data: frame }, width, height)).data);
  };
  // Video files go many to one ffmpeg process (a process per clip is mostly start-up); a group
  // that one process cannot take (sizes differ, an unreadable file) and frame folders go one by
  // one. Frames of the mean's size are summed as they arrive; others wait for scaling, so a group
  // holds at most ~256 MiB of them. A group's sum joins the total only once the group is whole.
  const first = entries.find((e) => isVideoFile(e) && statSync(e).isFile());
  const size = first ? await probeVideo(first, { fast: true }) : { width, height };
  const group = Math.max(1, Math.min(64, Math.floor(2 ** 28 / (frames * size.width * size.height * 3))));
  for (let start = 0; start < entries.length; start += group) {
    const chunk = entries.slice(start, start + group);
    let done = false;
    if (chunk.every((e) => isVideoFile(e) && statSync(e).isFile())) {
      const other: RgbVideo = { width: 0, height: 0, frames: [] };
      const onFrame = (frame: Uint8Array, w: number, h: number): void => {
        if (w === width && h === height) accumulate(frame);
        else Object.assign(other, { width: w, height: h }).frames.push(frame);
      };
      done = await decodeVideos(chunk, { maxFrames: frames, size: chunk[0] === first ? size : undefined }, onFrame).then(() => true, () => false);
      if (done) for (const frame of other.frames) await add(frame, other.width, other.height);
      else { groupSum.fill(0); groupCount = 0; }  // a partial group is read again one by one
    }
    if (!done) {
      for (const entry of chunk) {
        const video = await framesAt(entry, frames);
        for (const frame of video.frames) await add(frame, video.width, video.height);
      }
    }
    for (let k = 0; k < sum.length; k++) sum[k]! += groupSum[k]!;
    count += groupCount;
    groupSum.fill(0);
    groupCount = 0;
    onProgress?.(Math.min(start + group, entries.length), entries.length);
  }
  return Uint8Array.from(sum, (v) => Math.round(v / count));
}

export interface EvaluateOptions {
  task: WorldWanderTask;
  /** Predictions: a release-layout folder or an infer output folder. */
  predictions: string;
  /** Ground truth and the condition views: a folder in the release layout. */
  groundTruth: string;
  /** Frames compared per video (the first ones). */
  frames: number;
  /** The mean training frame (width·height·3 bytes at the ground truth's size), for that baseline. */
  meanFrame?: Uint8Array;
}

export async function evaluate(o: EvaluateOptions): Promise<EvalReport> {
  const inputView = o.task === 'three2one' ? LAYOUT.third : LAYOUT.first;
  const targetView = o.task === 'three2one' ? LAYOUT.first : LAYOUT.third;
  for (const view of [inputView, targetView]) if (!existsSync(path.join(o.groundTruth, view))) throw new OptionError('groundTruth', `${o.groundTruth} has no ${view}/ (the ground truth in the release layout)`);
  const predictions = predictionEntries(o.predictions, o.task);
  const truths = viewEntries(path.join(o.groundTruth, targetView));
  const inputs = viewEntries(path.join(o.groundTruth, inputView));
  const names = [...predictions.keys()].filter((n) => truths.has(n) && inputs.has(n));
  if (names.length === 0) throw new FileFormatError(`${o.predictions}: no prediction matches a case of ${path.join(o.groundTruth, targetView)} by name`);
  const cases: CaseResult[] = [];
  let size: { width: number; height: number; frames: number } | undefined;
  for (const name of names) {
    const truth = await framesAt(truths.get(name)!, o.frames);
    if (truth.frames.length < o.frames) throw new FileFormatError(`${truths.get(name)}: has ${truth.frames.length} frames, ${o.frames} are compared`);
    size ??= { width: truth.width, height: truth.height, frames: o.frames };
    if (o.meanFrame && o.meanFrame.length !== truth.width * truth.height * 3) throw new OptionError('meanFrame', `the mean frame has ${o.meanFrame.length} bytes, the ground truth of ${name} is ${truth.width}x${truth.height} (${truth.width * truth.height * 3} bytes of RGB)`);
    const prediction = await framesAt(predictions.get(name)!, o.frames, truth.width, truth.height);
    if (prediction.frames.length < o.frames) throw new FileFormatError(`${predictions.get(name)}: has ${prediction.frames.length} frames, ${o.frames} are compared`);
    const input = await framesAt(inputs.get(name)!, o.frames, truth.width, truth.height);
    cases.push({
      case: name, prediction: predictions.get(name)!, groundTruth: truths.get(name)!, input: inputs.get(name)!,
      model: scores(prediction.frames, truth),
      copyInput: scores(input.frames, truth),
      meanFrame: o.meanFrame ? scores(truth.frames.map(() => o.meanFrame!), truth) : undefined,
    });
  }
  const overall = (pick: (c: CaseResult) => MethodScores | undefined) => {
    const all = cases.map(pick).filter((s): s is MethodScores => s !== undefined);
    return all.length ? { psnr: mean(all.map((s) => s.psnr)), ssim: mean(all.map((s) => s.ssim)) } : undefined;
  };
  return {
    task: o.task, ...size!, cases,
    overall: { model: overall((c) => c.model)!, copyInput: overall((c) => c.copyInput)!, meanFrame: overall((c) => c.meanFrame) },
    definitions: METRIC_DEFINITIONS,
    unmatched: { predictions: [...predictions.keys()].filter((n) => !truths.has(n)), groundTruth: [...truths.keys()].filter((n) => !predictions.has(n)) },
  };
}
