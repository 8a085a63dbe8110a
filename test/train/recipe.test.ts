// The recipe as data (configs/small/recipe.yaml, scripts/recipe-plan.ts) and its runner
// (scripts/recipe.ts): the real recipe checked stage by stage without running it (every reference,
// every config with its overrides, the plan, the committed inputs, the model folder's text side
// against the bundled one), and a recipe of the same kinds of stages at tiny sizes run end to end:
// straight; stopped by Ctrl-C, then killed, then finished, ending byte for byte where the straight
// run did; again with nothing to do; and from committed results.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { loadConfig } from '../../src/worldwander/config.js';
import { loadVaeTrainingConfig } from '../../src/train/vae_trainer.js';
import { assertSameEncoder } from '../../src/train/same_encoder.js';
import {
  commandLine,
  commandOf,
  describePlan,
  loadRecipe,
  neededStages,
  numbersOf,
  type Profile,
} from '../../scripts/recipe-plan.js';
import { BUILT_INS } from '../../scripts/recipe-parts.js';
import { repoRoot } from '../helpers/release_examples.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'recipe-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const runner = path.join(repoRoot, 'dist', 'scripts', 'recipe.js');
const real = path.join(repoRoot, 'configs', 'small', 'recipe.yaml');
const profile = (o: Partial<Profile> = {}): Profile => ({
  out: 'outputs/recipe',
  quick: false,
  fromCommitted: false,
  precision: 'bf16-mixed',
  ...o,
});

test('the real recipe: every stage reads earlier ones, every training config takes its overrides, in both sizes', () => {
  const recipe = loadRecipe(real);
  for (const quick of [false, true]) {
    for (const stage of recipe.stages) {
      const [command, ...args] = commandLine(recipe, stage, profile({ quick }));
      const config = args[args.indexOf('--config') + 1]!;
      const overrides = args.filter((a) => /^[a-z_.]+=/.test(a));
      if (command === 'train-vae') {
        const c = loadVaeTrainingConfig(path.join(repoRoot, config), overrides);
        assert.equal(c.training.max_steps, numbersOf(stage, quick).steps, stage.name);
      } else if (command === 'train') {
        const c = loadConfig(path.join(repoRoot, config), overrides);
        assert.equal(c.training.max_steps, numbersOf(stage, quick).steps, stage.name);
      }
      for (const arg of args.filter((a) => a.startsWith('configs/')))
        assert.ok(existsSync(path.join(repoRoot, arg)), `${stage.name}: ${arg}`);
    }
  }
  // the committed results are the stage folders they stand for: config and weights, the shared encoder
  for (const stage of recipe.stages.filter((s) => s.committed)) {
    assert.equal(commandOf(stage), 'part-bf16', stage.name);
    for (const file of ['config.json', 'diffusion_pytorch_model.safetensors'])
      assert.ok(existsSync(path.join(repoRoot, stage.committed!, file)), `${stage.committed}/${file}`);
  }
  assertSameEncoder(
    path.join(repoRoot, 'models/stages/vae-z48-wide-decoder-longer'),
    path.join(repoRoot, 'models/worldwander-small/vae'),
  );
});

test('the real recipe: the plan from nothing, and from the committed results (the last stages alone)', () => {
  const recipe = loadRecipe(real);
  assert.deepEqual(
    neededStages(recipe, profile()).map((s) => s.name),
    recipe.stages.map((s) => s.name),
  );
  const fromCommitted = profile({ fromCommitted: true });
  assert.deepEqual(
    neededStages(recipe, fromCommitted, 'transformer-more').map((s) => s.name),
    ['model-before', 'data-more', 'transformer-more'],
  );
  const all = neededStages(recipe, fromCommitted).map((s) => s.name);
  for (const skipped of ['vae-z48-1', 'vae-wide-decoder', 'transformer-d384', 'model-d384'])
    assert.ok(!all.includes(skipped), skipped);
  const [line] = commandLine(
    recipe,
    recipe.stages.find((s) => s.name === 'model-before')!,
    fromCommitted,
  ).slice(2);
  assert.equal(line, 'models/stages/vae-z48-wide-decoder-longer');
  const plan = describePlan(recipe, fromCommitted, neededStages(recipe, fromCommitted, 'transformer-more'));
  assert.match(plan.join('\n'), /transformer-d384-bf16: taken from models\/stages\/transformer-d384 \(committed\)/);
  const dry = spawnSync(process.execPath, [runner, '--dry-run', '--out', path.join(scratch, 'nothing')], {
    encoding: 'utf8',
  });
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /^\[29\/29\] test-bars: /m);
  assert.match(dry.stdout, /left here \(29 stages to run\)$/m);
  assert.ok(!existsSync(path.join(scratch, 'nothing')), 'a dry run writes nothing');
});

