// `worldwander train`: the release's fine-tuning, from one of its configs: LoRA on the
// transformer (or, with `use_lora: False`, every weight), AdamW as the release sets it, gradient
// accumulation, clipping, bf16 autocast, gradient checkpointing, validation samples; data parallel
// over a process group when one is given (one rank per process: gradients all-reduced, rank 0
// writes). The loop (resume, schedule, metrics, checkpoints, stops) is loop.ts's; this file is the
// set-up and the step. The step is the release's flow-matching objective on the in-context inputs
// of sampling: per sample, the target view's clean latents x0, noise ε and a timestep t of the
// training schedule (noise level σ, weight w), x_t = (1 − σ)·x0 + σ·ε, and over the batch
//   loss = mean over samples of w(t) · mean((v_θ(x_t | condition, t, prompt) − (ε − x0))²)
// divided by the micro-batches accumulated into one optimiser step.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { stringify as yamlStringify } from 'yaml';

import { OptionError, WorldWanderError } from '../errors.js';
import {
  Generator,
  autocast,
  cat,
  checkDevice,
  owned,
  randint,
  randn,
  rand,
  scope,
  stack,
  tensor,
  type Tensor,
} from '../torch/index.js';
import type { AutoencoderKLWan } from '../models/wan/vae.js';
import type { WanTransformer3DModel } from '../models/wan/transformer.js';
import { promptEmbeddings } from '../models/umt5/prompt_cache.js';
import { flowMatchingPair, trainingSchedule, weightedMse, type TrainingSchedule } from '../diffusion/index.js';
import { buildInContextInputs } from '../worldwander/in_context.js';
import { loadConfig, resolveConfigPath, taskOf, type WorldWanderConfig } from '../worldwander/config.js';
import { modelFiles, promptCacheDirOf, resolveModelDir, type ModelFiles } from '../worldwander/model_folder.js';
import { loadTransformer, loadVae } from '../worldwander/model_parts.js';
import { readDefaults } from '../worldwander/model_defaults.js';
import { ALL_PROMPTS, type WorldWanderTask } from '../worldwander/prompts.js';
import { textStampOf } from '../worldwander/text_stamp.js';
import { checkDatasetReport, indexTriplets, type Clip } from '../data/triplets.js';
import { LatentCache, fillLatentCache, vaeIdentity } from '../data/latent_cache.js';
import { AdamW } from './adamw.js';
import { loadCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.js';
import {
  CachedLatents,
  DecodedLatents,
  SampleOrder,
  sampleSeed,
  type LatentBatch,
  type LatentSource,
  type SampleRef,
} from './data.js';
import { clipGradNorm } from './grad_norm.js';
import { openRun, runLoop, type StepOutcome } from './loop.js';
import { scaledLearningRate } from './schedule.js';
import { runValidation, validationCases } from './validation.js';
import { jsonText } from '../io/json_text.js';

/** The collective operations data parallel needs (src/train/distributed.ts gives one over c10d). */
export interface ProcessGroup {
  rank: number;
  worldSize: number;
  /** Sums each tensor across ranks in place, then divides by the world size. */
  allReduceMean(tensors: readonly Tensor[]): void;
  barrier(): void;
}

export interface TrainOptions {
  config: string;
  overrides?: string[];
  output: string;
  /** 'latest' or a checkpoint folder (OUTPUT/checkpoints/step-N). */
  resume?: string;
  seed?: number;
  modelDir?: string;
  /** Single weights files in place of the model folder's parts (any layout: model_folder.ts). */
  transformer?: string;
  vae?: string;
  vaeConfig?: string;
  textEncoder?: string;
  device?: string;
  group?: ProcessGroup | null;
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
}

export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  step_seconds: number;
  samples_per_second: number;
  data_wait_seconds: number;
  epoch: number;
  /** Resident memory of the process after the step (flat over a run, or something leaks). */
  rss_mib: number;
}

export type TrainEvent =
  | { kind: 'note'; text: string }
  | { kind: 'cache'; done: number; total: number }
  | { kind: 'start'; step: number; steps: number; clips: number }
  | { kind: 'step'; metrics: StepMetrics; steps: number }
  | { kind: 'checkpoint'; dir: string }
  | { kind: 'validation'; step: number; results: { case: string; psnr: number; dir: string }[] };

export interface TrainResult {
  output: string;
  steps: number;
  lastCheckpoint: string | null;
}

