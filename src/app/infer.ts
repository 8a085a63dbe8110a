// `worldwander infer`: the release's inference, run from one of its configs. The task comes from
// `dataset.is_one2three`, CPE from `use_collaborative_position_encoding`, the model from the
// config's `model_id` or an explicit one (a local folder, or a Hub repository: model_hub.ts),
// sizes from the config's dataset section. Every case is translated and written to
// OUTPUT/<case>/ (outputs.ts).
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

import { OptionError } from '../errors.js';
import { checkOutputFolder } from '../io/output_path.js';
import { readVideoWindow, startInFolder } from '../data/video_reader.js';
import type { DType } from '../torch/index.js';
import type { SamplerName } from '../diffusion/index.js';
import { findCases, type Case } from './cases.js';
import { loadConfig, taskOf } from '../worldwander/config.js';
import { writeCase, type CaseRecord, type WrittenTranslation } from '../worldwander/outputs.js';
import { readClip, translateWholeClip } from '../worldwander/whole_clip.js';
import type { RgbVideo } from '../data/frames.js';
import { WorldWanderPipeline } from '../worldwander/pipeline.js';
import { defaultVaeDtype, type OffloadMode } from '../worldwander/pipeline_parts.js';
import type { GuidanceMode } from '../worldwander/denoise.js';
import { compression } from '../models/wan/vae_config.js';
import { locateModel, modelFiles, promptCacheDirOf } from '../worldwander/model_folder.js';
import { ensureHubFile, ensureModelDir } from '../worldwander/model_hub.js';
import type { HubProgress } from '../io/hub_download.js';
import { vaeConfigOf } from '../worldwander/model_parts.js';
import { describeWeightsFile } from '../worldwander/model_convert.js';

export interface InferOptions {
  config: string;
  /** Config overrides, key.path=value. */
  overrides?: string[];
  /** LoRA (.ckpt or .safetensors) for a use_lora config; optional (the base model alone otherwise). */
  ckpt?: string;
  /** A transformer weights file in any layout (a ComfyUI single file, fp8 included) instead of the model folder's. */
  transformer?: string;
  /**
   * A VAE weights file in any layout (Wan2.2_VAE.pth, ComfyUI's) instead of the model folder's, and
   * a config.json for it.
   */
  vae?: string;
  vaeConfig?: string;
  /** A text-encoder weights file in any layout instead of the model folder's (used only for prompts not cached). */
  textEncoder?: string;
  input: string;
  ref?: string;
  groundTruth?: string | true;
  output: string;
  modelDir?: string;
  steps?: number;
  guidance?: number;
  seed?: number;
  height?: number;
  width?: number;
  frames?: number;
  /** Seconds into each video where its window starts (default 0); frames folders start at their first file. */
  start?: number;
  /** Hold a video's last frame where it ends before the window does (else the case is refused, naming its length). */
  pad?: boolean;
  /** Translate every window of each video back to back, into one output as long as the clip (from `start`). */
  whole?: boolean;
  dtype?: DType;
  /** 'fp8': the transformer's block weights kept in float8 (quantised on load, or as an fp8 file stores them). */
  weightsDtype?: 'fp8';
  /** The VAE's dtype; default bfloat16 on a CPU with bf16 instructions, else float32 (the release's). */
  vaeDtype?: DType;
  /** What stays in memory between stages (pipeline_parts.ts); default 'auto'. */
  offload?: OffloadMode | 'auto';
  device?: string;
  sampler?: SamplerName;
  guidanceMode?: GuidanceMode;
  overwrite?: boolean;
  signal?: AbortSignal;
  /** Progress: loading, then per case and per step. */
  onEvent?: (event: InferEvent) => void;
}

export type InferEvent =
  | { kind: 'download'; progress: HubProgress }
  | { kind: 'loading'; part: string; done: number; total: number }
  | { kind: 'case'; index: number; cases: number; name: string }
  | { kind: 'window'; index: number; windows: number }
  | { kind: 'step'; done: number; total: number }
  | { kind: 'note'; text: string }
  | { kind: 'written'; record: CaseRecord; dir: string };

export interface InferResult {
  output: string;
  records: CaseRecord[];
}

