// `worldwander train-vae`: trains a Wan2.2-layout AutoencoderKLWan from scratch on video windows,
// through the same chunked causal encode/decode the pipeline runs (the first frame alone, then
// chunks of `temporal` frames, each chunk seeing the cached frames of the one before). The
// reconstruction objective, stated once:
//   loss = mean((x̂ − x)²) + l1_weight · mean|x̂ − x| + kl_weight · mean over latent elements of
//          KL(N(μ, σ²) ‖ N(0, 1)) = ½(μ² + σ² − 1 − log σ²),
// with x̂ decoded from z = μ + σ·ε (the posterior sample) and not clamped, so that every pixel
// has a gradient. At the end (and in each checkpoint) the per-channel mean and std of μ over
// training windows become the config's latents_mean/latents_std, as Wan's VAE states them.
// `training.trainable: decoder` fine-tunes a trained VAE's decoder alone (`init_from`): the
// encoder and quant_conv are frozen, so the latent space, its statistics and any transformer
// trained on it stay valid; the decoder learns from z = μ (what the pipeline decodes), and the
// loss is the same without the KL term, which has no gradient then. With
// `training.decoder_base_dim` the decoder (and post_quant_conv) starts fresh at that width under
// init_from's encoder.
// `training.adversarial` adds a PatchGAN critic on every decoded frame from `start_step` on (the
// SD and Wan VAEs' recipe, without the pretrained perceptual term; with `steps: generated`, only
// on the steps that decode data.generated's latents): the decoder's loss gains
// weight · (−mean D(x̂)) + feature_matching_weight · feature matching, and after each step the
// critic takes one of its own on the hinge loss (patch_discriminator.ts). Its weights and AdamW
// state are in each checkpoint (discriminator/), so a resumed run continues exactly.
// `data.generated` (decoder-only) makes a fraction of the steps decode the transformer's own
// latents of training cases (generated_latents.ts) against the first frames of the cases' other
// view, with the same loss: the decoder learns to draw what the transformer means, not only what
// the encoder saw.
// `training.lattice_weight` adds lattice_weight · the period-2 lattice penalty
// (lattice_penalty.ts) on every decoded frame against its truth: what the critic can buy with
// the 2x2 unpatchify's checkerboard costs more than it earns. Validation reports the lattice
// share (src/eval/lattice.ts) beside PSNR, sharpness and edges.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  yieldToEventLoop,
  type Device,
  type Tensor,
} from '../torch/index.js';
import { AutoencoderKLWan } from '../models/wan/vae.js';
import { WAN22_TI2V_5B_VAE, parseVaeConfig } from '../models/wan/vae_config.js';
import { ClipLoaderPool } from '../data/clip_loader.js';
import { FrameCache } from '../data/frame_cache.js';
import { indexTriplets, windowStartCount, type Clip } from '../data/triplets.js';
import { framesToTensor, tensorToFrames } from '../data/video_tensor.js';
import { mean } from '../eval/metrics.js';
import { videoEdgeAgreement, videoSharpness } from '../eval/sharpness.js';
import { videoLatticeShare } from '../eval/lattice.js';
import { AdamW } from './adamw.js';
import {
  listCheckpoints,
  loadOptimizerState,
  resolveCheckpoint,
  saveOptimizerState,
  writeCheckpoint,
} from './checkpoint.js';
import { epochOrder, sampleSeed } from './data.js';
import { learningRateAt } from './schedule.js';
import { CriticTraining, generatorTerms, PatchDiscriminator } from './patch_discriminator.js';
import { LatticePenalty } from './lattice_penalty.js';
import { withRunLock } from '../io/run_lock.js';
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
    /** On the period-2 lattice penalty (lattice_penalty.ts) of every decoded frame against its truth. */
    lattice_weight: z.number().min(0).optional(),
    /** A PatchGAN critic on the decoded frames (patch_discriminator.ts), from `start_step` on. */
    adversarial: z
      .strictObject({
        /** On the decoder's hinge term −mean(D(x̂)). */
        weight: z.number().min(0),
        /** On feature matching, mean |f(x̂) − f(x)| over the critic's hidden layers. */
        feature_matching_weight: z.number().min(0),
        start_step: z.number().int().min(0),
        /** The critic's AdamW rate (betas 0.5, 0.9, as SD's). */
        learning_rate: z.number().positive(),
        /** Channels of the critic's first layer (doubling per stride-2 layer). */
        width: z.number().int().positive(),
        /** How the critic halves its resolution: strided 4x4 convolutions (SD's), or blurred (patch_discriminator.ts). */
        downsample: z.enum(['stride', 'blur']).optional(),
        /** With blur: feature matching on each blurred layer's features before its blur ('full') or after ('pooled'). */
        feature_resolution: z.enum(['pooled', 'full']).optional(),
        /**
         * The steps the critic acts on: every step (the default), or only those decoding the
         * transformer's latents (data.generated), the encoder's latents then learning from the
         * reconstruction terms alone.
         */
        steps: z.enum(['every', 'generated']).optional(),
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
  if (t.adversarial?.steps === 'generated' && !result.data.data.generated)
    throw new ConfigError(
      `${where}: training.adversarial.steps: generated needs data.generated (the transformer's latents the critic acts on)`,
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

export interface VaeTrainOptions {
  config: string;
  /** `key.path=value` overrides of the config. */
  overrides?: readonly string[];
  output: string;
  resume?: string;
  device?: string;
  signal?: AbortSignal;
  onEvent?: (
    event:
      | { kind: 'step'; step: number; steps: number; loss: number; psnr: number }
      | { kind: 'note'; text: string }
      | { kind: 'checkpoint'; dir: string; validationPsnr: number },
  ) => void;
}

/** PSNR of [-1, 1] videos as 8-bit frames would give it (data range 2 here). */
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

function batchPsnr(a: Tensor, b: Tensor): number {
  return scope(() => {
    const mse = a.clamp(-1, 1).sub(b).square().mean().item();
    return 10 * Math.log10(4 / Math.max(mse, 1e-12));
  });
}

export async function trainVae(o: VaeTrainOptions): Promise<{ dir: string; steps: number }> {
  const c = loadVaeTrainingConfig(o.config, o.overrides);
  const root = (p: string): string => resolveConfigPath(o.config, p);
  const inputs = [
    root(c.data.first_video_root),
    root(c.data.third_video_root),
    c.training.init_from && root(c.training.init_from),
  ];
  return withRunLock(o.output, () => trainVaeUnlocked(o), {
    inputs,
    onNote: (text) => o.onEvent?.({ kind: 'note', text }),
  });
}

async function trainVaeUnlocked(o: VaeTrainOptions): Promise<{ dir: string; steps: number }> {
  const c = loadVaeTrainingConfig(o.config, o.overrides);
  const root = (p: string): string => resolveConfigPath(o.config, p);
  const device = checkDevice(o.device ?? 'cpu');
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
  const decoderOnly = c.training.trainable === 'decoder';
  const vae = c.training.init_from
    ? c.training.decoder_base_dim
      ? withFreshDecoder(root(c.training.init_from), c.training.decoder_base_dim, c.training.seed, device)
      : AutoencoderKLWan.fromPretrained(root(c.training.init_from), { device })
    : new AutoencoderKLWan(
        parseVaeConfig({ ...WAN22_TI2V_5B_VAE, ...c.vae } as Record<string, unknown>, `${o.config} (vae)`),
        { generator: new Generator(c.training.seed), device },
      );
  vae.train();
  if (decoderOnly) {
    vae.encoder.requiresGrad_(false);
    vae.quant_conv.requiresGrad_(false);
  }
  // a frozen encoder keeps its latent statistics; measuring them again could only add float noise
  const fixedStats = decoderOnly ? { mean: [...vae.config.latents_mean], std: [...vae.config.latents_std] } : null;
  const trainable = vae.trainableParameters();
  const optimizer = new AdamW(
    trainable.map(([, p]) => p),
    { lr: c.training.learning_rate, betas: [0.9, 0.95], eps: 1e-8, weightDecay: c.training.weight_decay },
  );
  const adversarial = c.training.adversarial;
  const critic = adversarial
    ? new CriticTraining(
        new PatchDiscriminator(
          3,
          adversarial.width,
          2,
          { generator: new Generator(sampleSeed(`${c.training.seed}`, 'critic')), device },
          adversarial.downsample,
          adversarial.feature_resolution,
        ),
        adversarial.learning_rate,
      )
    : undefined;
  const latticeWeight = c.training.lattice_weight ?? 0;
  const lattice = latticeWeight > 0 ? new LatticePenalty(3, { device }) : undefined;
  const pool = new ClipLoaderPool(1);
  const transform = { height: c.data.height, width: c.data.width, resizeLong: Math.max(c.data.height, c.data.width) };
  const frameCache = c.data.frame_cache ? new FrameCache(root(c.data.frame_cache), transform) : undefined;
  const decode = (clip: Clip, view: 'first' | 'third', start: number, frames: number) =>
    pool.load({ clip, start, frames, stride: 1, transform, withReference: false, views: [view] }).then((w) => w[view]);
  /** Frames start … start + data.frames − 1 of a clip view, from the frame cache when there is one. */
  const framesAt = (clip: Clip, view: 'first' | 'third', start: number) =>
    frameCache
      ? frameCache.window(clip, view, start, c.data.frames, () => decode(clip, view, 0, clip.frames))
      : decode(clip, view, start, c.data.frames);
  const window = (clip: Clip, key: string, view: 'first' | 'third') =>
    framesAt(
      clip,
      view,
      Math.floor((Number(sampleSeed(key, 'start')) / 2 ** 53) * windowStartCount(clip.frames, c.data.frames, 1)),
    );
  const fraction = c.data.generated?.fraction ?? 0;
  /** Generated steps before step s; step s is one when the count rises after it. */
  const generatedBefore = (s: number): number => Math.floor(s * fraction);
  const generatedStep = (s: number): boolean => generatedBefore(s + 1) > generatedBefore(s);
  const latentFrames = (c.data.frames - 1) / vae.temporalCompression + 1;
  let step = 0;
  try {
    if (o.resume) {
      const dir = resolveCheckpoint(o.output, o.resume);
      const state = JSON.parse(readFileSync(path.join(dir, 'trainer_state.json'), 'utf8')) as {
        step: number;
        optimizerSteps: number;
        criticSteps?: number;
      };
      vae.loadStateDict(openWeights(path.join(dir, 'vae'), 'diffusion_pytorch_model'), { where: dir });
      loadOptimizerState(path.join(dir, 'optimizer.safetensors'), trainable, optimizer, state.optimizerSteps);
      critic?.load(dir, state.criticSteps ?? 0);
      step = state.step;
      o.onEvent?.({ kind: 'note', text: `resumed from ${dir} at step ${step}` });
    } else if (listCheckpoints(o.output).length) {
      throw new ConfigError(
        `${o.output} holds checkpoints of a run; resume it (--resume latest) or choose another folder`,
      );
    }
  } catch (error) {
    // nothing was trained: release the loader's process and the weights before saying why
    await pool.close();
    vae.dispose();
    critic?.dispose();
    throw error;
  }
  mkdirSync(o.output, { recursive: true });
  // Sample k of the run is training window (epoch, index) of a fixed order, view alternating.
  const sampleAt = (k: number): { clip: Clip; key: string; view: 'first' | 'third' } => {
    const epoch = Math.floor(k / training.length),
      index = k % training.length;
    const order = epochOrder(c.training.seed, epoch, training.length);
    return {
      clip: training[order[index]!]!,
      key: `${c.training.seed}/${epoch}/${index}`,
      view: k % 2 === 0 ? 'first' : 'third',
    };
  };
  const batchAt = (s: number) =>
    Array.from({ length: c.training.batch_size }, (_, b) => sampleAt(s * c.training.batch_size + b));
  // Generated pair k of the run: pair (epoch, index) of its own fixed order.
  const generatedAt = (k: number): GeneratedPair => {
    const epoch = Math.floor(k / generatedTrain.length);
    const order = epochOrder(c.training.seed, epoch, generatedTrain.length);
    return generatedTrain[order[k % generatedTrain.length]!]!;
  };
  const request = async (s: number): Promise<{ frames: Uint8Array[][]; latents?: string[] }> => {
    if (!generatedStep(s)) return { frames: await Promise.all(batchAt(s).map((x) => window(x.clip, x.key, x.view))) };
    const pairs = Array.from({ length: c.training.batch_size }, (_, b) =>
      generatedAt(generatedBefore(s) * c.training.batch_size + b),
    );
    const frames = await Promise.all(pairs.map((p) => targetFrames(p)));
    return { frames, latents: pairs.map((p) => p.file) };
  };
  const targetFrames = (p: GeneratedPair): Promise<Uint8Array[]> => framesAt(p.clip, p.view, 0);
  if (frameCache) {
    const views = [
      ...[...training, ...validation].flatMap((clip) => (['first', 'third'] as const).map((view) => ({ clip, view }))),
      ...[...generatedTrain, ...generatedValidation].map((p) => ({ clip: p.clip, view: p.view })),
    ];
    const started = performance.now();
    let told = false;
    const written = await frameCache.fill(views, (_, total) => {
      if (!told) o.onEvent?.({ kind: 'note', text: `frame cache ${frameCache.dir}: decoding ${total} clip views` });
      told = true;
    });
    if (written)
      o.onEvent?.({
        kind: 'note',
        text: `frame cache ${frameCache.dir}: ${written} clip views decoded in ${((performance.now() - started) / 1000).toFixed(0)} s`,
      });
  }
  let next = prefetched(request(step));
  const video = (frames: Uint8Array[][]): Tensor =>
    scope(() =>
      stack(
        frames.map((f) => framesToTensor(f, c.data.width, c.data.height, { device }).squeeze(0)),
        0,
      ),
    );
  const save = async (at: number): Promise<void> => {
    const stats = fixedStats ?? (await latentStats(vae, training, c, window, device));
    const scores = await validationScores(vae, validation, c, window, device);
    const generated = generatedValidation.length
      ? await reconstructionScores(
          vae,
          generatedValidation,
          c,
          targetFrames,
          (_, p) => readGeneratedLatents(p.file, latentFrames, device),
          device,
        )
      : undefined;
    const psnr = scores.psnr;
    const dir = await writeCheckpoint(o.output, at, c.training.keep_last_checkpoints, (temp) => {
      writeVaeFolder(path.join(temp, 'vae'), vae, stats);
      saveOptimizerState(path.join(temp, 'optimizer.safetensors'), trainable, optimizer);
      critic?.save(temp);
      writeFileSync(
        path.join(temp, 'trainer_state.json'),
        jsonText(
          {
            step: at,
            optimizerSteps: optimizer.stepCount,
            criticSteps: critic?.optimizer.stepCount,
            validationPsnr: psnr,
            latents: stats,
          },
          2,
        ),
      );
    });
    appendFileSync(
      path.join(o.output, 'validation.jsonl'),
      jsonText({
        step: at,
        ...rounded(scores),
        ...(generated && { generated: rounded(generated) }),
      }),
    );
    o.onEvent?.({ kind: 'checkpoint', dir, validationPsnr: psnr });
  };
  try {
    for (; step < c.training.max_steps; step++) {
      if (o.signal?.aborted) {
        await save(step);
        break;
      }
      const started = performance.now();
      const { frames, latents: generatedFiles } = await next;
      next = prefetched(request(step + 1));
      const { loss, psnr } = scope(() => {
        const x = video(frames);
        const adversarialOn =
          critic !== undefined &&
          adversarial !== undefined &&
          step >= adversarial.start_step &&
          (adversarial.steps !== 'generated' || generatedFiles !== undefined);
        /** MSE + l1_weight · L1 of a decoded batch against its frames. */
        const reconstruction = (recon: Tensor): Tensor => {
          const diff = recon.sub(x);
          return diff.square().mean().add(diff.abs().mean().mul(c.training.l1_weight));
        };
        /** The decoded batch (float32) and the loss: reconstruction terms, the KL, the adversarial ones when on. */
        const forward = (): { recon: Tensor; total: Tensor } => {
          let recon: Tensor, total: Tensor;
          if (decoderOnly) {
            // the decoder learns from z = μ (what the pipeline decodes), or from the transformer's own latents
            const z = generatedFiles
              ? cat(
                  generatedFiles.map((file) => readGeneratedLatents(file, latentFrames, device)),
                  0,
                )
              : noGrad(() => vae.encode(x).mean);
            recon = vae.decode(z, { clamp: false }).float();
            total = reconstruction(recon);
          } else {
            const generator = new Generator(sampleSeed(`${c.training.seed}/${step}`, 'vae-noise'));
            const moments = vae.encodeMoments(x).float();
            const [mean, logvar] = moments.chunk(2, 1) as [Tensor, Tensor];
            const clamped = logvar.clamp(-30, 20);
            const std = clamped.mul(0.5).exp();
            const zz = mean.add(std.mul(randn(mean.shape, generator, { device })));
            recon = vae.decode(zz, { clamp: false }).float();
            const kl = mean.square().add(clamped.exp()).sub(1).sub(clamped).mul(0.5).mean();
            total = reconstruction(recon).add(kl.mul(c.training.kl_weight));
          }
          if (lattice) total = total.add(lattice.loss(framesOf(recon), framesOf(x)).mul(latticeWeight));
          if (adversarialOn) total = total.add(generatorTerms(critic.net, framesOf(x), framesOf(recon), adversarial));
          return { recon, total };
        };
        // bf16-mixed: the forward under autocast (float32 master weights); backward and the critic's own step outside it
        const { recon, total } = c.training.precision === 'bf16-mixed' ? autocast('bfloat16', forward) : forward();
        total.backward();
        if (adversarialOn) critic.step(framesOf(x), framesOf(recon));
        return { loss: total.item(), psnr: noGrad(() => batchPsnr(recon.detach(), x)) };
      });
      if (!Number.isFinite(loss)) throw new ConfigError(`step ${step + 1}: the loss is ${loss}; stopped`);
      optimizer.lr = learningRateAt(step, c.training.learning_rate, c.training.warmup_steps, {
        steps: c.training.decay_steps ?? 0,
        total: c.training.max_steps,
      });
      optimizer.step();
      optimizer.zeroGrad();
      appendFileSync(
        path.join(o.output, 'metrics.jsonl'),
        jsonText({
          step: step + 1,
          loss,
          psnr: Number(psnr.toFixed(3)),
          lr: optimizer.lr,
          step_seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
        }),
      );
      o.onEvent?.({ kind: 'step', step: step + 1, steps: c.training.max_steps, loss, psnr });
      await yieldToEventLoop();
      if ((step + 1) % c.training.save_interval_steps === 0 || step + 1 === c.training.max_steps) await save(step + 1);
    }
  } finally {
    await next.catch(() => undefined);
    await pool.close();
    vae.dispose();
    critic?.dispose();
    lattice?.dispose();
  }
  return { dir: o.output, steps: step };
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
