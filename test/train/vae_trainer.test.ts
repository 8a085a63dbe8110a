// train-vae on a tiny Wan2.2-layout VAE over synthetic clips made here: learning from scratch,
// fine-tuning the decoder alone (the encoder, and so the latent space, byte for byte unchanged),
// and the configs it must refuse.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { synthesize } from '../../src/synth/run.js';
import {
  Generator,
  SafetensorsFile,
  noGrad,
  randn,
  saveSafetensors,
  scope,
  type Tensor,
} from '../../src/torch/index.js';
import { readFrames } from '../../src/data/frames.js';
import { framesToTensor } from '../../src/data/video_tensor.js';
import { AutoencoderKLWan } from '../../src/models/wan/vae.js';
import { loadVaeTrainingConfig, trainVae } from '../../src/train/vae_trainer.js';
import { listCheckpoints } from '../../src/train/checkpoint.js';
import { assertSameEncoder } from '../../src/train/same_encoder.js';
import { FrameCache } from '../../src/data/frame_cache.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'vae-trainer-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const data = path.join(scratch, 'data');
const ready = synthesize({ out: data, count: 6, width: 32, height: 32, frames: 5, fps: 8, seed: 21, format: 'mp4' });

const VAE = `vae:
  base_dim: 8
  decoder_base_dim: 8
  z_dim: 4
  dim_mult: [1, 2, 2]
  num_res_blocks: 1
  attn_scales: []
  temperal_downsample: [true, true]
  is_residual: true
  patch_size: 2
  in_channels: 12
  out_channels: 12
  scale_factor_temporal: 4
  scale_factor_spatial: 8
  latents_mean: [0, 0, 0, 0]
  latents_std: [1, 1, 1, 1]
`;

function config(
  name: string,
  {
    steps,
    model = VAE,
    extra = '',
    dataExtra = '',
    interval = steps,
  }: { steps: number; model?: string; extra?: string; dataExtra?: string; interval?: number },
): string {
  const file = path.join(scratch, `${name}.yaml`);
  writeFileSync(
    file,
    `${model}
data:
  first_video_root: '${data}/First_Video'
  third_video_root: '${data}/Third_Video'
  height: 32
  width: 32
  frames: 5
  validation_clips: 2
${dataExtra}training:
  max_steps: ${steps}
  batch_size: 2
  learning_rate: 3e-3
  warmup_steps: 2
  weight_decay: 0
  l1_weight: 1.0
  kl_weight: 1e-4
  save_interval_steps: ${interval}
  keep_last_checkpoints: 1
  seed: 0
  stats_windows: 4
${extra}`,
  );
  return file;
}

const losses = (dir: string): number[] =>
  readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { loss: number }).loss);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const bytes = (vaeDir: string): Map<string, string> => {
  const st = SafetensorsFile.open(path.join(vaeDir, 'diffusion_pytorch_model.safetensors'));
  return new Map(st.keys().map((k) => [k, JSON.stringify(st.get(k).toArray())]));
};

let scratchVae = '';

/** A folder of generated latents (random, [1, 4, 2, 4, 4]) for the named cases of `split`, by task. */
function generated(name: string, files: Record<string, string[]>, split = data): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'source.json'), JSON.stringify({ model: 'tiny', transformer: 'none', data: split }));
  let seed = 0;
  for (const [task, cases] of Object.entries(files)) {
    mkdirSync(path.join(dir, task), { recursive: true });
    for (const c of cases)
      saveSafetensors(path.join(dir, task, `${c}.safetensors`), {
        latents: randn([1, 4, 2, 4, 4], new Generator(++seed)),
      });
  }
  return dir;
}

test('from scratch: the reconstruction loss falls, and the checkpoint is a diffusers vae/ folder with measured latent statistics', async () => {
  await ready;
  const output = path.join(scratch, 'full');
  await trainVae({ config: config('full', { steps: 30 }), output });
  const l = losses(output);
  assert.equal(l.length, 30);
  assert.ok(
    mean(l.slice(-5)) < 0.85 * mean(l.slice(0, 5)),
    `loss ${mean(l.slice(0, 5)).toFixed(4)} → ${mean(l.slice(-5)).toFixed(4)}`,
  );
  scratchVae = path.join(listCheckpoints(output).pop()!.dir, 'vae');
  const cfg = JSON.parse(readFileSync(path.join(scratchVae, 'config.json'), 'utf8'));
  assert.equal(cfg._class_name, 'AutoencoderKLWan');
  assert.equal(cfg.latents_mean.length, 4);
  assert.ok(
    cfg.latents_std.every((s: number) => s > 0) && cfg.latents_std.some((s: number) => s !== 1),
    'measured, not the defaults',
  );
});

