// Training checkpoints: OUTPUT/checkpoints/step-N/ holds
//   pytorch_lora_weights.safetensors      the LoRA (diffusers names: infer --ckpt takes it), or
//   transformer/                          all transformer weights, a loadable diffusers folder
//   optimizer.safetensors                 AdamW's moments by parameter name
//   trainer_state.json                    step, data position, every generator's state, settings
// The folder is written under a temporary name and renamed when whole: a kill at any moment
// leaves the last complete checkpoint loadable. The newest K are kept.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { FileFormatError } from '../errors.js';
import { produceAtomically } from '../io/atomic.js';
import { SafetensorsFile, readJsonFile, saveSafetensors, type Tensor } from '../torch/index.js';
import { loadLora, saveLora } from '../nn/index.js';
import type { WanTransformer3DModel } from '../models/wan/transformer.js';
import type { AdamW } from './adamw.js';
import { faultPoint } from '../io/fault.js';
import { onDiskFull, sizeOf } from '../io/disk_space.js';
import { jsonText } from '../io/json_text.js';

export const CHECKPOINTS = 'checkpoints';
const LORA_FILE = 'pytorch_lora_weights.safetensors';

export interface TrainerState {
  /** Optimiser steps done. */
  step: number;
  /** Where the data order stands: the epoch and the next index in its permutation (per rank). */
  epoch: number;
  position: number;
  /** Generator states, base64. */
  generators: Record<string, string>;
  optimizerSteps: number;
  lora: boolean;
  seed: number;
  worldSize: number;
  /** The config as it ran (overrides applied). */
  config: unknown;
}

export function checkpointDir(output: string, step: number): string {
  return path.join(output, CHECKPOINTS, `step-${step}`);
}

/** Complete checkpoints, oldest first. */
export function listCheckpoints(output: string): { step: number; dir: string }[] {
  const dir = path.join(output, CHECKPOINTS);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => /^step-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), dir: path.join(dir, m[0]) }))
    .filter((c) => existsSync(path.join(c.dir, 'trainer_state.json')))
    .sort((a, b) => a.step - b.step);
}

/**
 * Writes checkpoint `step` through `write(dir)` into a temporary folder renamed when whole, then
 * keeps only the newest `keep`. trainer_state.json must be the last file `write` makes.
 */
export async function writeCheckpoint(
  output: string,
  step: number,
  keep: number,
  write: (dir: string) => void,
): Promise<string> {
  const final = checkpointDir(output, step);
  mkdirSync(path.dirname(final), { recursive: true });
  const previous = listCheckpoints(output).at(-1);
  await onDiskFull(
    final,
    () =>
      produceAtomically(final, async (temp) => {
        mkdirSync(temp, { recursive: true });
        write(temp);
        faultPoint(`checkpoint-write:${step}`); // (the tests' kill between the files and the rename)
      }),
    { needed: previous ? sizeOf(previous.dir) : undefined, then: 'free some space and continue with --resume latest' },
  );
  for (const old of listCheckpoints(output).slice(0, -keep)) rmSync(old.dir, { recursive: true, force: true });
  return final;
}

/** AdamW's moments by parameter name. */
export function saveOptimizerState(file: string, trainable: readonly [string, Tensor][], optimizer: AdamW): void {
  const moments = new Map<string, Tensor>();
  trainable.forEach(([name], i) => {
    const s = optimizer.stateOf(i);
    if (s) {
      moments.set(`exp_avg.${name}`, s.expAvg);
      moments.set(`exp_avg_sq.${name}`, s.expAvgSq);
    }
  });
  saveSafetensors(file, moments);
}

export function loadOptimizerState(
  file: string,
  trainable: readonly [string, Tensor][],
  optimizer: AdamW,
  steps: number,
): void {
  const moments = SafetensorsFile.open(file);
  trainable.forEach(([name], i) => {
    if (!moments.has(`exp_avg.${name}`)) return;
    using expAvg = moments.get(`exp_avg.${name}`);
    using expAvgSq = moments.get(`exp_avg_sq.${name}`);
    optimizer.setStateOf(i, expAvg, expAvgSq);
  });
  optimizer.stepCount = steps;
}

/** A transformer training checkpoint (see the top of this file). */
export function saveCheckpoint(
  output: string,
  {
    model,
    trainable,
    optimizer,
    state,
    keep,
  }: {
    model: WanTransformer3DModel;
    trainable: [string, Tensor][];
    optimizer: AdamW;
    state: TrainerState;
    keep: number;
  },
): Promise<string> {
  return writeCheckpoint(output, state.step, keep, (temp) => {
    if (state.lora) {
      saveLora(path.join(temp, LORA_FILE), model);
    } else {
      mkdirSync(path.join(temp, 'transformer'));
      writeFileSync(
        path.join(temp, 'transformer', 'config.json'),
        jsonText({ _class_name: 'WanTransformer3DModel', ...model.config }, 2),
      );
      saveSafetensors(path.join(temp, 'transformer', 'diffusion_pytorch_model.safetensors'), model.stateDict(), {
        format: 'pt',
      });
    }
    saveOptimizerState(path.join(temp, 'optimizer.safetensors'), trainable, optimizer);
    writeFileSync(path.join(temp, 'trainer_state.json'), jsonText(state, 2));
  });
}

/** `latest` or a step-N folder → the checkpoint folder; an error says what is missing. */
export function resolveCheckpoint(output: string, resume: string): string {
  if (resume === 'latest') {
    const last = listCheckpoints(output).pop();
    if (!last) throw new FileFormatError(`${path.join(output, CHECKPOINTS)}: no complete checkpoint to resume from`);
    return last.dir;
  }
  if (!existsSync(path.join(resume, 'trainer_state.json')))
    throw new FileFormatError(`${resume}: not a complete checkpoint (no trainer_state.json)`);
  return resume;
}

/** Loads weights and optimiser state into the run's model and optimiser; returns the trainer state. */
export function loadCheckpoint(
  dir: string,
  { model, trainable, optimizer }: { model: WanTransformer3DModel; trainable: [string, Tensor][]; optimizer: AdamW },
): TrainerState {
  const state = readJsonFile(path.join(dir, 'trainer_state.json'), 'trainer state') as TrainerState;
  if (state.lora) loadLora(model, SafetensorsFile.open(path.join(dir, LORA_FILE)), { where: dir });
  else
    model.loadStateDict(SafetensorsFile.open(path.join(dir, 'transformer', 'diffusion_pytorch_model.safetensors')), {
      where: dir,
    });
  loadOptimizerState(path.join(dir, 'optimizer.safetensors'), trainable, optimizer, state.optimizerSteps);
  return state;
}
