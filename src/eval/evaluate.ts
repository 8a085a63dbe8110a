// `worldwander eval`: predicted videos against the ground truth, case by case (matched by name),
// with two baselines on the same cases: copy-input (the condition video itself as the prediction)
// and mean frame (the per-pixel mean target frame of the training data). Metrics (metrics.ts):
// per-frame PSNR and SSIM, then per case (mean over frames) and overall (mean over cases).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { FileFormatError, OptionError } from '../errors.js';
import { coverFit, isVideoFile, type RgbVideo } from '../data/frames.js';
import { probeVideoSource, readVideoWindow, type VideoWindow } from '../data/video_reader.js';
import type { CaseRecord } from '../worldwander/outputs.js';
import { decodeVideos, probeVideo } from '../data/video_writer.js';
import { LAYOUT, viewEntries } from '../data/layout.js';
import { isTemporary } from '../io/atomic.js';
import { TASK_VIEWS, type WorldWanderTask } from '../worldwander/prompts.js';
import { labelPath, readLabelStrip } from '../data/labels.js';
import { gaussianBlurRgb } from './filters.js';
import type { Fvd } from './fvd.js';
import type { Lpips } from './lpips.js';
import type { PerceptualScorer } from './perceptual.js';
import { SetScores, type MethodScores, type OverallScores } from './scoring.js';

export type { MethodScores, OverallScores } from './scoring.js';

/** The methods scored on every case: the model, the two baselines, and the calibration rows. */
export const METHODS = ['model', 'copyInput', 'meanFrame', 'blurredTruth', 'truth'] as const;
export type Method = (typeof METHODS)[number];

export const METHOD_LABELS: Record<Method, string> = {
  model: 'model',
  copyInput: 'copy-input baseline',
  meanFrame: 'mean-frame baseline',
  blurredTruth: 'ground truth blurred (σ 1.5 px; calibration)',
  truth: 'ground truth (floor / ceiling)',
};

/** The σ (px) of the blurred-truth calibration row: PSNR ranks this blur near 27 dB, above any model here. */
export const CALIBRATION_BLUR_SIGMA = 1.5;

export interface CaseResult {
  case: string;
  /** What was compared (paths). */
  prediction: string;
  groundTruth: string;
  input: string;
  model: MethodScores;
  copyInput: MethodScores;
  meanFrame?: MethodScores;
  blurredTruth: MethodScores;
  truth: MethodScores;
}

export interface EvalReport {
  task: WorldWanderTask;
  width: number;
  height: number;
  frames: number;
  cases: CaseResult[];
  /** Means over cases (the set-level metrics over the set). */
  overall: {
    model: OverallScores;
    copyInput: OverallScores;
    meanFrame?: OverallScores;
    blurredTruth: OverallScores;
    truth: OverallScores;
  };
  definitions: string;
  /** The PerceptionNet folder the feature metrics used, its classes; absent when none was given. */
  perception?: { dir: string; classNames: string[] };
  /** What was not computed, and why. */
  notes: string[];
  /** Predictions without ground truth, and ground truth without predictions. */
  unmatched: { predictions: string[]; groundTruth: string[] };
  /** With `eval --compare`: the model against another report's, paired case by case. */
  comparison?: PairedComparison;
}

/** `eval --compare`: this run against another report's, case by case (compare.ts). */
export interface PairedDifference {
  /** Mean over the shared cases of (this − other). */
  meanDifference: number;
  /** Sample standard deviation of the differences / √n (NaN with fewer than 2 cases). */
  standardError: number;
  /** Cases where this run scores higher. */
  better: number;
}

export interface PairedComparison {
  /** The other report (its path, as given). */
  against: string;
  /** Cases in both reports. */
  cases: number;
  psnr: PairedDifference;
  ssim: PairedDifference;
  /** Cases in one report only (not compared). */
  onlyHere: string[];
  onlyThere: string[];
}

