// UMT5 encoder: bucket table by hand, the tiny fixture's forward against a float64 reference
// written here from the published math, strict loading, and the real umT5-XXL tree's size.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { SafetensorsFile, scope, tensor, loadAll, saveSafetensors } from '../../src/torch/index.js';
import { UMT5_XXL } from '../../src/models/umt5/config.js';
import { relativePositionBucket } from '../../src/models/umt5/layers.js';
import { UMT5EncoderModel } from '../../src/models/umt5/model.js';
import { assertClose } from '../helpers/assert_close.js';

const FIXTURE = 'test/fixtures/umt5_tiny/text_encoder';

test('relative position buckets (32 buckets, max distance 128) match a hand-computed table', () => {
  // rel = key − query. |rel| < 8 exact; then 8 + floor(8·log(|rel|/8)/log(16)); +16 when rel > 0; capped at 15 (+16).
  const table: [number, number][] = [
    [0, 0],
    [-1, 1],
    [1, 17],
    [-7, 7],
    [7, 23],
    [-8, 8],
    [8, 24],
    [-11, 8],
    [-12, 9],
    [12, 25],
    [-15, 9],
    [-16, 10],
    [-22, 10],
    [-23, 11],
    [-31, 11],
    [-32, 12],
    [32, 28],
    [-45, 12],
    [-46, 13],
    [-63, 13],
    [-64, 14],
    [-90, 14],
    [-91, 15],
    [-127, 15],
    [-128, 15],
    [128, 31],
    [-1000, 15],
    [1000, 31],
  ];
  for (const [rel, bucket] of table) assert.equal(relativePositionBucket(rel), bucket, `rel ${rel}`);
});

/** float64 reference of the UMT5 encoder from its published math, over the fixture's weights. */
function referenceForward(
  w: Map<string, number[]>,
  c: { d_model: number; d_kv: number; num_heads: number; d_ff: number; num_layers: number },
  ids: number[],
  mask: number[],
): number[][] {
  const D = c.d_model,
    H = c.num_heads,
    K = c.d_kv,
    F = c.d_ff,
    L = ids.length;
  const get = (k: string): number[] => w.get(k)!;
  const matvec = (W: number[], x: number[], out: number): number[] =>
    Array.from({ length: out }, (_, o) => x.reduce((s, xi, i) => s + W[o * x.length + i]! * xi, 0));
  const rms = (x: number[], g: number[]): number[] => {
    const v = x.reduce((s, xi) => s + xi * xi, 0) / x.length;
    return x.map((xi, i) => (xi / Math.sqrt(v + 1e-6)) * g[i]!);
  };
  const gelu = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  let x = ids.map((id) => get('shared.weight').slice(id * D, (id + 1) * D));
  for (let layer = 0; layer < c.num_layers; layer++) {
    const p = `encoder.block.${layer}.layer.`;
    const h = x.map((row) => rms(row, get(`${p}0.layer_norm.weight`)));
    const [q, k, v] = (['q', 'k', 'v'] as const).map((n) =>
      h.map((row) => matvec(get(`${p}0.SelfAttention.${n}.weight`), row, H * K)),
    ) as [number[][], number[][], number[][]];
    const table = get(`${p}0.SelfAttention.relative_attention_bias.weight`);
    const out = h.map(() => new Array<number>(H * K).fill(0));
    for (let head = 0; head < H; head++)
      for (let i = 0; i < L; i++) {
        const scores = Array.from({ length: L }, (_, j) => {
          let s = 0;
          for (let d = 0; d < K; d++) s += q[i]![head * K + d]! * k[j]![head * K + d]!;
          return mask[j] ? s + table[relativePositionBucket(j - i) * H + head]! : -Infinity;
        });
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < L; j++)
          for (let d = 0; d < K; d++) out[i]![head * K + d]! += (e[j]! / z) * v[j]![head * K + d]!;
      }
    x = x.map((row, i) => {
      const o = matvec(get(`${p}0.SelfAttention.o.weight`), out[i]!, D);
      return row.map((r, d) => r + o[d]!);
    });
    x = x.map((row) => {
      const hh = rms(row, get(`${p}1.layer_norm.weight`));
      const g = matvec(get(`${p}1.DenseReluDense.wi_0.weight`), hh, F).map(gelu);
      const u = matvec(get(`${p}1.DenseReluDense.wi_1.weight`), hh, F);
      const f = matvec(
        get(`${p}1.DenseReluDense.wo.weight`),
        g.map((gi, i) => gi * u[i]!),
        D,
      );
      return row.map((r, d) => r + f[d]!);
    });
  }
  return x.map((row) => rms(row, get('encoder.final_layer_norm.weight')));
}

