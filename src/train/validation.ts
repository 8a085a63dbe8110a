// Validation during training: the validation cases (the config's `validation.cases`, else the
// first held-out clip) sampled through the pipeline with the model being trained, written with
// their ground truth as side-by-side videos under OUTPUT/validation/step-N/<case>/, and their PSNR
// appended to OUTPUT/validation.jsonl with the blur-aware scores (sharpness, edge agreement and,
// where the model folder has a PerceptionNet, the perceptual distance: src/eval). Step 0 gives the sanity-check sample the release writes.
import { existsSync } from 'node:fs';
import path from 'node:path';

import { readVideoWindow } from '../data/video_reader.js';
import type { Clip } from '../data/triplets.js';
import { mean, videoPsnr } from '../eval/metrics.js';
import { PerceptualScorer, perceptualDistances } from '../eval/perceptual.js';
import { videoEdgeAgreement, videoSharpness } from '../eval/sharpness.js';
import type { AutoencoderKLWan } from '../models/wan/vae.js';
import type { WanTransformer3DModel } from '../models/wan/transformer.js';
import { ConfigError, type WorldWanderConfig } from '../worldwander/config.js';
import { writeCase } from '../worldwander/outputs.js';
import { WorldWanderPipeline } from '../worldwander/pipeline.js';
import type { TextEncoderFiles } from '../models/umt5/prompt_cache.js';
import { TASK_VIEWS, type WorldWanderTask } from '../worldwander/prompts.js';
import { appendLog } from './loop.js';

export interface ValidationContext {
  config: WorldWanderConfig;
  task: WorldWanderTask;
  modelDir: string;
  text: TextEncoderFiles;
  model: WanTransformer3DModel;
  vae: AutoencoderKLWan;
  root: (p: string) => string;
  all: readonly Clip[];
  clips: readonly Clip[];
  step: number;
  output: string;
  signal?: AbortSignal;
  /** Appended to case folder names (a run of both tasks writes each). */
  suffix?: string;
}

export interface ValidationResult {
  case: string;
  psnr: number;
  sharpness: number;
  edges: number;
  /** Where the model folder has a PerceptionNet (perception/). */
  perceptual?: number;
  dir: string;
}

function perceptualDistance(
  scorer: PerceptualScorer,
  a: readonly Uint8Array[],
  b: readonly Uint8Array[],
  width: number,
  height: number,
): number {
  using pa = scorer.perceive(a, width, height);
  using pb = scorer.perceive(b, width, height);
  return mean(perceptualDistances(pa, pb));
}

/**
 * The cases validation translates (`validation.cases`, else the first held-out one); an error
 * naming any that is not a clip of the dataset.
 */
export function validationCases(config: WorldWanderConfig, all: readonly Clip[], where: string): string[] {
  const names = config.validation?.cases ?? (config.dataset.held_out?.length ? [config.dataset.held_out[0]!] : []);
  const known = new Set(all.map((c) => c.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length)
    throw new ConfigError(
      `${where}: validation case(s) ${unknown.map((n) => `'${n}'`).join(', ')} are not clips of the dataset (it has ${all
        .slice(0, 3)
        .map((c) => c.name)
        .join(', ')}${all.length > 3 ? ', …' : ''})`,
    );
  return names;
}

export async function runValidation(v: ValidationContext): Promise<ValidationResult[]> {
  const { config, task } = v;
  const names = validationCases(config, v.all, 'validation.cases');
  if (names.length === 0) return [];
  const d = config.dataset;
  const pipeline = WorldWanderPipeline.fromModels(v.modelDir, v.model, v.vae, { text: v.text });
  const results: ValidationResult[] = [];
  const perceptionDir = path.join(v.modelDir, 'perception');
  using scorer = existsSync(path.join(perceptionDir, 'config.json')) ? PerceptualScorer.load(perceptionDir) : undefined;
  v.model.eval();
  try {
    for (const name of names) {
      const clip = v.all.find((c) => c.name === name)!;
      const [condition, truthVideo] = [clip[TASK_VIEWS[task].input], clip[TASK_VIEWS[task].target]];
      const translation = await pipeline.translate(task, {
        video: condition,
        referenceImage: clip.reference,
        height: d.height,
        width: d.width,
        numFrames: d.sample_n_frames,
        fps: d.fps,
        numInferenceSteps: config.validation?.num_inference_steps ?? config.sampling?.num_inference_steps,
        guidanceScale: config.validation?.guidance_scale ?? config.sampling?.guidance_scale,
        flowShift: config.sampling?.flow_shift,
        sampler: config.sampling?.sampler,
        seed: 1234,
        useCollaborativePositionEncoding: config.use_collaborative_position_encoding,
        signal: v.signal,
      });
      // The same window of the other view (its last frame held where it is shorter).
      const truth = await readVideoWindow(truthVideo, {
        numFrames: d.sample_n_frames,
        fps: d.fps,
        width: d.width,
        height: d.height,
        pad: true,
      });
      const fitted = truth.frames;
      const psnr = mean(videoPsnr(translation.frames, fitted));
      const sharpness = videoSharpness(translation.frames, fitted, d.width, d.height);
      const edges = mean(videoEdgeAgreement(translation.frames, fitted, d.width, d.height));
      const perceptual = scorer ? perceptualDistance(scorer, translation.frames, fitted, d.width, d.height) : undefined;
      const dir = path.join(v.output, 'validation', `step-${v.step}`, `${name}${v.suffix ?? ''}`);
      await writeCase(
        dir,
        translation,
        {
          case: name,
          task,
          model: v.modelDir,
          lora: null,
          input: condition,
          reference: clip.reference,
          groundTruth: truthVideo,
          fps: d.fps,
        },
        truth,
      );
      const round = (x: number | undefined, digits: number): number | undefined =>
        x === undefined ? undefined : Number(x.toFixed(digits));
      appendLog(path.join(v.output, 'validation.jsonl'), {
        step: v.step,
        case: name,
        task,
        psnr: round(psnr, 3),
        sharpness: round(sharpness, 3),
        edges: round(edges, 4),
        perceptual: round(perceptual, 4),
      });
      results.push({ case: `${name}${v.suffix ?? ''}`, psnr, sharpness, edges, perceptual, dir });
    }
  } finally {
    v.model.train();
  }
  return results;
}
