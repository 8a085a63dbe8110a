// The small WorldWander, from nothing: `npm run recipe` (see models/worldwander-small/README.md).
// The bundled model's transformer starts as `npm run recipe -- --vae-from models/stages/vae-z48-step5000
// --decoder-from models/stages/vae-z48-decoder-tuned --transformer-config configs/small/transformer-d384.json`:
// the stages below on the z 48 VAE that was trained apart, in stages, its decoder as tuned on an
// earlier transformer's outputs (models/stages/README.md), and the width-384 transformer; the
// model card's "How this model was made, in order" lists the stages run after it. The plain
// recipe trains its own z 16 VAE in one go (the previous bundled model) into outputs/recipe/ and
// never overwrites the bundled folder.
// Every stage picks up what an earlier, interrupted run left (synth --resume, training resumes
// from its last checkpoint), so running it again finishes it. Stages:
//   1. data       synthetic triplets, 64x64, 17 frames: training seed 1 (2,500 clips), validation
//                 seed 2 (64 clips, for choosing the sampling settings), test seed 3 (32 clips,
//                 held out from everything: only the model card's numbers come from them)
//   2. perception the PerceptionNet that eval's perceptual, Fréchet and content scores use
//                 (train-perception on both views of the training split's clips and their class
//                 maps; shipped in the model folder as perception/)
//   3. vae        train-vae with configs/small/vae.yaml, the clips' frames decoded once (OUT/frame_cache),
//                 in bf16-mixed where the CPU has bf16 instructions (as 5; float32 runs before 2026-12-07)
//   4. assemble   the staging model folder: the VAE, a tiny umT5 and its prompt cache, the
//                 transformer (configs/small/transformer.json) at its seeded initialisation
//   5. transformer  train with configs/small/three2one.yaml: all weights, both tasks alternating,
//                 latents from the latent cache, timesteps drawn with the release's shift 5 and
//                 weighted alike; a constant learning rate, then a linear cool-down over the
//                 last 300 of 1300 steps (with --vae-from: the last 800 of 4000); in bf16-mixed
//                 where the CPU has bf16 instructions, float32 elsewhere (every profile: the
//                 model card's figures of the z 16 and --quick runs are float32 runs)
//   6. export     OUT/worldwander-small (bfloat16 storage)
//   6b. decoder   (--vae-from) the VAE's decoder tuned on the exported transformer's one-step
//                 latents of training cases and on the encoder's, with the critic
//                 (configs/small/vae-refiner.yaml, three runs: DECODER_RUNS); the model folder's
//                 vae/ becomes it (with --decoder-from DIR: DIR's decoder, its encoder checked)
//   7. sampling   steps / guidance / flow shift chosen on 16 validation clips by the blur-aware
//                 metrics together (src/eval/selection.ts: mean rank of PSNR, sharpness, edges,
//                 perceptual and Fréchet distance, mIoU)
//   8. report     both tasks on the test split against the baselines
//   with --ablation: a run with uniform positions (CPE off) of ABLATION_STEPS steps, and both it
//                 and the main run's checkpoint of that step reported on the test split.
// --quick: the same stages at a working session's budget (under 90 minutes on the 2-core machine
// of docs/BENCHMARKS.md): VAE 200 steps, transformer 640 steps (cool-down over the last 150), a
// sampling grid of one- and two-step settings, into outputs/recipe-quick (its model folder
// there; the bundled model is the --vae-from schedule's).
// --vae-from DIR: the stages after the VAE with a VAE trained apart (its folder's vae/), into
// outputs/recipe-vae-from (the full recipe's data and PerceptionNet shared); how the z 48 VAE of
// models/stages/ is tried as a lever.
// --transformer-config FILE: another transformer architecture (a lever), into the profile's folder + '-' + the file's name.
// Usage: node dist/scripts/small-model-recipe.js [--quick | --vae-from DIR [--decoder-from DIR]] [--transformer-config FILE]
//        [--ablation] [--only STAGE]
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { synthesize } from '../src/synth/run.js';
import { trainVae } from '../src/train/vae_trainer.js';
import { writeGeneratedLatents } from '../src/train/generated_latents.js';
import { assertSameEncoder } from '../src/train/same_encoder.js';
import { WorldWanderError } from '../src/errors.js';
import { PERCEPTION_DEFAULTS, trainPerception } from '../src/train/perception_trainer.js';
import { PerceptualScorer } from '../src/eval/perceptual.js';
import { train } from '../src/train/trainer.js';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { rememberedDigest } from '../src/io/digest.js';
import { Generator, hasFastBf16, saveSafetensors } from '../src/torch/index.js';
import { WanTransformer3DModel } from '../src/models/wan/transformer.js';
import { parseTransformerConfig } from '../src/models/wan/transformer_config.js';
import { promptEmbeddings } from '../src/models/umt5/prompt_cache.js';
import { ALL_PROMPTS, TASKS } from '../src/worldwander/prompts.js';
import { translateSplit } from '../src/worldwander/translate_split.js';
import { convertModelFile } from '../src/worldwander/model_convert.js';
import { MODEL_CARD_FILES, modelIndexJson, type ModelDefaults } from '../src/worldwander/model_defaults.js';
import { evaluate, meanTargetFrame, type EvalReport } from '../src/eval/evaluate.js';
import { writeReport } from '../src/eval/report.js';
import { formatPaired, pairedComparison, readEvalReport } from '../src/eval/compare.js';
import { writePng } from '../src/data/frames.js';
import { LAYOUT } from '../src/data/layout.js';
import { Progress } from '../src/data/progress.js';
import { writeTinyTextEncoder } from './make-umt5-fixture.js';
import { chooseSetting, type SettingScores } from '../src/eval/selection.js';

