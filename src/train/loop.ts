// The one training loop of `train`, `train-vae` and `train-perception` (as musubi-tuner's one
// trainer with model hooks): the loop owns the run folder (its lock, resume, what a dead run left),
// the learning-rate schedule, the optimiser's step, metrics.jsonl, when checkpoints are written,
// and every way a run stops early: Ctrl-C (a checkpoint, then InterruptedTraining: exit 130,
// resumable), a non-finite loss or gradient norm (NonFiniteLossError naming the step), a full disk
// (DiskFullError naming the file). A trainer supplies its set-up and its step's loss:
//
//   openRun(folder, (resumeFrom) => set-up … runLoop({ optimizer, step, checkpoint, validate? }))
//
// where `step(k)` runs the forward and backward of step k + 1 and returns its loss, and
// `checkpoint(k)` writes what the run needs to continue after k steps. Per step, in this order:
// the trainer's forward and backward, the checks, the scheduled rate, AdamW's step, the metrics
// line; a checkpoint (then validation) every `every` steps and at the end.
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { OptionError, Stopped, WorldWanderError } from '../errors.js';
import { isTemporary } from '../io/atomic.js';
import { onDiskFull } from '../io/disk_space.js';
import { faultPoint } from '../io/fault.js';
import { jsonText } from '../io/json_text.js';
import { withRunLock } from '../io/run_lock.js';
import { readJsonFile, yieldToEventLoop } from '../torch/index.js';
import type { AdamW } from './adamw.js';
import { CHECKPOINTS, listCheckpoints, resolveCheckpoint } from './checkpoint.js';
import { learningRateAt } from './schedule.js';

/** What a run stopped by a full disk or a non-finite loss can do next. */
const CONTINUE = 'continue with --resume latest';

/** The run stopped because it was asked to (Ctrl-C, an AbortSignal), after writing a checkpoint: exit 130. */
export class InterruptedTraining extends Stopped {
  override name = 'Interrupted';
  constructor(
    readonly step: number,
    readonly checkpoint: string | null,
  ) {
    super(`stopped at step ${step}${checkpoint ? `; checkpoint ${checkpoint} written, ${CONTINUE}` : ''}`);
  }
}

/** A step's loss or gradient norm is NaN or infinite: the run stops before the optimiser takes it. */
export class NonFiniteLossError extends WorldWanderError {
  override name = 'NonFiniteLossError';
  constructor(
    readonly step: number,
    quantity: 'loss' | 'gradient norm',
    value: number,
    samples?: readonly string[],
  ) {
    super(
      `step ${step}: the ${quantity} is ${value}${samples?.length ? ` (samples ${samples.join(', ')})` : ''}; stopped, the last checkpoint is kept`,
    );
  }
}

/** The Ctrl-C message of the three training commands. */
export const STOPPING = 'stopping after this step and writing a checkpoint; Ctrl-C again to quit at once';

/** The logs a resumed run cuts back to its checkpoint, and a fresh one starts anew. */
const LOGS = ['metrics.jsonl', 'validation.jsonl'];

export interface RunFolder {
  output: string;
  /** 'latest' or a checkpoint folder (OUTPUT/checkpoints/step-N); without it the folder must hold no checkpoint. */
  resume?: string;
  /** The run's inputs: the output may not be one of them, inside one, or hold one. */
  inputs?: readonly (string | undefined)[];
  /** Rank 0 (or a single process): it alone locks and writes the folder. */
  lead?: boolean;
  onNote?: (text: string) => void;
}

/**
 * Runs a trainer's `body` in its output folder: locked against a second run (rank 0), the
 * checkpoint to resume from resolved (`null`: a fresh run; a folder that holds checkpoints
 * without `resume` is refused), what a killed run was writing removed, and the logs cut back to
 * the checkpoint's step (a fresh run's removed).
 */
export async function openRun<T>(folder: RunFolder, body: (resumeFrom: string | null) => Promise<T>): Promise<T> {
  const { output, lead = true } = folder;
  const work = async (): Promise<T> => {
    const resumeFrom = folder.resume ? resolveCheckpoint(output, folder.resume) : null;
    if (!resumeFrom && listCheckpoints(output).length)
      throw new OptionError(
        'output',
        `${output} holds checkpoints of a run; resume it ({resume} latest) or choose another folder`,
      );
    if (lead) {
      mkdirSync(output, { recursive: true });
      const checkpoints = path.join(output, CHECKPOINTS);
      if (existsSync(checkpoints))
        for (const name of readdirSync(checkpoints))
          if (isTemporary(name)) rmSync(path.join(checkpoints, name), { recursive: true, force: true });
      const step = resumeFrom ? stepOf(resumeFrom) : 0;
      for (const log of LOGS) {
        if (resumeFrom) truncateJsonl(path.join(output, log), step);
        else rmSync(path.join(output, log), { force: true });
      }
    }
    return body(resumeFrom);
  };
  if (!lead) return work();
  return withRunLock(output, work, { inputs: folder.inputs, onNote: folder.onNote });
}

