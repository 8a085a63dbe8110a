// evaluate() on hand-made cases whose scores are known in closed form: flat frames, so PSNR is
// 10·log10(255²/d²) for a difference d, and SSIM the luminance term (2ab + C1)/(a² + b² + C1).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { encodePng } from '../../src/data/png.js';
import { evaluate, meanTargetFrame } from '../../src/eval/evaluate.js';
import { writeVideo } from '../../src/data/video_writer.js';
import { writeReport } from '../../src/eval/report.js';
import { runEval } from '../../src/eval/run_eval.js';

const root = mkdtempSync(path.join(tmpdir(), 'ww-eval-'));
after(() => rmSync(root, { recursive: true, force: true }));
const W = 16,
  H = 12,
  FRAMES = 3;

function flatClip(dir: string, value: number, frames = FRAMES): void {
  mkdirSync(dir, { recursive: true });
  for (let f = 0; f < frames; f++)
    writeFileSync(
      path.join(dir, `${String(f).padStart(5, '0')}.png`),
      encodePng({ width: W, height: H, channels: 3, data: new Uint8Array(W * H * 3).fill(value) }),
    );
}

const psnrOf = (d: number): number => 10 * Math.log10(255 ** 2 / d ** 2);
const ssimOf = (a: number, b: number): number => {
  const c1 = (0.01 * 255) ** 2;
  return (2 * a * b + c1) / (a * a + b * b + c1);
};

test('three2one: model, copy-input and mean-frame scores in closed form; unmatched cases listed, not dropped', async () => {
  const truth = path.join(root, 'truth'),
    predictions = path.join(root, 'pred');
  flatClip(path.join(truth, 'First_Video', 'a'), 100);
  flatClip(path.join(truth, 'Third_Video', 'a'), 40);
  flatClip(path.join(truth, 'First_Video', 'b'), 200);
  flatClip(path.join(truth, 'Third_Video', 'b'), 190);
  flatClip(path.join(truth, 'First_Video', 'only_truth'), 0);
  flatClip(path.join(truth, 'Third_Video', 'only_truth'), 0);
  flatClip(path.join(predictions, 'First_Video', 'a'), 110);
  flatClip(path.join(predictions, 'First_Video', 'b'), 180);
  flatClip(path.join(predictions, 'First_Video', 'only_prediction'), 0);
  const report = await evaluate({
    task: 'three2one',
    predictions,
    groundTruth: truth,
    frames: FRAMES,
    meanFrame: new Uint8Array(W * H * 3).fill(150),
  });
  assert.deepEqual(
    report.cases.map((c) => c.case),
    ['a', 'b'],
  );
  const [a, b] = report.cases as [(typeof report.cases)[0], (typeof report.cases)[0]];
  const close = (x: number, y: number, what: string): void =>
    assert.ok(Math.abs(x - y) < 1e-9, `${what}: ${x} vs ${y}`);
  close(a.model.psnr, psnrOf(10), 'a model PSNR');
  close(b.model.psnr, psnrOf(20), 'b model PSNR');
  close(a.copyInput.psnr, psnrOf(60), 'a copy-input PSNR');
  close(b.copyInput.psnr, psnrOf(10), 'b copy-input PSNR');
  close(a.meanFrame!.psnr, psnrOf(50), 'a mean-frame PSNR');
  close(a.model.ssim, ssimOf(100, 110), 'a model SSIM');
  close(b.copyInput.ssim, ssimOf(200, 190), 'b copy-input SSIM');
  assert.equal(a.model.psnrFrames.length, FRAMES);
  // flat frames: no gradient anywhere (0/0 is "as sharp as the truth"), no band-pass response to agree with
  assert.equal(a.model.sharpness, 1);
  assert.equal(a.model.edges, 0);
  assert.equal(a.blurredTruth.psnr, 100, 'a blur of a flat frame is the frame');
  assert.equal(a.truth.psnr, 100);
  assert.equal(a.model.perceptual, undefined, 'no PerceptionNet given, no perceptual score');
  assert.match(report.notes.join(' '), /No PerceptionNet was given/);
  close(report.overall.model.psnr, (psnrOf(10) + psnrOf(20)) / 2, 'overall = mean over cases');
  close(report.overall.meanFrame!.ssim, (ssimOf(100, 150) + ssimOf(200, 150)) / 2, 'overall mean-frame SSIM');
  assert.deepEqual(report.unmatched, { predictions: ['only_prediction'], groundTruth: ['only_truth'] });
  const files = writeReport(path.join(root, 'report'), report, { title: 'closed form' });
  assert.ok(files.some((f) => f.endsWith('psnr_per_case.svg')));
  const md = files.find((f) => f.endsWith('report.md'))!;
  assert.match(
    readFileSync(md, 'utf8'),
    /Unmatched: predictions without ground truth: only_prediction; ground truth without predictions: only_truth/,
  );
});