export const METRIC_DEFINITIONS =
  'PSNR: 10·log10(255²/MSE) over all pixels and the three RGB channels of a frame (8-bit sRGB values, data range 255), capped at 100 dB; ' +
  'SSIM: Wang et al. (2004) on BT.601 luma (0.299R + 0.587G + 0.114B), 11x11 Gaussian window σ = 1.5, valid positions only, C1 = (0.01·255)², C2 = (0.03·255)²; ' +
  "sharpness: mean absolute luma gradient (mean |∂x Y| + mean |∂y Y|, forward differences) of the video over the truth's, 1 = as sharp as the truth (the issue's measure: a σ 1.5 blur of the truth scores about 0.5); " +
  'gradient energy: the same ratio of squared differences, stricter on blur (a σ 1.5 blur about 0.1); ' +
  'edge agreement: Pearson correlation of the difference-of-Gaussians (σ 1 and 2 px) responses of luma, per frame; ' +
  "period-2 lattice share: of a video's luma energy off DC (2D DFT, summed over its frames), the part on the Nyquist lines (period 2 px along x or y), where a 2x2 unpatchify draws a checkerboard; compare it with the truth row's; " +
  'LPIPS (where weight files were given): Zhang et al. (2018) as the lpips package v0.1 computes it, per frame; ' +
  "FVD (where an I3D file was given): Unterthiner et al. (2018) as the field's PyTorch code computes it with StyleGAN-V's TorchScript I3D: each clip's compared frames scaled bilinearly to a short side of 224, centre-cropped to 224x224, in [-1, 1], the detector's features (rescale and resize off, return_features on), the Fréchet distance of the predictions' clips against the same cases' true clips; at 64x64 it measures upscaled clips far from Kinetics, so compare it between runs; " +
  "perceptual distance (LPIPS-style): each PerceptionNet block's features unit-normalised over channels, squared difference summed over channels, averaged over pixels and blocks, per frame; " +
  "Fréchet distance (FID-style): Gaussians fitted to the per-frame PerceptionNet vectors (spatial means of its deepest blocks), of all the predictions' frames against those of the ground truth of the same cases, as FID is computed (0 for the truth itself); " +
  "content score (FCN-score): the PerceptionNet's class of each pixel against the renderer's true class map, IoU per class summed over the frames, mIoU over the classes the true maps show (character IoU: none where they never show him, e.g. the first-person view); " +
  "a video's score is the mean of its frames', the overall score the mean of the cases' (mIoU and the Fréchet distance: over the set). Videos of another size are scaled to cover the ground truth's size and centre-cropped first.";

/** Said in every report and by `worldwander eval`: what is not measured, and why. */
export const NOT_MEASURED =
  'The perceptual, Fréchet and content scores use PerceptionNet, a small segmenter this project trains itself on ground-truth renders of its synthetic world ' +
  '(no pretrained weights can be downloaded here); they are comparable between runs scored by the same network, not with published LPIPS/FID/FVD figures. ' +
  'The standard LPIPS (AlexNet or VGG with the LPIPS v0.1 heads) and FVD (I3D) are computed only from weight files the user gives (eval --lpips-backbone, --lpips-heads; --fvd-i3d).';

/**
 * The predictions of a folder: the target view of a release layout, or `<case>/generated.mp4` (or
 * frames/) as infer writes them.
 */
export function predictionEntries(dir: string, task: WorldWanderTask): Map<string, string> {
  const view = path.join(dir, LAYOUT[TASK_VIEWS[task].target]);
  if (existsSync(view)) return viewEntries(view);
  const found = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const caseDir = path.join(dir, name);
    if (name.startsWith('.') || isTemporary(name) || !statSync(caseDir).isDirectory()) continue;
    const video = [path.join(caseDir, 'generated.mp4'), path.join(caseDir, 'frames')].find((p) => existsSync(p));
    if (!video) continue;
    // infer writes run.json with the case, so a case folder without it was cut short or made by hand
    if (!existsSync(path.join(caseDir, 'run.json')))
      throw new FileFormatError(
        `${caseDir}: has ${path.basename(video)} but no run.json, so it is not a case infer finished writing; run infer for it again, or give predictions in the release layout (a ${LAYOUT[TASK_VIEWS[task].target]}/ folder)`,
      );
    found.set(name, video);
  }
  return found;
}

/**
 * The first `frames` frames of a video or frames folder (fewer where it has fewer: the callers
 * check), scaled to cover width x height and centre-cropped when given (onRefit hears the size it had).
 */
async function framesAt(
  source: string,
  frames: number,
  width?: number,
  height?: number,
  onRefit?: (width: number, height: number) => void,
  time?: PredictionTime,
): Promise<VideoWindow> {
  const window = await readVideoWindow(source, { numFrames: frames, width, height, partial: true, ...time });
  if (window.resized) onRefit?.(window.source.width, window.source.height);
  return window;
}

/** The source instants a prediction's frames show: frame k at start + k / fps. */
export interface PredictionTime {
  start: number;
  fps: number;
}

/**
 * When a prediction's frames were taken, so that its ground truth and input are taken at the same
 * instants: the window its case's run.json records (infer), else, for a video, its own rate from
 * 0 s; undefined for a frames folder without a record (compared frame for frame).
 */
export async function predictionTime(prediction: string): Promise<PredictionTime | undefined> {
  const record = path.join(path.dirname(prediction), 'run.json');
  if (existsSync(record)) {
    const window = (JSON.parse(readFileSync(record, 'utf8')) as Partial<CaseRecord>).window;
    if (window && Number.isFinite(window.start) && window.fps > 0) return { start: window.start, fps: window.fps };
  }
  if (!statSync(prediction).isFile()) return undefined;
  const fps = (await probeVideoSource(prediction)).fps;
  return fps ? { start: 0, fps } : undefined;
}