/** The steps a checkpoint folder was written after. */
function stepOf(checkpoint: string): number {
  return (readJsonFile(path.join(checkpoint, 'trainer_state.json'), 'trainer state') as { step: number }).step;
}

/** Keeps the lines of a JSONL log up to step `steps` (a resumed run rewrites what came after its checkpoint). */
function truncateJsonl(file: string, steps: number): void {
  if (!existsSync(file)) return;
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .filter((line) => (JSON.parse(line) as { step: number }).step <= steps);
  onDiskFull(file, () => writeFileSync(file, lines.map((l) => `${l}\n`).join('')), { then: CONTINUE });
}

/** A JSONL line appended to a run's log; a full disk is named with what to do. */
export function appendLog(file: string, record: unknown): void {
  onDiskFull(file, () => appendFileSync(file, jsonText(record)), { then: `free some space and ${CONTINUE}` });
}

/** What a trainer's step gives the loop: the gradients are in its parameters. */
export interface StepOutcome<M> {
  /** The step's loss (what metrics.jsonl logs). */
  loss: number;
  /** The global gradient norm, where the trainer measures it (before clipping). */
  gradNorm?: number;
  /** What the step read, named when its loss is not finite. */
  samples?: readonly string[];
  /** The step's metrics.jsonl record, given the rate it ran at and its wall time. */
  metrics(lr: number, seconds: number): M;
}

export interface Loop<M> {
  output: string;
  /** Steps already done (0, or the resumed checkpoint's) and the run's total. */
  start: number;
  steps: number;
  /** The run resumed from a checkpoint (no step-0 validation then). */
  resumed: boolean;
  /** The rate is set, then the step taken, then the gradients cleared. */
  optimizer: Pick<AdamW, 'lr' | 'step' | 'zeroGrad'>;
  /** The peak rate, linear warm-up steps, and a linear cool-down over the last `decay` steps (schedule.ts). */
  schedule: { base: number; warmup: number; decay: number };
  /** A checkpoint every `every` steps, and after the last. */
  every: number;
  /** Rank 0 (or a single process) writes metrics.jsonl; `rank` names the fault point of each step. */
  lead?: boolean;
  rank?: number;
  signal?: AbortSignal;
  /** The forward and backward of step `step` + 1 (the loss, the gradients in the parameters). */
  step(step: number): Promise<StepOutcome<M>>;
  /** Writes a checkpoint of the run after `step` steps; its folder, null where this rank writes none. */
  checkpoint(step: number): Promise<string | null>;
  /** After each checkpoint, and before the first step of a fresh run. */
  validate?(step: number): Promise<void>;
  /** After each step's metrics line. */
  onStep?(metrics: M): void;
}

/** Runs steps `start` … `steps` − 1; returns the last checkpoint written. */
export async function runLoop<M>(loop: Loop<M>): Promise<{ lastCheckpoint: string | null }> {
  const { optimizer, schedule, lead = true } = loop;
  const metricsFile = path.join(loop.output, 'metrics.jsonl');
  if (loop.start === 0 && !loop.resumed) await loop.validate?.(0);
  let lastCheckpoint: string | null = null;
  for (let step = loop.start; step < loop.steps; step++) {
    if (loop.signal?.aborted) throw new InterruptedTraining(step, await loop.checkpoint(step));
    faultPoint(`rank-${loop.rank ?? 0}-step:${step + 1}`);
    const started = performance.now();
    const outcome = await loop.step(step);
    if (!Number.isFinite(outcome.loss)) throw new NonFiniteLossError(step + 1, 'loss', outcome.loss, outcome.samples);
    if (outcome.gradNorm !== undefined && !Number.isFinite(outcome.gradNorm))
      throw new NonFiniteLossError(step + 1, 'gradient norm', outcome.gradNorm, outcome.samples);
    optimizer.lr = learningRateAt(step, schedule.base, schedule.warmup, { steps: schedule.decay, total: loop.steps });
    optimizer.step();
    optimizer.zeroGrad();
    const metrics = outcome.metrics(optimizer.lr, (performance.now() - started) / 1000);
    if (lead) appendLog(metricsFile, metrics);
    loop.onStep?.(metrics);
    await yieldToEventLoop();
    if ((step + 1) % loop.every === 0 || step + 1 === loop.steps) {
      lastCheckpoint = (await loop.checkpoint(step + 1)) ?? lastCheckpoint;
      await loop.validate?.(step + 1);
    }
  }
  return { lastCheckpoint };
}