/** The task's layout of a batch: what is denoised, what conditions it. */
function taskViews(
  task: WorldWanderTask,
  batch: LatentBatch,
): { target: Tensor; condition: Tensor; ref: Tensor | null } {
  return task === 'three2one'
    ? { target: batch.first, condition: batch.third, ref: null }
    : { target: batch.third, condition: batch.first, ref: batch.reference };
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const config = loadConfig(o.config, o.overrides ?? []),
    t = config.training,
    d = config.dataset;
  const root = (p: string | undefined): string | undefined => (p ? resolveConfigPath(o.config, p) : undefined);
  const rank = o.group?.rank ?? 0;
  const modelDir = resolveModelDir(config, o.config, o.modelDir);
  const folder = {
    output: o.output,
    // --resume, else the config's training.resume_path (the release's key)
    resume: o.resume ?? root(t.resume_path ?? undefined),
    inputs: [
      root(d.first_video_root),
      root(d.third_video_root),
      root(d.ref_image_root ?? undefined),
      modelDir,
      o.transformer,
      o.vae,
      o.textEncoder,
    ],
    // rank 0 writes the folder, so it alone holds the folder's lock
    lead: rank === 0,
    onNote: (text: string) => o.onEvent?.({ kind: 'note', text }),
  };
  return openRun(folder, async (resumeFrom) => {
    const run = await setUp(o, config, modelDir, resumeFrom);
    try {
      o.onEvent?.({ kind: 'start', step: run.state.step, steps: t.max_steps, clips: run.clips.length });
      const { lastCheckpoint } = await runLoop({
        output: o.output,
        start: run.state.step,
        steps: t.max_steps,
        resumed: resumeFrom !== null,
        optimizer: run.optimizer,
        schedule: { base: run.baseLr, warmup: t.warmup_steps, decay: t.decay_steps ?? 0 },
        every: t.save_val_interval_steps,
        lead: run.lead,
        rank,
        signal: o.signal,
        step: (step) => flowMatchingStep(run, step),
        checkpoint: (step) => checkpoint(run, step),
        validate: (step) => validate(run, step),
        onStep: (metrics) => o.onEvent?.({ kind: 'step', metrics, steps: t.max_steps }),
      });
      return { output: o.output, steps: t.max_steps, lastCheckpoint };
    } finally {
      await closeRun(run);
    }
  });
}

/** What a run holds from set-up to its end: the config, the data, the models and the optimiser, where it stands. */
interface Run {
  o: TrainOptions;
  config: WorldWanderConfig;
  /** The tasks trained in turn (one, or both told apart by the prompt). */
  tasks: WorldWanderTask[];
  group: ProcessGroup | null;
  rank: number;
  worldSize: number;
  lead: boolean;
  modelDir: string;
  files: ModelFiles;
  root: (p: string) => string;
  all: Clip[];
  clips: Clip[];
  vae: AutoencoderKLWan;
  model: WanTransformer3DModel;
  trainable: [string, Tensor][];
  params: Tensor[];
  optimizer: AdamW;
  baseLr: number;
  /** The task prompts' embeddings and the empty prompt's (text dropout). */
  promptOf: Record<WorldWanderTask, Tensor>;
  empty: Tensor;
  embeds: Tensor[];
  source: LatentSource;
  order: SampleOrder;
  schedule: TrainingSchedule;
  state: TrainerState;
}

/**
 * Everything before the first step: the data (every clip but the held-out ones), the models with
 * LoRA or all weights trainable, the optimiser, the text embeddings, where latents come from, and
 * the state resumed.
 */