test('decoder only: the encoder and quant_conv stay byte for byte, the decoder learns, the latent statistics are kept', async () => {
  assert.ok(scratchVae, 'needs the from-scratch run');
  const output = path.join(scratch, 'decoder');
  await trainVae({
    config: config('decoder', { steps: 20, model: '', extra: `  init_from: '${scratchVae}'\n  trainable: decoder\n` }),
    output,
  });
  const tuned = path.join(listCheckpoints(output).pop()!.dir, 'vae');
  const [before, after] = [bytes(scratchVae), bytes(tuned)];
  assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
  const changed = [...before.keys()].filter((k) => before.get(k) !== after.get(k));
  assert.ok(changed.length > 0);
  assert.deepEqual(
    changed.filter((k) => !k.startsWith('decoder.') && !k.startsWith('post_quant_conv.')),
    [],
    'nothing outside the decoder moved',
  );
  assert.ok(
    changed.some((k) => k.startsWith('decoder.')),
    'the decoder moved',
  );
  const [a, b] = [scratchVae, tuned].map((d) => JSON.parse(readFileSync(path.join(d, 'config.json'), 'utf8')));
  assert.deepEqual([b.latents_mean, b.latents_std], [a.latents_mean, a.latents_std]);
  const l = losses(output);
  assert.ok(
    mean(l.slice(-5)) < mean(l.slice(0, 5)),
    `decoder loss ${mean(l.slice(0, 5)).toFixed(4)} → ${mean(l.slice(-5)).toFixed(4)}`,
  );
});

test('a fresh decoder of another width under a trained encoder: the encoder byte for byte (the recipe accepts it), the decoder of the new width, learning', async () => {
  assert.ok(scratchVae, 'needs the from-scratch run');
  const output = path.join(scratch, 'wide-decoder');
  await trainVae({
    config: config('wide-decoder', {
      steps: 20,
      model: '',
      extra: `  init_from: '${scratchVae}'\n  trainable: decoder\n  decoder_base_dim: 16\n`,
    }),
    output,
  });
  const wide = path.join(listCheckpoints(output).pop()!.dir, 'vae');
  const [before, after] = [bytes(scratchVae), bytes(wide)];
  const encoderKeys = [...before.keys()].filter((k) => k.startsWith('encoder.') || k.startsWith('quant_conv.'));
  assert.ok(encoderKeys.length > 0);
  for (const k of encoderKeys) assert.equal(after.get(k), before.get(k), `${k} unchanged`);
  assertSameEncoder(wide, scratchVae);
  const config_ = JSON.parse(readFileSync(path.join(wide, 'config.json'), 'utf8'));
  assert.deepEqual([config_.base_dim, config_.decoder_base_dim], [8, 16]);
  // the decoder's conv_in maps z 4 to decoder_base_dim · dim_mult[-1] = 16 · 2 channels (it was 8 · 2)
  const st = SafetensorsFile.open(path.join(wide, 'diffusion_pytorch_model.safetensors'));
  assert.deepEqual(st.info('decoder.conv_in.weight').shape, [32, 4, 3, 3, 3]);
  const l = losses(output);
  assert.ok(
    mean(l.slice(-5)) < mean(l.slice(0, 5)),
    `decoder loss ${mean(l.slice(0, 5)).toFixed(4)} → ${mean(l.slice(-5)).toFixed(4)}`,
  );
});

test('configs it refuses, named: decoder-only without a VAE to start from; both a new config and init_from; neither', () => {
  assert.throws(
    () => loadVaeTrainingConfig(config('bad1', { steps: 1, extra: '  trainable: decoder\n' })),
    /training\.trainable: decoder needs training\.init_from/,
  );
  assert.throws(
    () => loadVaeTrainingConfig(config('bad2', { steps: 1, extra: "  init_from: 'somewhere'\n" })),
    /either vae .* or training\.init_from/,
  );
  assert.throws(
    () => loadVaeTrainingConfig(config('bad3', { steps: 1, model: '' })),
    /bad3\.yaml: no vae config and no training\.init_from/,
  );
  assert.throws(
    () =>
      loadVaeTrainingConfig(
        config('bad4', { steps: 1, model: '', extra: "  init_from: 'x'\n  decoder_base_dim: 16\n" }),
      ),
    /training\.decoder_base_dim needs training\.trainable: decoder/,
  );
});