/** A wrong flag is one line naming it, and exit 2, before any stage runs. */
const refuse = (flag: string, message: string): never => {
  console.error(`recipe: --${flag}: ${message}`);
  process.exit(2);
};
const flags = (() => {
  try {
    return parseArgs({
      options: {
        quick: { type: 'boolean' },
        ablation: { type: 'boolean' },
        only: { type: 'string' },
        'vae-from': { type: 'string' },
        'decoder-from': { type: 'string' },
        'transformer-config': { type: 'string' },
      },
    }).values;
  } catch (error) {
    console.error(`recipe: ${(error as Error).message}`);
    return process.exit(2);
  }
})();
/** The PerceptionNet's schedule (both profiles: ~6 minutes here, on every clip of the training split). */
const PERCEPTION_STEPS = 4000;
const PERCEPTION_CLIPS = 2500;
/**
 * The decoder stage (--vae-from): its runs of configs/small/vae-refiner.yaml, the second from the
 * first's decoder with feature matching at full resolution (the first run's decoder draws a
 * period-2 lattice), the third from the second's with the lattice penalty (the lattice came back
 * in the second run's later steps), and the training cases whose one-step latents they decode.
 * `keep` is the checkpoint taken, chosen on the validation cases by the lattice share and by
 * looking (the model card has the measures and pictures).
 */
const DECODER_RUNS: { name: string; steps: number; keep?: number; overrides: string[] }[] = [
  { name: 'decoder', steps: 800, overrides: [] },
  {
    name: 'decoder-full',
    steps: 400,
    keep: 200,
    overrides: [
      'training.learning_rate=2e-4',
      'training.decay_steps=150',
      'training.seed=12',
      'training.adversarial.feature_resolution=full',
    ],
  },
  {
    name: 'decoder-lattice',
    steps: 400,
    overrides: [
      'training.learning_rate=2e-4',
      'training.decay_steps=150',
      'training.seed=13',
      'training.adversarial.feature_resolution=full',
      'training.lattice_weight=100',
    ],
  },
];
const DECODER_CASES = 616;
const { only, ablation, quick } = flags;
/** --vae-from DIR: a VAE trained apart (a VAE folder, e.g. models/stages/vae-z48-step2600, or a train-vae checkpoint) instead of the vae stage; the transformer's channels follow its z_dim. */
const vaeFrom = flags['vae-from'];
/**
 * --decoder-from DIR (with --vae-from): the decoder stage takes DIR's VAE (a decoder tuned earlier,
 * e.g. models/stages/vae-z48-decoder-tuned) instead of its runs; its encoder must be --vae-from's,
 * so that the latents the transformer learned stay the ones it decodes.
 */
