// float8 e4m3fn encoding, per-row quantisation and widening, against a float64 decoding of the
// format written here from its bit layout (independent of src/torch/float8.ts's table) and a
// nearest-value search over it.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  E4M3FN_VALUES,
  Generator,
  decodeE4m3fn,
  encodeE4m3fn,
  quantizeRowsE4m3fn,
  randn,
  scope,
  tensor,
  widenE4m3fn,
} from '../../src/torch/index.js';

/** e4m3fn by its definition, in float64: sign, exponent bits e (bias 7), mantissa m; e = 0 subnormal; S.1111.111 NaN. */
function reference(byte: number): number {
  const sign = byte >> 7,
    e = (byte >> 3) & 15,
    m = byte & 7;
  if (e === 15 && m === 7) return NaN;
  const magnitude = e === 0 ? m * 2 ** -9 : (8 + m) * 2 ** (e - 10);
  return sign ? -magnitude : magnitude;
}

/** The e4m3fn byte nearest to x (ties to the even mantissa), saturating at ±448, NaN to 0x7F. */
function nearestByte(x: number): number {
  if (Number.isNaN(x)) return 0x7f;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  if (Math.abs(x) >= 448) return sign | 0x7e; // saturating: no infinities
  let best = 0,
    bestDistance = Infinity;
  for (let b = 0; b < 127; b++) {
    const d = Math.abs(Math.abs(x) - reference(b));
    if (d < bestDistance || (d === bestDistance && b % 2 === 0)) [best, bestDistance] = [b, d];
  }
  return sign | best;
}

/** float32 -> bfloat16 -> float32, round to nearest even on the bits. */
function toBf16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = ((u[0]! + 0x7fff + ((u[0]! >> 16) & 1)) >>> 16) << 16;
  return f[0]!;
}

test('the 256 e4m3fn values: the table and decodeE4m3fn equal the float64 decoding of the bit layout', () =>
  scope(() => {
    const all = Array.from({ length: 256 }, (_, b) => b);
    const decoded = decodeE4m3fn(tensor(all, { dtype: 'uint8' })).toArray();
    for (const b of all) {
      const want = reference(b);
      if (Number.isNaN(want)) {
        assert.ok(Number.isNaN(E4M3FN_VALUES[b]!) && Number.isNaN(decoded[b]!), `byte ${b}: NaN`);
      } else {
        assert.ok(Object.is(E4M3FN_VALUES[b], want), `table[${b}] = ${E4M3FN_VALUES[b]}, want ${want}`);
        assert.ok(Object.is(decoded[b], want), `decoded[${b}] = ${decoded[b]}, want ${want}`);
      }
    }
    assert.equal(reference(0x7e), 448);
    assert.equal(reference(0x01), 2 ** -9);
  }));

for (const kernel of [{ portable: false }, { portable: true }])
  test(`encodeE4m3fn (${kernel.portable ? 'aten ops' : "the addon's CPU kernel"}): every finite value round-trips; others round to nearest, ties to even, saturate at ±448`, () =>
    scope(() => {
      const finite = Array.from({ length: 256 }, (_, b) => b).filter((b) => !Number.isNaN(reference(b)));
      const back = encodeE4m3fn(tensor(finite.map(reference)), kernel).toArray();
      assert.deepEqual(back, finite);

      // the exact midpoints between neighbours (ties), points just off them, beyond the range, NaN
      const probes: number[] = [];
      for (let b = 0; b < 126; b++) {
        const mid = (reference(b) + reference(b + 1)) / 2;
        probes.push(mid, -mid, Math.fround(mid * (1 + 2 ** -20)), Math.fround(mid * (1 - 2 ** -20)));
      }
      probes.push(
        449,
        464,
        479,
        480,
        1e6,
        -500,
        Infinity,
        -Infinity,
        2 ** -11,
        -(2 ** -11),
        3 * 2 ** -11,
        2 ** -130,
        0,
        -0,
        NaN,
      );
      const generator = new Generator(5);
      probes.push(...randn([2000], generator).mul(30).toArray().map(Math.fround));
      probes.push(...randn([2000], generator).mul(0.01).toArray().map(Math.fround));
      const got = encodeE4m3fn(tensor(probes), kernel).toArray();
      probes.forEach((x, i) =>
        assert.equal(got[i], nearestByte(x), `x = ${x}: byte ${got[i]}, want ${nearestByte(x)}`),
      );
      // ties went both ways: 1.0625 (between 1 and 1.125) to 1 (even), 1.1875 to 1.25 (even)
      assert.deepEqual(encodeE4m3fn(tensor([1.0625, 1.1875]), kernel).toArray(), [0x38, 0x3a]);
    }));

