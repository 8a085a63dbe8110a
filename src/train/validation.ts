// Validation during training: the validation cases (the config's `validation.cases`, else the
// first held-out clip) sampled through the pipeline with the model being trained, written with
// their ground truth as side-by-side videos under OUTPUT/validation/step-N/<case>/, and their PSNR
// appended to OUTPUT/validation.jsonl. Step 0 gives the sanity-check sample the release writes.
import { appendFileSync } from 'node:fs';
import path from 'node:path';

import { coverFit, readFrames } from '../data/frames.js';
import type { Clip } from '../data/triplets.js';
import { mean, videoPsnr } from '../eval/metrics.js';
import type { AutoencoderKLWan } from '../models/wan/vae.js';
import type { WanTransformer3DModel } from '../models/wan/transformer.js';
import type { WorldWanderConfig } from '../worldwander/config.js';
import { writeCase } from '../worldwander/outputs.js';
import { WorldWanderPipeline } from '../worldwander/pipeline.js';
import type { WorldWanderTask } from '../worldwander/prompts.js';

export interface ValidationContext {
  config: WorldWanderConfig;
  task: WorldWanderTask;
  modelDir: string;
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

export async function runValidation(v: ValidationContext): Promise<{ case: string; psnr: number; dir: string }[]> {
  const { config, task } = v;
  const names = config.validation?.cases ?? (config.dataset.held_out?.length ? [config.dataset.held_out[0]!] : []);
  if (names.length === 0) return [];
  const d = config.dataset;
  const pipeline = WorldWanderPipeline.fromModels(v.modelDir, v.model, v.vae);
  const results: { case: string; psnr: number; dir: string }[] = [];
  v.model.eval();
  try {
    for (const name of names) {
      const clip = v.all.find((c) => c.name === name);
      if (!clip) throw new Error(`validation case '${name}' is not a clip of the dataset`);
      const [condition, truthVideo] = task === 'three2one' ? [clip.third, clip.first] : [clip.first, clip.third];
      const translation = await pipeline.translate(task, {
        video: condition, referenceImage: clip.reference, height: d.height, width: d.width, numFrames: d.sample_n_frames,
        numInferenceSteps: config.validation?.num_inference_steps ?? config.sampling?.num_inference_steps,
        guidanceScale: config.validation?.guidance_scale ?? config.sampling?.guidance_scale, flowShift: config.sampling?.flow_shift,
        sampler: config.sampling?.sampler, seed: 1234, useCollaborativePositionEncoding: config.use_collaborative_position_encoding, signal: v.signal,
      });
      const truth = await readFrames(truthVideo, { maxFrames: d.sample_n_frames });
      const fitted = await Promise.all(truth.frames.map(async (data) => (await coverFit({ width: truth.width, height: truth.height, data }, d.width, d.height)).data));
      const psnr = mean(videoPsnr(translation.frames, fitted));
      const dir = path.join(v.output, 'validation', `step-${v.step}`, `${name}${v.suffix ?? ''}`);
      const s = translation.settings;
      await writeCase(dir, translation, {
        case: name, task, model: v.modelDir, lora: null, input: condition, reference: clip.reference, groundTruth: truthVideo,
        width: translation.width, height: translation.height, frames: translation.frames.length, fps: d.fps,
        seed: s.seed, steps: s.steps, guidance_scale: s.guidanceScale, flow_shift: s.flowShift, negative_prompt: s.negativePrompt,
        use_collaborative_position_encoding: s.useCollaborativePositionEncoding, sampler: s.sampler, notes: translation.notes, seconds: translation.timings,
      }, truth);
      appendFileSync(path.join(v.output, 'validation.jsonl'), `${JSON.stringify({ step: v.step, case: name, task, psnr: Number(psnr.toFixed(3)) })}\n`);
      results.push({ case: `${name}${v.suffix ?? ''}`, psnr, dir });
    }
  } finally {
    v.model.train();
  }
  return results;
}