const decoderFrom = flags['decoder-from'];
if (decoderFrom && !vaeFrom) refuse('decoder-from', 'needs --vae-from (the VAE whose encoder it shares)');
/** The VAE folder of a `--vae-from` argument: a checkpoint holds it in vae/, a stage folder (models/stages/) is one. */
const vaeFolderOf = (dir: string): string => (existsSync(path.join(dir, 'vae')) ? path.join(dir, 'vae') : dir);
// checked before any stage runs, not after hours of training; a wrong folder is one line, exit 2
if (decoderFrom) {
  try {
    assertSameEncoder(decoderFrom, vaeFolderOf(vaeFrom!));
  } catch (error) {
    if (!(error instanceof WorldWanderError)) throw error;
    refuse('decoder-from', error.message);
  }
}
/** The budgets: the full schedule (the bundled model) and one that fits a working session. */
const PROFILE = vaeFrom
  ? {
      out: 'outputs/recipe-vae-from',
      vaeSteps: 0,
      transformerSteps: 4000,
      decaySteps: 800,
      fullGrid: true,
      perceptionSteps: PERCEPTION_STEPS,
      decoderRuns: DECODER_RUNS,
    }
  : quick
    ? {
        out: 'outputs/recipe-quick',
        vaeSteps: 200,
        transformerSteps: 640,
        decaySteps: 150,
        fullGrid: false,
        perceptionSteps: PERCEPTION_STEPS,
        decoderRuns: [],
      }
    : {
        out: 'outputs/recipe',
        vaeSteps: 300,
        transformerSteps: 1300,
        decaySteps: 300,
        fullGrid: true,
        perceptionSteps: PERCEPTION_STEPS,
        decoderRuns: [],
      };
/**
 * --transformer-config FILE: the transformer's architecture instead of configs/small/transformer.json
 * (its channels still follow the VAE's z_dim), e.g. configs/small/transformer-d384.json; the run goes
 * to the profile's folder with the file's name appended, beside the default's, sharing its data.
 */
const transformerConfigGiven = flags['transformer-config'];
const transformerConfig = transformerConfigGiven ?? 'configs/small/transformer.json';
if (!existsSync(transformerConfig))
  refuse('transformer-config', `${transformerConfig} does not exist (a transformer config.json)`);
const variant = transformerConfigGiven ? `-${path.basename(transformerConfigGiven, '.json')}` : '';
const OUT = PROFILE.out + variant;
const MODEL = path.join(OUT, 'worldwander-small');
const STAGING = path.join(OUT, 'model');
const SIZE = { width: 64, height: 64, frames: 17, fps: 8 };
const SPLITS = { train: { seed: 1, count: 2500 }, validation: { seed: 2, count: 64 }, test: { seed: 3, count: 32 } };
/** Steps of each run of the CPE ablation (the main run keeps its checkpoint of this step). */
const ABLATION_STEPS = 250;
const times: Record<string, number> = existsSync(path.join(OUT, 'times.json'))
  ? JSON.parse(readFileSync(path.join(OUT, 'times.json'), 'utf8'))
  : {};

async function stage(name: string, run: () => Promise<void> | void): Promise<void> {
  if (only && only !== name) return;
  const started = performance.now();
  console.error(`== ${name}`);
  await run();
  times[name] = (times[name] ?? 0) + (performance.now() - started) / 1000;
  writeFileSync(path.join(OUT, 'times.json'), `${JSON.stringify(times, null, 2)}\n`);
  console.error(`== ${name}: ${times[name]!.toFixed(0)} s in all runs`);
}

/** The data and the PerceptionNet: the profile's own, or with --vae-from the full recipe's (the same seeds, made once). */
const SHARED = vaeFrom ? 'outputs/recipe' : PROFILE.out;
const dataDir = (split: keyof typeof SPLITS): string => path.join(SHARED, 'data', split);
/** Overrides pointing a config's `section` at this profile's training clips. */
const ROOT_KEYS = { first: 'first_video_root', third: 'third_video_root', reference: 'ref_image_root' } as const;
const trainingRoots = (section: string, views: (keyof typeof LAYOUT)[]): string[] =>
  views.map((view) => `${section}.${ROOT_KEYS[view]}=${path.join(dataDir('train'), LAYOUT[view])}`);

/**
 * bf16 matmuls and convolutions where the CPU has bf16 instructions (the transformer's step 1.7x
 * faster, the VAE's 1.2x), else float32 (bf16 would be ~20x slower there).
 */
const PRECISION = `training.precision=${hasFastBf16() ? 'bf16-mixed' : '32'}`;

/** train-vae's data: the training split, its clip views decoded once into the frame cache (the same frames, no ffmpeg per window). */
const vaeData = (): string[] => [
  ...trainingRoots('data', ['first', 'third']),
  `data.frame_cache=${path.join(OUT, 'frame_cache')}`,
];