export async function infer(o: InferOptions): Promise<InferResult> {
  const config = loadConfig(o.config, o.overrides ?? []);
  const task = taskOf(config);
  const weightFiles = { transformer: o.transformer, vae: o.vae, vaeConfig: o.vaeConfig, textEncoder: o.textEncoder };
  const model = locateModel(config, o.config, o.modelDir, weightFiles);
  const cases = findCases({ task, input: o.input, ref: o.ref, groundTruth: o.groundTruth });
  const folder = o.start ? cases.find((c) => statSync(c.video).isDirectory()) : undefined;
  if (folder) throw startInFolder(folder.video);
  if (o.whole && o.pad)
    throw new OptionError('pad', 'goes with one window; {whole} pads the last window of a clip itself');
  // The output is checked before anything loads: a folder of an earlier run is kept unless asked.
  checkOutputFolder(o.output, 'output', {
    inputs: [
      o.input,
      o.ref,
      typeof o.groundTruth === 'string' ? o.groundTruth : undefined,
      model.dir ?? undefined,
      o.ckpt,
      o.transformer,
      o.vae,
      o.textEncoder,
    ],
  });
  if (existsSync(o.output) && readdirSync(o.output).length > 0 && !o.overwrite)
    throw new OptionError('output', `${o.output} exists and is not empty; pass {overwrite} to replace the cases there`);
  // a Hub repository (or hf:// LoRA) not in the Hugging Face cache is downloaded into it now
  const onProgress = (progress: HubProgress): void => o.onEvent?.({ kind: 'download', progress });
  const modelDir = await ensureModelDir(model, { onProgress, signal: o.signal });
  const lora = o.ckpt && (await ensureHubFile(o.ckpt, { onProgress, signal: o.signal }));
  const files = modelFiles(modelDir, weightFiles);
  if (files.layout === 'original')
    o.onEvent?.({ kind: 'note', text: `${modelDir}: the original Wan release's folder layout` });
  for (const file of [o.transformer, o.vae, o.textEncoder])
    if (file) o.onEvent?.({ kind: 'note', text: describeWeightsFile(file) });
  const { temporal } = compression(vaeConfigOf(files.vae));
  const frames = o.frames ?? config.dataset.sample_n_frames;
  if (!Number.isInteger(frames) || frames < 1 || (frames - 1) % temporal)
    throw new OptionError(
      'numFrames',
      `must be ${temporal}k+1 (1, ${1 + temporal}, ${1 + 2 * temporal}, …: the VAE's ${temporal}x temporal compression), got ${frames}`,
    );
  if (config.use_lora && !o.ckpt)
    o.onEvent?.({
      kind: 'note',
      text: `the config fine-tunes with LoRA, and no --ckpt is given: translating with the base model alone`,
    });

  using pipeline = WorldWanderPipeline.fromPretrained(modelDir, {
    lora,
    promptCacheDir: promptCacheDirOf(modelDir),
    transformerFile: o.transformer,
    vaeFile: o.vae,
    vaeConfig: o.vaeConfig,
    textEncoderFile: o.textEncoder,
    dtype: o.dtype,
    weightsDtype: o.weightsDtype,
    vaeDtype: o.vaeDtype ?? defaultVaeDtype(o.device ?? 'cpu'),
    offload: o.offload ?? 'auto',
    device: o.device,
    onProgress: (part, done, total) => o.onEvent?.({ kind: 'loading', part, done, total }),
  });
  const records: CaseRecord[] = [];
  const fps = config.dataset.fps;
  const height = o.height ?? config.dataset.height,
    width = o.width ?? config.dataset.width,
    numFrames = o.frames ?? config.dataset.sample_n_frames;
  const sampling = config.sampling;
  for (const [index, c] of cases.entries()) {
    o.onEvent?.({ kind: 'case', index, cases: cases.length, name: c.name });
    const common = {
      referenceImage: c.reference,
      height,
      width,
      numFrames,
      fps,
      numInferenceSteps: o.steps ?? sampling?.num_inference_steps,
      guidanceScale: o.guidance ?? sampling?.guidance_scale,
      flowShift: sampling?.flow_shift,
      seed: o.seed ?? 1234,
      sampler: o.sampler ?? sampling?.sampler,
      guidance: o.guidanceMode,
      useCollaborativePositionEncoding: config.use_collaborative_position_encoding,
      signal: o.signal,
    };
    let translation: WrittenTranslation;
    let truth: RgbVideo | undefined;
    let time: CaseRecord['window'];
    if (o.whole) {
      const whole = await translateWholeClip(pipeline, task, {
        ...common,
        video: c.video,
        start: o.start,
        onStep: (window, windows, done, total) => {
          if (done === 1) o.onEvent?.({ kind: 'window', index: window, windows });
          o.onEvent?.({ kind: 'step', done, total });
        },
      });
      translation = whole;
      time = whole.time ?? undefined;
      // the other view over the same seconds (its last frame held where it ends first)
      if (c.groundTruth) {
        const other = await readClip(c.groundTruth, { numFrames, fps, width, height, start: o.start });
        truth = {
          width,
          height,
          frames: whole.frames.map((_, i) => other.frames[Math.min(i, other.frames.length - 1)]!),
        };
        if (other.length < whole.frames.length)
          translation.notes.push(
            `ground truth: ${other.length} frame(s), its last held for the last ${whole.frames.length - other.length}`,
          );
      }
    } else {
      const one = await pipeline.translate(task, {
        ...common,
        video: c.video,
        start: o.start,
        pad: o.pad,
        onStep: (done, total) => o.onEvent?.({ kind: 'step', done, total }),
      });
      translation = one;
      time = one.window?.time ?? undefined;
      // The ground truth is the other view of the same moment: the same window of it (its last
      // frame held where it is shorter, as the side-by-side video always did, and said).
      const window = c.groundTruth
        ? await readVideoWindow(c.groundTruth, { numFrames, start: o.start, fps, width, height, pad: true })
        : undefined;
      if (window?.padded) translation.notes.push(`ground truth: ${window.description}`);
      truth = window;
    }
    for (const text of translation.notes) o.onEvent?.({ kind: 'note', text });
    const dir = path.join(o.output, c.name);
    const record = await writeCase(
      dir,
      translation,
      {
        case: c.name,
        task,
        model: modelDir,
        lora: o.ckpt ?? null,
        input: c.video,
        window: time,
        reference: c.reference,
        groundTruth: c.groundTruth,
        fps,
      },
      truth,
    );
    records.push(record);
    o.onEvent?.({ kind: 'written', record, dir });
  }
  return { output: o.output, records };
}

export type { Case };
