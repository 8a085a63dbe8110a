// Training runs on the tiny config (configs/tiny/) over synthetic clips made here: resume that
// reproduces the uninterrupted run bit for bit, a kill in the middle of a checkpoint, learning,
// data parallel over c10d/Gloo on loopback, and the bad inputs it must name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { SafetensorsFile } from '../../src/torch/index.js';
import { synthesize } from '../../src/synth/run.js';
import { train, type TrainOptions } from '../../src/train/trainer.js';
import { repoRoot } from '../helpers/release_examples.js';
import { TINY_VAE_CONFIG, originalReleaseFolder } from '../helpers/original_release.js';

const cli = path.join(repoRoot, 'bin', 'worldwander.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'trainer-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const data = path.join(scratch, 'data');
// 6 clips of 7 frames at 64x32; two are held out, so 4 train (divisible by 2 ranks x 2)
const ready = synthesize({ out: data, count: 6, width: 64, height: 32, frames: 7, fps: 8, seed: 11, format: 'mp4' });
const roots = [
  `dataset.first_video_root=${data}/First_Video`,
  `dataset.third_video_root=${data}/Third_Video`,
  `dataset.ref_image_root=${data}/Reference_Image`,
  'dataset.held_out=[sample_000004,sample_000005]',
  'validation.num_inference_steps=1',
];
const config = (task: string): string => path.join(repoRoot, 'configs', 'tiny', `${task}.yaml`);
let runs = 0;
const fresh = (): string => path.join(scratch, `run${runs++}`);

type Metrics = { step: number; loss: number; grad_norm: number };
const metricsOf = (dir: string): Metrics[] =>
  readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Metrics);

async function run(options: Omit<TrainOptions, 'output'> & { output?: string }): Promise<string> {
  await ready;
  const output = options.output ?? fresh();
  await train({ ...options, output });
  return output;
}

function spawnTrain(args: string[], env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'train', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stderr: r.stderr };
}

test('resume reproduces the uninterrupted run: 6 steps straight and 3 + resume + 3 give bit-identical losses and weights', async () => {
  const straight = await run({ config: config('three2one'), overrides: roots });
  const split = fresh();
  await run({ config: config('three2one'), overrides: [...roots, 'training.max_steps=3'], output: split });
  // resumed through the release's config key (the CLI's --resume is the kill test's)
  await run({
    config: config('three2one'),
    overrides: [...roots, `training.resume_path=${split}/checkpoints/step-3`],
    output: split,
  });
  const [a, b] = [metricsOf(straight), metricsOf(split)];
  assert.deepEqual(
    b.map((m) => m.step),
    [1, 2, 3, 4, 5, 6],
  );
  assert.deepEqual(
    b.map((m) => [m.loss, m.grad_norm]),
    a.map((m) => [m.loss, m.grad_norm]),
    'losses and gradient norms, bit for bit',
  );
  const lora = (dir: string): Buffer =>
    readFileSync(path.join(dir, 'checkpoints', 'step-6', 'pytorch_lora_weights.safetensors'));
  assert.ok(lora(straight).equals(lora(split)), 'final LoRA weights, byte for byte');
  const state = JSON.parse(readFileSync(path.join(split, 'checkpoints', 'step-6', 'trainer_state.json'), 'utf8'));
  assert.equal(state.step, 6);
  assert.ok(
    existsSync(path.join(split, 'validation', 'step-0', 'sample_000004', 'side_by_side.mp4')),
    'the step-0 sanity sample',
  );
  assert.match(
    readFileSync(path.join(split, 'validation.jsonl'), 'utf8'),
    /"step":6,"case":"sample_000004","task":"three2one","psnr":\d/,
  );
  // the LoRA checkpoint is what infer --ckpt takes: diffusers names
  assert.ok(
    SafetensorsFile.open(path.join(split, 'checkpoints', 'step-6', 'pytorch_lora_weights.safetensors')).has(
      'transformer.blocks.0.attn1.to_q.lora_A.weight',
    ),
  );
});

