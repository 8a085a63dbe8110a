// New tensors: from data, filled, ranges, and random draws from a seeded Generator.
import { aten } from './aten.js';
import { dtypeCode, dtypeOfArray, type DType, type TypedArray } from './dtype.js';
import type { Generator } from './generator.js';
import { native } from './native.js';
import { Tensor, wrap, type Device } from './tensor.js';

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
}

const op = {
  zeros: aten('zeros'),
  ones: aten('ones'),
  full: aten('full'),
  empty: aten('empty', 'memory_format'),
  arange: aten('arange', 'start_step'),
  linspace: aten('linspace'),
  randn: aten('randn', 'generator'),
  rand: aten('rand', 'generator'),
  randint: aten('randint', 'low_generator'),
  randperm: aten('randperm', 'generator'),
};

function code(dtype: DType | undefined, fallback: DType | null = 'float32'): number | null {
  const d = dtype ?? fallback;
  return d === null ? null : dtypeCode(d);
}

function onDevice(t: Tensor, device: Device | undefined): Tensor {
  if (device === undefined || device === 'cpu') return t;
  const moved = t.to({ device });
  t.dispose();
  return moved;
}

export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return wrap(op.zeros([...shape], code(options.dtype), null, options.device ?? null, null));
}
export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return wrap(op.ones([...shape], code(options.dtype), null, options.device ?? null, null));
}
export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  return wrap(op.full([...shape], value, code(options.dtype), null, options.device ?? null, null));
}
export function empty(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return wrap(op.empty([...shape], code(options.dtype), null, options.device ?? null, null, null));
}
export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, { dtype: t.dtype, device: t.device });
}
export function onesLike(t: Tensor): Tensor {
  return ones(t.shape, { dtype: t.dtype, device: t.device });
}

/** [start, end) by step; int64 when all are integers and no dtype is given, as in PyTorch. */
export function arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  const [from, to] = end === undefined ? [0, start] : [start, end];
  const integral = Number.isInteger(from) && Number.isInteger(to) && Number.isInteger(step);
  return wrap(
    op.arange(from, to, step, code(options.dtype, integral ? 'int64' : 'float32'), null, options.device ?? null, null),
  );
}
export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  return wrap(op.linspace(start, end, steps, code(options.dtype), null, options.device ?? null, null));
}

export type NestedArray = number | boolean | NestedArray[];

function flattenNested(data: NestedArray, shape: number[], out: number[], depth: number): void {
  if (!Array.isArray(data)) {
    if (depth !== shape.length) throw new RangeError('tensor: ragged nested array');
    out.push(Number(data));
    return;
  }
  if (depth === shape.length) shape.push(data.length);
  else if (shape[depth] !== data.length) throw new RangeError('tensor: ragged nested array');
  for (const item of data) flattenNested(item, shape, out, depth + 1);
}

function typedArrayOf(values: ArrayLike<number>, dtype: DType): TypedArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(Array.from(values, (v) => BigInt(Math.trunc(v))));
    case 'int32':
      return Int32Array.from(values);
    case 'int16':
      return Int16Array.from(values);
    case 'int8':
      return Int8Array.from(values);
    case 'uint8':
      return Uint8Array.from(values);
    case 'bool':
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
    case 'float16':
    case 'bfloat16':
      return Float32Array.from(values);
  }
}

/**
 * A tensor holding a copy of `data`: nested arrays (shape inferred) or a typed array (with an
 * optional shape; flat otherwise). Numbers become float32 unless a dtype is given.
 */
export function tensor(
  data: NestedArray | TypedArray,
  options: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  let array: TypedArray;
  let shape: readonly number[];
  let source: DType;
  if (ArrayBuffer.isView(data)) {
    array = data;
    source = options.dtype !== undefined && data instanceof Uint16Array ? options.dtype : dtypeOfArray(data);
    shape = options.shape ?? [data.length];
  } else {
    const inferred: number[] = [];
    const values: number[] = [];
    flattenNested(data, inferred, values, 0);
    shape = options.shape ?? inferred;
    source = options.dtype !== undefined && !isHalf(options.dtype) ? options.dtype : 'float32';
    array = typedArrayOf(values, source);
  }
  const made = wrap(native.fromBytes(array, shape, dtypeCode(source)));
  const target = options.dtype ?? source;
  if (target === source) return onDevice(made, options.device);
  const converted = made.to({ dtype: target, device: options.device });
  made.dispose();
  return converted;
}

function isHalf(dtype: DType): boolean {
  return dtype === 'float16' || dtype === 'bfloat16';
}

/** A tensor of one number. */
export function scalarTensor(value: number, options: TensorOptions = {}): Tensor {
  return full([], value, options);
}

// ---- random (explicit generators: same seed, same numbers, whatever the device) ----

export function randn(shape: readonly number[], generator: Generator, options: TensorOptions = {}): Tensor {
  return onDevice(wrap(op.randn([...shape], generator.handle, code(options.dtype), null, null, null)), options.device);
}
export function rand(shape: readonly number[], generator: Generator, options: TensorOptions = {}): Tensor {
  return onDevice(wrap(op.rand([...shape], generator.handle, code(options.dtype), null, null, null)), options.device);
}
/** Integers in [low, high). */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  generator: Generator,
  options: TensorOptions = {},
): Tensor {
  return onDevice(
    wrap(op.randint(low, high, [...shape], generator.handle, code(options.dtype, 'int64'), null, null, null)),
    options.device,
  );
}
export function randperm(n: number, generator: Generator, options: TensorOptions = {}): Tensor {
  return onDevice(
    wrap(op.randperm(n, generator.handle, code(options.dtype, 'int64'), null, null, null)),
    options.device,
  );
}
