// The PerceptionNet metrics: IoU counted by hand; the perceptual distance of a network's features
// against a float64 computation of the formula from the same features; its shapes and checks.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { ClassOverlap, PerceptualScorer, framesToTensor, perceptualDistances } from '../../src/eval/perceptual.js';
import { PerceptionNet } from '../../src/models/perception/index.js';
import { Generator, noGrad } from '../../src/torch/index.js';

const root = mkdtempSync(path.join(tmpdir(), 'ww-perceptual-'));
after(() => rmSync(root, { recursive: true, force: true }));

const config = {
  in_channels: 3,
  block_out_channels: [4, 6, 8],
  class_names: ['a', 'b', 'character'],
  frechet_blocks: [1, 2],
};

function frames(count: number, width: number, height: number, seed: number): Uint8Array[] {
  let s = seed;
  return Array.from({ length: count }, () =>
    Uint8Array.from({ length: width * height * 3 }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24),
  );
}

test('IoU per class and mIoU, counted by hand', () => {
  const o = new ClassOverlap(3).add(Uint8Array.from([0, 0, 1, 1, 2, 0]), Uint8Array.from([0, 1, 1, 1, 0, 0]));
  // class 0: both at 0 and 5 (2), union {0, 1, 4, 5} = 4; class 1: both at 2, 3, union {1, 2, 3} = 3;
  // class 2: only predicted (at 4), never true: no IoU, its pixel counted in class 0's union
  assert.deepEqual(o.iou(), [2 / 4, 2 / 3, null]);
  assert.ok(Math.abs(o.miou() - (0.5 + 2 / 3) / 2) < 1e-12);
  assert.deepEqual(new ClassOverlap(3).add(Uint8Array.from([1]), Uint8Array.from([1])).iou(), [null, 1, null]);
  // merged counts: class 2 becomes true in the second set, and its IoU counts both sets' pixels
  const merged = o.merge(new ClassOverlap(3).add(Uint8Array.from([2, 1]), Uint8Array.from([2, 2])));
  assert.deepEqual(merged.iou(), [2 / 4, 2 / 4, 1 / 3]);
  assert.throws(() => new ClassOverlap(2).add(new Uint8Array(2), new Uint8Array(3)), /2 and 3 pixels/);
});

test('perceptual distance: 0 for the same frames, the formula in float64 for others, symmetric', () => {
  const net = new PerceptionNet(config, { generator: new Generator(3) });
  const scorer = new PerceptualScorer(net, 'test');
  const [w, h] = [16, 12];
  const a = frames(3, w, h, 1),
    b = frames(3, w, h, 2);
  const pa = scorer.perceive(a, w, h),
    pb = scorer.perceive(b, w, h);
  assert.ok(perceptualDistances(pa, pa).every((d) => d === 0));
  const got = perceptualDistances(pa, pb);
  // the features again, from the network's forward, normalised and compared in float64 here
  const expected = noGrad(() => {
    const fa = net.forward(framesToTensor(a, w, h), { logits: false }).features,
      fb = net.forward(framesToTensor(b, w, h), { logits: false }).features;
    return [0, 1, 2].map((n) => {
      let total = 0;
      fa.forEach((x, l) => {
        const [, c, hh, ww] = x.shape as number[];
        const xa = x.double().toArray(),
          xb = fb[l]!.double().toArray();
        let sum = 0;
        for (let p = 0; p < hh! * ww!; p++) {
          const at = (arr: number[], ch: number): number => arr[(n * c! + ch) * hh! * ww! + p]!;
          let na = 0,
            nb = 0;
          for (let ch = 0; ch < c!; ch++) {
            na += at(xa, ch) ** 2;
            nb += at(xb, ch) ** 2;
          }
          na = Math.sqrt(na) + 1e-10;
          nb = Math.sqrt(nb) + 1e-10;
          for (let ch = 0; ch < c!; ch++) sum += (at(xa, ch) / na - at(xb, ch) / nb) ** 2;
        }
        total += sum / (hh! * ww!);
      });
      return total / fa.length;
    });
  });
  for (const [i, d] of got.entries())
    assert.ok(Math.abs(d - expected[i]!) < 1e-5, `frame ${i}: ${d} vs ${expected[i]}`);
  assert.deepEqual(
    perceptualDistances(pb, pa).map((d) => d.toFixed(6)),
    got.map((d) => d.toFixed(6)),
  );
  assert.equal(pa.vectors.length, 3);
  assert.equal(pa.vectors[0]!.length, 6 + 8);
  assert.equal(pa.labels[0]!.length, w * h);
  assert.ok(pa.labels.every((m) => m.every((c) => c < 3)));
  pa.dispose();
  pb.dispose();
  net.dispose();
});

test('a size that is not a multiple of the stride is padded, and the classes come back at the frame size', () => {
  const net = new PerceptionNet(config, { generator: new Generator(4) });
  const scorer = new PerceptualScorer(net, 'test');
  const p = scorer.perceive(frames(2, 13, 10, 5), 13, 10);
  assert.equal(p.labels[0]!.length, 130);
  assert.deepEqual(p.normalized[0]!.shape, [2, 4, 10, 13]);
  p.dispose();
  net.dispose();
});

test('save and load round trip; a config without a key is refused naming it', async () => {
  const net = new PerceptionNet(config, { generator: new Generator(5) });
  net.savePretrained(path.join(root, 'p'));
  const loaded = PerceptionNet.fromPretrained(path.join(root, 'p'));
  const x = framesToTensor(frames(1, 8, 8, 9), 8, 8);
  const [l1, l2] = noGrad(() => [net.forward(x).logits!.toArray(), loaded.forward(x).logits!.toArray()]);
  assert.deepEqual(l1, l2);
  const { parsePerceptionConfig } = await import('../../src/models/perception/index.js');
  assert.throws(() => parsePerceptionConfig({ ...config, frechet_blocks: [5] }, 'c.json'), /c\.json: 'frechet_blocks'/);
  net.dispose();
  loaded.dispose();
});
