// The bundled default run end to end with the bundled model (models/worldwander-small): held-out
// clips (seed 3, never trained on, never used to choose anything) translated both ways must beat
// both baselines, the page must be written, and a second run must reuse the translations.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

import { readFrames } from '../../src/data/frames.js';
import { mean, videoPsnr } from '../../src/eval/metrics.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = path.join(root, 'bin', 'worldwander.js');
const model = path.join(root, 'models', 'worldwander-small');
const out = mkdtempSync(path.join(tmpdir(), 'ww-demo-'));
after(() => rmSync(out, { recursive: true, force: true }));

interface Scores {
  model: number;
  copyInput: number;
  meanFrame: number;
}

function scores(stdout: string): Record<string, Scores> {
  const found: Record<string, Scores> = {};
  for (const m of stdout.matchAll(
    /^(three2one|one2three): model PSNR ([\d.]+) dB.*\| copy-input ([\d.]+) dB.*\| mean frame ([\d.]+) dB/gm,
  )) {
    found[m[1]!] = { model: Number(m[2]), copyInput: Number(m[3]), meanFrame: Number(m[4]) };
  }
  return found;
}

test("npm start's demo: the bundled model translates held-out clips both ways better than copying the input or the mean frame", () => {
  const first = execFileSync(process.execPath, [cli, 'demo', '--out', out], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.match(first, /^engine: libtorch \d/m);
  const s = scores(first);
  assert.deepEqual(Object.keys(s).sort(), ['one2three', 'three2one'], first);
  for (const [task, v] of Object.entries(s)) {
    assert.ok(v.model > v.copyInput, `${task}: model ${v.model} dB must beat copy-input ${v.copyInput} dB`);
    assert.ok(v.model > v.meanFrame, `${task}: model ${v.model} dB must beat the mean frame ${v.meanFrame} dB`);
  }
  for (const file of [
    'page/index.html',
    'reports/three2one/report.md',
    'reports/one2three/report.json',
    'translations/one2three/sample_000000/side_by_side.mp4',
    'demo.json',
  ]) {
    assert.ok(existsSync(path.join(out, file)), `${file} is written`);
  }
  const run = JSON.parse(
    readFileSync(path.join(out, 'translations', 'three2one', 'sample_000000', 'run.json'), 'utf8'),
  );
  const defaults = JSON.parse(readFileSync(path.join(model, 'model_index.json'), 'utf8'))._worldwander;
  assert.equal(run.steps, defaults.num_inference_steps, 'the demo samples with the settings the model folder ships');
  const page = readFileSync(path.join(out, 'page', 'index.html'), 'utf8');
  const before = readFileSync(path.join(out, 'demo.json'));
  const second = execFileSync(process.execPath, [cli, 'demo', '--out', out], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.match(second, /reused the translations of an earlier run/);
  assert.deepEqual(scores(second), s, 'the same scores from the same translations');
  assert.equal(readFileSync(path.join(out, 'page', 'index.html'), 'utf8'), page);
  assert.deepEqual(readFileSync(path.join(out, 'demo.json')), before);
});

test('the bundled model through infer: a held-out clip in, the other view out, closer to the ground truth than the input is', async () => {
  const data = path.join(out, 'data');
  const result = path.join(out, 'infer');
  execFileSync(
    process.execPath,
    [
      cli,
      'infer',
      '--config',
      path.join(root, 'configs', 'small', 'one2three.yaml'),
      '--model-dir',
      model,
      '--input',
      path.join(data, 'First_Video', 'sample_000001.mp4'),
      '--ref',
      path.join(data, 'Reference_Image', 'sample_000001.png'),
      '--output',
      result,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const run = JSON.parse(readFileSync(path.join(result, 'sample_000001', 'run.json'), 'utf8'));
  assert.equal(run.task, 'one2three');
  assert.equal(run.frames, 17);
  assert.deepEqual([run.width, run.height], [64, 64]);
  assert.ok(existsSync(path.join(result, 'sample_000001', 'generated.mp4')));
  const truth = (await readFrames(path.join(data, 'Third_Video', 'sample_000001.mp4'), { maxFrames: 17 })).frames;
  const generated = (await readFrames(path.join(result, 'sample_000001', 'frames'))).frames;
  const input = (await readFrames(path.join(data, 'First_Video', 'sample_000001.mp4'), { maxFrames: 17 })).frames;
  const generatedPsnr = mean(videoPsnr(generated, truth)),
    copyInput = mean(videoPsnr(input, truth));
  assert.ok(
    generatedPsnr > copyInput,
    `infer's one2three: ${generatedPsnr.toFixed(2)} dB against the ground truth, copying the input ${copyInput.toFixed(2)} dB`,
  );
});
