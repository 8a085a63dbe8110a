// The one training loop (src/train/loop.ts) with a trainer of its own making: no model, a step
// whose loss the test chooses, an optimiser that records the rates it is stepped at. What the loop
// owns is checked here: the schedule, the metrics lines, when checkpoints and validation come,
// Ctrl-C, a non-finite loss, a full disk, and the run folder (refused, resumed, cleaned).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { OptionError, Stopped } from '../../src/errors.js';
import { DiskFullError } from '../../src/io/disk_space.js';
import { listCheckpoints, writeCheckpoint } from '../../src/train/checkpoint.js';
import {
  InterruptedTraining,
  NonFiniteLossError,
  openRun,
  runLoop,
  type Loop,
  type StepOutcome,
} from '../../src/train/loop.js';
import { learningRateAt } from '../../src/train/schedule.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'loop-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
let runs = 0;
const fresh = (): string => path.join(scratch, `run${runs++}`);

type Metrics = { step: number; loss: number; lr: number };

/** A trainer without a model: step k's loss is `lossAt(k)`; what the loop did is recorded in `seen`. */
function fakeTrainer(
  output: string,
  {
    steps = 5,
    start = 0,
    lossAt = (k: number): number => 1 / (k + 1),
    gradNormAt = (_k: number): number => 1,
  }: { steps?: number; start?: number; lossAt?: (k: number) => number; gradNormAt?: (k: number) => number } = {},
) {
  const seen = {
    rates: [] as number[],
    steps: 0,
    cleared: 0,
    checkpoints: [] as number[],
    validations: [] as number[],
  };
  const optimizer = {
    lr: 0,
    step: () => {
      seen.rates.push(optimizer.lr);
      seen.steps++;
    },
    zeroGrad: () => void seen.cleared++,
  };
  const loop: Loop<Metrics> = {
    output,
    start,
    steps,
    resumed: start > 0,
    optimizer,
    schedule: { base: 0.1, warmup: 2, decay: 2 },
    every: 2,
    step: async (k): Promise<StepOutcome<Metrics>> => ({
      loss: lossAt(k),
      gradNorm: gradNormAt(k),
      samples: [`clip${k}`],
      metrics: (lr) => ({ step: k + 1, loss: lossAt(k), lr }),
    }),
    checkpoint: (k) => {
      seen.checkpoints.push(k);
      return writeCheckpoint(output, k, 10, (dir) =>
        writeFileSync(path.join(dir, 'trainer_state.json'), JSON.stringify({ step: k })),
      );
    },
    validate: async (k) => void seen.validations.push(k),
  };
  return { loop, seen };
}

