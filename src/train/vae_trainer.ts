// `worldwander train-vae`: trains a Wan2.2-layout AutoencoderKLWan on video windows, through the
// same chunked causal encode/decode the pipeline runs (the first frame alone, then chunks of
// `temporal` frames, each chunk seeing the cached frames of the one before). The loop (resume,
// schedule, metrics, checkpoints, stops) is loop.ts's; this file is the set-up and the loss,
//   loss = mean((x̂ − x)²) + l1_weight·mean|x̂ − x|                              reconstruction
//        + kl_weight·mean ½(μ² + σ² − 1 − log σ²)                   every weight trained: the KL to N(0, 1)
//        + adversarial.weight·(−mean D(x̂)) + adversarial.feature_matching_weight·FM(x̂, x)
//                                                       with the critic, on steps decoding generated latents
// where x̂ is decoded (not clamped, so every pixel has a gradient) from z = μ + σ·ε, the posterior
// sample, when every weight trains, and from z = μ (what the pipeline decodes) or the transformer's
// own latents when the decoder alone does (`training.trainable: decoder`: encoder and quant_conv
// frozen, so the latent space, its statistics and any transformer trained on it stay valid; the KL
// has no gradient then and is left out). D is the PatchGAN critic of every decoded frame and FM its
// feature matching (patch_discriminator.ts); after each such step the critic takes one of its own
// on the hinge loss. Its weights and AdamW state are in each checkpoint (discriminator/).
// At each checkpoint the per-channel mean and std of μ over training windows become the config's
// latents_mean/latents_std, as Wan's VAE states them (kept as they were when the encoder is frozen).
// `training.decoder_base_dim` starts a fresh decoder (and post_quant_conv) of that width under
// init_from's encoder. `data.generated` (decoder only) makes a fraction of the steps decode the
// transformer's latents of training cases (generated_latents.ts) against the first frames of the
// cases' other view: the decoder learns to draw what the transformer means, not only what the
// encoder saw. Validation reports PSNR, sharpness, edges and the period-2 lattice share
// (src/eval/lattice.ts) of the reconstructions, and of the generated validation latents.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

import { ConfigError, PrecisionSchema, applyOverrides, resolveConfigPath } from '../worldwander/config.js';
import {
  Generator,
  SafetensorsFile,
  autocast,
  cat,
  checkDevice,
  noGrad,
  openWeights,
  randn,
  saveSafetensors,
  scope,
  stack,
  type Device,
  type Tensor,
} from '../torch/index.js';
import { AutoencoderKLWan } from '../models/wan/vae.js';
import { WAN22_TI2V_5B_VAE, parseVaeConfig } from '../models/wan/vae_config.js';
import { ClipLoaderPool, type ClipTransform } from '../data/clip_loader.js';
import { FrameCache } from '../data/frame_cache.js';
import { indexTriplets, windowStartCount, type Clip } from '../data/triplets.js';
import { framesToTensor, tensorToFrames } from '../data/video_tensor.js';
import { mean } from '../eval/metrics.js';
import { videoEdgeAgreement, videoSharpness } from '../eval/sharpness.js';
import { videoLatticeShare } from '../eval/lattice.js';
import { AdamW } from './adamw.js';
import { loadOptimizerState, saveOptimizerState, writeCheckpoint } from './checkpoint.js';
import { epochOrder, sampleSeed } from './data.js';
import { CriticTraining, generatorTerms, PatchDiscriminator } from './patch_discriminator.js';
import { appendLog, openRun, runLoop, type StepOutcome } from './loop.js';
import { jsonText } from '../io/json_text.js';
import { prefetched } from '../io/prefetch.js';
import { listGeneratedLatents, readGeneratedSource } from './generated_latents.js';
import { LAYOUT } from '../data/layout.js';
import { TASK_VIEWS } from '../worldwander/prompts.js';

