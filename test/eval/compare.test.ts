// eval --compare: paired differences on hand-made reports, against values worked out by hand.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { pairedComparison, readEvalReport } from '../../src/eval/compare.js';
import type { EvalReport } from '../../src/eval/evaluate.js';
import { markdownReport } from '../../src/eval/report.js';

const root = mkdtempSync(path.join(tmpdir(), 'ww-compare-'));
after(() => rmSync(root, { recursive: true, force: true }));

const scores = (psnr: number, ssim: number) => ({
  psnr,
  ssim,
  psnrFrames: [psnr],
  ssimFrames: [ssim],
  sharpness: 1,
  gradientEnergy: 1,
  edges: 0.5,
  edgesFrames: [0.5],
  lattice: 0.002,
});
function report(cases: [string, number, number][], task: EvalReport['task'] = 'three2one', frames = 17): EvalReport {
  return {
    task,
    width: 8,
    height: 8,
    frames,
    definitions: '',
    notes: [],
    unmatched: { predictions: [], groundTruth: [] },
    cases: cases.map(([name, psnr, ssim]) => ({
      case: name,
      prediction: '',
      groundTruth: '',
      input: '',
      model: scores(psnr, ssim),
      copyInput: scores(10, 0.1),
      blurredTruth: scores(25, 0.8),
      truth: scores(100, 1),
    })),
    overall: { model: scores(0, 0), copyInput: scores(10, 0.1), blurredTruth: scores(25, 0.8), truth: scores(100, 1) },
  };
}

test('paired differences: mean, standard error (sample s.d. / √n) and cases better, on the shared cases only', () => {
  const ours = report([
    ['a', 20, 0.5],
    ['b', 18, 0.6],
    ['c', 17, 0.7],
    ['d', 30, 0.9],
  ]);
  const theirs = report([
    ['a', 19, 0.4],
    ['b', 16, 0.4],
    ['c', 20, 0.4],
    ['e', 1, 0.1],
  ]);
  const c = pairedComparison(ours, theirs, 'other/report.json');
  // PSNR differences 1, 2, −3: mean 0, s.d. √((1 + 4 + 9) / 2) = √7, s.e. √(7/3)
  assert.equal(c.cases, 3);
  assert.ok(Math.abs(c.psnr.meanDifference) < 1e-12);
  assert.ok(Math.abs(c.psnr.standardError - Math.sqrt(7 / 3)) < 1e-12);
  assert.equal(c.psnr.better, 2);
  // SSIM differences 0.1, 0.2, 0.3: mean 0.2, s.d. 0.1, s.e. 0.1 / √3
  assert.ok(Math.abs(c.ssim.meanDifference - 0.2) < 1e-12);
  assert.ok(Math.abs(c.ssim.standardError - 0.1 / Math.sqrt(3)) < 1e-12);
  assert.equal(c.ssim.better, 3);
  assert.deepEqual([c.onlyHere, c.onlyThere], [['d'], ['e']]);

  const md = markdownReport({ ...ours, comparison: c });
  assert.match(md, /## Against other\/report\.json/);
  assert.match(md, /\| PSNR \(dB\) \| \+0\.00 ± 1\.53 \| 2 of 3 \|/);
  assert.match(md, /\| SSIM \| \+0\.2000 ± 0\.0577 \| 3 of 3 \|/);
  assert.match(md, /only here d; only there e/);
});

test('reports of another task, another frame count or no shared case are refused, naming the file', () => {
  const ours = report([
    ['a', 20, 0.5],
    ['b', 18, 0.6],
  ]);
  assert.throws(
    () => pairedComparison(ours, report([['a', 1, 0]], 'one2three'), 'x.json'),
    /x\.json scores one2three, this run three2one/,
  );
  assert.throws(
    () => pairedComparison(ours, report([['a', 1, 0]], 'three2one', 9), 'x.json'),
    /x\.json scores 9 frames per video, this run 17/,
  );
  assert.throws(
    () => pairedComparison(ours, report([['z', 1, 0]]), 'x.json'),
    /x\.json has none of this run's cases \(a, b/,
  );
});

test('a file that is not an eval report is refused, naming it and what was expected', () => {
  const broken = path.join(root, 'broken.json'),
    other = path.join(root, 'other.json'),
    good = path.join(root, 'report.json');
  writeFileSync(broken, '{"task": ');
  writeFileSync(
    other,
    JSON.stringify({ task: 'three2one', frames: 17, cases: [{ case: 'a', model: { psnr: 'high' } }] }),
  );
  writeFileSync(good, JSON.stringify(report([['a', 20, 0.5]])));
  assert.throws(
    () => readEvalReport(broken),
    (e: Error) =>
      e.name === 'FileFormatError' && e.message.startsWith(`${broken}: not a report.json of worldwander eval`),
  );
  assert.throws(
    () => readEvalReport(other),
    /other\.json: not a report\.json of worldwander eval \(expected task, frames and cases\[\] with case and model\.psnr/,
  );
  assert.equal(readEvalReport(good).cases[0]!.model.psnr, 20);
});