test("the release's precision for a LoRA (bf16-mixed, gradient checkpointing): the frozen base in bfloat16, the first loss within bfloat16 rounding of the float32 run's, every adapter's B moved by its gradient, nothing but adapters saved", async () => {
  const step1 = [...roots, 'training.max_steps=1', 'training.save_val_interval_steps=1', 'dataset.held_out=[]'];
  const full = await run({ config: config('three2one'), overrides: step1 });
  const mixed = await run({
    config: config('three2one'),
    overrides: [...step1, 'training.precision=bf16-mixed', 'training.gradient_checkpointing=true'],
  });
  const [a, b] = [metricsOf(full)[0]!.loss, metricsOf(mixed)[0]!.loss];
  assert.ok(Math.abs(b - a) <= 0.03 * a && b !== a, `first loss ${b} (bf16-mixed) against ${a} (float32)`);
  const file = SafetensorsFile.open(path.join(mixed, 'checkpoints', 'step-1', 'pytorch_lora_weights.safetensors'));
  const keys = file.keys();
  assert.equal(keys.length, 2 * 2 * 10, 'A and B of 10 adapters in each of the 2 blocks');
  for (const key of keys) {
    assert.match(key, /^transformer\.blocks\.\d+\..*\.lora_[AB]\.weight$/);
    if (key.endsWith('lora_B.weight')) {
      using b = file.get(key);
      assert.equal(b.dtype, 'float32', key);
      assert.ok(
        b.toArray().some((v) => v !== 0),
        `${key}: still zero after AdamW's first step, so its gradient was zero`,
      );
    }
  }
});

test("train --model-dir takes the original release's folder (--vae-config for the tiny VAE's statistics): the same losses as the diffusers folder", async () => {
  const overrides = [...roots, 'training.max_steps=2'];
  const diffusers = await run({ config: config('three2one'), overrides });
  const original = await run({
    config: config('three2one'),
    overrides,
    modelDir: originalReleaseFolder(scratch),
    vaeConfig: TINY_VAE_CONFIG,
  });
  const [a, b] = [metricsOf(diffusers), metricsOf(original)];
  assert.equal(b.length, 2);
  assert.deepEqual(
    b.map((m) => [m.loss, m.grad_norm]),
    a.map((m) => [m.loss, m.grad_norm]),
    'losses and gradient norms, bit for bit',
  );
});

test('killed (SIGKILL) while writing a checkpoint, a run resumes from the last complete one and ends as if never killed', async () => {
  await ready;
  const output = fresh();
  const args = ['--config', config('three2one'), '--output', output, ...roots, 'training.save_val_interval_steps=2'];
  const killed = spawnTrain(args, { WORLDWANDER_FAULT: 'checkpoint-write:4' });
  assert.equal(killed.status, null, 'the process was killed');
  const left = readdirSync(path.join(output, 'checkpoints'));
  assert.ok(left.includes('step-2') && !left.includes('step-4'), `checkpoints after the kill: ${left.join(', ')}`);
  assert.ok(
    left.some((name) => /^step-4\.tmp-\d+$/.test(name)),
    'the half-written checkpoint is under its temporary name',
  );
  const resumed = spawnTrain([...args, '--resume', 'latest']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /resumed from .*step-2 at step 2/);
  const straight = await run({
    config: config('three2one'),
    overrides: [...roots, 'training.save_val_interval_steps=2'],
  });
  assert.deepEqual(
    metricsOf(output).map((m) => m.loss),
    metricsOf(straight).map((m) => m.loss),
  );
  assert.ok(
    !readdirSync(path.join(output, 'checkpoints')).some((n) => n.includes('.tmp-')),
    'the resumed run cleared the temporary folder',
  );
});

test("learning works for both tasks: after 40 steps the loss is well below the first steps'", async () => {
  for (const task of ['three2one', 'one2three']) {
    const output = await run({
      config: config(task),
      overrides: [
        ...roots,
        'training.max_steps=40',
        'training.save_val_interval_steps=40',
        'training.batch_size=4',
        'use_lora=False',
        'training.learning_rate=2e-3',
        `dataset.latent_cache=${path.join(scratch, 'latents')}`,
      ],
    });
    const loss = metricsOf(output).map((m) => m.loss);
    const first = loss.slice(0, 10).reduce((a, b) => a + b) / 10,
      last = loss.slice(-10).reduce((a, b) => a + b) / 10;
    // measured: about 1.0 → 0.45 (three2one) on this data
    assert.ok(
      last < 0.75 * first,
      `${task}: mean loss of the first 10 steps ${first.toFixed(3)}, of the last 10 ${last.toFixed(3)}`,
    );
    assert.ok(
      existsSync(path.join(output, 'checkpoints', 'step-40', 'transformer', 'diffusion_pytorch_model.safetensors')),
      'all weights are saved as a transformer folder',
    );
  }
});