async function setUp(
  o: TrainOptions,
  config: WorldWanderConfig,
  modelDir: string,
  resumeFrom: string | null,
): Promise<Run> {
  const t = config.training,
    d = config.dataset;
  const task = taskOf(config);
  const tasks: WorldWanderTask[] = t.alternate_tasks ? ['three2one', 'one2three'] : [task];
  const withReference = tasks.includes('one2three');
  if (withReference && !d.ref_image_root)
    throw new OptionError(null, `${o.config}: training one2three needs dataset.ref_image_root`);
  const group = o.group ?? null;
  const rank = group?.rank ?? 0,
    worldSize = group?.worldSize ?? 1;
  const lead = rank === 0;
  const note = (text: string): void => {
    if (lead) o.onEvent?.({ kind: 'note', text });
  };
  const seed = o.seed ?? t.seed ?? 0;
  const device = checkDevice(o.device ?? 'cpu');
  const files = modelFiles(modelDir, {
    transformer: o.transformer,
    vae: o.vae,
    vaeConfig: o.vaeConfig,
    textEncoder: o.textEncoder,
  });
  const root = (p: string): string => resolveConfigPath(o.config, p);
  const { all, clips } = await trainingClips(o, config, withReference, lead, note);

  // The text side first (the task prompts and the empty one, for text dropout and guidance, from
  // the prompt cache): a cache miss runs the text encoder alone, released before the models load.
  const text = promptEmbeddings(files.text, ALL_PROMPTS, {
    cacheDir: promptCacheDirOf(modelDir),
    device,
    maxLength: readDefaults(modelDir).max_sequence_length,
    stamp: textStampOf(files.text, modelDir),
  });
  const embeds: Tensor[] = [text];

  // Models. A LoRA under bf16-mixed runs its frozen base in bfloat16 (as diffusers' LoRA trainers
  // cast it): autocast would round every Linear weight to it at each use anyway; the adapters and
  // AdamW stay float32. The 5B model's base is 10 GB so, not 20.
  const frozenBase = config.use_lora && t.precision === 'bf16-mixed';
  let vae: AutoencoderKLWan | null = null;
  let model: WanTransformer3DModel | null = null;
  let source: LatentSource | null = null;
  try {
    vae = loadVae(files.vae, { device });
    model = loadTransformer(files.transformer, { device, dtype: frozenBase ? 'bfloat16' : 'float32' });
    if (config.use_lora)
      model.attachLora({ rank: t.rank, alpha: t.lora_alpha ?? t.rank, generator: new Generator(seed) });
    else model.requiresGrad_(true);
    model.train();
    const trainable = model.trainableParameters();
    const params = trainable.map(([, p]) => p);
    const optimizer = new AdamW(params, {
      lr: scaledLearningRate(t.learning_rate, t.accumulate_grad_batches, worldSize),
      betas: [0.9, 0.95],
      eps: 1e-8,
      weightDecay: t.weight_decay,
    });

    const [prompt3to1, prompt1to3, empty] = text.chunk(3, 0) as [Tensor, Tensor, Tensor];
    embeds.push(prompt3to1, prompt1to3, empty);

    source = await latentSource(o, config, { vae, files, clips, withReference, lead, group, note });

    // Resume, or start at step 0.
    let state: TrainerState = {
      step: 0,
      epoch: 0,
      position: rank,
      generators: {},
      optimizerSteps: 0,
      lora: config.use_lora,
      seed,
      worldSize,
      config,
    };
    if (resumeFrom) {
      state = loadCheckpoint(resumeFrom, { model, trainable, optimizer });
      if (state.worldSize !== worldSize)
        throw new OptionError(
          'resume',
          `${resumeFrom} was written by a run of ${state.worldSize} process(es); resume it with as many`,
        );
      note(`resumed from ${resumeFrom} at step ${state.step}`);
    }
    const latents = source;
    const order = new SampleOrder(
      clips,
      seed,
      rank,
      worldSize,
      (clip, choice) => latents.start(clip, choice),
      state.epoch,
      resumeFrom ? state.position : rank,
    );
    if (lead) writeFileSync(path.join(o.output, 'config.yaml'), yamlStringify(config));
    return {
      o,
      config,
      tasks,
      group,
      rank,
      worldSize,
      lead,
      modelDir,
      files,
      root,
      all,
      clips,
      vae,
      model,
      trainable,
      params,
      optimizer,
      baseLr: optimizer.lr,
      promptOf: { three2one: prompt3to1, one2three: prompt1to3 },
      empty,
      embeds,
      source,
      order,
      schedule: trainingSchedule(t.flow_shift ?? 5, 1000, t.loss_weighting ?? 'bell'),
      state,
    };
  } catch (error) {
    await source?.close();
    for (const e of embeds) e.dispose();
    model?.dispose();
    vae?.dispose();
    throw error;
  }
}

