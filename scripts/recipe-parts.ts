// The recipe's built-in stages (configs/small/recipe.yaml): the ones that are not a worldwander
// command but a few file operations.
//   part-bf16 FROM                a model part folder (config.json and diffusion_pytorch_model.safetensors)
//                                 with its weights stored as bfloat16 (what `convert --dtype bfloat16` writes)
//   model-folder --vae DIR (--transformer DIR | --transformer-init CONFIG.json) [--perception DIR]
//                [--mean-frames SPLIT] [--metrics FILE] [--sampling STEPS,GUIDANCE,SHIFT]
//                [--encoder-of VAE_DIR] [--width W --height H --frames F --fps R]
//                                 a model folder: the parts as given (a transformer initialised with
//                                 seed 2026 from a config, its channels the VAE's z_dim), the tiny umT5
//                                 and its prompt cache, the PerceptionNet, the training split's mean
//                                 frames, the loss curve, model_index.json with the sampling settings;
//                                 --encoder-of checks the VAE decodes the latents of that VAE's encoder
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { Generator, saveSafetensors } from '../src/torch/index.js';
import { WanTransformer3DModel } from '../src/models/wan/transformer.js';
import { parseTransformerConfig } from '../src/models/wan/transformer_config.js';
import { promptEmbeddings } from '../src/models/umt5/prompt_cache.js';
import { ALL_PROMPTS, TASKS } from '../src/worldwander/prompts.js';
import { convertModelFile } from '../src/worldwander/model_convert.js';
import { modelIndexJson, type ModelDefaults } from '../src/worldwander/model_defaults.js';
import { assertSameEncoder } from '../src/train/same_encoder.js';
import { meanTargetFrame } from '../src/eval/evaluate.js';
import { writePng } from '../src/data/frames.js';
import { writeTinyTextEncoder } from './make-umt5-fixture.js';
import { RecipeError } from './recipe-plan.js';

const WEIGHTS = 'diffusion_pytorch_model.safetensors';
/** The seed of a transformer made from its config (the bundled one's initialisation). */
const INIT_SEED = 2026;

export const BUILT_INS: Record<string, (args: string[], output: string) => Promise<void>> = {
  'part-bf16': async ([from, ...rest], output) => {
    if (!from || rest.length) throw new RecipeError(`part-bf16 takes one folder, got ${[from, ...rest].join(' ')}`);
    partBf16(from, output);
  },
  'model-folder': modelFolder,
};

/** A part folder's copy with its weights stored as bfloat16 (loaded as float32 by default, as the bundled model is). */
export function partBf16(from: string, to: string): void {
  for (const file of ['config.json', WEIGHTS])
    if (!existsSync(path.join(from, file))) throw new RecipeError(`${path.join(from, file)} is missing`);
  mkdirSync(to, { recursive: true });
  copyFileSync(path.join(from, 'config.json'), path.join(to, 'config.json'));
  convertModelFile(path.join(from, WEIGHTS), path.join(to, WEIGHTS), 'diffusers', { dtype: 'bfloat16' });
}

async function modelFolder(args: string[], out: string): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      vae: { type: 'string' },
      transformer: { type: 'string' },
      'transformer-init': { type: 'string' },
      perception: { type: 'string' },
      'mean-frames': { type: 'string' },
      metrics: { type: 'string' },
      sampling: { type: 'string' },
      'encoder-of': { type: 'string' },
      width: { type: 'string', default: '64' },
      height: { type: 'string', default: '64' },
      frames: { type: 'string', default: '17' },
      fps: { type: 'string', default: '8' },
    },
  });
  if (!v.vae || !(v.transformer ?? v['transformer-init']))
    throw new RecipeError('model-folder needs --vae and --transformer or --transformer-init');
  if (v['encoder-of']) assertSameEncoder(v.vae, v['encoder-of']);
  const [steps, guidance, shift] = (v.sampling ?? '20,1,1').split(',').map(Number);
  // the small model's sampling defaults (16 text tokens: the task prompts are 10)
  const defaults: ModelDefaults = {
    height: Number(v.height),
    width: Number(v.width),
    num_frames: Number(v.frames),
    num_inference_steps: steps!,
    guidance_scale: guidance!,
    flow_shift: shift!,
    fps: Number(v.fps),
    max_sequence_length: 16,
  };
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  cpSync(v.vae, path.join(out, 'vae'), { recursive: true });
  if (v.transformer) cpSync(v.transformer, path.join(out, 'transformer'), { recursive: true });
  else initialTransformer(v['transformer-init']!, path.join(out, 'vae'), path.join(out, 'transformer'));
  writeTinyTextEncoder(out);
  writeFileSync(path.join(out, 'model_index.json'), modelIndexJson(defaults));
  promptEmbeddings(out, ALL_PROMPTS, {
    cacheDir: path.join(out, 'prompt_embeds'),
    maxLength: defaults.max_sequence_length,
    dtype: 'float32',
  }).dispose();
  if (v.perception) cpSync(v.perception, path.join(out, 'perception'), { recursive: true });
  // what the demo shows beside the model's numbers: its loss curve and the mean-frame baseline
  if (v.metrics) copyFileSync(v.metrics, path.join(out, 'training_metrics.jsonl'));
  if (v['mean-frames']) {
    mkdirSync(path.join(out, 'mean_frames'), { recursive: true });
    for (const task of TASKS) {
      const { width, height, num_frames } = defaults;
      const data = await meanTargetFrame(v['mean-frames'], task, num_frames, width, height);
      await writePng(path.join(out, 'mean_frames', `${task}.png`), { width, height, data });
    }
  }
}

/** A transformer of `configFile`'s architecture reading and writing the VAE's latent channels, at its seeded initialisation. */
function initialTransformer(configFile: string, vaeDir: string, to: string): void {
  const zDim = (JSON.parse(readFileSync(path.join(vaeDir, 'config.json'), 'utf8')) as { z_dim: number }).z_dim;
  const raw = { ...JSON.parse(readFileSync(configFile, 'utf8')), in_channels: zDim, out_channels: zDim };
  using model = new WanTransformer3DModel(parseTransformerConfig(raw, configFile), {
    generator: new Generator(INIT_SEED),
  });
  mkdirSync(to, { recursive: true });
  writeFileSync(path.join(to, 'config.json'), `${JSON.stringify(raw, null, 2)}\n`);
  saveSafetensors(path.join(to, WEIGHTS), model.stateDict(), { format: 'pt' });
}
