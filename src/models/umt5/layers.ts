// UMT5's layers: the T5 RMS norm, bidirectional relative-position buckets, self-attention with a
// per-layer position bias and no 1/√d scaling, and the gated-GELU feed-forward.
import { consume, embedding, tensor, type Tensor } from '../../torch/index.js';
import { constantParameter, uniformParameter, type LayerOptions } from '../../nn/init.js';
import { Linear } from '../../nn/linear.js';
import { Module } from '../../nn/module.js';

/**
 * T5 norm: x·rsqrt(mean(x²) + eps) in float32 (float64 stays float64; no mean subtraction, no
 * bias), cast to the weight dtype, times weight.
 */
export class UMT5LayerNorm extends Module {
  readonly weight: Tensor;

  constructor(
    dim: number,
    readonly eps: number,
    options: LayerOptions = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', constantParameter([dim], 1, options));
  }

  forward(x: Tensor): Tensor {
    const wide = x.dtype === 'float64' ? x.clone() : x.float();
    const variance = consume(wide.square(), (t) => t.mean(-1, true));
    const scale = consume(variance.add(this.eps), (t) => t.rsqrt());
    variance.dispose();
    let y = wide.mul(scale);
    wide.dispose();
    scale.dispose();
    if (this.weight.dtype !== y.dtype) y = consume(y, (t) => t.to({ dtype: this.weight.dtype }));
    return consume(y, (t) => t.mul(this.weight));
  }
}

/**
 * T5's bidirectional bucket of rel = key − query: half the buckets per sign (+half for rel > 0),
 * exact below half of those, then logarithmic up to max_distance, capped at the last bucket.
 */
export function relativePositionBucket(rel: number, numBuckets = 32, maxDistance = 128): number {
  const half = numBuckets / 2;
  const maxExact = half / 2;
  const n = Math.abs(rel);
  const base = rel > 0 ? half : 0;
  if (n < maxExact) return base + n;
  const large = maxExact + Math.floor((Math.log(n / maxExact) / Math.log(maxDistance / maxExact)) * (half - maxExact));
  return base + Math.min(large, half - 1);
}

export class UMT5Attention extends Module {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly relative_attention_bias: Module & { weight: Tensor };

  constructor(
    readonly dModel: number,
    readonly numHeads: number,
    readonly dKv: number,
    readonly numBuckets: number,
    readonly maxDistance: number,
    options: LayerOptions = {},
  ) {
    super();
    const inner = numHeads * dKv;
    this.q = this.registerModule('q', new Linear(dModel, inner, { bias: false, ...options }));
    this.k = this.registerModule('k', new Linear(dModel, inner, { bias: false, ...options }));
    this.v = this.registerModule('v', new Linear(dModel, inner, { bias: false, ...options }));
    this.o = this.registerModule('o', new Linear(inner, dModel, { bias: false, ...options }));
    this.relative_attention_bias = this.registerModule(
      'relative_attention_bias',
      new EmbeddingTable(numBuckets, numHeads, options),
    );
  }

  /** [1, H, L, L] bias from this layer's table. */
  positionBias(length: number): Tensor {
    const buckets = new Int32Array(length * length);
    for (let qi = 0; qi < length; qi++)
      for (let ki = 0; ki < length; ki++)
        buckets[qi * length + ki] = relativePositionBucket(ki - qi, this.numBuckets, this.maxDistance);
    const index = tensor(buckets, {
      shape: [length, length],
      dtype: 'int64',
      device: this.relative_attention_bias.weight.device,
    });
    const table = consume(index, (i) => embedding(i, this.relative_attention_bias.weight));
    return consume(table, (t) => t.permute(2, 0, 1).unsqueeze(0));
  }

  /** x [B, L, D]; maskBias [B, 1, 1, L] additive (dtype min at padded keys) or null. */
  forward(x: Tensor, maskBias: Tensor | null): Tensor {
    const [b, l] = x.shape as [number, number, number];
    const heads = (layer: Linear): Tensor =>
      consume(layer.forward(x), (t) => t.view(b, l, this.numHeads, this.dKv).transpose(1, 2));
    const q = heads(this.q);
    const kT = consume(heads(this.k), (t) => t.transpose(-2, -1));
    let scores = q.matmul(kT);
    q.dispose();
    kT.dispose();
    const bias = this.positionBias(l);
    const fullBias = maskBias ? consume(bias, (t) => t.add(maskBias)) : bias;
    scores = consume(scores, (t) => t.add(fullBias));
    fullBias.dispose();
    const softmaxDtype = x.dtype === 'float64' ? 'float64' : 'float32';
    const weights = consume(
      consume(scores, (t) => t.softmax(-1, softmaxDtype)),
      (t) => t.to({ dtype: x.dtype }),
    );
    const v = heads(this.v);
    const out = consume(weights, (t) => t.matmul(v));
    v.dispose();
    const merged = consume(out, (t) => t.transpose(1, 2).reshape(b, l, this.numHeads * this.dKv));
    return consume(merged, (t) => this.o.forward(t));
  }
}

/** nn.Embedding's weight [num, dim] (the relative-position table and the token embedding). */
export class EmbeddingTable extends Module {
  readonly weight: Tensor;
  constructor(num: number, dim: number, options: LayerOptions) {
    super();
    this.weight = this.registerParameter('weight', uniformParameter([num, dim], 1, options));
  }
}

/** wo(gelu_tanh(wi_0 h) · wi_1 h). */
export class UMT5DenseGatedActDense extends Module {
  readonly wi_0: Linear;
  readonly wi_1: Linear;
  readonly wo: Linear;

  constructor(dModel: number, dFf: number, options: LayerOptions = {}) {
    super();
    this.wi_0 = this.registerModule('wi_0', new Linear(dModel, dFf, { bias: false, ...options }));
    this.wi_1 = this.registerModule('wi_1', new Linear(dModel, dFf, { bias: false, ...options }));
    this.wo = this.registerModule('wo', new Linear(dFf, dModel, { bias: false, ...options }));
  }

  forward(h: Tensor): Tensor {
    const gate = consume(this.wi_0.forward(h), (t) => t.gelu('tanh'));
    const up = this.wi_1.forward(h);
    const product = consume(gate, (t) => t.mul(up));
    up.dispose();
    return consume(product, (t) => this.wo.forward(t));
  }
}
