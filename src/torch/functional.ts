// Neural-network functions (torch.nn.functional and friends) over ATen operators.
import { aten, hasAten } from './aten.js';
import { Tensor, wrap } from './tensor.js';

const op = {
  cat: aten('cat'),
  stack: aten('stack'),
  whereT: aten('where', 'self'),
  whereSO: aten('where', 'ScalarOther'),
  whereSS: aten('where', 'ScalarSelf'),
  whereS: aten('where', 'Scalar'),
  linear: aten('linear'),
  layerNorm: aten('layer_norm'),
  groupNorm: aten('group_norm'),
  conv1d: aten('conv1d'),
  conv2d: aten('conv2d'),
  conv3d: aten('conv3d'),
  constantPad: aten('constant_pad_nd'),
  replicationPad1d: aten('replication_pad1d'),
  replicationPad2d: aten('replication_pad2d'),
  replicationPad3d: aten('replication_pad3d'),
  nearest1d: aten('upsample_nearest1d', 'vec'),
  nearest2d: aten('upsample_nearest2d', 'vec'),
  nearest3d: aten('upsample_nearest3d', 'vec'),
  nearestExact1d: aten('_upsample_nearest_exact1d', 'vec'),
  nearestExact2d: aten('_upsample_nearest_exact2d', 'vec'),
  nearestExact3d: aten('_upsample_nearest_exact3d', 'vec'),
  bilinear2d: aten('upsample_bilinear2d', 'vec'),
  trilinear3d: aten('upsample_trilinear3d', 'vec'),
  embedding: aten('embedding'),
  mseLoss: aten('mse_loss'),
  sdpa: aten('scaled_dot_product_attention'),
};

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return wrap(
    op.cat(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return wrap(
    op.stack(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}
/** condition ? a : b, elementwise with broadcasting. */
export function where(condition: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const c = condition.handle;
  if (a instanceof Tensor && b instanceof Tensor) return wrap(op.whereT(c, a.handle, b.handle));
  if (a instanceof Tensor) return wrap(op.whereSO(c, a.handle, b));
  if (b instanceof Tensor) return wrap(op.whereSS(c, a, b.handle));
  return wrap(op.whereS(c, a, b));
}

/** y = x Wᵀ + b, W stored [out, in] as in PyTorch. */
export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return wrap(op.linear(input.handle, weight.handle, bias?.handle ?? null));
}
export function layerNorm(
  input: Tensor,
  normalizedShape: readonly number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  return wrap(
    op.layerNorm(input.handle, [...normalizedShape], weight?.handle ?? null, bias?.handle ?? null, eps, true),
  );
}
export function groupNorm(
  input: Tensor,
  numGroups: number,
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  return wrap(op.groupNorm(input.handle, numGroups, weight?.handle ?? null, bias?.handle ?? null, eps, true));
}

export interface ConvOptions {
  stride?: number | number[];
  padding?: number | number[];
  dilation?: number | number[];
  groups?: number;
}
function conv(
  fn: typeof op.conv1d,
  input: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  o: ConvOptions,
): Tensor {
  return wrap(
    fn(
      input.handle,
      weight.handle,
      bias?.handle ?? null,
      o.stride ?? 1,
      o.padding ?? 0,
      o.dilation ?? 1,
      o.groups ?? 1,
    ),
  );
}
export function conv1d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvOptions = {}): Tensor {
  return conv(op.conv1d, input, weight, bias, options);
}
export function conv2d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvOptions = {}): Tensor {
  return conv(op.conv2d, input, weight, bias, options);
}
export function conv3d(input: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvOptions = {}): Tensor {
  return conv(op.conv3d, input, weight, bias, options);
}

/**
 * Pads the last dims, `pad` listed from the last dim backwards as in F.pad:
 * (left, right, top, bottom, front, back). Modes: constant (value) or replicate.
 */
export function pad(
  input: Tensor,
  padding: readonly number[],
  mode: 'constant' | 'replicate' = 'constant',
  value = 0,
): Tensor {
  if (padding.length % 2 !== 0)
    throw new RangeError(`pad: expected an even number of pad sizes, got ${padding.length}`);
  if (mode === 'constant') return wrap(op.constantPad(input.handle, [...padding], value));
  const dims = padding.length / 2;
  const fn = [op.replicationPad1d, op.replicationPad2d, op.replicationPad3d][dims - 1];
  if (!fn) throw new RangeError(`pad: replicate pads 1 to 3 dims, got ${dims}`);
  return wrap(fn(input.handle, [...padding]));
}

export type InterpolateMode = 'nearest' | 'nearest-exact' | 'bilinear' | 'trilinear';