async function data(): Promise<void> {
  for (const split of Object.keys(SPLITS) as (keyof typeof SPLITS)[]) {
    const out = dataDir(split);
    const result = await synthesize({
      ...SPLITS[split],
      ...SIZE,
      format: 'mp4',
      out,
      resume: existsSync(path.join(out, 'manifest.json')),
      progress: true,
    });
    console.error(`${split}: ${result.written} written, ${result.skipped} already there`);
  }
}

const perceptionDir = (): string => path.join(SHARED, 'perception', 'perception');

async function perception(): Promise<void> {
  const output = path.join(SHARED, 'perception');
  if (existsSync(path.join(output, 'validation.json'))) return; // trained (the network is written before its validation)
  let bar: Progress | undefined;
  const { validation } = await trainPerception({
    ...PERCEPTION_DEFAULTS,
    data: dataDir('train'),
    validationData: dataDir('validation'),
    output,
    clips: PERCEPTION_CLIPS,
    steps: PROFILE.perceptionSteps,
    resume: listCheckpoints(output).length ? 'latest' : undefined,
    onEvent: (e) => {
      if (e.kind === 'note') console.error(`note: ${e.text}`);
      else {
        bar ??= new Progress('perception', e.steps, { unit: 'steps', initial: e.step - 1 });
        bar.tick();
      }
    },
  });
  bar?.finish();
  console.error(`perception: validation mIoU ${validation?.miou.toFixed(3)}`);
}

async function vae(): Promise<void> {
  const output = path.join(OUT, 'vae');
  const resume = listCheckpoints(output).length ? 'latest' : undefined;
  let bar: Progress | undefined;
  await trainVae({
    config: 'configs/small/vae.yaml',
    overrides: [...vaeData(), PRECISION, `training.max_steps=${PROFILE.vaeSteps}`],
    output,
    resume,
    onEvent: (e) => {
      if (e.kind === 'checkpoint') console.error(`\n${e.dir}: validation PSNR ${e.validationPsnr.toFixed(2)} dB`);
      else if (e.kind === 'step') {
        bar ??= new Progress('vae', e.steps, { unit: 'steps', initial: e.step - 1 });
        bar.tick();
        if (e.step % 50 === 0)
          console.error(
            `\nvae step ${e.step}/${e.steps}: loss ${e.loss.toFixed(4)}, batch PSNR ${e.psnr.toFixed(2)} dB`,
          );
      }
    },
  });
  bar?.finish();
}

/** The staging model folder: the trained VAE, the text side, and the transformer's initial weights. */
async function assemble(): Promise<void> {
  const vaeFolder = vaeFrom ?? listCheckpoints(path.join(OUT, 'vae')).pop()?.dir;
  if (!vaeFolder) throw new Error('no VAE checkpoint: run the vae stage first');
  rmSync(path.join(STAGING, 'vae'), { recursive: true, force: true });
  mkdirSync(STAGING, { recursive: true });
  cpSync(vaeFolderOf(vaeFolder), path.join(STAGING, 'vae'), { recursive: true });
  const zDim = (JSON.parse(readFileSync(path.join(STAGING, 'vae', 'config.json'), 'utf8')) as { z_dim: number }).z_dim;
  writeTinyTextEncoder(STAGING);
  const transformerDir = path.join(STAGING, 'transformer');
  if (!existsSync(path.join(transformerDir, 'diffusion_pytorch_model.safetensors'))) {
    mkdirSync(transformerDir, { recursive: true });
    // the transformer reads and writes the VAE's latent channels
    const raw = {
      ...JSON.parse(readFileSync(transformerConfig, 'utf8')),
      in_channels: zDim,
      out_channels: zDim,
    };
    const config = parseTransformerConfig(raw, transformerConfig);
    const model = new WanTransformer3DModel(config, { generator: new Generator(2026) });
    writeFileSync(path.join(transformerDir, 'config.json'), `${JSON.stringify(raw, null, 2)}\n`);
    saveSafetensors(path.join(transformerDir, 'diffusion_pytorch_model.safetensors'), model.stateDict(), {
      format: 'pt',
    });
    model.dispose();
  }
  writeModelIndex(STAGING, {});
  promptEmbeddings(STAGING, ALL_PROMPTS, {
    cacheDir: path.join(STAGING, 'prompt_embeds'),
    maxLength: SMALL_DEFAULTS.max_sequence_length,
    dtype: 'float32',
  }).dispose();
}