test('overrides replace config values by key path, and a wrong one is refused naming the override', () => {
  const file = config('override', { steps: 300 });
  const c = loadVaeTrainingConfig(file, ['training.max_steps=200', "data.first_video_root='elsewhere/First_Video'"]);
  assert.equal(c.training.max_steps, 200);
  assert.equal(c.data.first_video_root, 'elsewhere/First_Video');
  assert.equal(c.data.third_video_root, `${data}/Third_Video`, 'what no override names stays');
  assert.equal(loadVaeTrainingConfig(file).training.max_steps, 300);
  assert.throws(
    () => loadVaeTrainingConfig(file, ['training.max_steps=-1']),
    /override\.yaml \(with training\.max_steps=-1\): training\.max_steps/,
  );
  assert.throws(
    () => loadVaeTrainingConfig(file, ['training.max_steps']),
    /override 'training\.max_steps' is not key\.path=value/,
  );
});

test("with the PatchGAN critic on the generated steps: the critic learns, the decoder's loss changes there, and a run resumed half-way ends byte for byte as one that was not stopped", async () => {
  assert.ok(scratchVae, 'needs the from-scratch run');
  const critic = `  adversarial:\n    weight: 0.5\n    feature_matching_weight: 1.0\n    learning_rate: 1e-3\n    width: 8\n`;
  const decoder = `  init_from: '${scratchVae}'\n  trainable: decoder\n`;
  // with fraction 0.5, steps 2 and 4 decode generated latents
  const half = `  generated:\n    train: '${generated('gan-generated', { three2one: ['sample_000002', 'sample_000003'] })}'\n    fraction: 0.5\n`;
  const ganConfig = config('gan', { steps: 4, interval: 2, model: '', extra: decoder + critic, dataExtra: half });
  const whole = path.join(scratch, 'gan-whole'),
    halves = path.join(scratch, 'gan-halves'),
    plain = path.join(scratch, 'gan-plain');
  await trainVae({ config: ganConfig, output: whole });
  await trainVae({ config: ganConfig, overrides: ['training.max_steps=2'], output: halves });
  await trainVae({ config: ganConfig, output: halves, resume: 'latest' });
  const plainConfig = config('plain', { steps: 4, interval: 2, model: '', extra: decoder, dataExtra: half });
  await trainVae({ config: plainConfig, output: plain });
  const last = (dir: string): string => listCheckpoints(dir).pop()!.dir;
  assert.equal(listCheckpoints(halves).pop()!.step, 4);
  assert.deepEqual(
    bytes(path.join(last(halves), 'vae')),
    bytes(path.join(last(whole), 'vae')),
    'the resumed run ends where the whole one does',
  );
  const criticBytes = (dir: string): Map<string, string> => {
    const st = SafetensorsFile.open(path.join(dir, 'discriminator', 'model.safetensors'));
    return new Map(st.keys().map((k) => [k, JSON.stringify(st.get(k).toArray())]));
  };
  assert.deepEqual(criticBytes(last(halves)), criticBytes(last(whole)), 'and so does its critic');
  assert.ok([...criticBytes(last(whole)).keys()].some((k) => k.startsWith('convs.')));
  const [withCritic, without] = [losses(whole), losses(plain)];
  assert.equal(withCritic[0], without[0], "step 1 decodes the encoder's latents: no adversarial term");
  assert.notEqual(withCritic[1], without[1], 'step 2 decodes generated latents: the adversarial terms count');
  assert.ok(withCritic.every(Number.isFinite));
  const state = JSON.parse(readFileSync(path.join(last(whole), 'trainer_state.json'), 'utf8'));
  assert.equal(state.criticSteps, 2, 'the critic stepped on the two generated steps only');
  await assert.rejects(
    trainVae({
      config: config('plain', { steps: 6, interval: 2, model: '', extra: decoder + critic, dataExtra: half }),
      output: plain,
      resume: 'latest',
    }),
    /has no discriminator\/: it was saved without training\.adversarial/,
  );
  assert.throws(
    () => loadVaeTrainingConfig(config('critic-bad', { steps: 1, model: '', extra: decoder + critic })),
    /training\.adversarial needs data\.generated/,
  );
});

