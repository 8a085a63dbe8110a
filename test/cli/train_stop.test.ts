// Ctrl-C in the three training commands (train, train-vae, train-perception): the same words, exit
// 130, a checkpoint of the steps done, and `--resume latest` ends with the weights of a run that was
// never stopped, byte for byte. The process sends itself SIGINT at a step (WORLDWANDER_INTERRUPT,
// src/io/fault.ts), as a user's Ctrl-C would.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { synthesize } from '../../src/synth/run.js';
import { repoRoot } from '../helpers/release_examples.js';

const cli = path.join(repoRoot, 'bin', 'worldwander.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'train-stop-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const data = path.join(scratch, 'data');
const ready = synthesize({ out: data, count: 6, width: 32, height: 32, frames: 5, fps: 8, seed: 11, format: 'mp4' });

function worldwander(args: string[], interruptAt?: number): { status: number | null; stderr: string } {
  const env = { ...process.env, ...(interruptAt ? { WORLDWANDER_INTERRUPT: `rank-0-step:${interruptAt}` } : {}) };
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: repoRoot, encoding: 'utf8', env });
  return { status: r.status, stderr: r.stderr };
}

/**
 * Runs `args` into a folder straight, and into another stopped by Ctrl-C at step 2 then resumed;
 * returns both folders once the stop is checked.
 */
function stopAndResume(command: string, args: string[]): { straight: string; resumed: string } {
  const straight = path.join(scratch, `${command}-straight`),
    resumed = path.join(scratch, `${command}-resumed`);
  const whole = worldwander([command, ...args, '--output', straight]);
  assert.equal(whole.status, 0, whole.stderr);
  const stopped = worldwander([command, ...args, '--output', resumed], 2);
  assert.equal(stopped.status, 130, stopped.stderr);
  assert.match(stopped.stderr, /stopping after this step and writing a checkpoint; Ctrl-C again to quit at once/);
  const [, step] = /stopped \(stopped at step (\d+); checkpoint (\S+) written, continue with --resume latest\)/.exec(
    stopped.stderr,
  ) ?? ['', ''];
  assert.ok(Number(step) >= 2, stopped.stderr);
  assert.match(
    stopped.stderr,
    new RegExp(`^worldwander ${command}: stopped \\(stopped at step ${step}; checkpoint .*step-${step} written`, 'm'),
  );
  const again = worldwander([command, ...args, '--output', resumed, '--resume', 'latest']);
  assert.equal(again.status, 0, again.stderr);
  return { straight, resumed };
}

const same = (a: string, b: string, file: string): void =>
  assert.ok(readFileSync(path.join(a, file)).equals(readFileSync(path.join(b, file))), `${file} differs`);

test('train: Ctrl-C writes a checkpoint and exits 130; resumed, the run ends with the weights of one never stopped', async () => {
  await ready;
  const { straight, resumed } = stopAndResume('train', [
    '--config',
    path.join(repoRoot, 'configs', 'tiny', 'three2one.yaml'),
    `dataset.first_video_root=${data}/First_Video`,
    `dataset.third_video_root=${data}/Third_Video`,
    'dataset.held_out=[sample_000004,sample_000005]',
    'dataset.width=32',
    'validation.num_inference_steps=1',
    'training.max_steps=4',
  ]);
  same(straight, resumed, 'checkpoints/step-4/pytorch_lora_weights.safetensors');
});

test('train-vae: the same words, exit 130, and the same weights after --resume latest', async () => {
  await ready;
  const config = path.join(scratch, 'vae.yaml');
  writeFileSync(
    config,
    `vae: { base_dim: 8, decoder_base_dim: 8, z_dim: 4, dim_mult: [1, 2, 2], num_res_blocks: 1, attn_scales: [],
  temperal_downsample: [true, true], is_residual: true, patch_size: 2, in_channels: 12, out_channels: 12,
  scale_factor_temporal: 4, scale_factor_spatial: 8, latents_mean: [0, 0, 0, 0], latents_std: [1, 1, 1, 1] }
data: { first_video_root: '${data}/First_Video', third_video_root: '${data}/Third_Video', height: 32, width: 32, frames: 5, validation_clips: 2 }
training: { max_steps: 4, batch_size: 2, learning_rate: 3e-3, warmup_steps: 2, weight_decay: 0, l1_weight: 1.0,
  kl_weight: 1e-4, save_interval_steps: 4, keep_last_checkpoints: 2, seed: 0, stats_windows: 4 }
`,
  );
  const { straight, resumed } = stopAndResume('train-vae', ['--config', config]);
  same(straight, resumed, 'checkpoints/step-4/vae/diffusion_pytorch_model.safetensors');
});

test('train-perception: the same words, exit 130, and the same network after --resume latest', async () => {
  await ready;
  const { straight, resumed } = stopAndResume('train-perception', [
    '--data',
    data,
    '--clips',
    '3',
    '--frames',
    '5',
    '--steps',
    '4',
    '--batch-size',
    '4',
  ]);
  same(straight, resumed, 'perception/model.safetensors');
});
