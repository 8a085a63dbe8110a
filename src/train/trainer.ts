// `worldwander train`: the release's fine-tuning, from one of its configs. LoRA on the
// transformer (or, with `use_lora: False`, every weight), the flow-matching objective with the
// in-context inputs of sampling, AdamW as the release sets it, gradient accumulation, clipping,
// bf16 autocast, gradient checkpointing; checkpoints that resume bit for bit, validation samples,
// metrics.jsonl, progress. Data parallel over a process group when one is given (one rank per
// process: gradients all-reduced, rank 0 writes).
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { stringify as yamlStringify } from 'yaml';

import { OptionError, Stopped, WorldWanderError } from '../errors.js';
import {
  Generator,
  autocast,
  cat,
  checkDevice,
  keep,
  owned,
  randint,
  randn,
  rand,
  scope,
  stack,
  tensor,
  yieldToEventLoop,
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
import { EMPTY_PROMPT, TASK_PROMPT, type WorldWanderTask } from '../worldwander/prompts.js';
import { checkDatasetReport, indexTriplets, type Clip } from '../data/triplets.js';
import { LatentCache, fillLatentCache, vaeIdentity } from '../data/latent_cache.js';
import { onDiskFull } from '../io/disk_space.js';
import { withRunLock } from '../io/run_lock.js';
import { isTemporary } from '../io/atomic.js';
import { AdamW } from './adamw.js';
import { loadCheckpoint, resolveCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.js';
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
import { CriticTraining, PatchDiscriminator, generatorTerms } from './patch_discriminator.js';
import { faultPoint } from '../io/fault.js';
import { learningRateAt, scaledLearningRate } from './schedule.js';
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

export class NonFiniteLossError extends WorldWanderError {
  override name = 'NonFiniteLossError';
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
  /** training.adversarial: the transformer's adversarial terms (not in `loss`) and the critic's hinge loss. */
  generator_adversarial?: number;
  critic_loss?: number;
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
  // rank 0 writes the folder, so it alone holds the folder's lock
  if ((o.group?.rank ?? 0) !== 0) return trainUnlocked(o);
  const config = loadConfig(o.config, o.overrides ?? []),
    d = config.dataset;
  const root = (p: string | undefined): string | undefined => (p ? resolveConfigPath(o.config, p) : undefined);
  const inputs = [
    root(d.first_video_root),
    root(d.third_video_root),
    root(d.ref_image_root ?? undefined),
    resolveModelDir(config, o.config, o.modelDir),
    o.transformer,
    o.vae,
    o.textEncoder,
  ];
  return withRunLock(o.output, () => trainUnlocked(o), {
    inputs,
    onNote: (text) => o.onEvent?.({ kind: 'note', text }),
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
  /** training.adversarial: the conditional critic of the clean-latent estimates. */
  critic: CriticTraining | null;
  baseLr: number;
  /** The task prompts' embeddings and the empty prompt's (text dropout). */
  promptOf: Record<WorldWanderTask, Tensor>;
  empty: Tensor;
  embeds: Tensor[];
  source: LatentSource | null;
  order: SampleOrder;
  schedule: TrainingSchedule;
  state: TrainerState;
  resumeFrom: string | null;
}

async function trainUnlocked(o: TrainOptions): Promise<TrainResult> {
  const run = await setUp(o);
  try {
    const t = run.config.training;
    const maxSteps = t.max_steps,
      interval = t.save_val_interval_steps;
    o.onEvent?.({ kind: 'start', step: run.state.step, steps: maxSteps, clips: run.clips.length });
    if (run.state.step === 0 && !run.resumeFrom) await validate(run, 0);
    let lastCheckpoint: string | null = null;
    for (let step = run.state.step; step < maxSteps; step++) {
      if (o.signal?.aborted) throw new InterruptedTraining(step, await checkpoint(run, step));
      faultPoint(`rank-${run.rank}-step:${step + 1}`);
      const metrics = await trainStep(run, step);
      if (run.lead)
        onDiskFull(
          path.join(o.output, 'metrics.jsonl'),
          () => appendFileSync(path.join(o.output, 'metrics.jsonl'), jsonText(metrics)),
          { then: 'free some space and continue with --resume latest' },
        );
      o.onEvent?.({ kind: 'step', metrics, steps: maxSteps });
      await yieldToEventLoop();
      if ((step + 1) % interval === 0 || step + 1 === maxSteps) {
        lastCheckpoint = (await checkpoint(run, step + 1)) ?? lastCheckpoint;
        await validate(run, step + 1);
      }
    }
    return { output: o.output, steps: maxSteps, lastCheckpoint };
  } finally {
    await closeRun(run);
  }
}

/**
 * Everything before the first step: the output folder (fresh, or the run to resume), the data
 * (every clip but the held-out ones), the models with LoRA or all weights trainable, the
 * optimiser, the text embeddings, where latents come from, and the state resumed.
 */
async function setUp(o: TrainOptions): Promise<Run> {
  const config = loadConfig(o.config, o.overrides ?? []);
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
  const modelDir = resolveModelDir(config, o.config, o.modelDir);
  const files = modelFiles(modelDir, {
    transformer: o.transformer,
    vae: o.vae,
    vaeConfig: o.vaeConfig,
    textEncoder: o.textEncoder,
  });
  const root = (p: string): string => resolveConfigPath(o.config, p);

  // The output: a fresh folder, or the run to resume (--resume, else the config's training.resume_path).
  const resume = o.resume ?? (t.resume_path ? root(t.resume_path) : undefined);
  const checkpointsExist =
    existsSync(path.join(o.output, 'checkpoints')) && readdirSync(path.join(o.output, 'checkpoints')).length > 0;
  if (!resume && checkpointsExist)
    throw new OptionError(
      'output',
      `${o.output} holds checkpoints of a run; pass {resume} latest to continue it, or choose another folder`,
    );
  const resumeFrom = resume ? resolveCheckpoint(o.output, resume) : null;
  if (lead) {
    mkdirSync(o.output, { recursive: true });
    // what a killed run was writing when it died (checkpoints/step-N.tmp-PID) goes
    if (checkpointsExist)
      for (const name of readdirSync(path.join(o.output, 'checkpoints')))
        if (isTemporary(name)) rmSync(path.join(o.output, 'checkpoints', name), { recursive: true, force: true });
  }

  // Data: every clip of the layout but the held-out ones.
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

  // Models.
  const vae = loadVae(files.vae, { device });
  const model = loadTransformer(files.transformer, { device });
  const embeds: Tensor[] = [];
  let source: LatentSource | null = null;
  let critic: CriticTraining | null = null;
  try {
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

    critic = t.adversarial
      ? new CriticTraining(
          new PatchDiscriminator(
            2 * model.config.in_channels,
            t.adversarial.width,
            t.adversarial.layers ?? 1,
            { generator: new Generator(sampleSeed(`${seed}`, 'critic')), device },
            'blur',
          ),
          t.adversarial.learning_rate,
        )
      : null;

    // The text side: the task prompt and the empty one (text dropout, guidance), from the prompt cache.
    const text = promptEmbeddings(files.text, [TASK_PROMPT.three2one, TASK_PROMPT.one2three, EMPTY_PROMPT], {
      cacheDir: promptCacheDirOf(modelDir),
      device,
      maxLength: readDefaults(modelDir).max_sequence_length,
    });
    embeds.push(text);
    const [prompt3to1, prompt1to3, empty] = text.chunk(3, 0) as [Tensor, Tensor, Tensor];
    embeds.push(prompt3to1, prompt1to3, empty);

    // Where latents come from: the latent cache (filled here if it lacks entries) or decoding.
    const spec = {
      frames: d.sample_n_frames,
      stride: d.stride,
      transform: { height: d.height, width: d.width, resizeLong: d.resize_long },
    };
    if (d.latent_cache) {
      const cache = new LatentCache(root(d.latent_cache));
      const vaeId = vaeIdentity(files.vae.weights, files.vae.config);
      const windows = d.cached_windows ?? 1;
      note(
        `latent cache ${cache.dir}: ${windows} cached window(s) per clip; a clip's window is a random choice among them (not any start, as the release draws)`,
      );
      if (lead) {
        const filled = await fillLatentCache(cache, vae, clips, {
          ...spec,
          windows,
          withReference,
          vaeId,
          onProgress: (done, total) => o.onEvent?.({ kind: 'cache', done, total }),
        });
        if (filled.written) note(`latent cache: ${filled.written} entries encoded, ${filled.found} found`);
      }
      group?.barrier();
      source = new CachedLatents(cache, { ...spec, windows, vaeId }, withReference);
    } else {
      source = new DecodedLatents(vae, spec, withReference, d.num_workers > 0 ? Math.min(d.num_workers, 4) : undefined);
    }

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
      critic?.load(resumeFrom, state.criticSteps ?? 0);
      if (state.worldSize !== worldSize)
        throw new OptionError(
          'resume',
          `${resumeFrom} was written by a run of ${state.worldSize} process(es); resume it with as many`,
        );
      note(`resumed from ${resumeFrom} at step ${state.step}`);
    }
    // what a run that died before its first checkpoint, or after the one resumed from, logged goes
    for (const log of ['metrics.jsonl', 'validation.jsonl']) {
      if (lead) {
        if (resumeFrom) truncateJsonl(path.join(o.output, log), state.step);
        else rmSync(path.join(o.output, log), { force: true });
      }
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
      critic,
      baseLr: optimizer.lr,
      promptOf: { three2one: prompt3to1, one2three: prompt1to3 },
      empty,
      embeds,
      source,
      order,
      schedule: trainingSchedule(t.flow_shift ?? 5, 1000, t.loss_weighting ?? 'bell'),
      state,
      resumeFrom,
    };
  } catch (error) {
    await source?.close();
    for (const e of embeds) e.dispose();
    critic?.dispose();
    model.dispose();
    vae.dispose();
    throw error;
  }
}

/**
 * One optimiser step: `accumulate_grad_batches` micro-batches of the step's task (forward and
 * backward each), the gradients averaged over the ranks, clipped, AdamW at the scheduled rate.
 */
async function trainStep(run: Run, step: number): Promise<StepMetrics> {
  const { config, model, order, optimizer, params, group, critic } = run;
  const t = config.training;
  const adversarial = critic ? t.adversarial! : null;
  const source = run.source!;
  const accumulation = t.accumulate_grad_batches;
  const started = performance.now();
  const waitedBefore = source.waited;
  let loss = 0,
    generatorAdversarial = 0,
    criticValue = 0;
  let names: string[] = [];
  const stepTask = run.tasks[step % run.tasks.length]!;
  const prompt = run.promptOf[stepTask];
  for (let micro = 0; micro < accumulation; micro++) {
    const samples = order.take(t.batch_size);
    source.prefetch(order.peek(t.batch_size * 2));
    const batch = await source.batch(samples);
    using _batchTensors = owned([batch.first, batch.third, batch.reference]);
    names = batch.names;
    const value = scope(() => {
      const { target, condition, ref } = taskViews(stepTask, batch);
      const draws = sampleDraws(samples, run.schedule, target.shape.slice(1), config.use_drop_text);
      const sigmas = draws.sigmas.view(-1, 1, 1, 1, 1);
      const { noisy, target: velocity } = flowMatchingPair(target, draws.noise, sigmas);
      const textEmbeds = cat(
        draws.dropped.map((drop) => (drop ? run.empty : prompt)),
        0,
      );
      const inputs = buildInContextInputs({
        target: noisy,
        condition,
        ref,
        timestep: draws.timesteps,
        encoderHiddenStates: textEmbeds,
        useCollaborativePositionEncoding: config.use_collaborative_position_encoding,
        patchSize: model.config.patch_size,
      });
      // the critic judges clean-latent estimates x̂0 = x_t − σ·v beside the condition, frame by frame
      const real = adversarial ? criticPairs(target, condition) : null;
      let estimate: Tensor | undefined;
      const lossOf = (pred: Tensor): Tensor => {
        const mse = weightedMse(pred, velocity, draws.weights);
        if (!adversarial) return mse.div(accumulation);
        const fake = criticPairs(noisy.sub(pred.mul(sigmas)), condition);
        estimate?.dispose(); // (a loss function called again: only the last estimate is the critic's)
        estimate = keep(fake.detach());
        const terms = generatorTerms(critic!.net, real!, fake, adversarial);
        generatorAdversarial += terms.item() / accumulation;
        return mse.add(terms).div(accumulation);
      };
      const forwardBackward = (): number =>
        model.forwardBackward(inputs, lossOf, { checkpoint: t.gradient_checkpointing });
      const total = t.precision === 'bf16-mixed' ? autocast('bfloat16', forwardBackward) : forwardBackward();
      if (!estimate) return total;
      using fake = estimate;
      criticValue += critic!.step(real!, fake) / accumulation;
      return total;
    });
    if (!Number.isFinite(value))
      throw new NonFiniteLossError(
        `step ${step + 1}: the loss is ${value} on samples ${batch.names.join(', ')}; stopped (the last checkpoint is kept)`,
      );
    loss += value;
  }
  loss -= generatorAdversarial; // the logged loss stays the flow-matching one
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
  if (!Number.isFinite(gradNorm))
    throw new NonFiniteLossError(
      `step ${step + 1}: the gradient norm is ${gradNorm} (samples ${names.join(', ')}); stopped`,
    );
  optimizer.lr = learningRateAt(step, run.baseLr, t.warmup_steps, { steps: t.decay_steps ?? 0, total: t.max_steps });
  optimizer.step();
  optimizer.zeroGrad();
  const seconds = (performance.now() - started) / 1000;
  return {
    step: step + 1,
    loss,
    lr: optimizer.lr,
    grad_norm: gradNorm,
    step_seconds: Number(seconds.toFixed(4)),
    samples_per_second: Number(((t.batch_size * accumulation * run.worldSize) / seconds).toFixed(3)),
    data_wait_seconds: Number((source.waited - waitedBefore).toFixed(4)),
    epoch: order.epoch,
    rss_mib: Math.round(process.memoryUsage.rss() / 2 ** 20),
    ...(critic && { generator_adversarial: generatorAdversarial, critic_loss: criticValue }),
  };
}

/** [B, C, F, H, W] latents beside the condition's [B, C, F, H, W] as the critic's frames [B·F, 2C, H, W]. */
function criticPairs(latents: Tensor, condition: Tensor): Tensor {
  const [b, c, f, h, w] = latents.shape as [number, number, number, number, number];
  return cat([latents, condition], 1)
    .permute(0, 2, 1, 3, 4)
    .reshape(b * f, 2 * c, h, w);
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
      criticSteps: run.critic?.optimizer.stepCount,
    },
    extra: run.critic ? (dir) => run.critic!.save(dir) : undefined,
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
  await run.source?.close();
  for (const e of run.embeds) e.dispose();
  run.critic?.dispose();
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

/** Keeps the lines of a JSONL log up to step `steps` (a resumed run rewrites what came after its checkpoint). */
function truncateJsonl(file: string, steps: number): void {
  if (!existsSync(file)) return;
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .filter((line) => (JSON.parse(line) as { step: number }).step <= steps);
  onDiskFull(file, () => writeFileSync(file, lines.map((l) => `${l}\n`).join('')));
}

export class InterruptedTraining extends Stopped {
  override name = 'Interrupted';
  constructor(
    readonly step: number,
    readonly checkpoint: string | null,
  ) {
    super(
      `stopped at step ${step}${checkpoint ? `; checkpoint ${checkpoint} written, continue with --resume latest` : ''}`,
    );
  }
}

export type { Clip, WorldWanderConfig };