test('bad input names what is wrong: too few frames, no matching case, a mean frame of another size', async () => {
  const truth = path.join(root, 'truth2'),
    predictions = path.join(root, 'pred2');
  flatClip(path.join(truth, 'First_Video', 'a'), 100);
  flatClip(path.join(truth, 'Third_Video', 'a'), 40);
  flatClip(path.join(predictions, 'First_Video', 'a'), 100, 2);
  await assert.rejects(
    evaluate({ task: 'three2one', predictions, groundTruth: truth, frames: FRAMES }),
    /pred2\/First_Video\/a: has 2 frames, 3 are compared/,
  );
  await assert.rejects(
    evaluate({ task: 'one2three', predictions, groundTruth: truth, frames: FRAMES }),
    /no prediction matches a case of .*Third_Video by name/,
  );
  flatClip(path.join(predictions, 'First_Video', 'a'), 100);
  await assert.rejects(
    evaluate({ task: 'three2one', predictions, groundTruth: truth, frames: FRAMES, meanFrame: new Uint8Array(10) }),
    /the mean frame has 10 bytes, the ground truth of a is 16x12 \(576 bytes of RGB\)/,
  );
  await assert.rejects(
    evaluate({ task: 'three2one', predictions, groundTruth: path.join(root, 'nowhere'), frames: FRAMES }),
    /has no Third_Video\//,
  );
});

test('mean frame of a training set: grey MP4 clips decoded in one process, frame folders and other sizes one by one, over the first frames only', async () => {
  const grey = (w: number, h: number, value: number, count: number): Uint8Array[] =>
    Array.from({ length: count }, () => new Uint8Array(w * h * 3).fill(value));
  const mp4 = async (dir: string, name: string, value: number, count: number, w = W, h = H): Promise<void> => {
    mkdirSync(path.join(dir, 'First_Video'), { recursive: true });
    await writeVideo(path.join(dir, 'First_Video', `${name}.mp4`), grey(w, h, value, count), {
      width: w,
      height: h,
      fps: 8,
    });
  };
  const near = (frame: Uint8Array, value: number, what: string): void => {
    const off = frame.reduce((worst, v) => Math.max(worst, Math.abs(v - value)), 0);
    assert.ok(off <= 1, `${what}: a pixel is ${off} away from ${value} (H.264 keeps flat grey within 1)`);
  };
  const videos = path.join(root, 'train-mp4');
  await mp4(videos, 'a', 40, FRAMES);
  await mp4(videos, 'b', 100, FRAMES + 2); // only its first FRAMES frames count
  await mp4(videos, 'c', 220, FRAMES);
  near(await meanTargetFrame(videos, 'three2one', FRAMES, W, H), (40 + 100 + 220) / 3, 'three video files');
  // a frame folder among them: every clip read on its own
  flatClip(path.join(videos, 'First_Video', 'd'), 0);
  near(await meanTargetFrame(videos, 'three2one', FRAMES, W, H), (40 + 100 + 220 + 0) / 4, 'with a frame folder');
  // a clip of another size: one process cannot take the group, each clip is read and scaled to W x H
  const mixed = path.join(root, 'train-mixed');
  await mp4(mixed, 'a', 40, FRAMES);
  await mp4(mixed, 'b', 100, FRAMES);
  await mp4(mixed, 'c', 180, FRAMES, 2 * W, 2 * H);
  near(await meanTargetFrame(mixed, 'three2one', FRAMES, W, H), (40 + 100 + 180) / 3, 'with a clip of twice the size');
});

test("eval --compare: a second run against the first run's report.json, paired in closed form; a bad report is refused before any scoring", async () => {
  const truth = path.join(root, 'truth3'),
    first = path.join(root, 'pred3a'),
    second = path.join(root, 'pred3b');
  for (const [name, target] of [
    ['a', 100],
    ['b', 200],
  ] as const) {
    flatClip(path.join(truth, 'First_Video', name), target);
    flatClip(path.join(truth, 'Third_Video', name), 0);
  }
  flatClip(path.join(first, 'First_Video', 'a'), 110); // off by 10, then by 5
  flatClip(path.join(first, 'First_Video', 'b'), 220); // off by 20, then by 40
  flatClip(path.join(second, 'First_Video', 'a'), 105);
  flatClip(path.join(second, 'First_Video', 'b'), 160);
  const base = { task: 'three2one' as const, groundTruth: truth, frames: FRAMES, fps: 8 };
  await runEval({ ...base, predictions: first, output: path.join(root, 'eval3a') });
  const previous = path.join(root, 'eval3a', 'report.json');
  const { report } = await runEval({
    ...base,
    predictions: second,
    output: path.join(root, 'eval3b'),
    compare: previous,
  });
  const differences = [psnrOf(5) - psnrOf(10), psnrOf(40) - psnrOf(20)]; // +6.02 and −6.02 dB
  const meanDifference = (differences[0]! + differences[1]!) / 2;
  const c = report.comparison!;
  assert.equal(c.cases, 2);
  assert.ok(Math.abs(c.psnr.meanDifference - meanDifference) < 1e-9);
  assert.ok(Math.abs(c.psnr.standardError - Math.abs(differences[0]! - differences[1]!) / 2) < 1e-9); // n = 2: s.e. = |d1 − d2| / 2
  assert.equal(c.psnr.better, 1);
  assert.match(readFileSync(path.join(root, 'eval3b', 'report.md'), 'utf8'), /## Against .*eval3a\/report\.json/);
  writeFileSync(path.join(root, 'not-a-report.json'), '[]');
  await assert.rejects(
    runEval({
      ...base,
      predictions: second,
      output: path.join(root, 'eval3c'),
      compare: path.join(root, 'not-a-report.json'),
    }),
    /not-a-report\.json: not a report\.json of worldwander eval/,
  );
  assert.equal(existsSync(path.join(root, 'eval3c')), false);
});