const VaeTrainingSchema = z.strictObject({
  /** The AutoencoderKLWan config (keys of its config.json); the rest take the Wan2.2 values. Not with init_from. */
  vae: z.record(z.string(), z.unknown()).optional(),
  data: z.strictObject({
    first_video_root: z.string(),
    third_video_root: z.string(),
    height: z.number().int().positive(),
    width: z.number().int().positive(),
    frames: z.number().int().positive(),
    /** Clips never trained on; PSNR is measured on them at each checkpoint. */
    validation_clips: z.number().int().min(0),
    /**
     * A folder for the clip views decoded once, before the first step (src/data/frame_cache.ts: all
     * frames of a view at height x width, raw; 12 KB per frame at 64x64): windows are read from it
     * instead of starting an ffmpeg each. The same frames, so the same training.
     */
    frame_cache: z.string().optional(),
    /**
     * The transformer's outputs as decoder inputs (folders of src/train/generated_latents.ts; decoder-only
     * training): a `fraction` of the steps decode generated latents of `train` against their cases' true
     * frames instead of the encoder's latents; `validation` is scored beside the reconstructions.
     */
    generated: z
      .strictObject({
        train: z.string(),
        validation: z.string().optional(),
        fraction: z.number().min(0).max(1),
      })
      .optional(),
  }),
  training: z.strictObject({
    max_steps: z.number().int().positive(),
    batch_size: z.number().int().positive(),
    learning_rate: z.number().positive(),
    warmup_steps: z.number().int().min(0),
    /** A linear cool-down of the learning rate over the last N steps (schedule.ts); 0 keeps it constant. */
    decay_steps: z.number().int().min(0).optional(),
    weight_decay: z.number().min(0),
    l1_weight: z.number().min(0),
    kl_weight: z.number().min(0),
    save_interval_steps: z.number().int().positive(),
    keep_last_checkpoints: z.number().int().positive(),
    seed: z.number().int().min(0),
    /** "bf16-mixed": each step's forward under autocast to bfloat16 (float32 weights, optimiser, validation); default float32. */
    precision: PrecisionSchema.optional(),
    /** Windows used to measure latents_mean/latents_std. */
    stats_windows: z.number().int().positive(),
    /** A trained VAE folder to start from (its config.json and weights) instead of a fresh initialisation. */
    init_from: z.string().optional(),
    /** What learns: every weight, or the decoder alone (post_quant_conv and decoder; needs init_from). */
    trainable: z.enum(['all', 'decoder']).optional(),
    /**
     * With trainable: decoder, a fresh decoder (and post_quant_conv) of this base width under
     * init_from's encoder, instead of init_from's own decoder (Wan2.2 pairs a 160 encoder with a
     * 256 decoder).
     */
    decoder_base_dim: z.number().int().positive().optional(),
    /**
     * A PatchGAN critic (patch_discriminator.ts) on the frames decoded from the transformer's latents
     * (data.generated's steps); the encoder's latents learn from the reconstruction terms alone.
     */
    adversarial: z
      .strictObject({
        /** On the decoder's hinge term −mean(D(x̂)). */
        weight: z.number().min(0),
        /** On feature matching, mean |f(x̂) − f(x)| over the critic's hidden layers. */
        feature_matching_weight: z.number().min(0),
        /** The critic's AdamW rate (betas 0.5, 0.9, as SD's). */
        learning_rate: z.number().positive(),
        /** Channels of the critic's first layer (doubling per blurred halving). */
        width: z.number().int().positive(),
      })
      .optional(),
  }),
});

export type VaeTrainingConfig = z.infer<typeof VaeTrainingSchema>;

