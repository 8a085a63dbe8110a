// The VAE's building blocks against float64 loops written here (independent of the module code).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { conv3d, noGrad, scope, tensor, type Tensor } from '../../src/torch/index.js';
import { boundedConv3d } from '../../src/models/wan/vae_conv.js';
import { avgDown3d, dupUp3d, WanAttentionBlock, WanResample } from '../../src/models/wan/vae_blocks.js';
import { FeatureCache } from '../../src/models/wan/vae_cache.js';
import { WanCausalConv3d, WanRMSNorm } from '../../src/models/wan/vae_layers.js';
import { patchify, unpatchify } from '../../src/models/wan/vae_layers.js';
import { assertClose } from '../helpers/assert_close.js';

let seed = 7;
const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
const data = (n: number): Float64Array => Float64Array.from({ length: n }, rnd);
const t64 = (d: Float64Array, shape: number[]): Tensor => tensor(d, { shape });
const set = (p: Tensor, values: Float64Array): void => void noGrad(() => p.copy_(t64(values, [...p.shape])));

test('causal conv3d: 2 zero frames in front, none behind; cached frames replace them', () =>
  scope(() => {
    const [ci, co, T, H, W] = [2, 3, 3, 3, 4];
    const conv = new WanCausalConv3d(ci, co, 3, { padding: 1, dtype: 'float64' });
    const w = data(co * ci * 27);
    const b = data(co);
    set(conv.weight, w);
    set(conv.bias, b);
    const past = data(ci * 1 * H * W);
    const x = data(ci * T * H * W);
    // Reference: frames [zero, past, x...]; spatial zero padding 1.
    const frames = T + 2;
    const at = (i: number, f: number, h: number, ww: number): number => {
      if (h < 0 || h >= H || ww < 0 || ww >= W || f === 0) return 0;
      if (f === 1) return past[(i * H + h) * W + ww]!;
      return x[((i * T + (f - 2)) * H + h) * W + ww]!;
    };
    const expected: number[] = [];
    for (let o = 0; o < co; o++)
      for (let t = 0; t < frames - 2; t++)
        for (let h = 0; h < H; h++)
          for (let ww = 0; ww < W; ww++) {
            let s = b[o]!;
            for (let i = 0; i < ci; i++)
              for (let kt = 0; kt < 3; kt++)
                for (let kh = 0; kh < 3; kh++)
                  for (let kw = 0; kw < 3; kw++) {
                    s += w[(((o * ci + i) * 3 + kt) * 3 + kh) * 3 + kw]! * at(i, t + kt, h + kh - 1, ww + kw - 1);
                  }
            expected.push(s);
          }
    const out = conv.forward(t64(x, [1, ci, T, H, W]), t64(past, [1, ci, 1, H, W]));
    assert.deepEqual(out.shape, [1, co, T, H, W]);
    assertClose(out.toArray(), expected, { atol: 1e-12, what: 'causal conv with one cached frame' });
    // Without a cache the first output frame sees two zero frames and x[0] only.
    const first = conv
      .forward(t64(x, [1, ci, T, H, W]))
      .narrow(2, 0, 1)
      .toArray();
    const onlyX0: number[] = [];
    for (let o = 0; o < co; o++)
      for (let h = 0; h < H; h++)
        for (let ww = 0; ww < W; ww++) {
          let s = b[o]!;
          for (let i = 0; i < ci; i++)
            for (let kh = 0; kh < 3; kh++)
              for (let kw = 0; kw < 3; kw++) {
                const hh = h + kh - 1,
                  w2 = ww + kw - 1;
                if (hh >= 0 && hh < H && w2 >= 0 && w2 < W)
                  s += w[(((o * ci + i) * 3 + 2) * 3 + kh) * 3 + kw]! * x[(i * T * H + hh) * W + w2]!;
              }
          onlyX0.push(s);
        }
    assertClose(first, onlyX0, { atol: 1e-12, what: 'first frame without cache' });
  }));

test('RMS norm: x / max(|x|_C, 1e-12) · √C · γ per position', () =>
  scope(() => {
    const C = 3,
      N = 4;
    const norm = new WanRMSNorm(C, { dtype: 'float64' });
    const g = data(C);
    set(norm.gamma, g);
    const x = data(C * N);
    x.fill(0, 0, 1); // position 0 of channel 0 zero; a whole zero column below
    for (let c = 0; c < C; c++) x[c * N + 3] = 0;
    const expected: number[] = new Array(C * N);
    for (let p = 0; p < N; p++) {
      let ss = 0;
      for (let c = 0; c < C; c++) ss += x[c * N + p]! ** 2;
      const n = Math.max(Math.sqrt(ss), 1e-12);
      for (let c = 0; c < C; c++) expected[c * N + p] = (x[c * N + p]! / n) * Math.sqrt(C) * g[c]!;
    }
    assertClose(norm.forward(t64(x, [1, C, 1, 1, N])).toArray(), expected, { atol: 1e-12, what: 'rms norm' });
  }));

