// `worldwander train-perception`: trains the PerceptionNet (src/models/perception) that the
// perceptual, Fréchet and content metrics score with, on ground-truth renders only: frames of
// both views of a synthetic dataset and their true class maps. The loop (resume, schedule,
// metrics, checkpoints, stops) is loop.ts's; the loss is the per-pixel cross entropy, each class
// weighted by 1/√(its pixel frequency) (normalised to mean 1) so that the character, a few
// percent of the pixels, is learnt; AdamW, linear warm-up then a linear decay to zero. A batch is
// `batch_size` frames drawn by a hash of (seed, step, slot), each flipped left to right with
// probability ½: any step's batch is known without the ones before, so a resumed run continues
// bit for bit.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { OptionError } from '../errors.js';
import { PerceptionNet, type PerceptionConfig } from '../models/perception/index.js';
import { LABEL_NAMES } from '../data/labels.js';
import { ClassOverlap, PerceptualScorer, framesToTensor } from '../eval/perceptual.js';
import { Generator, callAten, noGrad, openWeights, scope, tensor, type Tensor } from '../torch/index.js';
import { AdamW } from './adamw.js';
import { loadOptimizerState, saveOptimizerState, writeCheckpoint } from './checkpoint.js';
import { sampleSeed } from './data.js';
import { loadLabelledFrames, type LabelledFrames } from './perception_data.js';
import { openRun, runLoop } from './loop.js';
import { jsonText } from '../io/json_text.js';

export interface PerceptionTrainOptions {
  /** Training data: a synthetic dataset in the release layout with First_Label/ and Third_Label/. */
  data: string;
  /** Measured at the end (mIoU of the truth's own frames); never trained on. */
  validationData?: string;
  output: string;
  resume?: string;
  clips: number;
  frames: number;
  steps: number;
  batchSize: number;
  learningRate: number;
  warmupSteps: number;
  seed: number;
  saveInterval: number;
  config?: PerceptionConfig;
  signal?: AbortSignal;
  onEvent?: (event: PerceptionTrainEvent) => void;
}

export type PerceptionTrainEvent =
  { kind: 'step'; step: number; steps: number; loss: number } | { kind: 'note'; text: string };

/** The shipped PerceptionNet's: the synthetic world's classes, four down blocks. */
export const SMALL_PERCEPTION_CONFIG: PerceptionConfig = {
  in_channels: 3,
  block_out_channels: [16, 32, 64, 64],
  class_names: [...LABEL_NAMES],
  frechet_blocks: [2, 3],
};

export const PERCEPTION_DEFAULTS = {
  clips: 600,
  frames: 17,
  steps: 800,
  batchSize: 32,
  learningRate: 2e-3,
  warmupSteps: 40,
  seed: 0,
  saveInterval: 200,
};

/** 1/√frequency of each class over the training maps, normalised to mean 1 over the classes present (absent ones 0). */
export function classWeights(labels: readonly Uint8Array[], classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const map of labels)
    for (const c of map) {
      if (c >= classes)
        throw new OptionError('data', `a class map holds class ${c}, the network has ${classes} classes`);
      counts[c]!++;
    }
  const raw = counts.map((n) => (n ? 1 / Math.sqrt(n) : 0));
  const present = raw.filter((w) => w > 0);
  const meanWeight = present.reduce((a, b) => a + b, 0) / present.length;
  return raw.map((w) => w / meanWeight);
}

function batchAt(data: LabelledFrames, seed: number, step: number, size: number): { x: Tensor; target: Tensor } {
  const { width, height } = data;
  const images: Uint8Array[] = [];
  const maps = new BigInt64Array(size * width * height);
  for (let b = 0; b < size; b++) {
    const key = `${seed}/${step}/${b}`;
    const index = Number(sampleSeed(key, 'frame') % BigInt(data.images.length));
    const flip = (sampleSeed(key, 'flip') & 1n) === 1n;
    const image = data.images[index]!,
      map = data.labels[index]!;
    const img = flip ? new Uint8Array(image.length) : image;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const from = y * width + (flip ? width - 1 - x : x),
          to = y * width + x;
        if (flip) for (let c = 0; c < 3; c++) img[to * 3 + c] = image[from * 3 + c]!;
        maps[b * width * height + to] = BigInt(map[from]!);
      }
    }
    images.push(img);
  }
  return { x: framesToTensor(images, width, height), target: tensor(maps, { shape: [size, height, width] }) };
}