/** Reads a VAE training config and applies `key.path=value` overrides (`training.max_steps=200`). */
export function loadVaeTrainingConfig(file: string, overrides: readonly string[] = []): VaeTrainingConfig {
  const raw = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as Record<string, unknown>;
  const where = applyOverrides(raw, overrides, file);
  const result = VaeTrainingSchema.safeParse(raw);
  if (!result.success)
    throw new ConfigError(
      `${where}: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const t = result.data.training;
  if (t.trainable === 'decoder' && !t.init_from)
    throw new ConfigError(
      `${where}: training.trainable: decoder needs training.init_from (the trained VAE folder whose decoder to fine-tune)`,
    );
  if (t.decoder_base_dim !== undefined && t.trainable !== 'decoder')
    throw new ConfigError(
      `${where}: training.decoder_base_dim needs training.trainable: decoder (a new decoder under a trained encoder)`,
    );
  if (result.data.data.generated && t.trainable !== 'decoder')
    throw new ConfigError(
      `${where}: data.generated needs training.trainable: decoder (the generated latents are the encoder's space; the encoder must not move)`,
    );
  if (t.adversarial && !result.data.data.generated)
    throw new ConfigError(
      `${where}: training.adversarial needs data.generated (the transformer's latents the critic acts on)`,
    );
  if (result.data.data.generated && (result.data.data.frames - 1) % 4)
    throw new ConfigError(
      `${where}: data.generated needs data.frames = 4k+1 (whole latent frames), got ${result.data.data.frames}`,
    );
  if (t.init_from && result.data.vae)
    throw new ConfigError(
      `${where}: give either vae (a new VAE's config) or training.init_from (a trained VAE folder, whose config is used), not both`,
    );
  if (!t.init_from && !result.data.vae)
    throw new ConfigError(`${where}: no vae config and no training.init_from: nothing says what VAE to train`);
  return result.data;
}

export type VaeTrainEvent =
  | { kind: 'step'; step: number; steps: number; loss: number; psnr: number }
  | { kind: 'note'; text: string }
  | { kind: 'checkpoint'; dir: string; validationPsnr: number };

export interface VaeTrainOptions {
  config: string;
  /** `key.path=value` overrides of the config. */
  overrides?: readonly string[];
  output: string;
  /** 'latest' or a checkpoint folder (OUTPUT/checkpoints/step-N). */
  resume?: string;
  device?: string;
  signal?: AbortSignal;
  onEvent?: (event: VaeTrainEvent) => void;
}

/** A line of metrics.jsonl. */
interface VaeStepMetrics {
  step: number;
  loss: number;
  /** Of the step's batch (data range 2, the reconstruction as decoded, clamped). */
  psnr: number;
  lr: number;
  step_seconds: number;
}

/** `dir`'s encoder and quant_conv under a freshly initialised decoder and post_quant_conv of base width `decoderBaseDim`. */
function withFreshDecoder(dir: string, decoderBaseDim: number, seed: number, device: Device): AutoencoderKLWan {
  using source = AutoencoderKLWan.fromPretrained(dir, { device });
  const vae = new AutoencoderKLWan(
    { ...source.config, decoder_base_dim: decoderBaseDim },
    { generator: new Generator(seed), device },
  );
  const encoder = [...source.stateDict()].filter(([k]) => k.startsWith('encoder.') || k.startsWith('quant_conv.'));
  vae.loadStateDict(new Map(encoder), { strict: false, where: `${dir} (its encoder)` });
  return vae;
}

/** PSNR of [-1, 1] videos as 8-bit frames would give it (data range 2 here). */
function batchPsnr(a: Tensor, b: Tensor): number {
  return scope(() => {
    const mse = a.clamp(-1, 1).sub(b).square().mean().item();
    return 10 * Math.log10(4 / Math.max(mse, 1e-12));
  });
}

export async function trainVae(o: VaeTrainOptions): Promise<{ dir: string; steps: number }> {
  const c = loadVaeTrainingConfig(o.config, o.overrides);
  const root = (p: string): string => resolveConfigPath(o.config, p);
  const folder = {
    output: o.output,
    resume: o.resume,
    inputs: [
      root(c.data.first_video_root),
      root(c.data.third_video_root),
      c.training.init_from && root(c.training.init_from),
    ],
    onNote: (text: string) => o.onEvent?.({ kind: 'note', text }),
  };
  return openRun(folder, async (resumeFrom) => {
    const run = await setUp(o, c, resumeFrom);
    const t = c.training;
    try {
      await runLoop({
        output: o.output,
        start: run.start,
        steps: t.max_steps,
        resumed: resumeFrom !== null,
        optimizer: run.optimizer,
        schedule: { base: t.learning_rate, warmup: t.warmup_steps, decay: t.decay_steps ?? 0 },
        every: t.save_interval_steps,
        signal: o.signal,
        step: (step) => vaeStep(run, step),
        checkpoint: (step) => vaeCheckpoint(run, step),
        onStep: (m) => o.onEvent?.({ kind: 'step', step: m.step, steps: t.max_steps, loss: m.loss, psnr: m.psnr }),
      });
      return { dir: o.output, steps: t.max_steps };
    } finally {
      await run.next.catch(() => undefined);
      await run.data.close();
      run.vae.dispose();
      run.critic?.dispose();
    }
  });
}

/** What a VAE run holds from set-up to its end. */
interface VaeRun {
  o: VaeTrainOptions;
  c: VaeTrainingConfig;
  device: Device;
  /** Steps done when the loop starts. */
  start: number;
  vae: AutoencoderKLWan;
  trainable: [string, Tensor][];
  optimizer: AdamW;
  critic?: CriticTraining;
  data: VaeData;
  /** A frozen encoder's latent statistics (measuring them again could only add float noise). */
  fixedStats: { mean: number[]; std: number[] } | null;
  /** The batch the next step trains on, read while the step before runs. */
  next: Promise<VaeBatch>;
}

/** The clips (validation first, never trained on), the VAE, its optimiser and critic, the state resumed. */
async function setUp(o: VaeTrainOptions, c: VaeTrainingConfig, resumeFrom: string | null): Promise<VaeRun> {
  const root = (p: string): string => resolveConfigPath(o.config, p);
  const device = checkDevice(o.device ?? 'cpu');
  const t = c.training;
  const { clips } = await indexTriplets(
    { first: root(c.data.first_video_root), third: root(c.data.third_video_root) },
    { sampleFrames: c.data.frames, stride: 1, needReference: false },
  );
  const validation = clips.slice(0, c.data.validation_clips);
  const training = clips.slice(c.data.validation_clips);
  o.onEvent?.({ kind: 'note', text: `${training.length} training clips, ${validation.length} for validation` });
  // read before the weights and the loader's process exist: a wrong folder is an error, not a hang
  // by file, not by name: another split's sample_000000 is not this split's validation clip
  const validationFiles = new Set(validation.map((clip) => path.resolve(clip.first)));
  const generatedTrain = c.data.generated
    ? (await generatedPairs(root(c.data.generated.train), c.data.frames)).filter(
        (p) => !validationFiles.has(path.resolve(p.clip.first)),
      )
    : [];
  const generatedValidation = c.data.generated?.validation
    ? await generatedPairs(root(c.data.generated.validation), c.data.frames)
    : [];
  if (c.data.generated) {
    if (!generatedTrain.length)
      throw new ConfigError(`${c.data.generated.train}: no generated latents of training clips`);
    o.onEvent?.({
      kind: 'note',
      text: `${generatedTrain.length} generated latents to decode on ${c.data.generated.fraction} of the steps, ${generatedValidation.length} for validation`,
    });
  }
  const decoderOnly = t.trainable === 'decoder';
  const vae = t.init_from
    ? t.decoder_base_dim
      ? withFreshDecoder(root(t.init_from), t.decoder_base_dim, t.seed, device)
      : AutoencoderKLWan.fromPretrained(root(t.init_from), { device })
    : new AutoencoderKLWan(
        parseVaeConfig({ ...WAN22_TI2V_5B_VAE, ...c.vae } as Record<string, unknown>, `${o.config} (vae)`),
        { generator: new Generator(t.seed), device },
      );
  vae.train();
  if (decoderOnly) {
    vae.encoder.requiresGrad_(false);
    vae.quant_conv.requiresGrad_(false);
  }
  const trainable = vae.trainableParameters();
  const optimizer = new AdamW(
    trainable.map(([, p]) => p),
    { lr: t.learning_rate, betas: [0.9, 0.95], eps: 1e-8, weightDecay: t.weight_decay },
  );
  const critic = t.adversarial
    ? new CriticTraining(
        new PatchDiscriminator(3, t.adversarial.width, 2, {
          generator: new Generator(sampleSeed(`${t.seed}`, 'critic')),
          device,
        }),
        t.adversarial.learning_rate,
      )
    : undefined;
  const latentFrames = (c.data.frames - 1) / vae.temporalCompression + 1;
  const data = new VaeData(c, root, training, validation, generatedTrain, generatedValidation, latentFrames);
  let start = 0;
  try {
    if (resumeFrom) {
      const state = JSON.parse(readFileSync(path.join(resumeFrom, 'trainer_state.json'), 'utf8')) as {
        step: number;
        optimizerSteps: number;
        criticSteps?: number;
      };
      vae.loadStateDict(openWeights(path.join(resumeFrom, 'vae'), 'diffusion_pytorch_model'), { where: resumeFrom });
      loadOptimizerState(path.join(resumeFrom, 'optimizer.safetensors'), trainable, optimizer, state.optimizerSteps);
      critic?.load(resumeFrom, state.criticSteps ?? 0);
      start = state.step;
      o.onEvent?.({ kind: 'note', text: `resumed from ${resumeFrom} at step ${start}` });
    }
    await data.fillFrameCache((text) => o.onEvent?.({ kind: 'note', text }));
  } catch (error) {
    // nothing was trained: release the loader's process and the weights before saying why
    await data.close();
    vae.dispose();
    critic?.dispose();
    throw error;
  }
  return {
    o,
    c,
    device,
    start,
    vae,
    trainable,
    optimizer,
    critic,
    data,
    fixedStats: decoderOnly ? { mean: [...vae.config.latents_mean], std: [...vae.config.latents_std] } : null,
    next: prefetched(data.batch(start)),
  };
}

/** A step's frames ([−1, 1] after framesToTensor) and, on a generated step, the latent files decoded against them. */
interface VaeBatch {
  frames: Uint8Array[][];
  latents?: string[];
}

type View = 'first' | 'third';

/**
 * What a VAE step reads: sample k of the run is training window (epoch, index) of a fixed order,
 * the view alternating; on the `data.generated.fraction` of the steps that are generated ones, the
 * next pairs of generated latents (their own fixed order) and their targets instead. Frames come
 * from the frame cache when there is one (the same frames), else from ffmpeg in a worker process.
 */
class VaeData {
  readonly #pool = new ClipLoaderPool(1);
  readonly #transform: ClipTransform;
  readonly #frameCache?: FrameCache;

  constructor(
    readonly c: VaeTrainingConfig,
    root: (p: string) => string,
    readonly training: readonly Clip[],
    readonly validation: readonly Clip[],
    readonly generatedTrain: readonly GeneratedPair[],
    readonly generatedValidation: readonly GeneratedPair[],
    readonly latentFrames: number,
  ) {
    const { height, width } = c.data;
    this.#transform = { height, width, resizeLong: Math.max(height, width) };
    if (c.data.frame_cache) this.#frameCache = new FrameCache(root(c.data.frame_cache), this.#transform);
  }

  /** Frames start … start + data.frames − 1 of a clip view. */
  framesAt(clip: Clip, view: View, start: number): Promise<Uint8Array[]> {
    const frames = this.c.data.frames;
    return this.#frameCache
      ? this.#frameCache.window(clip, view, start, frames, () => this.#decode(clip, view, 0, clip.frames))
      : this.#decode(clip, view, start, frames);
  }

  /** The window of a clip view whose start is drawn from `key` alone. */
  window(clip: Clip, key: string, view: View): Promise<Uint8Array[]> {
    const starts = windowStartCount(clip.frames, this.c.data.frames, 1);
    return this.framesAt(clip, view, Math.floor((Number(sampleSeed(key, 'start')) / 2 ** 53) * starts));
  }

  /** What a generated latent decodes to: the first frames of its case's target view. */
  target(p: GeneratedPair): Promise<Uint8Array[]> {
    return this.framesAt(p.clip, p.view, 0);
  }

  /** Step `s` decodes generated latents: the count of generated steps rises after it. */
  #generatedBefore(s: number): number {
    return Math.floor(s * (this.c.data.generated?.fraction ?? 0));
  }

  async batch(s: number): Promise<VaeBatch> {
    const size = this.c.training.batch_size;
    if (this.#generatedBefore(s + 1) === this.#generatedBefore(s)) {
      const samples = Array.from({ length: size }, (_, b) => this.#sample(s * size + b));
      return { frames: await Promise.all(samples.map((x) => this.window(x.clip, x.key, x.view))) };
    }
    const pairs = Array.from({ length: size }, (_, b) => this.#generated(this.#generatedBefore(s) * size + b));
    return { frames: await Promise.all(pairs.map((p) => this.target(p))), latents: pairs.map((p) => p.file) };
  }

  /** Sample k of the run: training window (epoch, index) of a fixed order, the view alternating. */
  #sample(k: number): { clip: Clip; key: string; view: View } {
    const seed = this.c.training.seed;
    const epoch = Math.floor(k / this.training.length),
      index = k % this.training.length;
    const order = epochOrder(seed, epoch, this.training.length);
    return {
      clip: this.training[order[index]!]!,
      key: `${seed}/${epoch}/${index}`,
      view: k % 2 === 0 ? 'first' : 'third',
    };
  }

  /** Generated pair k of the run: pair (epoch, index) of its own fixed order. */
  #generated(k: number): GeneratedPair {
    const n = this.generatedTrain.length;
    const order = epochOrder(this.c.training.seed, Math.floor(k / n), n);
    return this.generatedTrain[order[k % n]!]!;
  }

  /** Every clip view the run reads, decoded once into the frame cache before the first step. */
  async fillFrameCache(note: (text: string) => void): Promise<void> {
    const cache = this.#frameCache;
    if (!cache) return;
    const views = [
      ...[...this.training, ...this.validation].flatMap((clip) =>
        (['first', 'third'] as const).map((view) => ({ clip, view })),
      ),
      ...[...this.generatedTrain, ...this.generatedValidation].map((p) => ({ clip: p.clip, view: p.view })),
    ];
    const started = performance.now();
    let told = false;
    const written = await cache.fill(views, (_, total) => {
      if (!told) note(`frame cache ${cache.dir}: decoding ${total} clip views`);
      told = true;
    });
    if (written)
      note(
        `frame cache ${cache.dir}: ${written} clip views decoded in ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
  }

  #decode(clip: Clip, view: View, start: number, frames: number): Promise<Uint8Array[]> {
    return this.#pool
      .load({ clip, start, frames, stride: 1, transform: this.#transform, withReference: false, views: [view] })
      .then((w) => w[view]!);
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}

/** The forward and backward of step `step` + 1: the header's loss of its batch; the critic's own step after. */
async function vaeStep(run: VaeRun, step: number): Promise<StepOutcome<VaeStepMetrics>> {
  const { c, vae, critic, data, device } = run;
  const t = c.training;
  const { frames, latents: generatedFiles } = await run.next;
  run.next = prefetched(data.batch(step + 1));
  const { loss, psnr } = scope(() => {
    const x = scope(() =>
      stack(
        frames.map((f) => framesToTensor(f, c.data.width, c.data.height, { device }).squeeze(0)),
        0,
      ),
    );
    const judged = critic && t.adversarial && generatedFiles ? { critic, weights: t.adversarial } : undefined;
    /** The decoded batch (float32) and the loss. */
    const forward = (): { recon: Tensor; total: Tensor } => {
      if (t.trainable === 'decoder') {
        // the decoder learns from z = μ (what the pipeline decodes), or from the transformer's own latents
        const z = generatedFiles
          ? cat(
              generatedFiles.map((file) => readGeneratedLatents(file, data.latentFrames, device)),
              0,
            )
          : noGrad(() => vae.encode(x).mean);
        const recon = vae.decode(z, { clamp: false }).float();
        return { recon, total: vaeLoss(c, x, recon, null, judged) };
      }
      const generator = new Generator(sampleSeed(`${t.seed}/${step}`, 'vae-noise'));
      const moments = vae.encodeMoments(x).float();
      const [mu, logvar] = moments.chunk(2, 1) as [Tensor, Tensor];
      const clamped = logvar.clamp(-30, 20);
      const std = clamped.mul(0.5).exp();
      const recon = vae.decode(mu.add(std.mul(randn(mu.shape, generator, { device }))), { clamp: false }).float();
      const kl = mu.square().add(clamped.exp()).sub(1).sub(clamped).mul(0.5).mean();
      return { recon, total: vaeLoss(c, x, recon, kl, judged) };
    };
    // bf16-mixed: the forward under autocast (float32 master weights); backward and the critic's own step outside it
    const { recon, total } = t.precision === 'bf16-mixed' ? autocast('bfloat16', forward) : forward();
    total.backward();
    if (judged) judged.critic.step(framesOf(x), framesOf(recon));
    return { loss: total.item(), psnr: noGrad(() => batchPsnr(recon.detach(), x)) };
  });
  return {
    loss,
    metrics: (lr, seconds) => ({
      step: step + 1,
      loss,
      psnr: Number(psnr.toFixed(3)),
      lr,
      step_seconds: Number(seconds.toFixed(3)),
    }),
  };
}

/** The header's loss: reconstruction, the KL when every weight trains, the critic's terms when it judges the step. */
function vaeLoss(
  c: VaeTrainingConfig,
  x: Tensor,
  recon: Tensor,
  kl: Tensor | null,
  judged?: { critic: CriticTraining; weights: { weight: number; feature_matching_weight: number } },
): Tensor {
  const diff = recon.sub(x);
  let loss = diff.square().mean().add(diff.abs().mean().mul(c.training.l1_weight));
  if (kl) loss = loss.add(kl.mul(c.training.kl_weight));
  if (judged) loss = loss.add(generatorTerms(judged.critic.net, framesOf(x), framesOf(recon), judged.weights));
  return loss;
}

/**
 * Checkpoint `at`: the VAE folder with its latent statistics, AdamW's moments, the critic, the
 * trainer state with the validation PSNR; the validation scores appended to validation.jsonl.
 */
async function vaeCheckpoint(run: VaeRun, at: number): Promise<string> {
  const { o, c, vae, data, device, critic, optimizer } = run;
  const window = data.window.bind(data);
  const stats = run.fixedStats ?? (await latentStats(vae, data.training, c, window, device));
  const scores = await validationScores(vae, data.validation, c, window, device);
  const generated = data.generatedValidation.length
    ? await reconstructionScores(
        vae,
        data.generatedValidation,
        c,
        (p) => data.target(p),
        (_, p) => readGeneratedLatents(p.file, data.latentFrames, device),
        device,
      )
    : undefined;
  const dir = await writeCheckpoint(o.output, at, c.training.keep_last_checkpoints, (temp) => {
    writeVaeFolder(path.join(temp, 'vae'), vae, stats);
    saveOptimizerState(path.join(temp, 'optimizer.safetensors'), run.trainable, optimizer);
    critic?.save(temp);
    writeFileSync(
      path.join(temp, 'trainer_state.json'),
      jsonText(
        {
          step: at,
          optimizerSteps: optimizer.stepCount,
          criticSteps: critic?.optimizer.stepCount,
          validationPsnr: scores.psnr,
          latents: stats,
        },
        2,
      ),
    );
  });
  appendLog(path.join(o.output, 'validation.jsonl'), {
    step: at,
    ...rounded(scores),
    ...(generated && { generated: rounded(generated) }),
  });
  o.onEvent?.({ kind: 'checkpoint', dir, validationPsnr: scores.psnr });
  return dir;
}

/**
 * Reconstructions of the validation clips against them, means over the clips: PSNR of each clip's
 * MSE, sharpness and edge agreement (src/eval/sharpness.ts).
 */
export interface ReconstructionScores {
  psnr: number;
  sharpness: number;
  edges: number;
  /** The decoded frames' period-2 lattice share (src/eval/lattice.ts); the truth's is ~0.002. */
  lattice: number;
}

/** Scores as validation.jsonl states them, to 3 decimals. */
function rounded(s: ReconstructionScores): ReconstructionScores {
  return {
    psnr: Number(s.psnr.toFixed(3)),
    sharpness: Number(s.sharpness.toFixed(3)),
    edges: Number(s.edges.toFixed(3)),
    lattice: Number(s.lattice.toFixed(4)),
  };
}

/** Videos [B, C, T, H, W] as frames [B·T, C, H, W]. */
function framesOf(video: Tensor): Tensor {
  const [b, ch, t, h, w] = video.shape as [number, number, number, number, number];
  return video.permute(0, 2, 1, 3, 4).reshape(b * t, ch, h, w);
}

/** A diffusers vae/ folder with the measured latent statistics in its config. */
export function writeVaeFolder(dir: string, vae: AutoencoderKLWan, stats: { mean: number[]; std: number[] }): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'config.json'),
    jsonText(
      {
        _class_name: 'AutoencoderKLWan',
        _diffusers_version: '0.35.0',
        ...vae.config,
        latents_mean: stats.mean,
        latents_std: stats.std,
      },
      2,
    ),
  );
  saveSafetensors(path.join(dir, 'diffusion_pytorch_model.safetensors'), vae.stateDict(), { format: 'pt' });
}

type WindowFn = (clip: Clip, key: string, view: 'first' | 'third') => Promise<Uint8Array[]>;

/** Per-channel mean and std of the posterior means over the first `stats_windows` training windows. */
async function latentStats(
  vae: AutoencoderKLWan,
  clips: readonly Clip[],
  c: VaeTrainingConfig,
  window: WindowFn,
  device: string,
): Promise<{ mean: number[]; std: number[] }> {
  const n = Math.min(c.training.stats_windows, clips.length * 2);
  const sums = new Float64Array(vae.config.z_dim),
    squares = new Float64Array(vae.config.z_dim);
  let count = 0;
  vae.eval();
  for (let k = 0; k < n; k++) {
    const clip = clips[Math.floor(k / 2) % clips.length]!;
    const frames = await window(clip, `stats/${k}`, k % 2 ? 'third' : 'first');
    noGrad(() =>
      scope(() => {
        const mu = vae.encode(framesToTensor(frames, c.data.width, c.data.height, { device })).mean;
        const perChannel = mu.transpose(0, 1).reshape(vae.config.z_dim, -1).double();
        perChannel
          .sum(1)
          .toArray()
          .forEach((v, i) => (sums[i]! += v));
        perChannel
          .square()
          .sum(1)
          .toArray()
          .forEach((v, i) => (squares[i]! += v));
        count += perChannel.size(1);
      }),
    );
  }
  vae.train();
  const mean = Array.from(sums, (s) => s / count);
  const std = Array.from(squares, (s, i) => Math.sqrt(Math.max(s / count - mean[i]! ** 2, 1e-12)));
  const round = (v: number): number => Number(v.toFixed(6));
  return { mean: mean.map(round), std: std.map(round) };
}

/** Mean PSNR (dB, 8-bit frames) of the chunked encode→decode of the validation clips. */
function validationScores(
  vae: AutoencoderKLWan,
  clips: readonly Clip[],
  c: VaeTrainingConfig,
  window: WindowFn,
  device: string,
): Promise<ReconstructionScores> {
  const indexed = clips.map((clip, k) => ({ clip, k }));
  return reconstructionScores(
    vae,
    indexed,
    c,
    ({ clip, k }) => window(clip, `validation/${k}`, k % 2 ? 'third' : 'first'),
    (x) => vae.encode(x).mean,
    device,
  );
}

/** Each item decoded from `latentOf` its true frames, scored against them; means over the items. */
async function reconstructionScores<T>(
  vae: AutoencoderKLWan,
  items: readonly T[],
  c: VaeTrainingConfig,
  load: (item: T) => Promise<Uint8Array[]>,
  latentOf: (x: Tensor, item: T) => Tensor,
  device: string,
): Promise<ReconstructionScores> {
  if (items.length === 0) return { psnr: Number.NaN, sharpness: Number.NaN, edges: Number.NaN, lattice: Number.NaN };
  vae.eval();
  const scores: ReconstructionScores[] = [];
  for (const item of items) {
    const frames = await load(item);
    const { width, height } = c.data;
    const { psnr, decoded } = noGrad(() =>
      scope(() => {
        const x = framesToTensor(frames, width, height, { device });
        const recon = vae.decode(latentOf(x, item));
        const q = (t: Tensor): Tensor => t.add(1).mul(127.5).round();
        const mse = q(recon).sub(q(x)).square().mean().item();
        return { psnr: 10 * Math.log10((255 * 255) / Math.max(mse, 1e-12)), decoded: tensorToFrames(recon) };
      }),
    );
    scores.push({
      psnr,
      sharpness: videoSharpness(decoded, frames, width, height),
      edges: mean(videoEdgeAgreement(decoded, frames, width, height)),
      lattice: videoLatticeShare(decoded, width, height),
    });
  }
  vae.train();
  const over = (key: keyof ReconstructionScores): number => mean(scores.map((s) => s[key]));
  return { psnr: over('psnr'), sharpness: over('sharpness'), edges: over('edges'), lattice: over('lattice') };
}

/** A generated latent and what it should decode to: the first frames of its case's target view. */
interface GeneratedPair {
  file: string;
  clip: Clip;
  view: 'first' | 'third';
}

/** The pairs of a generated-latents folder, their cases found in the split it names. */
async function generatedPairs(dir: string, frames: number): Promise<GeneratedPair[]> {
  const { data } = readGeneratedSource(dir);
  const { clips } = await indexTriplets(
    { first: path.join(data, LAYOUT.first), third: path.join(data, LAYOUT.third) },
    { sampleFrames: frames, stride: 1, needReference: false },
  );
  const byName = new Map(clips.map((clip) => [clip.name, clip]));
  return listGeneratedLatents(dir).map((g) => {
    const clip = byName.get(g.case);
    if (!clip) throw new ConfigError(`${g.file}: its case ${g.case} is not a clip of ${data} with ${frames} frames`);
    return { file: g.file, clip, view: TASK_VIEWS[g.task].target };
  });
}

/** A generated latent file's first `latentFrames` latent frames, [1, z, latentFrames, h, w]. */
function readGeneratedLatents(file: string, latentFrames: number, device: string): Tensor {
  const source = SafetensorsFile.open(file);
  if (!source.keys().includes('latents')) throw new ConfigError(`${file}: has no tensor 'latents'`);
  const latents = source.get('latents', { device });
  if (latents.ndim !== 5 || latents.size(2) < latentFrames)
    throw new ConfigError(
      `${file}: latents [${latents.shape.join(', ')}]; expected [1, z, F', h, w] with F' >= ${latentFrames}`,
    );
  return latents.narrow(2, 0, latentFrames);
}