async function transformer(name: string, overrides: string[]): Promise<void> {
  const output = path.join(OUT, name);
  const resume = listCheckpoints(output).length ? 'latest' : undefined;
  const paths = [
    ...trainingRoots('dataset', ['first', 'third', 'reference']),
    `dataset.latent_cache=${path.join(OUT, 'latent_cache')}`,
  ];
  const schedule = [
    `training.max_steps=${PROFILE.transformerSteps}`,
    `training.decay_steps=${PROFILE.decaySteps}`,
    PRECISION,
  ];
  let bar: Progress | undefined;
  await train({
    config: 'configs/small/three2one.yaml',
    overrides: [`model_id=${STAGING}`, `output_root=${output}`, ...paths, ...schedule, ...overrides],
    output,
    resume,
    onEvent: (e) => {
      if (e.kind === 'note') console.error(`note: ${e.text}`);
      else if (e.kind === 'start') bar = new Progress(name, e.steps, { unit: 'steps', initial: e.step });
      else if (e.kind === 'step') {
        bar?.tick();
        if (e.metrics.step % 50 === 0)
          console.error(`\n${name} step ${e.metrics.step}: loss ${e.metrics.loss.toFixed(4)}`);
      } else if (e.kind === 'validation')
        for (const r of e.results) console.error(`\nvalidation step ${e.step} ${r.case}: PSNR ${r.psnr.toFixed(2)} dB`);
      else if (e.kind === 'cache') {
        if (e.done % 256 === 0 || e.done === e.total) console.error(`latent cache ${e.done}/${e.total}`);
      }
    },
  });
  bar?.finish();
}

/**
 * The decoder tuned on what the exported transformer makes (configs/small/vae-refiner.yaml): the
 * one-step latents of DECODER_CASES training cases (and of the 16 validation cases the sampling
 * stage uses, for its validation), then decoder-only training with the critic; the model folder's
 * vae/ becomes the tuned one. The encoder stays byte for byte, so the transformer's latents do too.
 */
async function decoder(): Promise<void> {
  if (decoderFrom) {
    bf16(decoderFrom, path.join(MODEL, 'vae')); // its encoder checked at start-up
    return;
  }
  const generated = (split: 'train' | 'validation', cases: number): Promise<unknown> =>
    writeGeneratedLatents({
      model: MODEL,
      data: dataDir(split),
      out: path.join(OUT, `generated-${split}`),
      cases,
      onProgress: (done, total) => {
        if (done % 200 === 0 || done === total) console.error(`generated latents (${split}) ${done}/${total}`);
      },
    });
  await generated('train', DECODER_CASES);
  await generated('validation', 16);
  let from = path.join(STAGING, 'vae');
  for (const run of PROFILE.decoderRuns) {
    const output = path.join(OUT, run.name);
    let bar: Progress | undefined;
    await trainVae({
      config: 'configs/small/vae-refiner.yaml',
      overrides: [
        ...vaeData(),
        PRECISION,
        `data.generated.train=${path.join(OUT, 'generated-train')}`,
        `data.generated.validation=${path.join(OUT, 'generated-validation')}`,
        `training.init_from=${from}`,
        `training.max_steps=${run.steps}`,
        ...run.overrides,
      ],
      output,
      resume: listCheckpoints(output).length ? 'latest' : undefined,
      onEvent: (e) => {
        if (e.kind === 'checkpoint') console.error(`\n${e.dir}: validation PSNR ${e.validationPsnr.toFixed(2)} dB`);
        else if (e.kind === 'note') console.error(`note: ${e.text}`);
        else {
          bar ??= new Progress(run.name, e.steps, { unit: 'steps', initial: e.step - 1 });
          bar.tick();
        }
      },
    });
    bar?.finish();
    const kept = listCheckpoints(output).find((c) => c.step === (run.keep ?? run.steps));
    if (!kept) throw new Error(`${output}: no checkpoint of step ${run.keep ?? run.steps} (keep_last_checkpoints?)`);
    from = path.join(kept.dir, 'vae');
  }
  bf16(from, path.join(MODEL, 'vae'));
}

/** Sampling defaults of the small model until the sampling stage chooses them; 16 text tokens (the task prompts are 10). */
const SMALL_DEFAULTS: ModelDefaults = {
  height: SIZE.height,
  width: SIZE.width,
  num_frames: SIZE.frames,
  num_inference_steps: 20,
  guidance_scale: 1,
  flow_shift: 1,
  fps: SIZE.fps,
  max_sequence_length: 16,
};