/** The per-pixel mean frame (rounded) of the target view of every clip of a training set, over `frames` frames each. */
export async function meanTargetFrame(
  trainingData: string,
  task: WorldWanderTask,
  frames: number,
  width: number,
  height: number,
  onProgress?: (done: number, total: number) => void,
): Promise<Uint8Array> {
  const view = path.join(trainingData, LAYOUT[TASK_VIEWS[task].target]);
  if (!existsSync(view))
    throw new OptionError(
      'trainData',
      `${trainingData} has no ${path.basename(view)}/ (the training data in the release layout)`,
    );
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
    accumulate(
      w === width && h === height ? frame : (await coverFit({ width: w, height: h, data: frame }, width, height)).data,
    );
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
      done = await decodeVideos(
        chunk,
        { maxFrames: frames, size: chunk[0] === first ? size : undefined },
        onFrame,
      ).then(
        () => true,
        () => false,
      );
      if (done) for (const frame of other.frames) await add(frame, other.width, other.height);
      else {
        groupSum.fill(0);
        groupCount = 0;
      } // a partial group is read again one by one
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
  /**
   * Ground truth and the condition views: a folder in the release layout (class maps in
   * First_Label/, Third_Label/).
   */
  groundTruth: string;
  /** Frames compared per video (the first ones). */
  frames: number;
  /** The mean training frame (width·height·3 bytes at the ground truth's size), for that baseline. */
  meanFrame?: Uint8Array;
  /** The PerceptionNet for the perceptual, Fréchet and content scores. */
  perception?: PerceptualScorer;
  /** Standard LPIPS from the user's own weight files. */
  lpips?: Lpips;
  /** FVD with the user's own I3D. */
  fvd?: Fvd;
  onProgress?: (done: number, total: number) => void;
}

interface Matched {
  names: string[];
  predictions: Map<string, string>;
  truths: Map<string, string>;
  inputs: Map<string, string>;
  targetView: 'first' | 'third';
}

function matchCases(o: EvaluateOptions): Matched {
  const views = TASK_VIEWS[o.task];
  const inputView = LAYOUT[views.input];
  const targetView = LAYOUT[views.target];
  for (const view of [inputView, targetView])
    if (!existsSync(path.join(o.groundTruth, view)))
      throw new OptionError('groundTruth', `${o.groundTruth} has no ${view}/ (the ground truth in the release layout)`);
  const predictions = predictionEntries(o.predictions, o.task);
  const truths = viewEntries(path.join(o.groundTruth, targetView));
  const inputs = viewEntries(path.join(o.groundTruth, inputView));
  const names = [...predictions.keys()].filter((n) => truths.has(n) && inputs.has(n));
  if (names.length === 0)
    throw new FileFormatError(
      `${o.predictions}: no prediction matches a case of ${path.join(o.groundTruth, targetView)} by name`,
    );
  return { names, predictions, truths, inputs, targetView: views.target };
}

/** The names of the cases that will be scored (predictions with ground truth and an input view). */
export function matchedCaseNames(o: EvaluateOptions): string[] {
  return matchCases(o).names;
}

/** Width and height of the first matched case's ground truth (the size everything is scored at). */
export async function groundTruthSize(o: EvaluateOptions): Promise<{ width: number; height: number }> {
  const m = matchCases(o);
  const truth = await framesAt(m.truths.get(m.names[0]!)!, 1);
  return { width: truth.width, height: truth.height };
}