test('tiny UMT5 fixture: forward equals a float64 reference (no 1/√d scaling, per-layer bias, masked padding)', () =>
  scope(() => {
    const model = UMT5EncoderModel.fromPretrained(FIXTURE, { dtype: 'float64' });
    const weights = new Map(
      [...loadAll(SafetensorsFile.open(path.join(FIXTURE, 'model.safetensors')))].map(([k, t]) => [k, t.toArray()]),
    );
    const c = model.config;
    const ids = [4, 5, 6, 7, 8, 10, 11, 12, 13, 1, 0, 0];
    const mask = ids.map((_, i) => (i < 10 ? 1 : 0));
    const got = model.forward(tensor([ids], { dtype: 'int64' }), tensor([mask], { dtype: 'int64' }));
    assert.deepEqual(got.shape, [1, 12, c.d_model]);
    const expected = referenceForward(weights, c, ids, mask);
    assertClose(got.toArray(), expected.flat(), { atol: 1e-10, rtol: 1e-9, what: 'last_hidden_state' });
  }));

test('loading: the tied encoder.embed_tokens copy is accepted; missing, unexpected and mis-shaped keys are named', () =>
  scope(() => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'umt5-'));
    try {
      copyFileSync(path.join(FIXTURE, 'config.json'), path.join(dir, 'config.json'));
      const tensors = loadAll(SafetensorsFile.open(path.join(FIXTURE, 'model.safetensors')));
      const write = (m: Map<string, unknown>): void => saveSafetensors(path.join(dir, 'model.safetensors'), m as never);
      // Only the tied copy: used as shared.weight.
      const onlyTied = new Map(tensors);
      onlyTied.delete('shared.weight');
      write(onlyTied);
      const model = UMT5EncoderModel.fromPretrained(dir);
      assert.deepEqual(model.shared.weight.toArray(), tensors.get('encoder.embed_tokens.weight')!.toArray());
      const broken = new Map(tensors);
      broken.delete('encoder.block.1.layer.1.DenseReluDense.wo.weight');
      broken.set('encoder.block.9.layer.0.layer_norm.weight', tensors.get('encoder.final_layer_norm.weight')!);
      broken.set('encoder.block.0.layer.0.SelfAttention.q.weight', tensor([[1, 2]]));
      write(broken);
      assert.throws(
        () => UMT5EncoderModel.fromPretrained(dir),
        (e: Error) =>
          e.message.includes(dir) &&
          /missing keys \(1\): encoder\.block\.1\.layer\.1\.DenseReluDense\.wo\.weight/.test(e.message) &&
          /unexpected keys \(1\): encoder\.block\.9\.layer\.0\.layer_norm\.weight/.test(e.message) &&
          /SelfAttention\.q\.weight: expected shape \[8, 8\], got \[1, 2\]/.test(e.message),
      );
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'umt5', d_model: 8 }));
      assert.throws(
        () => UMT5EncoderModel.fromPretrained(dir),
        /config\.json: missing vocab_size, d_kv, d_ff, num_layers, num_heads/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));

test('the real umT5-XXL config builds 242 tensors and 5,680,910,336 parameters (shared.weight counted once)', () =>
  scope(() => {
    // Uninitialised bf16 storage is never written, so this costs no memory in practice.
    const model = new UMT5EncoderModel(UMT5_XXL, { init: 'empty', dtype: 'bfloat16' });
    const shapes = new Map([...model.stateDict()].map(([k, t]) => [k, [...t.shape]]));
    assert.equal(shapes.size, 1 + 24 * 10 + 1);
    assert.equal(
      [...shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0),
      5_680_910_336,
    );
    assert.deepEqual(shapes.get('shared.weight'), [256384, 4096]);
    assert.deepEqual(shapes.get('encoder.block.23.layer.0.SelfAttention.o.weight'), [4096, 4096]);
    assert.deepEqual(shapes.get('encoder.block.5.layer.0.SelfAttention.relative_attention_bias.weight'), [32, 64]);
    assert.deepEqual(shapes.get('encoder.block.0.layer.1.DenseReluDense.wi_1.weight'), [10240, 4096]);
    assert.deepEqual(shapes.get('encoder.block.0.layer.1.DenseReluDense.wo.weight'), [4096, 10240]);
    assert.deepEqual(shapes.get('encoder.final_layer_norm.weight'), [4096]);
    model.dispose();
  }));