for (const kernel of [{ portable: false }, { portable: true }])
  test(`quantizeRowsE4m3fn (${kernel.portable ? 'aten ops' : "the addon's CPU kernel"}): scale = row absmax / 448, bytes the nearest e4m3fn of w / scale, error within half a step`, () =>
    scope(() => {
      const [rows, cols] = [7, 40];
      const w = randn([rows, cols], new Generator(9)).mul(tensor([[0.02], [1], [300], [1e-5], [0], [0.5], [2]]));
      const { bytes, scale } = quantizeRowsE4m3fn(w, kernel);
      assert.deepEqual(bytes.shape, [rows, cols]);
      assert.equal(bytes.dtype, 'uint8');
      const values = w.toArray();
      const b = bytes.toArray();
      const s = scale.toArray();
      for (let r = 0; r < rows; r++) {
        const row = values.slice(r * cols, (r + 1) * cols);
        const absmax = Math.max(...row.map(Math.abs));
        assert.equal(s[r], absmax === 0 ? 1 : Math.fround(absmax / 448), `row ${r}: scale`);
        for (let c = 0; c < cols; c++) {
          const x = row[c]!;
          const i = r * cols + c;
          assert.equal(b[i], nearestByte(Math.fround(x / s[r]!)), `[${r}, ${c}]: byte`);
          // a normal e4m3fn value has 3 mantissa bits: the error is at most 2^-4 of |x|, or half the subnormal step
          const error = Math.abs(reference(b[i]!) * s[r]! - x);
          assert.ok(
            error <= Math.abs(x) * (2 ** -4 + 2 ** -20) + 2 ** -10 * s[r]!,
            `[${r}, ${c}]: error ${error} for ${x}`,
          );
        }
      }
    }));

for (const kernel of [{ portable: false }, { portable: true }])
  test(`widenE4m3fn (${kernel.portable ? 'aten ops' : "the addon's CPU kernel"}): table[byte]·scale rounded once to the dtype, per row and per tensor`, () =>
    scope(() => {
      const [rows, cols] = [5, 256];
      const raw = Array.from({ length: rows * cols }, (_, i) => (i * 37 + (i >> 8)) % 256); // every byte, NaNs included
      const bytes = tensor(raw, { dtype: 'uint8', shape: [rows, cols] });
      const perRow = [0.5, 3e-3, 17, 1, 2 ** -20].map(Math.fround);
      const cases = [
        { scale: tensor(perRow), scaleOf: (r: number) => perRow[r]! },
        { scale: tensor([Math.fround(0.0123)]), scaleOf: () => Math.fround(0.0123) },
      ];
      for (const { scale, scaleOf } of cases)
        for (const dtype of ['float32', 'bfloat16'] as const) {
          const got = widenE4m3fn({ bytes, scale }, dtype, 'cpu', kernel).toArray();
          raw.forEach((byte, i) => {
            const exact = Math.fround(reference(byte) * scaleOf(Math.floor(i / cols)));
            const want = Number.isNaN(exact) ? NaN : dtype === 'float32' ? exact : toBf16(exact);
            assert.ok(Object.is(got[i], want), `${dtype} [${i}] byte ${byte}: got ${got[i]}, want ${want}`);
          });
        }
    }));