test("memory is flat over a long run: RSS after step 300 within 25 MiB of step 50 (the tensor wrappers' finalisers get to run)", async () => {
  const output = await run({
    config: config('three2one'),
    overrides: [
      ...roots,
      'training.max_steps=300',
      'training.save_val_interval_steps=300',
      'training.batch_size=4',
      'use_lora=False',
      'training.alternate_tasks=True',
      `dataset.latent_cache=${path.join(scratch, 'latents')}`,
    ],
  });
  const rss = (metricsOf(output) as (Metrics & { rss_mib: number })[]).map((m) => m.rss_mib);
  // measured: +70 MiB when the loop never yielded to the event loop, ~0 since
  assert.ok(rss[299]! - rss[49]! < 25, `RSS ${rss[49]} MiB after step 50, ${rss[299]} MiB after step 300`);
});

test("data parallel: 2 ranks (Gloo on loopback) with batch 2 end where 1 process with batch 4 (and the √2 larger learning rate the release's rule gives 2 ranks) does", async () => {
  await ready;
  const common = [
    ...roots,
    'training.max_steps=3',
    'training.save_val_interval_steps=3',
    'use_lora=False',
    `dataset.latent_cache=${path.join(scratch, 'latents-dp')}`,
  ];
  const two = fresh();
  const parallel = spawnTrain([
    '--config',
    config('three2one'),
    '--output',
    two,
    ...common,
    'training.batch_size=2',
    '--nproc-per-node',
    '2',
  ]);
  assert.equal(parallel.status, 0, parallel.stderr);
  // lr = 5e-5·√(accumulation · world size) in the release: one process needs √2 more to match two
  const one = await run({
    config: config('three2one'),
    overrides: [...common, 'training.batch_size=4', `training.learning_rate=${1e-3 * Math.SQRT2}`],
  });
  const [a, b] = [metricsOf(one), metricsOf(two)];
  // the same samples and draws: step 1's loss and gradient norm agree to float precision
  assert.ok(
    Math.abs(a[0]!.loss - b[0]!.loss) < 1e-6 * a[0]!.loss &&
      Math.abs(a[0]!.grad_norm - b[0]!.grad_norm) < 1e-5 * a[0]!.grad_norm,
  );
  // weights: the two runs differ by float rounding only (sums in another order; measured: 36 of
  // 19,640 weights differ by more than 1e-6), far less than either moved from the start
  const weights = (dir: string): Map<string, number[]> => {
    const st = SafetensorsFile.open(
      path.join(dir, 'checkpoints', 'step-3', 'transformer', 'diffusion_pytorch_model.safetensors'),
    );
    return new Map(st.keys().map((k) => [k, st.get(k).toArray()]));
  };
  const initial = SafetensorsFile.open(
    path.join(repoRoot, 'test/fixtures/tiny_model/transformer/diffusion_pytorch_model.safetensors'),
  );
  const [wa, wb] = [weights(one), weights(two)];
  let apart = 0,
    moved = 0,
    worst = 0;
  for (const [key, va] of wa) {
    const vb = wb.get(key)!,
      v0 = initial.get(key).toArray();
    va.forEach((v, i) => {
      apart += (v - vb[i]!) ** 2;
      moved += (v - v0[i]!) ** 2;
      worst = Math.max(worst, Math.abs(v - vb[i]!));
    });
  }
  assert.ok(
    worst < 1e-4 && Math.sqrt(apart) < 1e-2 * Math.sqrt(moved),
    `max |w₁ − w₂| = ${worst.toExponential(2)}, ‖w₁ − w₂‖ = ${Math.sqrt(apart).toExponential(2)}, ‖w₁ − w₀‖ = ${Math.sqrt(moved).toExponential(2)}`,
  );
});

