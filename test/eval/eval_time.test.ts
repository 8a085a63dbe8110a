// eval compares a prediction with the ground truth at the same instants: a prediction infer made
// from a window (its run.json says start 0.5 s at 8 fps) of a clip whose ground truth runs at 60
// fps is scored against the truth's frames shown at 0.5 + k/8 s. The clips' colours spell their
// frame index, so the right frames score as a copy (high PSNR) and any other alignment far lower.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { evaluate, predictionTime } from '../../src/eval/evaluate.js';
import { codedClip, ffmpeg, H264, shown } from '../helpers/coded_clips.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'eval-time-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

test('a prediction of a window is scored against the ground truth at its instants (run.json), whatever the truth rate; frame for frame it would not be', async () => {
  const truth = path.join(scratch, 'truth');
  mkdirSync(path.join(truth, 'First_Video'), { recursive: true });
  mkdirSync(path.join(truth, 'Third_Video'), { recursive: true });
  const first = codedClip(path.join(truth, 'First_Video'), 'walk.mp4', '60', 3, '64x32');
  codedClip(path.join(truth, 'Third_Video'), 'walk.mp4', '30', 3, '64x32');
  // the prediction: exactly the truth's frames at 0.5 + k/8 s (as a perfect model would draw them)
  const predictions = path.join(scratch, 'predictions');
  const caseDir = path.join(predictions, 'walk');
  mkdirSync(caseDir, { recursive: true });
  const frames = shown(60, 0.5, 8, 5); // 30, 37, 45, 52, 60
  ffmpeg([
    '-i',
    first,
    '-vf',
    `select='${frames.map((n) => `eq(n\\,${n})`).join('+')}',setpts=N/8/TB`,
    '-r',
    '8',
    ...H264,
    path.join(caseDir, 'generated.mp4'),
  ]);
  const record = (start: number) =>
    writeFileSync(
      path.join(caseDir, 'run.json'),
      JSON.stringify({ case: 'walk', window: { start, end: start + 4 / 8, fps: 8 } }),
    );
  const score = async () =>
    evaluate({ task: 'three2one', predictions, groundTruth: truth, frames: 5 }).then((r) => ({
      psnr: r.overall.model.psnr,
      notes: r.notes,
    }));
  record(0.5);
  assert.deepEqual(await predictionTime(path.join(caseDir, 'generated.mp4')), { start: 0.5, fps: 8 });
  const aligned = await score();
  assert.ok(aligned.psnr > 35, `at its instants the prediction is the truth: ${aligned.psnr} dB`);
  assert.ok(aligned.notes.some((n) => /^1 of 1 ground truths \(and inputs\) were taken at the instants/.test(n)));
  record(0);
  const misaligned = await score();
  assert.ok(misaligned.psnr < aligned.psnr - 10, `from 0 s the frames differ: ${misaligned.psnr} dB`);
  // without a run.json, the prediction's own rate from 0 s
  rmSync(path.join(caseDir, 'run.json'));
  assert.deepEqual(await predictionTime(path.join(caseDir, 'generated.mp4')), { start: 0, fps: 8 });
});
