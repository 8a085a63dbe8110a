// train-perception on a few synthetic clips: the class weights by hand, a resumed run that ends
// with the uninterrupted run's weights byte for byte, the validation record, and an output
// folder of another run refused.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { OptionError } from '../../src/errors.js';
import { synthesize } from '../../src/synth/run.js';
import { classWeights, trainPerception, type PerceptionTrainOptions } from '../../src/train/perception_trainer.js';
import { LABEL_NAMES } from '../../src/data/labels.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'perception-trainer-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const data = path.join(scratch, 'data');
const ready = synthesize({ out: data, count: 3, width: 32, height: 32, frames: 5, fps: 8, seed: 5, format: 'mp4' });

const options = (output: string): PerceptionTrainOptions => ({
  data,
  validationData: data,
  output,
  clips: 3,
  frames: 5,
  steps: 6,
  batchSize: 4,
  learningRate: 2e-3,
  warmupSteps: 2,
  seed: 0,
  saveInterval: 3,
  config: { in_channels: 3, block_out_channels: [4, 8], class_names: [...LABEL_NAMES], frechet_blocks: [1] },
});

test('class weights: 1/√(pixel count) normalised to mean 1 over the classes present, absent ones 0', () => {
  // counts [3, 1, 0]: raw [1/√3, 1, 0], mean over the present (1/√3 + 1) / 2
  const mean = (1 / Math.sqrt(3) + 1) / 2;
  const weights = classWeights([new Uint8Array([0, 0, 0, 1])], 3);
  assert.equal(weights.length, 3);
  assert.ok(Math.abs(weights[0]! - 1 / Math.sqrt(3) / mean) < 1e-12);
  assert.ok(Math.abs(weights[1]! - 1 / mean) < 1e-12);
  assert.equal(weights[2], 0);
  assert.throws(() => classWeights([new Uint8Array([3])], 3), /class 3, the network has 3 classes/);
});

test('a run resumed from its step-3 checkpoint ends with the uninterrupted run’s weights, byte for byte', async () => {
  await ready;
  const whole = path.join(scratch, 'whole');
  const { dir, validation } = await trainPerception(options(whole));
  assert.ok(validation && validation.miou >= 0 && validation.miou <= 1);
  const record = JSON.parse(readFileSync(path.join(whole, 'validation.json'), 'utf8')) as { step: number };
  assert.equal(record.step, 6);

  // a run that stopped after its step-3 checkpoint: that checkpoint alone
  const stopped = path.join(scratch, 'stopped');
  cpSync(path.join(whole, 'checkpoints', 'step-3'), path.join(stopped, 'checkpoints', 'step-3'), { recursive: true });
  assert.ok(!existsSync(path.join(stopped, 'perception')));
  const resumed = await trainPerception({ ...options(stopped), resume: 'latest' });
  const bytes = (d: string): Buffer => readFileSync(path.join(d, 'model.safetensors'));
  assert.ok(bytes(resumed.dir).equals(bytes(dir)), 'the resumed run trained other weights');
});

test('an output folder holding another run’s checkpoints is refused, naming it', async () => {
  await ready;
  const used = path.join(scratch, 'used');
  await trainPerception({ ...options(used), steps: 3, validationData: undefined });
  await assert.rejects(
    trainPerception({ ...options(used), steps: 3 }),
    (e: Error) => e instanceof OptionError && e.message.includes(used) && /resume it/.test(e.message),
  );
});
