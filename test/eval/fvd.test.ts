// FVD from a TorchScript I3D with StyleGAN-V's calling contract (a tiny one made by
// scripts/make-i3d-fixture.py): the clips' features and the Fréchet distance against float64
// PyTorch with the field's preprocessing, the eval report's column, and the errors of wrong files.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { encodePng } from '../../src/data/png.js';
import { frechetDistance } from '../../src/eval/frechet.js';
import { Fvd } from '../../src/eval/fvd.js';
import { runEval } from '../../src/eval/run_eval.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures');
const I3D = path.join(FIXTURES, 'i3d', 'i3d_tiny_torchscript.pt');
interface FixtureSet {
  width: number;
  height: number;
  clips: number[];
  features: number[][];
}
const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'i3d', 'expected.json'), 'utf8')) as {
  frames: number;
  sets: Record<'a' | 'b' | 'c', FixtureSet>;
  fvd: number;
};
const scratch = mkdtempSync(path.join(tmpdir(), 'ww-fvd-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The fixture's clip k, as the script makes it: an integer pattern per pixel. */
function clip(k: number, width: number, height: number): Uint8Array[] {
  return Array.from({ length: expected.frames }, (_, t) => {
    const frame = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        for (let c = 0; c < 3; c++) {
          const pattern = (x * x * 3 + y * y * 5 + x * y * (k + 1) + t * 17 * (k + 2) + c * 60 + k * 31) % 256;
          frame[(y * width + x) * 3 + c] = Math.floor((pattern * ((k % 4) + 1)) / 4) + (k % 3) * 20;
        }
    return frame;
  });
}

const fvd = Fvd.load(I3D);
after(() => fvd.dispose());

test("FVD features: each clip (wider and higher than wide) as float64 PyTorch gives them after the field's preprocessing", () => {
  for (const set of Object.values(expected.sets)) {
    set.clips.forEach((k, i) => {
      const got = fvd.features(clip(k, set.width, set.height), set.width, set.height);
      assert.equal(got.length, set.features[i]!.length);
      got.forEach((v, j) =>
        assert.ok(
          Math.abs(v - set.features[i]![j]!) < 2e-4,
          `${set.width}x${set.height} clip ${k} feature ${j}: ${v} against ${set.features[i]![j]}`,
        ),
      );
    });
  }
});

test("FVD: the Fréchet distance of the two sets' features is the float64 reference's", () => {
  const features = (set: FixtureSet) =>
    set.clips.map((k) => fvd.features(clip(k, set.width, set.height), set.width, set.height));
  const a = features(expected.sets.a),
    b = features(expected.sets.b);
  const got = frechetDistance(a, b);
  assert.ok(Math.abs(got - expected.fvd) < 1e-3 * expected.fvd, `${got} against ${expected.fvd}`);
  assert.ok(Math.abs(frechetDistance(a, a)) < 1e-9);
});

test("eval --fvd-i3d: the report has FVD, the reference's value for the model and 0 for the truth", async () => {
  const { width, height } = expected.sets.a;
  const write = (dir: string, frames: Uint8Array[]): void => {
    mkdirSync(dir, { recursive: true });
    frames.forEach((f, i) =>
      writeFileSync(
        path.join(dir, `${String(i).padStart(5, '0')}.png`),
        encodePng({ width, height, channels: 3, data: f }),
      ),
    );
  };
  const truth = path.join(scratch, 'truth'),
    predictions = path.join(scratch, 'pred');
  expected.sets.a.clips.forEach((k, i) => {
    write(path.join(truth, 'First_Video', `case${i}`), clip(k, width, height));
    write(path.join(truth, 'Third_Video', `case${i}`), clip(k, width, height));
    write(path.join(predictions, 'First_Video', `case${i}`), clip(expected.sets.b.clips[i]!, width, height));
  });
  const { report } = await runEval({
    task: 'three2one',
    predictions,
    groundTruth: truth,
    output: path.join(scratch, 'report'),
    frames: expected.frames,
    fps: 8,
    fvdI3d: I3D,
  });
  assert.ok(
    Math.abs(report.overall.model.fvd! - expected.fvd) < 1e-3 * expected.fvd,
    `${report.overall.model.fvd} against ${expected.fvd}`,
  );
  assert.equal(report.overall.truth.fvd, 0);
  assert.match(report.notes.join(' '), /FVD: the I3D of .*i3d_tiny_torchscript\.pt/);
  assert.match(readFileSync(path.join(scratch, 'report', 'report.md'), 'utf8'), /FVD ↓/);
});

test('FVD: a file that is not a TorchScript module, or is missing, is named', () => {
  assert.throws(
    () => Fvd.load(path.join(FIXTURES, 'lpips', 'alex_heads.pth')),
    /alex_heads\.pth: not a TorchScript module/,
  );
  const junk = path.join(scratch, 'junk.pt');
  writeFileSync(junk, 'not a module');
  assert.throws(() => Fvd.load(junk), /junk\.pt: not a TorchScript module/);
  assert.throws(() => Fvd.load(path.join(scratch, 'none.pt')), /none\.pt does not exist/);
});
