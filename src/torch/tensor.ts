// The Tensor: one owned reference to a libtorch tensor, with PyTorch's methods in camelCase.
import { aten } from './aten.js';
import { Generator } from './generator.js';
import { dtypeCode, dtypeFromCode, typedArrayFor, type DType, type TypedArray } from './dtype.js';
import { native, type NativeTensor } from './native.js';
import { track, untrack } from './scope.js';

export type Device = string;
export type Dims = number | readonly number[];

const op = {
  addT: aten('add', 'Tensor'),
  addS: aten('add', 'Scalar'),
  subT: aten('sub', 'Tensor'),
  subS: aten('sub', 'Scalar'),
  mulT: aten('mul', 'Tensor'),
  mulS: aten('mul', 'Scalar'),
  divT: aten('div', 'Tensor'),
  divS: aten('div', 'Scalar'),
  powS: aten('pow', 'Tensor_Scalar'),
  powT: aten('pow', 'Tensor_Tensor'),
  maximum: aten('maximum'),
  minimum: aten('minimum'),
  eqT: aten('eq', 'Tensor'),
  eqS: aten('eq', 'Scalar'),
  neT: aten('ne', 'Tensor'),
  neS: aten('ne', 'Scalar'),
  ltT: aten('lt', 'Tensor'),
  ltS: aten('lt', 'Scalar'),
  leT: aten('le', 'Tensor'),
  leS: aten('le', 'Scalar'),
  gtT: aten('gt', 'Tensor'),
  gtS: aten('gt', 'Scalar'),
  geT: aten('ge', 'Tensor'),
  geS: aten('ge', 'Scalar'),
  logicalAnd: aten('logical_and'),
  logicalOr: aten('logical_or'),
  logicalNot: aten('logical_not'),
  neg: aten('neg'),
  abs: aten('abs'),
  exp: aten('exp'),
  expm1: aten('expm1'),
  log: aten('log'),
  log1p: aten('log1p'),
  sqrt: aten('sqrt'),
  rsqrt: aten('rsqrt'),
  square: aten('square'),
  reciprocal: aten('reciprocal'),
  sin: aten('sin'),
  cos: aten('cos'),
  tanh: aten('tanh'),
  erf: aten('erf'),
  floor: aten('floor'),
  round: aten('round'),
  sigmoid: aten('sigmoid'),
  relu: aten('relu'),
  silu: aten('silu'),
  gelu: aten('gelu'),
  clamp: aten('clamp'),
  matmul: aten('matmul'),
  bmm: aten('bmm'),
  mm: aten('mm'),
  sum: aten('sum', 'dim_IntList'),
  sumAll: aten('sum'),
  mean: aten('mean', 'dim'),
  meanAll: aten('mean'),
  var: aten('var', 'correction'),
  amax: aten('amax'),
  amin: aten('amin'),
  argmax: aten('argmax'),
  norm: aten('linalg_vector_norm'),
  softmax: aten('softmax', 'int'),
  logSoftmax: aten('log_softmax', 'int'),
  view: aten('view'),
  reshape: aten('reshape'),
  permute: aten('permute'),
  transpose: aten('transpose', 'int'),
  flatten: aten('flatten', 'using_ints'),
  expand: aten('expand'),
  repeat: aten('repeat'),
  repeatInterleave: aten('repeat_interleave', 'self_int'),
  squeeze: aten('squeeze', 'dim'),
  squeezeAll: aten('squeeze'),
  unsqueeze: aten('unsqueeze'),
  contiguous: aten('contiguous'),
  clone: aten('clone'),
  flip: aten('flip'),
  narrow: aten('narrow'),
  select: aten('select', 'int'),
  slice: aten('slice', 'Tensor'),
  indexSelect: aten('index_select'),
  gather: aten('gather'),
  chunk: aten('chunk'),
  split: aten('split', 'Tensor'),
  splitWithSizes: aten('split_with_sizes'),
  to: aten('to', 'dtype_layout'),
  detach: aten('detach'),
  addT_: aten('add_', 'Tensor'),
  addS_: aten('add_', 'Scalar'),
  subT_: aten('sub_', 'Tensor'),
  mulT_: aten('mul_', 'Tensor'),
  mulS_: aten('mul_', 'Scalar'),
  divS_: aten('div_', 'Scalar'),
  addcmul_: aten('addcmul_'),
  addcdiv_: aten('addcdiv_'),
  lerpS_: aten('lerp_', 'Scalar'),
  copy_: aten('copy_'),
  zero_: aten('zero_'),
  fillS_: aten('fill_', 'Scalar'),
  clampS_: aten('clamp_'),
  uniform_: aten('uniform_'),
  normal_: aten('normal_'),
  isfinite: aten('isfinite'),
  all: aten('all'),
  any: aten('any'),
};

