// float8 e4m3fn (what ComfyUI's fp8 files hold, and what `--weights-dtype fp8` keeps weights in;
// libtorch 1.13 has no float8 type, so the bytes live in uint8 tensors): decoded exactly by a
// table of its 256 values, encoded by round-to-nearest-even on that table. Bits: sign, 4 exponent
// bits (bias 7), 3 mantissa bits; exponent 0 is subnormal (m/8 · 2^-6); S.1111.111 is NaN; there
// are no infinities ("fn"), so encoding saturates at ±448.
import { callAten } from './call_aten.js';
import { arange, tensor } from './creation.js';
import { where } from './functional.js';
import { keep, scope } from './scope.js';
import { dtypeCode, type DType } from './dtype.js';
import { native } from './native.js';
import { wrap, type Device, type Tensor } from './tensor.js';

/** The value of each e4m3fn byte. */
export const E4M3FN_VALUES: Float32Array = Float32Array.from({ length: 256 }, (_, byte) => {
  const sign = byte & 0x80 ? -1 : 1;
  const exponent = (byte >> 3) & 0xf,
    mantissa = byte & 0x7;
  if (exponent === 0xf && mantissa === 0x7) return NaN;
  if (exponent === 0) return sign * (mantissa / 8) * 2 ** -6;
  return sign * (1 + mantissa / 8) * 2 ** (exponent - 7);
});

const valueTables = new Map<Device, Tensor>();

/** E4M3FN_VALUES as a float32 tensor on `device`, made once per device (widening runs per layer per forward). */
function valuesOn(device: Device): Tensor {
  let table = valueTables.get(device);
  if (!table) valueTables.set(device, (table = keep(tensor(E4M3FN_VALUES, { device }))));
  return table;
}

/** The largest finite e4m3fn value (0x7E). */
export const E4M3FN_MAX = 448;

/** uint8 bytes of e4m3fn values -> float32 of the same shape (a 256-entry lookup). */
export function decodeE4m3fn(bytes: Tensor): Tensor {
  return scope(() =>
    valuesOn(bytes.device)
      .indexSelect(0, bytes.flatten().to({ dtype: 'int64' }))
      .reshape(...bytes.shape),
  );
}

/**
 * The 126 bounds between consecutive non-negative finite e4m3fn values (codes 0..126): the
 * midpoints, each nudged one float32 step down where the tie must round up to the even code
 * (round half to even: the even code has an even mantissa), so that `bucketize` (which puts a
 * value equal to a bound below it) rounds to nearest, ties to even. Every midpoint is exact in float32.
 */
const ROUNDING_BOUNDS: Float32Array = (() => {
  const bounds = new Float32Array(126);
  const below = new Float32Array(1);
  const bits = new Uint32Array(below.buffer);
  for (let k = 0; k < 126; k++) {
    const mid = (E4M3FN_VALUES[k]! + E4M3FN_VALUES[k + 1]!) / 2;
    below[0] = mid;
    if (k % 2 === 1) bits[0]! -= 1; // the upper neighbour (k + 1) is even: a tie goes up
    bounds[k] = below[0]!;
  }
  return bounds;
})();

/** How these functions compute: the addon's one-pass CPU kernels, or aten ops (any device; ~12 passes). */
export interface Float8Kernel {
  /** Compose from aten ops even on the CPU (what other devices run). */
  portable?: boolean;
}

/**
 * float values -> uint8 e4m3fn bytes, rounded to nearest (ties to even), saturated at ±448
 * (e4m3fn has no infinities), NaN to 0x7F. Takes any floating dtype (computed in float32).
 */
export function encodeE4m3fn(values: Tensor, { portable = false }: Float8Kernel = {}): Tensor {
  return scope(() => {
    if (!portable && values.device === 'cpu')
      return wrap(native.e4m3fnEncodeRows(values.reshape(1, -1).handle, tensor([1]).handle)).view(...values.shape);
    const x = values.float();
    const bounds = tensor(ROUNDING_BOUNDS, { device: x.device });
    const magnitude = callAten('aten::bucketize', 'Tensor', x.abs(), bounds, true, false) as Tensor; // int32 0..126
    const signed = magnitude.add((callAten('aten::signbit', '', x) as Tensor).to({ dtype: 'int32' }).mul(0x80));
    return where(x.ne(x), 0x7f, signed).to({ dtype: 'uint8' });
  });
}

/** A weight matrix as e4m3fn bytes and a float32 scale, per output row ([out]) or per tensor ([1]). */
export interface Float8Matrix {
  bytes: Tensor;
  scale: Tensor;
}

const WIDENS_NATIVELY: ReadonlySet<DType> = new Set(['float32', 'bfloat16', 'float16']);

/**
 * Quantises a weight [out, in] to e4m3fn with one scale per output row: scale = absmax / 448
 * (1 for a row of zeros), bytes = e4m3fn(w / scale), so each row spans the format's whole range.
 */
export function quantizeRowsE4m3fn(weight: Tensor, { portable = false }: Float8Kernel = {}): Float8Matrix {
  return scope(() => {
    const absmax = weight.abs().amax(1).float();
    const scale = where(absmax.eq(0), 1, absmax.div(E4M3FN_MAX));
    if (!portable && weight.device === 'cpu')
      return { bytes: wrap(native.e4m3fnEncodeRows(weight.handle, scale.handle)), scale };
    return { bytes: encodeE4m3fn(weight.float().div(scale.unsqueeze(1)), { portable }), scale };
  });
}

/**
 * e4m3fn bytes [out, in] and their scale ([out] per row, or [1] per tensor) -> the weight in
 * `dtype` on `device`: each value is table[byte]·scale computed in float32, rounded once to
 * `dtype`, through a table of 256 scaled values per row (one table for a per-tensor scale). On the
 * CPU the addon does it in one pass; elsewhere one lookup with an int32 index.
 */
export function widenE4m3fn(
  m: Float8Matrix,
  dtype: DType,
  device: Device = m.bytes.device,
  { portable = false }: Float8Kernel = {},
): Tensor {
  return scope(() => {
    const [rows, cols] = m.bytes.shape as [number, number];
    const bytes = m.bytes.device === device ? m.bytes : m.bytes.to({ device });
    const scale = m.scale.to({ dtype: 'float32', device });
    const values = valuesOn(device);
    if (!portable && device === 'cpu' && WIDENS_NATIVELY.has(dtype))
      return wrap(native.e4m3fnWidenRows(bytes.handle, scale.handle, values.handle, dtypeCode(dtype)));
    const perRow = scale.numel() !== 1;
    const table = (perRow ? scale.unsqueeze(1).mul(values.unsqueeze(0)) : values.mul(scale)).to({ dtype }).flatten();
    let index = bytes.to({ dtype: 'int32' });
    if (perRow) index = index.add_(arange(0, rows * 256, 256, { dtype: 'int32', device }).unsqueeze(1));
    return table.indexSelect(0, index.flatten()).view(rows, cols);
  });
}