test('bf16-mixed: the forward under autocast: step 1 within bfloat16 rounding of the float32 run (not equal to it), finite, weights kept in float32', async () => {
  await ready;
  const runs = { '32': path.join(scratch, 'precision-32'), 'bf16-mixed': path.join(scratch, 'precision-bf16') };
  for (const [precision, output] of Object.entries(runs))
    await trainVae({
      config: config('precision', { steps: 3 }),
      overrides: [`training.precision=${precision}`],
      output,
    });
  const [full, mixed] = [losses(runs['32']), losses(runs['bf16-mixed'])];
  assert.ok(mixed.every(Number.isFinite), `losses ${mixed.join(', ')}`);
  assert.notEqual(mixed[0], full[0], 'the convolutions ran in bfloat16');
  assert.ok(Math.abs(mixed[0]! - full[0]!) < 0.02 * full[0]!, `step 1: ${mixed[0]} against float32's ${full[0]}`);
  const weights = SafetensorsFile.open(
    path.join(listCheckpoints(runs['bf16-mixed']).pop()!.dir, 'vae', 'diffusion_pytorch_model.safetensors'),
  );
  assert.deepEqual(new Set(weights.keys().map((k) => weights.get(k).dtype)), new Set(['float32']));
});

test('data.frame_cache: every clip view decoded up front, all its frames; the same weights byte for byte as reading the videos; a second run reads the entries; a damaged entry is named', async () => {
  await ready;
  const cache = path.join(scratch, 'frame-cache');
  const withCache = `  frame_cache: '${cache}'\n`;
  // one-frame windows of five-frame clips: each window starts at a frame of its own, read at its offset
  const oneFrame = ['data.frames=1'];
  const runs = {
    videos: path.join(scratch, 'fc-videos'),
    cached: path.join(scratch, 'fc-cached'),
    again: path.join(scratch, 'fc-again'),
  };
  await trainVae({ config: config('fc-videos', { steps: 3 }), output: runs.videos, overrides: oneFrame });
  await trainVae({
    config: config('fc-cached', { steps: 3, dataExtra: withCache }),
    output: runs.cached,
    overrides: oneFrame,
  });
  const entries = readdirSync(cache, { recursive: true, encoding: 'utf8' })
    .map((name) => path.join(cache, name))
    .filter((file) => statSync(file).isFile());
  // filled up front, many videos per ffmpeg: 6 clips x 2 views, each entry a whole clip view (5 frames of 32x32x3)
  assert.equal(entries.length, 12);
  for (const file of entries) assert.equal(statSync(file).size, 5 * 32 * 32 * 3, file);
  const stamp = new Map(entries.map((file) => [file, statSync(file).mtimeMs]));
  await trainVae({
    config: config('fc-cached', { steps: 3, dataExtra: withCache }),
    output: runs.again,
    overrides: oneFrame,
  });
  const vaeOf = (dir: string): string => path.join(listCheckpoints(dir).pop()!.dir, 'vae');
  assert.deepEqual(bytes(vaeOf(runs.cached)), bytes(vaeOf(runs.videos)), 'the cache changes nothing');
  assert.deepEqual(bytes(vaeOf(runs.again)), bytes(vaeOf(runs.videos)), 'nor does reading it');
  assert.deepEqual(losses(runs.cached), losses(runs.videos));
  for (const file of entries)
    assert.equal(statSync(file).mtimeMs, stamp.get(file), `${file} was read, not written again`);
  // the first validation clip's first view: read at every checkpoint
  const damaged = new FrameCache(cache, { height: 32, width: 32, resizeLong: 32 }).fileFor(
    path.join(data, 'First_Video', 'sample_000000.mp4'),
  );
  assert.ok(entries.includes(damaged));
  writeFileSync(damaged, new Uint8Array(100));
  await assert.rejects(
    trainVae({
      config: config('fc-cached', { steps: 3, dataExtra: withCache }),
      output: path.join(scratch, 'fc-damaged'),
      overrides: oneFrame,
    }),
    (e: Error) => e.message.includes(damaged) && /damaged frame cache entry: delete it/.test(e.message),
  );
});