test('a rank that dies makes the run stop with a clear error instead of hanging', async () => {
  await ready;
  const r = spawnTrain(['--config', config('three2one'), '--output', fresh(), ...roots, '--nproc-per-node', '2'], {
    WORLDWANDER_FAULT: 'rank-1-step:2',
    WORLDWANDER_DIST_TIMEOUT_S: '20',
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /rank 1 of 2 stopped \(SIGKILL\); the other ranks were stopped/);
});

test('bad input: an unknown config key, a missing view folder, mismatched and too-short videos are named', async () => {
  await ready;
  const unknown = spawnTrain([
    '--config',
    config('three2one'),
    '--output',
    fresh(),
    ...roots,
    'training.learnin_rate=1',
  ]);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /three2one\.yaml \(with .*\): training: unknown key 'learnin_rate'/);
  const decay = spawnTrain([
    '--config',
    config('three2one'),
    '--output',
    fresh(),
    ...roots,
    'training.max_steps=6',
    'training.decay_steps=7',
  ]);
  assert.equal(decay.status, 1);
  assert.match(decay.stderr, /training\.decay_steps is 7, more than training\.max_steps \(6\)/);
  const resumeFrom = spawnTrain([
    '--config',
    config('three2one'),
    '--output',
    fresh(),
    ...roots,
    `training.resume_path=${data}`,
  ]);
  assert.equal(resumeFrom.status, 1);
  assert.match(resumeFrom.stderr, new RegExp(`${data}: not a complete checkpoint \\(no trainer_state\\.json\\)`));
  const missing = spawnTrain([
    '--config',
    config('three2one'),
    '--output',
    fresh(),
    ...roots,
    `dataset.third_video_root=${data}/Nope`,
  ]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /Nope: cannot read the view folder \(missing\?\)/);
  // a copy of the data where one clip's views disagree in length and one is too short to sample
  const odd = path.join(scratch, 'odd');
  const made = await synthesize({
    out: odd,
    count: 4,
    width: 64,
    height: 32,
    frames: 7,
    fps: 8,
    seed: 3,
    format: 'png',
  });
  assert.equal(made.written, 4);
  const third1 = path.join(odd, 'Third_Video', 'sample_000001');
  rmSync(path.join(third1, '00006.png'));
  for (const view of ['First_Video', 'Third_Video'])
    for (const f of ['00002.png', '00003.png', '00004.png', '00005.png', '00006.png'])
      rmSync(path.join(odd, view, 'sample_000002', f));
  writeFileSync(path.join(odd, 'First_Video', 'sample_000003.mp4'), 'not a video');
  renameSync(path.join(odd, 'First_Video', 'sample_000003'), path.join(odd, 'sample_000003-aside'));
  const oddRoots = [
    '--config',
    config('three2one'),
    `dataset.first_video_root=${odd}/First_Video`,
    `dataset.third_video_root=${odd}/Third_Video`,
    'dataset.held_out=[]',
    'training.max_steps=1',
    'training.batch_size=1',
  ];
  // by default each is an error naming it, before anything is written
  const refused = spawnTrain(['--output', fresh(), ...oddRoots]);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /the dataset .*: 3 clip\(s\) cannot be trained on: left out sample_000001: the views have 7 \(first\) and 6 \(third\) frames; left out sample_000002: .*; left out sample_000003: cannot read: .*\. Fix or remove them, or set dataset\.skip_invalid: true to train on the rest/s,
  );
  // with dataset.skip_invalid the run goes on, listing them
  const output = fresh();
  const r = spawnTrain(['--output', output, ...oddRoots, 'dataset.skip_invalid=true']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /left out sample_000001: the views have 7 \(first\) and 6 \(third\) frames/);
  assert.match(r.stderr, /left out sample_000002: 2 frames, fewer than a window of 5 frames at stride 1 spans \(5\)/);
  assert.match(r.stderr, /left out sample_000003: cannot read: .*sample_000003\.mp4/);
  const report = JSON.parse(readFileSync(path.join(output, 'dataset_report.json'), 'utf8'));
  assert.equal(report.clips, 1);
  const none = spawnTrain([
    '--config',
    config('one2three'),
    '--output',
    fresh(),
    `dataset.first_video_root=${odd}/First_Video`,
    `dataset.third_video_root=${odd}/Third_Video`,
    `dataset.ref_image_root=${odd}/Missing`,
  ]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /Missing: cannot read the reference folder/);
});

test('a second run into an output a live run is using is refused, naming that run; once it ends the folder is free', async () => {
  await ready;
  const output = fresh();
  let firstStep!: () => void;
  const stepped = new Promise<void>((resolve) => (firstStep = resolve));
  const first = train({
    config: config('three2one'),
    overrides: roots,
    output,
    onEvent: (e) => {
      if (e.kind === 'step') firstStep();
    },
  });
  await stepped;
  await assert.rejects(
    train({ config: config('three2one'), overrides: roots, output }),
    new RegExp(`${output} is in use by a live run \\(pid ${process.pid}, started `),
  );
  await first;
  const lines = metricsOf(output);
  assert.deepEqual(
    lines.map((m) => m.step),
    [1, 2, 3, 4, 5, 6],
    'the refused run wrote nothing into the log',
  );
  assert.ok(!existsSync(path.join(output, '.worldwander.lock')), 'the lock goes with the run');
  // with the first run gone, the folder takes the next one (here a resume of it)
  await train({ config: config('three2one'), overrides: [...roots, 'training.max_steps=7'], output, resume: 'latest' });
  assert.equal(metricsOf(output).length, 7);
});