function writeModelIndex(target: string, defaults: Partial<ModelDefaults>): void {
  writeFileSync(path.join(target, 'model_index.json'), modelIndexJson({ ...SMALL_DEFAULTS, ...defaults }));
}

/** A diffusers part folder (config.json and one weights file) copied with its weights stored as bfloat16. */
function bf16(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  cpSync(path.join(from, 'config.json'), path.join(to, 'config.json'));
  const weights = 'diffusion_pytorch_model.safetensors';
  convertModelFile(path.join(from, weights), path.join(to, weights), 'diffusers', { dtype: 'bfloat16' });
}

/** A model folder from the staging one and a trained transformer checkpoint, weights stored as bfloat16. */
async function exportModel(
  runDir: string,
  target: string,
  defaults: Partial<ModelDefaults>,
  step?: number,
): Promise<void> {
  const checkpoint =
    step === undefined ? listCheckpoints(runDir).pop() : listCheckpoints(runDir).find((c) => c.step === step);
  if (!checkpoint) throw new Error(`no checkpoint${step === undefined ? '' : ` of step ${step}`} in ${runDir}`);
  mkdirSync(target, { recursive: true });
  for (const entry of readdirSync(target))
    if (!MODEL_CARD_FILES.includes(entry)) rmSync(path.join(target, entry), { recursive: true, force: true }); // the model card stays
  for (const part of ['text_encoder', 'tokenizer', 'prompt_embeds'])
    cpSync(path.join(STAGING, part), path.join(target, part), { recursive: true });
  bf16(path.join(checkpoint.dir, 'transformer'), path.join(target, 'transformer'));
  bf16(path.join(STAGING, 'vae'), path.join(target, 'vae'));
  cpSync(perceptionDir(), path.join(target, 'perception'), { recursive: true });
  writeModelIndex(target, defaults);
  // what the demo shows next to the model's numbers: its loss curve and the mean-frame baseline
  cpSync(path.join(runDir, 'metrics.jsonl'), path.join(target, 'training_metrics.jsonl'));
  mkdirSync(path.join(target, 'mean_frames'), { recursive: true });
  for (const task of TASKS)
    await writePng(path.join(target, 'mean_frames', `${task}.png`), {
      width: SIZE.width,
      height: SIZE.height,
      data: await meanFrame(task),
    });
}

/** The mean target frame of the training split (the mean-frame baseline), computed once. */
async function meanFrame(task: (typeof TASKS)[number]): Promise<Uint8Array> {
  const file = path.join(OUT, `mean_frame_${task}.bin`);
  if (!existsSync(file))
    writeFileSync(file, await meanTargetFrame(dataDir('train'), task, SIZE.frames, SIZE.width, SIZE.height));
  return new Uint8Array(readFileSync(file));
}

async function scoreSplit(
  out: string,
  split: keyof typeof SPLITS,
  withMeanFrame: boolean,
): Promise<Record<string, EvalReport>> {
  const reports: Record<string, EvalReport> = {};
  using perception = PerceptualScorer.load(perceptionDir());
  for (const task of TASKS) {
    reports[task] = await evaluate({
      task,
      predictions: path.join(out, task),
      groundTruth: dataDir(split),
      frames: SIZE.frames,
      meanFrame: withMeanFrame ? await meanFrame(task) : undefined,
      perception,
    });
  }
  return reports;
}

type Setting = { steps: number; guidance: number; shift: number };
type SamplingRecord = {
  model: string;
  complete: boolean;
  best?: Setting;
  results: (Setting & SettingScores & { ssim: number })[];
};
const SAMPLING_RECORD = path.join(OUT, 'sampling.json');

/** The trained transformer the sampling settings were chosen for: its last checkpoint's step and weights digest. */
function trainedIdentity(): string {
  const last = listCheckpoints(path.join(OUT, 'transformer')).pop();
  const transformer = last
    ? `step-${last.step}:${rememberedDigest(path.join(last.dir, 'transformer', 'diffusion_pytorch_model.safetensors'))}`
    : 'untrained';
  if (decoderFrom)
    return `${transformer}; decoder ${rememberedDigest(path.join(decoderFrom, 'diffusion_pytorch_model.safetensors'))}`;
  const lastRun = PROFILE.decoderRuns.at(-1);
  const decoder = lastRun
    ? listCheckpoints(path.join(OUT, lastRun.name)).find((c) => c.step === (lastRun.keep ?? lastRun.steps))
    : undefined;
  return decoder
    ? `${transformer}; decoder step-${decoder.step}:${rememberedDigest(path.join(decoder.dir, 'vae', 'diffusion_pytorch_model.safetensors'))}`
    : transformer;
}