test("generated latents: a generated step's loss is the decoder's on those latents against their cases' other view; the validation clips' are left out; validation scores them", async () => {
  assert.ok(scratchVae, 'needs the from-scratch run');
  // sample_000000 is one of the trainer's two validation clips: never trained on
  const train = generated('generated-train', {
    three2one: ['sample_000000', 'sample_000002'],
    one2three: ['sample_000003'],
  });
  const validation = generated('generated-validation', { one2three: ['sample_000001'] });
  const output = path.join(scratch, 'generated-run');
  const notes: string[] = [];
  await trainVae({
    config: config('generated', {
      steps: 1,
      model: '',
      extra: `  init_from: '${scratchVae}'\n  trainable: decoder\n`,
      dataExtra: `  generated:\n    train: '${train}'\n    validation: '${validation}'\n    fraction: 1\n`,
    }),
    output,
    onEvent: (e) => void (e.kind === 'note' && notes.push(e.text)),
  });
  assert.ok(
    notes.some((n) => n.startsWith('2 generated latents')),
    notes.join('; '),
  );
  /** One decoder-only step on the generated latents in `folder`; the notes it gave. */
  const stepOnGenerated = async (folder: string): Promise<string[]> => {
    const name = path.basename(folder);
    const notes: string[] = [];
    await trainVae({
      config: config(name, {
        steps: 1,
        model: '',
        extra: `  init_from: '${scratchVae}'\n  trainable: decoder\n`,
        dataExtra: `  generated:\n    train: '${folder}'\n    fraction: 1\n`,
      }),
      output: `${folder}-run`,
      onEvent: (e) => void (e.kind === 'note' && notes.push(e.text)),
    });
    return notes;
  };
  // another split's sample_000000 is not the trainer's validation clip of that name: kept
  const otherSplit = path.join(scratch, 'other-split');
  for (const view of ['First_Video', 'Third_Video'])
    cpSync(path.join(data, view), path.join(otherSplit, view), { recursive: true });
  const otherNotes = await stepOnGenerated(
    generated('generated-other-split', { three2one: ['sample_000000'] }, otherSplit),
  );
  assert.ok(
    otherNotes.some((n) => n.startsWith('1 generated latents')),
    otherNotes.join('; '),
  );
  // only the validation clip's latents: an error before any weights or loader process exist (no hang)
  await assert.rejects(
    stepOnGenerated(generated('generated-only-validation', { three2one: ['sample_000000'] })),
    /generated-only-validation: no generated latents of training clips/,
  );
  const target = async (view: string, name: string) =>
    framesToTensor((await readFrames(path.join(data, view, `${name}.mp4`), { maxFrames: 5 })).frames, 32, 32);
  using vae = AutoencoderKLWan.fromPretrained(scratchVae);
  const pairs = [
    [path.join(train, 'three2one', 'sample_000002.safetensors'), await target('First_Video', 'sample_000002')],
    [path.join(train, 'one2three', 'sample_000003.safetensors'), await target('Third_Video', 'sample_000003')],
  ] as const;
  let squares = 0,
    absolute = 0,
    count = 0;
  for (const [file, x] of pairs)
    noGrad(() =>
      scope(() => {
        const diff = vae.decode(SafetensorsFile.open(file).get('latents'), { clamp: false }).sub(x);
        squares += diff.square().sum().item();
        absolute += diff.abs().sum().item();
        count += diff.size(0) * diff.size(1) * diff.size(2) * diff.size(3) * diff.size(4);
      }),
    );
  for (const [, x] of pairs) x.dispose();
  const expected = squares / count + absolute / count;
  const loss = losses(output)[0]!;
  assert.ok(Math.abs(loss - expected) < 1e-5 * expected, `loss ${loss}, expected ${expected}`);
  const tuned = AutoencoderKLWan.fromPretrained(path.join(listCheckpoints(output).pop()!.dir, 'vae'));
  const truth = await target('Third_Video', 'sample_000001');
  const q = (t: Tensor): Tensor => t.add(1).mul(127.5).round();
  const mse = noGrad(() =>
    scope(() =>
      q(
        tuned.decode(
          SafetensorsFile.open(path.join(validation, 'one2three', 'sample_000001.safetensors')).get('latents'),
        ),
      )
        .sub(q(truth))
        .square()
        .mean()
        .item(),
    ),
  );
  tuned.dispose();
  truth.dispose();
  const logged = JSON.parse(readFileSync(path.join(output, 'validation.jsonl'), 'utf8').trim()) as {
    generated: { psnr: number };
  };
  assert.ok(Math.abs(logged.generated.psnr - 10 * Math.log10((255 * 255) / mse)) < 1e-3, JSON.stringify(logged));
  assert.throws(
    () =>
      loadVaeTrainingConfig(
        config('generated-bad', {
          steps: 1,
          extra: '',
          dataExtra: `  generated:\n    train: '${train}'\n    fraction: 0.5\n`,
        }),
      ),
    /data\.generated needs training\.trainable: decoder/,
  );
});
