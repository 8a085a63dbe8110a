// The calibration of every metric on clips of the synthetic world (seed 7, which no split uses):
// the truth scores perfect, blur, shift and noise degrade in order, a 2-px shift ranks above a
// σ 3 blur in each network metric, and the baselines sit below the mildest damage. The network is
// the shipped PerceptionNet (models/worldwander-small/perception).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { calibrate, type CalibrationCase } from '../../src/eval/calibration.js';
import { PSNR_CAP } from '../../src/eval/metrics.js';
import { PerceptualScorer } from '../../src/eval/perceptual.js';
import type { OverallScores } from '../../src/eval/scoring.js';
import { SampleRenderer } from '../../src/synth/sample.js';
import { makeSampleSpec } from '../../src/synth/spec.js';

const PERCEPTION = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../models/worldwander-small/perception',
);
const SIZE = { width: 64, height: 64, frames: 17, fps: 8 };
const CLIPS = 8;

function clips(view: 'first' | 'third'): CalibrationCase[] {
  return Array.from({ length: CLIPS }, (_, index) => {
    const renderer = new SampleRenderer(makeSampleSpec(7, index), SIZE);
    const target = Array.from({ length: SIZE.frames }, (_, k) =>
      view === 'first' ? renderer.firstPersonView(k) : renderer.thirdPersonView(k),
    );
    const input = Array.from({ length: SIZE.frames }, (_, k) =>
      view === 'first' ? renderer.thirdPerson(k) : renderer.firstPerson(k),
    );
    return {
      truth: { width: SIZE.width, height: SIZE.height, frames: target.map((v) => v.rgb) },
      input,
      trueMaps: target.map((v) => v.labels),
    };
  });
}

function meanOf(cases: readonly CalibrationCase[]): Uint8Array {
  const sum = new Float64Array(SIZE.width * SIZE.height * 3);
  let n = 0;
  for (const c of cases)
    for (const frame of c.truth.frames) {
      frame.forEach((v, i) => {
        sum[i]! += v;
      });
      n++;
    }
  return Uint8Array.from(sum, (v) => Math.round(v / n));
}

type Metric = keyof OverallScores;
/** Direction of "better": +1 where higher is better. */
const BETTER: Partial<Record<Metric, 1 | -1>> = {
  psnr: 1,
  ssim: 1,
  edges: 1,
  perceptual: -1,
  frechet: -1,
  miou: 1,
  characterIou: 1,
};
const NETWORK_METRICS: Metric[] = ['perceptual', 'frechet', 'miou'];

function value(rows: Map<string, OverallScores>, row: string, metric: Metric): number {
  const v = rows.get(row)![metric];
  assert.equal(typeof v, 'number', `${row}: ${metric} was not computed`);
  return v as number;
}

/** `a` scores strictly better than `b` on `metric`. */
function better(rows: Map<string, OverallScores>, a: string, b: string, metric: Metric): void {
  const [va, vb] = [value(rows, a, metric), value(rows, b, metric)];
  assert.ok(
    BETTER[metric]! * (va - vb) > 0,
    `${metric}: ${a} (${va.toFixed(4)}) should score better than ${b} (${vb.toFixed(4)})`,
  );
}

for (const view of ['first', 'third'] as const) {
  test(`${view}-person clips: the truth is perfect, damage ranks in order, a 2-px shift beats a σ 3 blur`, () => {
    const cases = clips(view);
    const scorer = PerceptualScorer.load(PERCEPTION);
    try {
      const rows = calibrate(cases, { scorer, meanFrame: meanOf(cases) });
      const truth = rows.get('truth')!;
      assert.equal(truth.psnr, PSNR_CAP);
      assert.equal(truth.ssim, 1);
      assert.equal(truth.sharpness, 1);
      assert.equal(truth.edges, 1);
      assert.equal(truth.perceptual, 0);
      // The segmenter labels the truth itself best of all rows (its own ceiling, which it reaches nearly).
      assert.ok(truth.miou! > 0.8, `mIoU of the truth ${truth.miou}`);
      for (const [row] of rows)
        if (row !== 'truth') for (const metric of NETWORK_METRICS) better(rows, 'truth', row, metric);

      const ladders = [
        ['blur σ 1', 'blur σ 2', 'blur σ 3'],
        ['shift 1 px', 'shift 2 px', 'shift 4 px'],
        ['noise σ 8', 'noise σ 16', 'noise σ 32'],
      ];
      for (const ladder of ladders) {
        for (let i = 0; i + 1 < ladder.length; i++) {
          for (const metric of ['psnr', 'ssim', 'perceptual', 'miou'] as Metric[])
            better(rows, ladder[i]!, ladder[i + 1]!, metric);
        }
      }
      for (const metric of ['edges', 'frechet'] as Metric[])
        for (const [a, b] of [
          ['blur σ 1', 'blur σ 2'],
          ['blur σ 2', 'blur σ 3'],
          ['noise σ 8', 'noise σ 32'],
        ])
          better(rows, a!, b!, metric);
      for (const [a, b] of [
        ['shift 1 px', 'shift 2 px'],
        ['shift 2 px', 'shift 4 px'],
      ])
        better(rows, a!, b!, 'edges');
      // Sharpness sees blur (below 1, falling) and noise (above 1, rising); a shift keeps it.
      const sharp = (row: string): number => value(rows, row, 'sharpness');
      assert.ok(
        sharp('blur σ 1') < 1 && sharp('blur σ 2') < sharp('blur σ 1') && sharp('blur σ 3') < sharp('blur σ 2'),
      );
      assert.ok(
        sharp('noise σ 8') > 1 && sharp('noise σ 16') > sharp('noise σ 8') && sharp('noise σ 32') > sharp('noise σ 16'),
      );
      assert.ok(Math.abs(sharp('shift 2 px') - 1) < 0.1, `sharpness of a shift ${sharp('shift 2 px')}`);

      for (const metric of NETWORK_METRICS) better(rows, 'shift 2 px', 'blur σ 3', metric);
      if (view === 'third') better(rows, 'shift 2 px', 'blur σ 3', 'characterIou');
      // The baselines: worse than the mildest damage of each kind on every network metric; the mean frame is a blur.
      for (const baseline of ['copy input', 'mean frame']) {
        for (const mild of ['blur σ 1', 'shift 1 px', 'noise σ 8'])
          for (const metric of NETWORK_METRICS) better(rows, mild, baseline, metric);
      }
      assert.ok(sharp('mean frame') < 0.5, `sharpness of the mean frame ${sharp('mean frame')}`);
    } finally {
      scorer.net.dispose();
    }
  });
}