/** Every clip of the layout but the held-out ones, checked and reported (dataset_report.json); `all` with them. */
async function trainingClips(
  o: TrainOptions,
  config: WorldWanderConfig,
  withReference: boolean,
  lead: boolean,
  note: (text: string) => void,
): Promise<{ all: Clip[]; clips: Clip[] }> {
  const d = config.dataset;
  const root = (p: string): string => resolveConfigPath(o.config, p);
  const { clips: all, report } = await indexTriplets(
    {
      first: root(d.first_video_root),
      third: root(d.third_video_root),
      reference: d.ref_image_root ? root(d.ref_image_root) : null,
    },
    { sampleFrames: d.sample_n_frames, stride: d.stride, needReference: withReference },
  );
  const heldOut = new Set(d.held_out ?? []);
  const clips = all.filter((c) => !heldOut.has(c.name));
  checkDatasetReport(report, {
    skipInvalid: d.skip_invalid ?? false,
    option: 'dataset.skip_invalid',
    where: `${o.config}: the dataset (${d.first_video_root}, ${d.third_video_root})`,
    note,
  });
  if (lead) validationCases(config, all, `${o.config}: validation.cases`); // named now, not at the first validation hours later
  if (clips.length === 0)
    throw new WorldWanderError(
      `${d.third_video_root}: no usable training clip (${all.length} found, ${heldOut.size} held out)`,
    );
  if (lead)
    writeFileSync(
      path.join(o.output, 'dataset_report.json'),
      jsonText({ clips: clips.length, heldOut: [...heldOut], ...report }, 2),
    );
  return { all, clips };
}

/** Where latents come from: the latent cache (rank 0 fills what it lacks first) or the VAE on decoded windows. */
async function latentSource(
  o: TrainOptions,
  config: WorldWanderConfig,
  c: {
    vae: AutoencoderKLWan;
    files: ModelFiles;
    clips: Clip[];
    withReference: boolean;
    lead: boolean;
    group: ProcessGroup | null;
    note: (text: string) => void;
  },
): Promise<LatentSource> {
  const d = config.dataset;
  const spec = {
    frames: d.sample_n_frames,
    stride: d.stride,
    transform: { height: d.height, width: d.width, resizeLong: d.resize_long },
  };
  if (!d.latent_cache)
    return new DecodedLatents(c.vae, spec, c.withReference, d.num_workers > 0 ? Math.min(d.num_workers, 4) : undefined);
  const cache = new LatentCache(resolveConfigPath(o.config, d.latent_cache));
  const vaeId = vaeIdentity(c.files.vae.weights, c.files.vae.config);
  const windows = d.cached_windows ?? 1;
  c.note(
    `latent cache ${cache.dir}: ${windows} cached window(s) per clip; a clip's window is a random choice among them (not any start, as the release draws)`,
  );
  if (c.lead) {
    const filled = await fillLatentCache(cache, c.vae, c.clips, {
      ...spec,
      windows,
      withReference: c.withReference,
      vaeId,
      onProgress: (done, total) => o.onEvent?.({ kind: 'cache', done, total }),
    });
    if (filled.written) c.note(`latent cache: ${filled.written} entries encoded, ${filled.found} found`);
  }
  c.group?.barrier();
  return new CachedLatents(cache, { ...spec, windows, vaeId }, c.withReference);
}

/**
 * The forward and backward of one optimiser step: `accumulate_grad_batches` micro-batches of the
 * step's task, the flow-matching loss of each (the header's), the gradients averaged over the
 * ranks and clipped; loop.ts checks them and takes AdamW's step.
 */