test('patchify puts pixel (2i+h_off, 2j+w_off) of channel c at channel 4c + 2·w_off + h_off; unpatchify inverts it', () =>
  scope(() => {
    const [C, T, H, W] = [3, 2, 4, 6];
    const x = data(C * T * H * W);
    const p = patchify(t64(x, [1, C, T, H, W]), 2);
    assert.deepEqual(p.shape, [1, 12, T, 2, 3]);
    const got = p.toArray();
    for (let c = 0; c < C; c++)
      for (let t = 0; t < T; t++)
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 3; j++)
            for (let ho = 0; ho < 2; ho++)
              for (let wo = 0; wo < 2; wo++) {
                const ch = 4 * c + 2 * wo + ho;
                assert.equal(got[((ch * T + t) * 2 + i) * 3 + j], x[((c * T + t) * H + 2 * i + ho) * W + 2 * j + wo]);
              }
    assert.deepEqual(unpatchify(p, 2).toArray(), Array.from(x));
    assert.throws(() => patchify(t64(data(15), [1, 1, 1, 3, 5]), 2), /multiples of the patch size 2/);
  }));

test('AvgDown3D: zero frame in front when T is odd, then means over groups of folded channels', () =>
  scope(() => {
    const [C, T, H, W, out] = [2, 3, 2, 2, 4];
    const x = data(C * T * H * W);
    const got = avgDown3d(t64(x, [1, C, T, H, W]), out, 2, 2).toArray();
    // Padded frames: [0, x0, x1, x2] → 2 output frames; folded channel k = ((c·2 + a)·2 + b)·2 + d.
    const xp = (c: number, f: number, h: number, w: number): number =>
      f === 0 ? 0 : x[((c * T + f - 1) * H + h) * W + w]!;
    const group = (C * 8) / out;
    const expected: number[] = [];
    for (let o = 0; o < out; o++)
      for (let t = 0; t < 2; t++) {
        let s = 0;
        for (let g = 0; g < group; g++) {
          const k = o * group + g;
          const c = Math.floor(k / 8),
            a = Math.floor(k / 4) % 2,
            b = Math.floor(k / 2) % 2,
            d = k % 2;
          s += xp(c, 2 * t + a, b, d);
        }
        expected.push(s / group);
      }
    assertClose(got, expected, { atol: 1e-12, what: 'avgDown3d' });
  }));

test('DupUp3D: repeat_interleave of channels unfolded into (t, h, w) offsets; first chunk drops frame 0', () =>
  scope(() => {
    const [C, T, H, W, out] = [4, 2, 1, 2, 2];
    const x = data(C * T * H * W);
    const repeats = (out * 8) / C;
    const full = dupUp3d(t64(x, [1, C, T, H, W]), out, 2, 2, false);
    assert.deepEqual(full.shape, [1, out, 2 * T, 2 * H, 2 * W]);
    const got = full.toArray();
    for (let o = 0; o < out; o++)
      for (let a = 0; a < 2; a++)
        for (let b = 0; b < 2; b++)
          for (let d = 0; d < 2; d++)
            for (let t = 0; t < T; t++)
              for (let h = 0; h < H; h++)
                for (let w = 0; w < W; w++) {
                  const k = ((o * 2 + a) * 2 + b) * 2 + d;
                  const src = x[((Math.floor(k / repeats) * T + t) * H + h) * W + w]!;
                  assert.equal(got[((o * 2 * T + 2 * t + a) * 2 * H + 2 * h + b) * 2 * W + 2 * w + d], src);
                }
    assert.deepEqual(dupUp3d(t64(x, [1, C, T, H, W]), out, 2, 2, true).shape, [1, out, 2 * T - 1, 2 * H, 2 * W]);
  }));

test('attention block: single-head softmax(qkᵀ/√C)v per frame with q,k,v the channel thirds of to_qkv, then proj, residual', () =>
  scope(() => {
    const C = 2,
      T = 2,
      P = 3; // frames of 1 x 3 pixels
    const block = new WanAttentionBlock(C, { dtype: 'float64' });
    const [wq, bq, wp, bp, g] = [data(3 * C * C), data(3 * C), data(C * C), data(C), data(C)];
    set(block.to_qkv.weight, wq);
    set(block.to_qkv.bias, bq);
    set(block.proj.weight, wp);
    set(block.proj.bias, bp);
    set(block.norm.gamma, g);
    const x = data(C * T * P);
    const X = (c: number, t: number, p: number): number => x[(c * T + t) * P + p]!;
    const expected = new Array<number>(C * T * P);
    for (let t = 0; t < T; t++) {
      const n: number[][] = [];
      for (let p = 0; p < P; p++) {
        const l = Math.sqrt(X(0, t, p) ** 2 + X(1, t, p) ** 2);
        n.push([0, 1].map((c) => (X(c, t, p) / l) * Math.sqrt(C) * g[c]!));
      }
      const qkv = n.map((v) =>
        Array.from({ length: 3 * C }, (_, o) => bq[o]! + v.reduce((s, vi, i) => s + wq[o * C + i]! * vi, 0)),
      );
      for (let p = 0; p < P; p++) {
        const scores = Array.from(
          { length: P },
          (_, r) => (qkv[p]![0]! * qkv[r]![C]! + qkv[p]![1]! * qkv[r]![C + 1]!) / Math.sqrt(C),
        );
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        const o = [0, 1].map((c) => e.reduce((s, ei, r) => s + (ei / z) * qkv[r]![2 * C + c]!, 0));
        for (let c = 0; c < C; c++)
          expected[(c * T + t) * P + p] = X(c, t, p) + bp[c]! + wp[c * C]! * o[0]! + wp[c * C + 1]! * o[1]!;
      }
    }
    assertClose(block.forward(t64(x, [1, C, T, 1, P])).toArray(), expected, { atol: 1e-12, what: 'attention block' });
  }));