function dimList(dims: Dims): number[] {
  return typeof dims === 'number' ? [dims] : [...dims];
}

export class Tensor {
  #shape: number[] | undefined;

  constructor(readonly handle: NativeTensor) {
    track(this);
  }

  // ---- metadata and lifetime ----

  get shape(): readonly number[] {
    return (this.#shape ??= this.handle.shape());
  }
  get ndim(): number {
    return this.shape.length;
  }
  get dtype(): DType {
    return dtypeFromCode(this.handle.dtype());
  }
  get device(): Device {
    return this.handle.device();
  }
  get disposed(): boolean {
    return this.handle.disposed();
  }
  numel(): number {
    return this.handle.numel();
  }
  size(dim: number): number {
    const d = dim < 0 ? dim + this.ndim : dim;
    const n = this.shape[d];
    if (n === undefined) throw new RangeError(`size(${dim}): the tensor has ${this.ndim} dims`);
    return n;
  }
  dispose(): void {
    untrack(this);
    this.handle.dispose();
  }
  /** `using t = ...`: released at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---- data out ----

  /** The elements in their own dtype (16-bit floats as raw bits), contiguous, on CPU. */
  toTypedArray(): TypedArray {
    return typedArrayFor(this.dtype, native.toBytes(this.handle));
  }
  /** The elements as float32. */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return this.toTypedArray() as Float32Array;
    using converted = this.to({ dtype: 'float32' });
    return converted.toTypedArray() as Float32Array;
  }
  /** The elements as float64 numbers, flat. */
  toArray(): number[] {
    using converted = this.to({ dtype: 'float64' });
    return Array.from(converted.toTypedArray() as Float64Array);
  }
  item(): number {
    return Number(native.item(this.handle));
  }

  // ---- elementwise ----

