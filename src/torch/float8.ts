// float8 e4m3fn (what ComfyUI's fp8 files hold; libtorch 1.13 has no float8 type): decoded
// exactly by a table of its 256 values. Bits: sign, 4 exponent bits (bias 7), 3 mantissa bits;
// exponent 0 is subnormal (m/8 · 2^-6); S.1111.111 is NaN; there are no infinities ("fn").
import { scope } from './scope.js';
import { tensor } from './creation.js';
import type { Tensor } from './tensor.js';

/** The value of each e4m3fn byte. */
export const E4M3FN_VALUES: Float32Array = Float32Array.from({ length: 256 }, (_, byte) => {
  const sign = byte & 0x80 ? -1 : 1;
  const exponent = (byte >> 3) & 0xf,
    mantissa = byte & 0x7;
  if (exponent === 0xf && mantissa === 0x7) return NaN;
  if (exponent === 0) return sign * (mantissa / 8) * 2 ** -6;
  return sign * (1 + mantissa / 8) * 2 ** (exponent - 7);
});

/** uint8 bytes of e4m3fn values -> float32 of the same shape (a 256-entry lookup). */
export function decodeE4m3fn(bytes: Tensor): Tensor {
  return scope(() =>
    tensor(E4M3FN_VALUES, { device: bytes.device })
      .indexSelect(0, bytes.flatten().to({ dtype: 'int64' }))
      .reshape(...bytes.shape),
  );
}