/** A 1-channel resampler whose 2D conv picks one pixel, so only the time conv mixes frames. */
function pickingResample(mode: 'upsample3d' | 'downsample3d', taps: number[]): WanResample {
  const r = new WanResample(1, mode, 1, { dtype: 'float64' });
  const k = new Float64Array(9);
  k[mode === 'upsample3d' ? 4 : 0] = 1;
  set(r.resample.conv.weight, k);
  set(r.resample.conv.bias, new Float64Array(1));
  set(r.time_conv!.weight, Float64Array.from(taps));
  set(r.time_conv!.bias, new Float64Array(r.time_conv!.bias.numel()));
  return r;
}
const constantFrames = (values: number[], size: number): Tensor =>
  t64(Float64Array.from(values.flatMap((v) => new Array<number>(size * size).fill(v))), [
    1,
    1,
    values.length,
    size,
    size,
  ]);
const perFrameValue = (t: Tensor): number[] => {
  const n = t.size(3) * t.size(4);
  return t.toArray().filter((_, i) => i % n === 0);
};

test('downsample3d: frame 0 bypasses the stride-2 time conv; later frames see windows (y2k-2, y2k-1, y2k), whole or chunked', () =>
  scope(() => {
    const r = pickingResample('downsample3d', [1, 10, 100]);
    const x = constantFrames([1, 2, 3, 4, 5], 2);
    assert.deepEqual(perFrameValue(r.forward(x, null)), [1, 321, 543]);
    const cache = new FeatureCache();
    const chunks = [x.narrow(2, 0, 1), x.narrow(2, 1, 4)].map((chunk) => {
      cache.startChunk();
      return r.forward(chunk, cache);
    });
    assert.deepEqual(chunks.flatMap(perFrameValue), [1, 321, 543]);
    cache.clear();
  }));

test('upsample3d: frame 0 bypasses the time conv and is not in later windows; frame 2i takes the first C output channels, 2i+1 the second', () =>
  scope(() => {
    // Output channel 0 = current frame, channel 1 = 10·current + previous.
    const r = pickingResample('upsample3d', [0, 0, 1, 0, 1, 10]);
    const x = constantFrames([1, 2, 3], 1);
    // Frame 0 never enters a time-conv window: latent frame 1 sees (0, 0, x1), frame 2 (0, x1, x2).
    const expected = [1, 2, 20, 3, 32];
    assert.deepEqual(perFrameValue(r.forward(x, null)), expected);
    const cache = new FeatureCache();
    const chunks = [0, 1, 2].map((i) => {
      cache.startChunk();
      return r.forward(x.narrow(2, i, 1), cache);
    });
    assert.deepEqual(chunks.flatMap(perFrameValue), expected);
    cache.clear();
  }));

test('bounded conv3d: frame groups and row groups under a small workspace budget give the plain conv3d result', () =>
  scope(() => {
    const x = t64(data(2 * 3 * 7 * 9 * 5), [2, 3, 7, 9, 5]);
    const w = t64(data(4 * 3 * 3 * 3 * 3), [4, 3, 3, 3, 3]);
    const b = t64(data(4), [4]);
    for (const stride of [
      [1, 1, 1],
      [2, 1, 1],
      [1, 2, 2],
    ] as const) {
      const plain = [0, 1].map((i) => conv3d(x.narrow(0, i, 1), w, b, { stride: [...stride] }).toArray()).flat();
      // Per output row the buffer is 3·27·W_out·8 bytes: budgets for 2 frames, 2 rows, 1 row.
      const perRow = 3 * 27 * (stride[2] === 2 ? 2 : 3) * 8;
      for (const budget of [perRow * 7 * 2, perRow * 2, 1]) {
        assertClose(boundedConv3d(x, w, b, stride, budget).toArray(), plain, {
          atol: 1e-12,
          what: `stride ${stride}, budget ${budget}`,
        });
      }
    }
  }));