async function flowMatchingStep(run: Run, step: number): Promise<StepOutcome<StepMetrics>> {
  const { config, model, order, params, group, source } = run;
  const t = config.training;
  const accumulation = t.accumulate_grad_batches;
  const waitedBefore = source.waited;
  let loss = 0;
  const names: string[] = [];
  const task = run.tasks[step % run.tasks.length]!;
  const prompt = run.promptOf[task];
  for (let micro = 0; micro < accumulation; micro++) {
    const samples = order.take(t.batch_size);
    source.prefetch(order.peek(t.batch_size * 2));
    const batch = await source.batch(samples);
    using _batchTensors = owned([batch.first, batch.third, batch.reference]);
    names.push(...batch.names);
    loss += scope(() => {
      const { target: x0, condition, ref } = taskViews(task, batch);
      const draws = sampleDraws(samples, run.schedule, x0.shape.slice(1), config.use_drop_text);
      const { noisy, target: velocity } = flowMatchingPair(x0, draws.noise, draws.sigmas.view(-1, 1, 1, 1, 1));
      const inputs = buildInContextInputs({
        target: noisy,
        condition,
        ref,
        timestep: draws.timesteps,
        encoderHiddenStates: cat(
          draws.dropped.map((drop) => (drop ? run.empty : prompt)),
          0,
        ),
        useCollaborativePositionEncoding: config.use_collaborative_position_encoding,
        patchSize: model.config.patch_size,
      });
      const lossOf = (pred: Tensor): Tensor => weightedMse(pred, velocity, draws.weights).div(accumulation);
      const forwardBackward = (): number =>
        model.forwardBackward(inputs, lossOf, { checkpoint: t.gradient_checkpointing });
      return t.precision === 'bf16-mixed' ? autocast('bfloat16', forwardBackward) : forwardBackward();
    });
  }
  if (group) {
    scope(() => group.allReduceMean(params.map((p) => p.grad).filter((g): g is Tensor => g !== null)));
    // the logged loss is the mean over every rank's samples, as the gradient is
    loss = scope(() => {
      const value = tensor([loss], { dtype: 'float64' });
      group.allReduceMean([value]);
      return value.item();
    });
  }
  const gradNorm = clipGradNorm(params, t.gradient_clip_val);
  return {
    loss,
    gradNorm,
    samples: names,
    metrics: (lr, seconds) => ({
      step: step + 1,
      loss,
      lr,
      grad_norm: gradNorm,
      step_seconds: Number(seconds.toFixed(4)),
      samples_per_second: Number(((t.batch_size * accumulation * run.worldSize) / seconds).toFixed(3)),
      data_wait_seconds: Number((source.waited - waitedBefore).toFixed(4)),
      epoch: order.epoch,
      rss_mib: Math.round(process.memoryUsage.rss() / 2 ** 20),
    }),
  };
}

/** Rank 0 writes a checkpoint of where the run stands after `step` steps; returns its folder. */
async function checkpoint(run: Run, step: number): Promise<string | null> {
  if (!run.lead) return null;
  const { model, trainable, optimizer, order, o } = run;
  const dir = await saveCheckpoint(o.output, {
    model,
    trainable,
    optimizer,
    keep: run.config.training.keep_last_checkpoints ?? 3,
    state: {
      ...run.state,
      step,
      epoch: order.epoch,
      position: order.position,
      optimizerSteps: optimizer.stepCount,
    },
  });
  o.onEvent?.({ kind: 'checkpoint', dir });
  return dir;
}

/** Rank 0 samples the validation cases of each task with the weights as they are. */
async function validate(run: Run, step: number): Promise<void> {
  if (!run.lead) return;
  const { o, tasks } = run;
  for (const each of tasks) {
    const results = await runValidation({
      config: run.config,
      task: each,
      modelDir: run.modelDir,
      text: run.files.text,
      model: run.model,
      vae: run.vae,
      root: run.root,
      all: run.all,
      clips: run.clips,
      step,
      output: o.output,
      signal: o.signal,
      suffix: tasks.length > 1 ? `-${each}` : '',
    });
    if (results.length) o.onEvent?.({ kind: 'validation', step, results });
  }
}

async function closeRun(run: Run): Promise<void> {
  await run.source.close();
  for (const e of run.embeds) e.dispose();
  run.model.dispose();
  run.vae.dispose();
}

/** Per sample, from its name alone: timestep index (uniform), noise, and text dropout (p = 0.1). */
function sampleDraws(
  samples: readonly SampleRef[],
  schedule: ReturnType<typeof trainingSchedule>,
  shape: readonly number[],
  dropText: boolean,
): { noise: Tensor; sigmas: Tensor; timesteps: Tensor; weights: Tensor; dropped: boolean[] } {
  const picks = samples.map((s) => {
    const generator = new Generator(sampleSeed(s.key, 'noise'));
    const k = scope(() => randint(0, schedule.sigmas.length, [1], generator).item());
    const noise = randn(shape, generator);
    const drop = dropText && scope(() => rand([1], generator).item()) < 0.1;
    return { k, noise, drop };
  });
  return {
    noise: stack(
      picks.map((p) => p.noise),
      0,
    ),
    sigmas: tensor(picks.map((p) => schedule.sigmas[p.k]!)),
    timesteps: tensor(picks.map((p) => schedule.timesteps[p.k]!)),
    weights: tensor(picks.map((p) => schedule.weights[p.k]!)),
    dropped: picks.map((p) => p.drop),
  };
}

export type { Clip, WorldWanderConfig };