test('recipes it refuses, named: a reference to a later stage, an unknown placeholder, a training stage without steps', () => {
  const write = (stages: string): string => {
    const file = path.join(scratch, `bad-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, `out: o\nquick_out: q\nstages:\n${stages}`);
    return file;
  };
  assert.throws(
    () =>
      loadRecipe(
        write(
          `  - { name: a, what: x, run: 'model-folder --vae {b}', minutes: 1 }\n  - { name: b, what: x, run: 'synth', minutes: 1 }\n`,
        ),
      ),
    /stage a: \{b\} is no earlier stage/,
  );
  assert.throws(
    () => loadRecipe(write(`  - { name: a, what: x, run: 'synth --count {count}', minutes: 1 }\n`)),
    /stage a: \{count\} but the stage has no count/,
  );
  assert.throws(
    () => loadRecipe(write(`  - { name: a, what: x, run: 'train-vae --config c', minutes: 1 }\n`)),
    /stage a: a training stage needs steps/,
  );
});

test("the model-folder stage makes the bundled folder's text side, prompt cache and model_index.json byte for byte", async () => {
  const out = path.join(scratch, 'model-folder');
  const bundled = path.join(repoRoot, 'models', 'worldwander-small');
  await BUILT_INS['model-folder']!(
    [
      '--vae',
      path.join(bundled, 'vae'),
      '--transformer',
      path.join(bundled, 'transformer'),
      '--encoder-of',
      path.join(repoRoot, 'models/stages/vae-z48-wide-decoder-longer'),
      '--perception',
      path.join(bundled, 'perception'),
      '--sampling',
      '1,1,1',
    ],
    out,
  );
  const made = readdirSync(out, { recursive: true, encoding: 'utf8' }).filter((f) =>
    statSync(path.join(out, f)).isFile(),
  );
  assert.ok(made.includes('model_index.json') && made.filter((f) => f.startsWith('prompt_embeds/')).length === 3);
  for (const file of made)
    assert.ok(readFileSync(path.join(out, file)).equals(readFileSync(path.join(bundled, file))), `${file} differs`);
});

// ---- a recipe of the real one's kinds of stages at tiny sizes, run end to end

const tiny = path.join(scratch, 'tiny');
const committed = path.join(scratch, 'committed');
const SIZE = '--width 32 --height 32 --frames 5 --fps 8';
const DATA = 'data.first_video_root={data-train}/First_Video data.third_video_root={data-train}/Third_Video';
const DATASET =
  'dataset.first_video_root={data-train}/First_Video dataset.third_video_root={data-train}/Third_Video dataset.ref_image_root={data-train}/Reference_Image';

function writeTinyRecipe(): string {
  const vae = (name: string, body: string): string => {
    writeFileSync(
      path.join(tiny, name),
      `${body}
data: { first_video_root: x, third_video_root: x, height: 32, width: 32, frames: 5, validation_clips: 2 }
training: { max_steps: 1, batch_size: 2, learning_rate: 3e-3, warmup_steps: 1, weight_decay: 0, l1_weight: 1.0,
  kl_weight: 1e-4, save_interval_steps: 2, keep_last_checkpoints: 3, seed: 0, stats_windows: 4 }
`,
    );
    return path.join(tiny, name);
  };
  const vaeConfig = vae(
    'vae.yaml',
    `vae: { base_dim: 8, decoder_base_dim: 8, z_dim: 4, dim_mult: [1, 2, 2], num_res_blocks: 1, attn_scales: [],
  temperal_downsample: [true, true], is_residual: true, patch_size: 2, in_channels: 12, out_channels: 12,
  scale_factor_temporal: 4, scale_factor_spatial: 8, latents_mean: [0, 0, 0, 0], latents_std: [1, 1, 1, 1] }`,
  );
  const vaeMore = vae('vae-more.yaml', '');
  writeFileSync(
    path.join(tiny, 'transformer.json'),
    JSON.stringify({
      _class_name: 'WanTransformer3DModel',
      patch_size: [1, 2, 2],
      num_attention_heads: 2,
      attention_head_dim: 12,
      in_channels: 16,
      out_channels: 16,
      text_dim: 8,
      freq_dim: 16,
      ffn_dim: 32,
      num_layers: 1,
      cross_attn_norm: true,
      qk_norm: 'rms_norm_across_heads',
      eps: 1e-6,
      rope_max_seq_len: 64,
    }),
  );
  writeFileSync(
    path.join(tiny, 'transformer.yaml'),
    readFileSync(path.join(repoRoot, 'configs', 'tiny', 'three2one.yaml'), 'utf8')
      .replace('use_lora: True', 'use_lora: False')
      .replace(/\n {2}seed: 0\n/, '\n  seed: 0\n  alternate_tasks: True\n  loss_weighting: uniform\n')
      .replace('width: 64', 'width: 32')
      .replace('resize_long: 64', 'resize_long: 32'),
  );
  const recipe = `out: unused
quick_out: unused
stages:
  - { name: data-train, what: train, run: 'synth --out {output} --count {count} --seed 1 ${SIZE}', count: 8, minutes: 1 }
  - { name: data-validation, what: validation, run: 'synth --out {output} --count {count} --seed 2 ${SIZE}', count: 4, minutes: 1 }
  - name: perception
    what: the PerceptionNet
    run: train-perception --data {data-train} --validation-data {data-validation} --output {output} --clips 4 --frames 5 --steps {steps} --batch-size 4
    steps: 4
    minutes: 1
  - { name: vae-1, what: a VAE, run: 'train-vae --config ${vaeConfig} --output {output} training.max_steps={steps} ${DATA}', steps: 3, minutes: 1 }
  - name: vae-2
    what: more of it
    run: train-vae --config ${vaeMore} --output {output} training.init_from={vae-1:vae} training.max_steps={steps} training.decay_steps={decay} training.seed=1 ${DATA}
    steps: 2
    decay: 1
    minutes: 1
  - name: vae-wide
    what: a wider decoder
    run: train-vae --config ${vaeMore} --output {output} training.init_from={vae-2:vae} training.trainable=decoder training.decoder_base_dim=16 training.kl_weight=0 training.max_steps={steps} ${DATA}
    steps: 2
    minutes: 1
  - { name: vae-wide-bf16, what: bf16, run: 'part-bf16 {vae-wide:vae}', committed: ${committed}/vae-wide-bf16, minutes: 1 }
  - { name: model-init, what: staging, run: 'model-folder --vae {vae-2:vae} --transformer-init ${tiny}/transformer.json ${SIZE}', minutes: 1 }
  - name: transformer-1
    what: a transformer
    run: train --config ${tiny}/transformer.yaml --output {output} model_id={model-init} training.max_steps={steps} ${DATASET} dataset.held_out=[sample_000007] dataset.latent_cache={out}/cache-1 validation.num_inference_steps=1
    steps: 2
    minutes: 1
  - { name: transformer-1-bf16, what: bf16, run: 'part-bf16 {transformer-1:transformer}', committed: ${committed}/transformer-1-bf16, minutes: 1 }
  - { name: model-before, what: the model before, run: 'model-folder --vae {vae-wide-bf16} --transformer {transformer-1-bf16} --sampling 1,1,1 ${SIZE}', minutes: 1 }
  - { name: data-crossfit, what: unseen, run: 'synth --out {output} --count {count} --seed 4 ${SIZE}', count: 4, minutes: 1 }
  - name: generated
    what: one-step latents
    run: node dist/scripts/generated-latents.js --model {model-before} --data {data-crossfit} --out {output} --cases {count}
    count: 2
    minutes: 1
  - name: vae-crossfit
    what: the decoder on them, with the critic
    run: >-
      train-vae --config ${vaeMore} --output {output} training.init_from={vae-wide-bf16} training.trainable=decoder
      training.kl_weight=0 training.max_steps={steps} training.save_interval_steps={every} data.generated.train={generated}
      data.generated.fraction=0.5 training.adversarial.weight=0.1 training.adversarial.feature_matching_weight=1
      training.adversarial.learning_rate=2e-4 training.adversarial.width=8 ${DATA}
    steps: 4
    every: 2
    keep: 2
    minutes: 1
  - { name: vae, what: bf16, run: 'part-bf16 {vae-crossfit:vae}', minutes: 1 }
  - name: transformer-2
    what: more of the transformer
    run: train --config ${tiny}/transformer.yaml --output {output} model_id={model-before} training.max_steps={steps} ${DATASET} dataset.held_out=[sample_000007] dataset.latent_cache={out}/cache-2 validation.num_inference_steps=1
    steps: 2
    minutes: 1
  - { name: transformer, what: bf16, run: 'part-bf16 {transformer-2:transformer}', minutes: 1 }
  - name: worldwander-small
    what: the model
    run: >-
      model-folder --vae {vae} --transformer {transformer} --encoder-of {model-before}/vae --perception {perception:perception}
      --mean-frames {data-train} --metrics {transformer-2}/metrics.jsonl --sampling 1,1,1 ${SIZE}
    minutes: 1
  - name: bars
    what: the bars
    run: node dist/scripts/validation-bars.js --model {worldwander-small} --data {data-validation} --cases 2 --out {output}
    minutes: 1
`;
  writeFileSync(path.join(tiny, 'recipe.yaml'), recipe);
  return path.join(tiny, 'recipe.yaml');
}

function recipeRun(out: string, args: string[] = [], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [runner, '--recipe', path.join(tiny, 'recipe.yaml'), '--out', out, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** Every file of the assembled model folder, by path, as bytes. */
function modelFiles(out: string): Map<string, Buffer> {
  const dir = path.join(out, 'worldwander-small');
  return new Map(
    readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => statSync(path.join(dir, f)).isFile() && f !== 'training_metrics.jsonl')
      .sort()
      .map((f) => [f, readFileSync(path.join(dir, f))]),
  );
}

const straight = path.join(scratch, 'tiny-straight');

test('a tiny recipe end to end: every stage in order, a line per stage with the time left, the model folder and its bars', () => {
  cpSync(path.join(repoRoot, 'configs', 'tiny'), tiny, { recursive: true }); // (makes the folder)
  writeTinyRecipe();
  const run = recipeRun(straight);
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stderr.split('\n').filter((l) => /^recipe: \[\d+\/19\]/.test(l));
  assert.equal(lines.length, 19, run.stderr);
  assert.match(lines[0]!, /^recipe: \[1\/19\] data-train \(train; about 1 min, 19 min left in all\): synth --out /);
  const files = modelFiles(straight);
  for (const part of ['transformer', 'vae']) assert.ok(files.has(`${part}/diffusion_pytorch_model.safetensors`), part);
  for (const file of ['perception/model.safetensors', 'mean_frames/three2one.png', 'model_index.json'])
    assert.ok(files.has(file), file);
  assert.ok(existsSync(path.join(straight, 'bars', 'bars.json')));
  // the kept checkpoint: step 2 of 4
  assert.deepEqual(JSON.parse(readFileSync(path.join(straight, '.recipe-done', 'vae.json'), 'utf8')).command.slice(1), [
    path.join(straight, 'vae-crossfit', 'checkpoints', 'step-2', 'vae'),
  ]);
  // again: nothing left to do
  const again = recipeRun(straight);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stderr.match(/: done$/gm)?.length, 19, again.stderr);
});

test('stopped by Ctrl-C, then killed while writing a checkpoint, then run again: the recipe ends byte for byte where the straight run did', () => {
  assert.ok(existsSync(path.join(straight, 'worldwander-small')), 'needs the straight run');
  const out = path.join(scratch, 'tiny-stopped');
  // Ctrl-C at step 2 of the first training stage (the PerceptionNet): it writes its checkpoint, the recipe stops with 130
  const stopped = recipeRun(out, [], { WORLDWANDER_INTERRUPT: 'rank-0-step:2' });
  assert.equal(stopped.status, 130, stopped.stderr);
  assert.match(stopped.stderr, /^recipe: stopped in stage perception; .*run the recipe again to continue$/m);
  assert.match(stopped.stderr, /checkpoints\/step-[23] written, continue with --resume latest/);
  // killed (SIGKILL) half-way through writing the first VAE's step-2 checkpoint
  const killed = recipeRun(out, [], { WORLDWANDER_FAULT: 'checkpoint-write:2' });
  assert.equal(killed.status, 1, killed.stderr);
  assert.match(killed.stderr, /^recipe: \[3\/19\] perception .* --resume latest$/m);
  assert.match(killed.stderr, /^recipe: stage vae-1 failed \(exit 137\)/m);
  const plan = spawnSync(
    process.execPath,
    [runner, '--recipe', path.join(tiny, 'recipe.yaml'), '--out', out, '--dry-run'],
    {
      encoding: 'utf8',
    },
  );
  assert.match(plan.stdout, /^\[3\/19\] perception: the PerceptionNet \(done\)$/m);
  assert.match(plan.stdout, /^\[4\/19\] vae-1: a VAE \(about 1 min\)$/m);
  const finished = recipeRun(out);
  assert.equal(finished.status, 0, finished.stderr);
  assert.deepEqual(modelFiles(out), modelFiles(straight));
});

test('--from-committed takes the committed results instead of the stages before them, and ends where the straight run did', () => {
  assert.ok(existsSync(path.join(straight, 'worldwander-small')), 'needs the straight run');
  for (const name of ['vae-wide-bf16', 'transformer-1-bf16'])
    cpSync(path.join(straight, name), path.join(committed, name), { recursive: true });
  const out = path.join(scratch, 'tiny-committed');
  const run = recipeRun(out, ['--from-committed']);
  assert.equal(run.status, 0, run.stderr);
  for (const skipped of ['vae-1', 'vae-2', 'vae-wide', 'model-init', 'transformer-1', 'transformer-1-bf16'])
    assert.ok(!existsSync(path.join(out, skipped)), `${skipped} ran`);
  assert.deepEqual(modelFiles(out), modelFiles(straight));
});