/** The sampling stage's record (sampling.json): every setting tried and, once complete, the best; empty when made for other weights. */
function chosen(): SamplingRecord {
  const model = trainedIdentity();
  const record = existsSync(SAMPLING_RECORD)
    ? (JSON.parse(readFileSync(SAMPLING_RECORD, 'utf8')) as SamplingRecord)
    : null;
  return record?.model === model ? record : { model, complete: false, results: [] };
}

/**
 * Sampling settings by the blur-aware metrics together (chooseSetting: the lowest mean rank of
 * PSNR, sharpness, edge agreement, perceptual and Fréchet distance and mIoU, each the mean of both
 * tasks) on 16 validation clips; the test split is never looked at. PSNR alone would choose one
 * step: one Euler step from pure noise returns the model's estimate of E[x0 | condition], the
 * blur PSNR rewards most; more steps draw sharper samples whose expected error is larger.
 */
async function sampling(): Promise<void> {
  const grid: Setting[] = [];
  for (const guidance of PROFILE.fullGrid ? [1, 2, 3] : [1, 2]) grid.push({ steps: 1, guidance, shift: 1 }); // the shift moves no sigma of one step
  for (const guidance of PROFILE.fullGrid ? [1, 2] : [1])
    for (const shift of [1, 3]) grid.push({ steps: 2, guidance, shift });
  // many steps for the report's sharper samples (on the first model's full grid, validation PSNR
  // fell with every step added: 1 > 2 > 4 > 8 ≈ 20 steps, and shift 3 ≥ shift 1 beyond 2 steps)
  if (PROFILE.fullGrid) for (const guidance of [1, 2]) grid.push({ steps: 20, guidance, shift: 3 });
  const { model, results } = chosen();
  const write = (record: SamplingRecord): void =>
    writeFileSync(SAMPLING_RECORD, `${JSON.stringify(record, null, 2)}\n`);
  for (const settings of grid) {
    if (
      results.some(
        (r) =>
          r.steps === settings.steps &&
          r.guidance === settings.guidance &&
          r.shift === settings.shift &&
          r.perceptual !== undefined,
      )
    )
      continue;
    const out = path.join(OUT, 'sampling', `n${settings.steps}_g${settings.guidance}_s${settings.shift}`);
    rmSync(out, { recursive: true, force: true });
    await translateSplit(MODEL, dataDir('validation'), 16, out, { ...settings, cpe: true });
    const reports = await scoreSplit(out, 'validation', false);
    const mean = (m: keyof SettingScores | 'ssim'): number =>
      ((reports.three2one!.overall.model[m] ?? NaN) + (reports.one2three!.overall.model[m] ?? NaN)) / 2;
    const scores = {
      psnr: mean('psnr'),
      ssim: mean('ssim'),
      sharpness: mean('sharpness'),
      edges: mean('edges'),
      perceptual: mean('perceptual'),
      frechet: mean('frechet'),
      miou: mean('miou'),
    };
    results.push({ ...settings, ...scores });
    console.error(
      `sampling ${JSON.stringify(settings)}: validation ${Object.entries(scores)
        .map(([k, v]) => `${k} ${v.toFixed(3)}`)
        .join(', ')}`,
    );
    write({ model, complete: false, results }); // a stopped grid resumes
  }
  const scored = results.filter((r) => r.perceptual !== undefined);
  const best = scored[chooseSetting(scored)]!;
  write({ model, complete: true, best: { steps: best.steps, guidance: best.guidance, shift: best.shift }, results });
  const index = JSON.parse(readFileSync(path.join(MODEL, 'model_index.json'), 'utf8'));
  index._worldwander = {
    ...index._worldwander,
    num_inference_steps: best.steps,
    guidance_scale: best.guidance,
    flow_shift: best.shift,
  };
  writeFileSync(path.join(MODEL, 'model_index.json'), `${JSON.stringify(index, null, 2)}\n`);
}

/**
 * Both tasks on the test split with the model folder's sampling settings (or `settings`), against
 * the baselines, and, with `compareWith` (an earlier report's name), against that model paired case by case.
 */