/** The network's mIoU (and IoU per class) on the truth's own frames: the content score's ceiling. */
export function segmentationScore(net: PerceptionNet, data: LabelledFrames): { miou: number; iou: (number | null)[] } {
  const scorer = new PerceptualScorer(net, 'training');
  const overlap = new ClassOverlap(net.config.class_names.length);
  for (let start = 0; start < data.images.length; start += 64) {
    using percept = scorer.perceive(data.images.slice(start, start + 64), data.width, data.height);
    percept.labels.forEach((map, i) => overlap.add(map, data.labels[start + i]!));
  }
  return { miou: overlap.miou(), iou: overlap.iou() };
}

export async function trainPerception(
  o: PerceptionTrainOptions,
): Promise<{ dir: string; validation?: { miou: number; iou: (number | null)[] } }> {
  const note = (text: string): void => o.onEvent?.({ kind: 'note', text });
  return openRun({ output: o.output, resume: o.resume, inputs: [o.data], onNote: note }, async (resumeFrom) => {
    const data = await loadLabelledFrames(o.data, {
      clips: o.clips,
      frames: o.frames,
      onProgress: (d, t) => d === t && note(`${t} videos decoded`),
    });
    const config = o.config ?? SMALL_PERCEPTION_CONFIG;
    using net = new PerceptionNet(config, { generator: new Generator(o.seed) });
    net.train();
    const trainable = [...net.namedParameters()];
    using weights = tensor(classWeights(data.labels, config.class_names.length), {
      shape: [config.class_names.length],
    });
    const optimizer = new AdamW(
      trainable.map(([, p]) => p),
      { lr: o.learningRate, betas: [0.9, 0.99], weightDecay: 1e-4 },
    );
    let start = 0;
    if (resumeFrom) {
      const state = JSON.parse(readFileSync(path.join(resumeFrom, 'trainer_state.json'), 'utf8')) as { step: number };
      net.loadStateDict(openWeights(path.join(resumeFrom, 'perception'), 'model'), { where: resumeFrom });
      loadOptimizerState(path.join(resumeFrom, 'optimizer.safetensors'), trainable, optimizer, state.step);
      start = state.step;
      note(`resumed from ${resumeFrom} at step ${start}`);
    }
    note(
      `${data.images.length} frames of ${data.width}x${data.height}; class weights ${weights
        .toArray()
        .map((w) => w.toFixed(2))
        .join(' ')}`,
    );
    await runLoop({
      output: o.output,
      start,
      steps: o.steps,
      resumed: resumeFrom !== null,
      optimizer,
      schedule: { base: o.learningRate, warmup: o.warmupSteps, decay: o.steps - o.warmupSteps },
      every: o.saveInterval,
      signal: o.signal,
      // the weighted cross entropy of the step's frames
      step: async (step) => {
        const loss = scope(() => {
          const { x, target } = batchAt(data, o.seed, step, o.batchSize);
          const { logits } = net.forward(x);
          const l = callAten('aten::cross_entropy_loss', '', logits!, target, weights, 1, -100, 0.0) as Tensor;
          l.backward();
          return l.item();
        });
        return {
          loss,
          metrics: (lr, seconds) => ({ step: step + 1, loss, lr, step_seconds: Number(seconds.toFixed(3)) }),
        };
      },
      checkpoint: (step) =>
        writeCheckpoint(o.output, step, 2, (dir) => {
          net.savePretrained(path.join(dir, 'perception'));
          saveOptimizerState(path.join(dir, 'optimizer.safetensors'), trainable, optimizer);
          writeFileSync(path.join(dir, 'trainer_state.json'), jsonText({ step }));
        }),
      onStep: (m) => o.onEvent?.({ kind: 'step', step: m.step, steps: o.steps, loss: m.loss }),
    });
    return await finish(o, net, config); // awaited: `using` frees the network when this returns
  });
}

/** The trained network in OUTPUT/perception and, with validation data, its mIoU there (validation.json). */
async function finish(
  o: PerceptionTrainOptions,
  net: PerceptionNet,
  config: PerceptionConfig,
): Promise<{ dir: string; validation?: { miou: number; iou: (number | null)[] } }> {
  const step = o.steps;
  net.eval();
  const final = path.join(o.output, 'perception');
  noGrad(() => net.savePretrained(final));
  let validation: { miou: number; iou: (number | null)[] } | undefined;
  if (o.validationData && existsSync(o.validationData)) {
    validation = segmentationScore(
      net,
      await loadLabelledFrames(o.validationData, { clips: o.clips, frames: o.frames }),
    );
    writeFileSync(
      path.join(o.output, 'validation.json'),
      jsonText({ step, ...validation, class_names: config.class_names }, 1),
    );
  }
  return { dir: final, validation };
}