const metricsOf = (output: string): Metrics[] =>
  readFileSync(path.join(output, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Metrics);

test('a run of 5 steps: the scheduled rate at each step, a metrics line each, checkpoints at 2, 4 and 5 each followed by validation, and validation before the first step', async () => {
  const output = fresh();
  const { loop, seen } = fakeTrainer(output);
  const result = await openRun({ output }, () => runLoop(loop));
  const expected = [0, 1, 2, 3, 4].map((k) => learningRateAt(k, 0.1, 2, { steps: 2, total: 5 }));
  assert.deepEqual(seen.rates, expected);
  assert.equal(seen.cleared, 5, 'gradients cleared after every step');
  assert.deepEqual(seen.checkpoints, [2, 4, 5]);
  assert.deepEqual(seen.validations, [0, 2, 4, 5]);
  assert.deepEqual(
    metricsOf(output).map((m) => [m.step, m.lr]),
    expected.map((lr, k) => [k + 1, lr]),
  );
  assert.equal(result.lastCheckpoint, path.join(output, 'checkpoints', 'step-5'));
});

test('Ctrl-C: the loop stops before the next step with a checkpoint of the steps done (exit 130, Stopped), and --resume latest ends as the uninterrupted run', async () => {
  const output = fresh();
  const controller = new AbortController();
  const { loop, seen } = fakeTrainer(output);
  loop.signal = controller.signal;
  loop.onStep = (m) => m.step === 3 && controller.abort();
  const stopped = await openRun({ output }, () => runLoop(loop)).catch((e: unknown) => e);
  assert.ok(stopped instanceof InterruptedTraining && stopped instanceof Stopped);
  assert.equal(
    stopped.message,
    `stopped at step 3; checkpoint ${path.join(output, 'checkpoints', 'step-3')} written, continue with --resume latest`,
  );
  assert.deepEqual(seen.checkpoints, [2, 3]);
  assert.equal(seen.steps, 3);
  // a line the dead run wrote after its checkpoint is cut when it resumes
  writeFileSync(
    path.join(output, 'metrics.jsonl'),
    readFileSync(path.join(output, 'metrics.jsonl'), 'utf8') + '{"step":4}\n',
  );
  await openRun({ output, resume: 'latest' }, async (resumeFrom) => {
    assert.equal(resumeFrom, path.join(output, 'checkpoints', 'step-3'));
    const { loop: rest } = fakeTrainer(output, { start: 3 });
    return runLoop(rest);
  });
  const straight = fresh();
  await openRun({ output: straight }, () => runLoop(fakeTrainer(straight).loop));
  assert.deepEqual(metricsOf(output), metricsOf(straight));
});

test('a non-finite loss or gradient norm stops the run before the optimiser takes the step, naming the step and its samples', async () => {
  const cases = [
    { lossAt: (k: number) => (k === 3 ? Number.NaN : 1), message: 'step 4: the loss is NaN (samples clip3)' },
    {
      gradNormAt: (k: number) => (k === 2 ? Number.POSITIVE_INFINITY : 1),
      message: 'step 3: the gradient norm is Infinity (samples clip2)',
    },
  ];
  for (const { message, ...at } of cases) {
    const output = fresh();
    const { loop, seen } = fakeTrainer(output, at);
    const error = await openRun({ output }, () => runLoop(loop)).catch((e: unknown) => e);
    assert.ok(error instanceof NonFiniteLossError, String(error));
    assert.equal(error.message, `${message}; stopped, the last checkpoint is kept`);
    assert.equal(seen.steps, error.step - 1, 'the bad step was not taken');
    assert.equal(metricsOf(output).length, error.step - 1);
  }
});

test('a full disk while logging a step is a DiskFullError naming metrics.jsonl and what to do', async () => {
  const output = fresh();
  mkdirSync(output, { recursive: true });
  const { loop } = fakeTrainer(output);
  // the lock, the cleaning and the first validation happen; the first metrics line meets a full disk
  await openRun({ output }, async () => {
    symlinkSync('/dev/full', path.join(output, 'metrics.jsonl'));
    await assert.rejects(
      runLoop(loop),
      (e: Error) =>
        e instanceof DiskFullError &&
        e.message.startsWith(`${path.join(output, 'metrics.jsonl')}: no space left on the device`) &&
        e.message.endsWith('free some space and continue with --resume latest'),
    );
  });
});

test('the run folder: one holding checkpoints is refused without resume, naming it; a killed run’s half-written checkpoint is removed; a fresh run starts its logs anew', async () => {
  const output = fresh();
  await openRun({ output }, () => runLoop(fakeTrainer(output, { steps: 2 }).loop));
  await assert.rejects(
    openRun({ output }, async () => assert.fail('must not run')),
    (e: Error) =>
      e instanceof OptionError && e.message.includes(output) && /resume it \(resume latest\)/.test(e.message),
  );
  const half = path.join(output, 'checkpoints', `step-3.tmp-${process.pid}`);
  mkdirSync(half);
  await openRun({ output, resume: 'latest' }, async () => assert.ok(!existsSync(half), 'the temporary folder went'));
  const other = fresh();
  mkdirSync(other);
  writeFileSync(path.join(other, 'metrics.jsonl'), '{"step":1}\n');
  await openRun({ output: other }, async () => assert.ok(!existsSync(path.join(other, 'metrics.jsonl'))));
  assert.deepEqual(
    listCheckpoints(output).map((c) => c.step),
    [2],
  );
});