async function report(
  modelDir: string,
  name: string,
  cpe: boolean,
  { settings, compareWith }: { settings?: Setting; compareWith?: string } = {},
): Promise<void> {
  const index = JSON.parse(readFileSync(path.join(modelDir, 'model_index.json'), 'utf8'))._worldwander as ModelDefaults;
  const out = path.join(OUT, name, 'predictions');
  const lossFile = path.join(OUT, cpe ? 'transformer' : 'transformer-uniform', 'metrics.jsonl');
  rmSync(out, { recursive: true, force: true });
  await translateSplit(modelDir, dataDir('test'), SPLITS.test.count, out, {
    ...(settings ?? { steps: index.num_inference_steps, guidance: index.guidance_scale, shift: index.flow_shift }),
    cpe,
  });
  const reports = await scoreSplit(out, 'test', true);
  for (const task of TASKS) {
    const other = compareWith && path.join(OUT, compareWith, task, 'report.json');
    if (other) reports[task]!.comparison = pairedComparison(reports[task]!, readEvalReport(other), other);
    writeReport(path.join(OUT, name, task), reports[task]!, {
      title: `${name}: ${task} on the held-out test split (seed 3)`,
      lossFile,
    });
    const o = reports[task]!.overall,
      c = reports[task]!.comparison;
    console.error(
      `${name} ${task}: model ${o.model.psnr.toFixed(2)} dB / ${o.model.ssim.toFixed(4)}, copy-input ${o.copyInput.psnr.toFixed(2)} / ${o.copyInput.ssim.toFixed(4)}, mean frame ${o.meanFrame!.psnr.toFixed(2)} / ${o.meanFrame!.ssim.toFixed(4)}` +
        (c ? `; − ${compareWith}: ${formatPaired(c.psnr, 2)} dB (better on ${c.psnr.better} of ${c.cases})` : ''),
    );
  }
}

mkdirSync(OUT, { recursive: true });
const started = performance.now();
await stage('data', data);
await stage('perception', perception);
if (!vaeFrom) await stage('vae', vae);
await stage('assemble', assemble);
await stage('transformer', () => transformer('transformer', []));
await stage('export', () => {
  const best = chosen().best;
  return exportModel(
    path.join(OUT, 'transformer'),
    MODEL,
    best ? { num_inference_steps: best.steps, guidance_scale: best.guidance, flow_shift: best.shift } : {},
  );
});
if (PROFILE.decoderRuns.length) await stage('decoder', decoder);
if (!chosen().complete || only === 'sampling') await stage('sampling', sampling);
await stage('report', async () => {
  await report(MODEL, 'report', true);
  // and the best many-step setting on validation: sharper samples, further from the mean
  const sampled = chosen().results.filter((r) => r.steps === 20);
  if (sampled.length) await report(MODEL, 'report-20-steps', true, { settings: sampled[chooseSetting(sampled)] });
  cpSync(path.join(OUT, 'report', 'three2one', 'training_loss.svg'), path.join(MODEL, 'training_loss.svg')); // for the model card
});
if (ablation) {
  // CPE against uniform positions at the same budget: a uniform run of ABLATION_STEPS steps
  // against the main run's checkpoint of the same step (its learning rate is constant from
  // warm-up to its cool-down, so that checkpoint is what a constant-rate run of ABLATION_STEPS
  // steps ends with).
  const settings = JSON.parse(readFileSync(path.join(MODEL, 'model_index.json'), 'utf8'))._worldwander;
  const cpe = path.join(OUT, 'model-cpe'),
    uniform = path.join(OUT, 'model-uniform');
  await stage('transformer-uniform', () =>
    transformer('transformer-uniform', [
      'use_collaborative_position_encoding=False',
      `training.max_steps=${ABLATION_STEPS}`,
      'training.decay_steps=0',
    ]),
  );
  await stage('export-ablation', async () => {
    await exportModel(path.join(OUT, 'transformer'), cpe, settings, ABLATION_STEPS);
    await exportModel(path.join(OUT, 'transformer-uniform'), uniform, settings, ABLATION_STEPS);
  });
  await stage('report-ablation', async () => {
    await report(uniform, 'report-uniform', false);
    await report(cpe, 'report-cpe', true, { compareWith: 'report-uniform' }); // CPE − uniform, paired
  });
}
console.error(
  `recipe: ${((performance.now() - started) / 60000).toFixed(1)} min this run; stages (all runs, s): ${JSON.stringify(times)}`,
);
