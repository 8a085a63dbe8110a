// LPIPS from files in the real layout (torchvision backbones, lpips v0.1 heads; both of torch.save's
// formats) against the formula computed in float64 by PyTorch (scripts/make-lpips-fixture.py).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { encodePng } from '../../src/data/png.js';
import { Lpips } from '../../src/eval/lpips.js';
import { runEval } from '../../src/eval/run_eval.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/lpips');
const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as {
  pairs: { height: number; width: number; count: number; offset: number }[];
  alex: number[][];
  vgg: number[][];
};
const images = readFileSync(path.join(FIXTURES, 'images.bin'));
const scratch = mkdtempSync(path.join(tmpdir(), 'ww-lpips-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function pair(p: (typeof expected.pairs)[number]): [Uint8Array[], Uint8Array[]] {
  const size = p.height * p.width * 3;
  const frames = (first: number): Uint8Array[] =>
    Array.from(
      { length: p.count },
      (_, i) => new Uint8Array(images.subarray(first + i * size, first + (i + 1) * size)),
    );
  return [frames(p.offset), frames(p.offset + p.count * size)];
}

for (const net of ['alex', 'vgg'] as const) {
  test(`LPIPS ${net}: the files load (legacy and zip .pth) and give the float64 reference's distances`, () => {
    const lpips = Lpips.load(path.join(FIXTURES, `${net}_backbone.pth`), path.join(FIXTURES, `${net}_heads.pth`));
    try {
      assert.equal(lpips.net, net);
      expected.pairs.forEach((p, k) => {
        const [a, b] = pair(p);
        const got = lpips.distances(a, b, p.width, p.height);
        got.forEach((d, i) =>
          assert.ok(
            Math.abs(d - expected[net][k]![i]!) <= 1e-5 * Math.max(1, expected[net][k]![i]!),
            `${p.width}x${p.height} pair ${i}: ${d} against ${expected[net][k]![i]}`,
          ),
        );
        assert.deepEqual(
          lpips.distances(a, a, p.width, p.height),
          a.map(() => 0),
        );
      });
    } finally {
      lpips.dispose();
    }
  });
}

test('LPIPS: wrong files get errors that name the file and the key', () => {
  const alex = path.join(FIXTURES, 'alex_backbone.pth'),
    vggHeads = path.join(FIXTURES, 'vgg_heads.pth');
  assert.throws(
    () => Lpips.load(alex, vggHeads),
    /vgg_heads\.pth: lin0\.model\.1\.weight is \[1, 4, 1, 1\], the alex backbone .* needs \[1, 8, 1, 1\]/,
  );
  assert.throws(
    () => Lpips.load(path.join(FIXTURES, 'alex_heads.pth'), vggHeads),
    /alex_heads\.pth: not an AlexNet or VGG16 backbone/,
  );
  const junk = path.join(scratch, 'junk.pth');
  writeFileSync(junk, 'not a checkpoint');
  assert.throws(() => Lpips.load(junk, vggHeads), /junk\.pth: neither a zip archive nor a legacy PyTorch file/);
  const cut = path.join(scratch, 'cut.pth');
  const whole = readFileSync(alex);
  writeFileSync(cut, whole.subarray(0, whole.length - 100));
  assert.throws(() => Lpips.load(cut, vggHeads), /cut\.pth .*truncated/);
});

test("eval --lpips-backbone/--lpips-heads: the report has each method's LPIPS, the float64 reference's mean for the model", async () => {
  const p = expected.pairs[0]!;
  const [a, b] = pair(p);
  const clip = (dir: string, frames: Uint8Array[]): void => {
    mkdirSync(dir, { recursive: true });
    frames.forEach((f, i) =>
      writeFileSync(
        path.join(dir, `${String(i).padStart(5, '0')}.png`),
        encodePng({ width: p.width, height: p.height, channels: 3, data: f }),
      ),
    );
  };
  const truth = path.join(scratch, 'truth'),
    predictions = path.join(scratch, 'pred');
  clip(path.join(truth, 'First_Video', 'case'), a);
  clip(path.join(truth, 'Third_Video', 'case'), b);
  clip(path.join(predictions, 'First_Video', 'case'), b);
  const { report } = await runEval({
    task: 'three2one',
    predictions,
    groundTruth: truth,
    output: path.join(scratch, 'report'),
    frames: p.count,
    fps: 8,
    lpipsBackbone: path.join(FIXTURES, 'alex_backbone.pth'),
    lpipsHeads: path.join(FIXTURES, 'alex_heads.pth'),
  });
  const reference = expected.alex[0]!.reduce((s, v) => s + v, 0) / p.count;
  assert.ok(
    Math.abs(report.overall.model.lpips! - reference) < 1e-5,
    `${report.overall.model.lpips} against ${reference}`,
  );
  assert.equal(report.overall.truth.lpips, 0);
  assert.match(report.notes.join(' '), /LPIPS: the alex network from .*alex_backbone\.pth/);
  assert.match(readFileSync(path.join(scratch, 'report', 'report.md'), 'utf8'), /LPIPS ↓/);
  await assert.rejects(
    runEval({
      task: 'three2one',
      predictions,
      groundTruth: truth,
      output: path.join(scratch, 'r2'),
      frames: p.count,
      fps: 8,
      lpipsHeads: path.join(FIXTURES, 'alex_heads.pth'),
    }),
    /LPIPS needs both files/,
  );
});