export async function evaluate(o: EvaluateOptions): Promise<EvalReport> {
  const { names, predictions, truths, inputs, targetView } = matchCases(o);
  const cases: CaseResult[] = [];
  const notes: string[] = [];
  let size: { width: number; height: number; frames: number } | undefined;
  const refitted: { name: string; width: number; height: number }[] = [];
  const scorer = o.perception;
  const labelFiles = names.map((n) => labelPath(o.groundTruth, targetView, n));
  const withContent = scorer !== undefined && labelFiles.every((f) => existsSync(f));
  if (!scorer) notes.push('No PerceptionNet was given: the perceptual, Fréchet and content scores are not computed.');
  else if (!withContent)
    notes.push(
      `The content score is not computed: the ground truth has no class maps for ${names.filter((_, i) => !existsSync(labelFiles[i]!)).length} of ${names.length} cases (${path.dirname(labelFiles[0]!)}/; the synthetic world writes them).`,
    );
  if (o.lpips) notes.push(`LPIPS: the ${o.lpips.net} network from ${o.lpips.files.join(' and ')}.`);
  if (o.fvd) notes.push(`FVD: the I3D of ${o.fvd.file}.`);
  const set = new SetScores(METHODS, scorer, o.lpips, o.fvd);
  const shifted: string[] = [];
  for (const [index, name] of names.entries()) {
    const time = await predictionTime(predictions.get(name)!);
    const truth = await framesAt(truths.get(name)!, o.frames, undefined, undefined, undefined, time);
    if (time && truth.source.kind === 'video' && (time.start > 0 || truth.source.fps !== time.fps)) shifted.push(name);
    if (truth.frames.length < o.frames)
      throw new FileFormatError(`${truths.get(name)}: has ${truth.frames.length} frames, ${o.frames} are compared`);
    size ??= { width: truth.width, height: truth.height, frames: o.frames };
    const { width, height } = truth;
    if (width !== size.width || height !== size.height)
      throw new FileFormatError(
        `${truths.get(name)}: ${width}x${height}, the first case's ground truth is ${size.width}x${size.height}`,
      );
    if (o.meanFrame && o.meanFrame.length !== width * height * 3)
      throw new OptionError(
        'meanFrame',
        `the mean frame has ${o.meanFrame.length} bytes, the ground truth of ${name} is ${width}x${height} (${width * height * 3} bytes of RGB)`,
      );
    const prediction = await framesAt(predictions.get(name)!, o.frames, width, height, (w, h) =>
      refitted.push({ name, width: w, height: h }),
    );
    if (prediction.frames.length < o.frames)
      throw new FileFormatError(
        `${predictions.get(name)}: has ${prediction.frames.length} frames, ${o.frames} are compared`,
      );
    const input = await framesAt(inputs.get(name)!, o.frames, width, height, undefined, time);
    const trueMaps = withContent ? readLabelStrip(labelFiles[index]!, { width, height, frames: o.frames }) : undefined;
    const result = set.addCase(
      {
        model: prediction.frames,
        copyInput: input.frames,
        meanFrame: o.meanFrame ? truth.frames.map(() => o.meanFrame!) : undefined,
        blurredTruth: truth.frames.map((f) => gaussianBlurRgb(f, width, height, CALIBRATION_BLUR_SIGMA)),
        truth: truth.frames,
      },
      truth,
      trueMaps,
    );
    cases.push({
      case: name,
      prediction: predictions.get(name)!,
      groundTruth: truths.get(name)!,
      input: inputs.get(name)!,
      model: result.model!,
      copyInput: result.copyInput!,
      meanFrame: result.meanFrame,
      blurredTruth: result.blurredTruth!,
      truth: result.truth!,
    });
    o.onProgress?.(index + 1, names.length);
  }
  const listed = (items: readonly string[]): string =>
    `${items.slice(0, 3).join(', ')}${items.length > 3 ? ', …' : ''}`;
  if (refitted.length) {
    const cropped = refitted.some((r) => r.width * size!.height !== r.height * size!.width);
    notes.push(
      `${refitted.length} of ${names.length} predictions are not ${size!.width}x${size!.height}: scaled to cover it and centre-cropped${cropped ? ', cutting off what their other aspect ratio shows' : ''} (${listed(refitted.map((r) => `${r.name} ${r.width}x${r.height}`))}).`,
    );
  }
  if (shifted.length)
    notes.push(
      `${shifted.length} of ${names.length} ground truths (and inputs) were taken at the instants of their prediction's frames (the window infer recorded in run.json, or the prediction's own frame rate), not frame for frame (${listed(shifted)}).`,
    );
  const unmatchedPredictions = [...predictions.keys()].filter((n) => !names.includes(n));
  const unscored = [...truths.keys()].filter((n) => !names.includes(n));
  if (unmatchedPredictions.length || unscored.length)
    notes.push(
      `Scored ${names.length} case(s), a subset: ${unscored.length} ground-truth case(s) have no prediction${unscored.length ? ` (${listed(unscored)})` : ''}, ${unmatchedPredictions.length} prediction(s) match no case${unmatchedPredictions.length ? ` (${listed(unmatchedPredictions)})` : ''}.`,
    );
  if ((scorer || o.fvd) && names.length < 2)
    notes.push(
      'The Fréchet distance and FVD need at least two cases (a distribution of one clip says little): not computed.',
    );
  return {
    task: o.task,
    ...size!,
    cases,
    overall: {
      model: set.overall('model')!,
      copyInput: set.overall('copyInput')!,
      meanFrame: set.overall('meanFrame'),
      blurredTruth: set.overall('blurredTruth')!,
      truth: set.overall('truth')!,
    },
    definitions: METRIC_DEFINITIONS,
    perception: scorer ? { dir: scorer.where, classNames: [...scorer.classNames] } : undefined,
    notes,
    unmatched: {
      predictions: [...predictions.keys()].filter((n) => !truths.has(n)),
      groundTruth: [...truths.keys()].filter((n) => !predictions.has(n)),
    },
  };
}