  add(other: Tensor | number, alpha = 1): Tensor {
    return wrap(
      other instanceof Tensor ? op.addT(this.handle, other.handle, alpha) : op.addS(this.handle, other, alpha),
    );
  }
  sub(other: Tensor | number, alpha = 1): Tensor {
    return wrap(
      other instanceof Tensor ? op.subT(this.handle, other.handle, alpha) : op.subS(this.handle, other, alpha),
    );
  }
  mul(other: Tensor | number): Tensor {
    return wrap(other instanceof Tensor ? op.mulT(this.handle, other.handle) : op.mulS(this.handle, other));
  }
  div(other: Tensor | number): Tensor {
    return wrap(other instanceof Tensor ? op.divT(this.handle, other.handle) : op.divS(this.handle, other));
  }
  pow(exponent: Tensor | number): Tensor {
    return wrap(exponent instanceof Tensor ? op.powT(this.handle, exponent.handle) : op.powS(this.handle, exponent));
  }
  maximum(other: Tensor): Tensor {
    return wrap(op.maximum(this.handle, other.handle));
  }
  minimum(other: Tensor): Tensor {
    return wrap(op.minimum(this.handle, other.handle));
  }
  neg(): Tensor {
    return wrap(op.neg(this.handle));
  }
  abs(): Tensor {
    return wrap(op.abs(this.handle));
  }
  exp(): Tensor {
    return wrap(op.exp(this.handle));
  }
  expm1(): Tensor {
    return wrap(op.expm1(this.handle));
  }
  log(): Tensor {
    return wrap(op.log(this.handle));
  }
  log1p(): Tensor {
    return wrap(op.log1p(this.handle));
  }
  sqrt(): Tensor {
    return wrap(op.sqrt(this.handle));
  }
  rsqrt(): Tensor {
    return wrap(op.rsqrt(this.handle));
  }
  square(): Tensor {
    return wrap(op.square(this.handle));
  }
  reciprocal(): Tensor {
    return wrap(op.reciprocal(this.handle));
  }
  sin(): Tensor {
    return wrap(op.sin(this.handle));
  }
  cos(): Tensor {
    return wrap(op.cos(this.handle));
  }
  tanh(): Tensor {
    return wrap(op.tanh(this.handle));
  }
  erf(): Tensor {
    return wrap(op.erf(this.handle));
  }
  floor(): Tensor {
    return wrap(op.floor(this.handle));
  }
  round(): Tensor {
    return wrap(op.round(this.handle));
  }
  sigmoid(): Tensor {
    return wrap(op.sigmoid(this.handle));
  }
  relu(): Tensor {
    return wrap(op.relu(this.handle));
  }
  silu(): Tensor {
    return wrap(op.silu(this.handle));
  }
  /** approximate: 'none' (exact erf) or 'tanh'. */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return wrap(op.gelu(this.handle, approximate));
  }
  clamp(min?: number, max?: number): Tensor {
    return wrap(op.clamp(this.handle, min ?? null, max ?? null));
  }
  isfinite(): Tensor {
    return wrap(op.isfinite(this.handle));
  }

  // ---- comparisons and logic ----

  eq(other: Tensor | number): Tensor {
    return wrap(other instanceof Tensor ? op.eqT(this.handle, other.handle) : op.eqS(this.handle, other));
  }
  ne(other: Tensor | number): Tensor {
    return wrap(other instanceof Tensor ? op.neT(this.handle, other.handle) : op.neS(this.handle, other));
  }
  lt(other: Tensor | number): Tensor {
    return wrap(other instanceof Tensor ? op.ltT(this.handle, other.handle) : op.ltS(this.handle, other));
  }
  le(other: Tensor | number): Tensor {
    return wrap(other instanceof Tensor ? op.leT(this.handle, other.handle) : op.leS(this.handle, other));
  }
  gt(other: Tensor | number): Tensor {
    return wrap(other instanceof Tensor ? op.gtT(this.handle, other.handle) : op.gtS(this.handle, other));
  }
  ge(other: Tensor | number): Tensor {
    return wrap(other instanceof Tensor ? op.geT(this.handle, other.handle) : op.geS(this.handle, other));
  }
  logicalAnd(other: Tensor): Tensor {
    return wrap(op.logicalAnd(this.handle, other.handle));
  }
  logicalOr(other: Tensor): Tensor {
    return wrap(op.logicalOr(this.handle, other.handle));
  }
  logicalNot(): Tensor {
    return wrap(op.logicalNot(this.handle));
  }
  all(): Tensor {
    return wrap(op.all(this.handle));
  }
  any(): Tensor {
    return wrap(op.any(this.handle));
  }

  // ---- linear algebra ----

  matmul(other: Tensor): Tensor {
    return wrap(op.matmul(this.handle, other.handle));
  }
  bmm(other: Tensor): Tensor {
    return wrap(op.bmm(this.handle, other.handle));
  }
  mm(other: Tensor): Tensor {
    return wrap(op.mm(this.handle, other.handle));
  }

  // ---- reductions ----

  sum(dim?: Dims, keepdim = false, dtype?: DType): Tensor {
    const code = dtype === undefined ? null : dtypeCode(dtype);
    return wrap(dim === undefined ? op.sumAll(this.handle, code) : op.sum(this.handle, dimList(dim), keepdim, code));
  }
  mean(dim?: Dims, keepdim = false, dtype?: DType): Tensor {
    const code = dtype === undefined ? null : dtypeCode(dtype);
    return wrap(dim === undefined ? op.meanAll(this.handle, code) : op.mean(this.handle, dimList(dim), keepdim, code));
  }
  /** correction 1 = unbiased (PyTorch's default), 0 = population variance. */
  var(dim?: Dims, { correction = 1, keepdim = false }: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return wrap(op.var(this.handle, dim === undefined ? null : dimList(dim), correction, keepdim));
  }
  amax(dim: Dims, keepdim = false): Tensor {
    return wrap(op.amax(this.handle, dimList(dim), keepdim));
  }
  amin(dim: Dims, keepdim = false): Tensor {
    return wrap(op.amin(this.handle, dimList(dim), keepdim));
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return wrap(op.argmax(this.handle, dim ?? null, keepdim));
  }
  /** Vector p-norm over dims (all elements when dim is omitted). */
  norm(p = 2, dim?: Dims, keepdim = false): Tensor {
    return wrap(op.norm(this.handle, p, dim === undefined ? null : dimList(dim), keepdim, null));
  }
  softmax(dim: number, dtype?: DType): Tensor {
    return wrap(op.softmax(this.handle, dim, dtype === undefined ? null : dtypeCode(dtype)));
  }
  logSoftmax(dim: number, dtype?: DType): Tensor {
    return wrap(op.logSoftmax(this.handle, dim, dtype === undefined ? null : dtypeCode(dtype)));
  }

  // ---- shapes and views ----

  view(...shape: number[]): Tensor {
    return wrap(op.view(this.handle, shape));
  }
  reshape(...shape: number[]): Tensor {
    return wrap(op.reshape(this.handle, shape));
  }
  permute(...dims: number[]): Tensor {
    return wrap(op.permute(this.handle, dims));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return wrap(op.transpose(this.handle, dim0, dim1));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return wrap(op.flatten(this.handle, startDim, endDim));
  }
  /** Splits dim into `sizes` (one may be -1). */
  unflatten(dim: number, sizes: readonly number[]): Tensor {
    const d = dim < 0 ? dim + this.ndim : dim;
    return this.reshape(...this.shape.slice(0, d), ...sizes, ...this.shape.slice(d + 1));
  }
  expand(...shape: number[]): Tensor {
    return wrap(op.expand(this.handle, shape, false));
  }
  repeat(...repeats: number[]): Tensor {
    return wrap(op.repeat(this.handle, repeats));
  }
  repeatInterleave(repeats: number, dim: number): Tensor {
    return wrap(op.repeatInterleave(this.handle, repeats, dim));
  }
  squeeze(dim?: number): Tensor {
    return wrap(dim === undefined ? op.squeezeAll(this.handle) : op.squeeze(this.handle, dim));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(op.unsqueeze(this.handle, dim));
  }
  contiguous(): Tensor {
    return wrap(op.contiguous(this.handle));
  }
  clone(): Tensor {
    return wrap(op.clone(this.handle));
  }
  flip(dims: Dims): Tensor {
    return wrap(op.flip(this.handle, dimList(dims)));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(op.narrow(this.handle, dim, start, length));
  }
  select(dim: number, index: number): Tensor {
    return wrap(op.select(this.handle, dim, index));
  }
  /** Python's `t[..., start:end:step]` on one dim. */
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return wrap(op.slice(this.handle, dim, start ?? null, end ?? null, step));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(op.indexSelect(this.handle, dim, index.handle));
  }
  gather(dim: number, index: Tensor): Tensor {
    return wrap(op.gather(this.handle, dim, index.handle, false));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return wrapList(op.chunk(this.handle, chunks, dim));
  }
  /** A size per piece (like torch.split with a number) or the list of sizes. */
  split(sizes: number | readonly number[], dim = 0): Tensor[] {
    return wrapList(
      typeof sizes === 'number' ? op.split(this.handle, sizes, dim) : op.splitWithSizes(this.handle, [...sizes], dim),
    );
  }

  // ---- dtype and device ----

  to(target: { dtype?: DType; device?: Device; copy?: boolean } | DType): Tensor {
    const { dtype, device, copy = false } = typeof target === 'string' ? { dtype: target } : target;
    return wrap(
      op.to(this.handle, dtype === undefined ? null : dtypeCode(dtype), null, device ?? null, null, false, copy, null),
    );
  }
  /** This tensor in `other`'s dtype (PyTorch's type_as): a new reference, a copy only when the dtype differs. */
  typeAs(other: Tensor): Tensor {
    return this.to({ dtype: other.dtype });
  }
  float(): Tensor {
    return this.to({ dtype: 'float32' });
  }
  double(): Tensor {
    return this.to({ dtype: 'float64' });
  }
  bfloat16(): Tensor {
    return this.to({ dtype: 'bfloat16' });
  }

  // ---- in place (return this) ----

  add_(other: Tensor | number, alpha = 1): this {
    return inPlace(
      this,
      other instanceof Tensor ? op.addT_(this.handle, other.handle, alpha) : op.addS_(this.handle, other, alpha),
    );
  }
  sub_(other: Tensor, alpha = 1): this {
    return inPlace(this, op.subT_(this.handle, other.handle, alpha));
  }
  mul_(other: Tensor | number): this {
    return inPlace(this, other instanceof Tensor ? op.mulT_(this.handle, other.handle) : op.mulS_(this.handle, other));
  }
  div_(other: number): this {
    return inPlace(this, op.divS_(this.handle, other));
  }
  addcmul_(a: Tensor, b: Tensor, value = 1): this {
    return inPlace(this, op.addcmul_(this.handle, a.handle, b.handle, value));
  }
  addcdiv_(a: Tensor, b: Tensor, value = 1): this {
    return inPlace(this, op.addcdiv_(this.handle, a.handle, b.handle, value));
  }
  lerp_(end: Tensor, weight: number): this {
    return inPlace(this, op.lerpS_(this.handle, end.handle, weight));
  }
  copy_(source: Tensor): this {
    return inPlace(this, op.copy_(this.handle, source.handle, false));
  }
  zero_(): this {
    return inPlace(this, op.zero_(this.handle));
  }
  fill_(value: number): this {
    return inPlace(this, op.fillS_(this.handle, value));
  }
  clamp_(min?: number, max?: number): this {
    return inPlace(this, op.clampS_(this.handle, min ?? null, max ?? null));
  }
  /** Fills with U(from, to) drawn from `generator` (CPU tensors; others draw on CPU and copy). */
  uniform_(from: number, to: number, generator: Generator): this {
    return this.sample_(generator, (t) => op.uniform_(t, from, to, generator.handle));
  }
  /** Fills with N(mean, std²) drawn from `generator`. */
  normal_(mean: number, std: number, generator: Generator): this {
    return this.sample_(generator, (t) => op.normal_(t, mean, std, generator.handle));
  }
  private sample_(generator: Generator, draw: (target: NativeTensor) => unknown): this {
    if (this.device === 'cpu') return inPlace(this, draw(this.handle));
    using host = this.to({ device: 'cpu' });
    inPlace(host, draw(host.handle));
    return this.copy_(host);
  }

  // ---- autograd ----

  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  requiresGrad_(on = true): this {
    native.setRequiresGrad(this.handle, on);
    return this;
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  /** The accumulated gradient (a new reference each call), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  set grad(value: Tensor | null) {
    native.setGrad(this.handle, value === null ? null : value.handle);
  }
  detach(): Tensor {
    return wrap(op.detach(this.handle));
  }
  backward(gradient?: Tensor, { retainGraph = false }: { retainGraph?: boolean } = {}): void {
    native.backward([this.handle], gradient ? [gradient.handle] : null, retainGraph, null);
  }
}

export function wrap(handle: unknown): Tensor {
  return new Tensor(handle as NativeTensor);
}

export function wrapList(handles: unknown): Tensor[] {
  return (handles as NativeTensor[]).map((h) => new Tensor(h));
}

function inPlace<T extends Tensor>(self: T, alias: unknown): T {
  (alias as NativeTensor).dispose();
  return self;
}