/** Resizes the spatial dims of [N, C, ...] to `size` or by `scaleFactor` (F.interpolate). */
export function interpolate(
  input: Tensor,
  {
    size,
    scaleFactor,
    mode = 'nearest',
    alignCorners = false,
  }: {
    size?: readonly number[];
    scaleFactor?: number | readonly number[];
    mode?: InterpolateMode;
    alignCorners?: boolean;
  },
): Tensor {
  const spatial = input.ndim - 2;
  if ((size === undefined) === (scaleFactor === undefined))
    throw new TypeError('interpolate: give exactly one of size and scaleFactor');
  const outputSize = size ? [...size] : null;
  const scales =
    scaleFactor === undefined
      ? null
      : typeof scaleFactor === 'number'
        ? new Array<number>(spatial).fill(scaleFactor)
        : [...scaleFactor];
  const h = input.handle;
  switch (mode) {
    case 'nearest': {
      const fn = [op.nearest1d, op.nearest2d, op.nearest3d][spatial - 1];
      if (!fn) throw new RangeError(`interpolate: nearest takes 3-5 dims, got ${input.ndim}`);
      return wrap(fn(h, outputSize, scales));
    }
    case 'nearest-exact': {
      const fn = [op.nearestExact1d, op.nearestExact2d, op.nearestExact3d][spatial - 1];
      if (!fn) throw new RangeError(`interpolate: nearest-exact takes 3-5 dims, got ${input.ndim}`);
      return wrap(fn(h, outputSize, scales));
    }
    case 'bilinear':
      if (spatial !== 2) throw new RangeError(`interpolate: bilinear takes 4 dims, got ${input.ndim}`);
      return wrap(op.bilinear2d(h, outputSize, alignCorners, scales));
    case 'trilinear':
      if (spatial !== 3) throw new RangeError(`interpolate: trilinear takes 5 dims, got ${input.ndim}`);
      return wrap(op.trilinear3d(h, outputSize, alignCorners, scales));
  }
}

export function embedding(indices: Tensor, weight: Tensor): Tensor {
  return wrap(op.embedding(weight.handle, indices.handle, -1, false, false));
}

const reductions = { none: 0, mean: 1, sum: 2 } as const;
export function mseLoss(input: Tensor, target: Tensor, reduction: keyof typeof reductions = 'mean'): Tensor {
  return wrap(op.mseLoss(input.handle, target.handle, reductions[reduction]));
}

export function silu(x: Tensor): Tensor {
  return x.silu();
}
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return x.gelu(approximate);
}
export function softmax(x: Tensor, dim: number): Tensor {
  return x.softmax(dim);
}

let nativeSdpa: boolean | undefined;
/** Whether this libtorch has its own attention kernel (2.x); 1.13 uses the math path below. */
export function hasNativeAttention(): boolean {
  return (nativeSdpa ??= hasAten('scaled_dot_product_attention'));
}

/** Query rows per block in the math path: bounds the [rows, keys] score matrix. */
const SCORE_BUDGET_ELEMENTS = 1 << 25;

/**
 * softmax(q kᵀ · scale + mask) v over [..., L, E] queries and [..., S, E] keys/values; scale
 * defaults to 1/√E. libtorch's fused kernel where it has one; otherwise exact math in blocks of
 * queries (softmax in float32 for 16-bit inputs), so memory stays bounded for long sequences.
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  { mask = null, scale }: { mask?: Tensor | null; scale?: number } = {},
): Tensor {
  const headDim = q.size(-1);
  const s = scale ?? 1 / Math.sqrt(headDim);
  if (hasNativeAttention()) {
    // The `scale` argument exists from 2.1; pre-scaling q is exact otherwise.
    if (scale === undefined) return wrap(op.sdpa(q.handle, k.handle, v.handle, mask?.handle ?? null, 0, false));
    using scaled = q.mul(s * Math.sqrt(headDim));
    return wrap(op.sdpa(scaled.handle, k.handle, v.handle, mask?.handle ?? null, 0, false));
  }
  return mathAttention(q, k, v, mask, s);
}

/** Exact attention in blocks of query rows; exported for tests against the fused kernel. */
export function mathAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, scale: number): Tensor {
  const queries = q.size(-2);
  const keys = k.size(-2);
  const batch = q.numel() / (queries * q.size(-1));
  const rows = Math.max(1, Math.floor(SCORE_BUDGET_ELEMENTS / Math.max(1, batch * keys)));
  const kT = k.transpose(-2, -1);
  // Scaling q ([L, E]) costs less than scaling the [L, S] scores.
  const qScaled = q.mul(scale);
  const blocks: Tensor[] = [];
  try {
    for (let start = 0; start < queries; start += rows) {
      const length = Math.min(rows, queries - start);
      const qBlock = qScaled.narrow(-2, start, length);
      const scores = qBlock.matmul(kT);
      let masked = scores;
      if (mask) {
        const maskBlock = mask.size(-2) === 1 ? mask : mask.narrow(-2, start, length);
        masked = mask.dtype === 'bool' ? where(maskBlock, scores, -Infinity) : scores.add(maskBlock);
        if (maskBlock !== mask) maskBlock.dispose();
      }
      const half = masked.dtype === 'bfloat16' || masked.dtype === 'float16';
      const weights = half ? masked.softmax(-1, 'float32') : masked.softmax(-1);
      const typed = weights.dtype === v.dtype ? weights : weights.to({ dtype: v.dtype });
      blocks.push(typed.matmul(v));
      for (const t of new Set([qBlock, scores, masked, weights, typed])) t.dispose();
    }
    return blocks.length === 1 ? blocks[0]! : cat(blocks, -2);
  } finally {
    kT.dispose();
    qScaled.dispose();
    if (blocks.length > 1) for (const b of blocks) b.dispose();
  }
}
