// ComfyUI's "scaled" fp8 files (e.g. umt5_xxl_fp8_e4m3fn_scaled.safetensors): each quantised
// weight `X.weight` (float8 e4m3fn) has a per-tensor `X.scale_weight`, the value being
// weight · scale_weight; a `scaled_fp8` entry marks the file. Read through a TensorSource that
// answers the dequantised weights under their own names and hides the scales and the marker;
// `float8(key)` gives a weight as stored (bytes and its scale), for a model that keeps it in fp8.
import { scope } from './scope.js';
import { applyLoadOptions, type TensorSource } from './safetensors.js';

const SCALE = '.scale_weight';

export function dequantizedSource(source: TensorSource): TensorSource {
  const keys = source.keys();
  const scaled = new Set(keys.filter((k) => k.endsWith(SCALE)).map((k) => `${k.slice(0, -SCALE.length)}.weight`));
  if (!scaled.size && !source.has('scaled_fp8')) return source;
  const visible = keys.filter((k) => k !== 'scaled_fp8' && !k.endsWith(SCALE));
  const known = new Set(visible);
  return {
    keys: () => [...visible],
    has: (key) => known.has(key),
    info: (key) => {
      const info = source.info(key);
      return scaled.has(key) ? { ...info, dtype: 'float32' } : info;
    },
    get: (key, options) => {
      if (!scaled.has(key)) return source.get(key, options);
      return scope(() => {
        const scale = source.get(`${key.slice(0, -'.weight'.length)}${SCALE}`, { dtype: 'float32' });
        return applyLoadOptions(source.get(key, { dtype: 'float32' }).mul(scale), options); // scale [] or [1]: broadcast
      });
    },
    float8: (key) => {
      if (!scaled.has(key) || source.info(key).stored !== 'float8_e4m3fn') return undefined;
      return scope(() => ({
        bytes: source.get(key, { float8Bytes: true }),
        scale: source.get(`${key.slice(0, -'.weight'.length)}${SCALE}`, { dtype: 'float32' }).reshape(1),
      }));
    },
  };
}
