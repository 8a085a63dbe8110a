import { ModelInputError } from '../errors.js';
import { conv2d, conv3d, linear, scope, type Tensor } from '../torch/index.js';
import { uniformParameter, type LayerOptions } from './init.js';
import { Module } from './module.js';

type Triple = readonly [number, number, number];
const triple = (v: number | Triple): Triple => (typeof v === 'number' ? [v, v, v] : v);

/** torch.nn.Conv3d (weight [out, in, kt, kh, kw]), PyTorch's default initialisation. */
export class Conv3d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly kernelSize: Triple;
  readonly stride: Triple;
  readonly padding: Triple;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | Triple,
    {
      stride = 1,
      padding = 0,
      bias = true,
      ...options
    }: LayerOptions & { stride?: number | Triple; padding?: number | Triple; bias?: boolean } = {},
  ) {
    super();
    this.kernelSize = triple(kernelSize);
    this.stride = triple(stride);
    this.padding = triple(padding);
    const fanIn = inChannels * this.kernelSize[0] * this.kernelSize[1] * this.kernelSize[2];
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = this.registerParameter(
      'weight',
      uniformParameter([outChannels, inChannels, ...this.kernelSize], bound, options),
    );
    this.bias = bias ? this.registerParameter('bias', uniformParameter([outChannels], bound, options)) : null;
  }

  /** Non-overlapping patches (stride = kernel, no padding), as in patch embeddings. */
  get isPatchwise(): boolean {
    return this.padding.every((p) => p === 0) && this.stride.every((s, i) => s === this.kernelSize[i]);
  }

  forward(x: Tensor): Tensor {
    if (!this.isPatchwise)
      return conv3d(x, this.weight, this.bias, { stride: [...this.stride], padding: [...this.padding] });
    // Same math as the conv, as one matmul over non-overlapping patches.
    return scope(() => {
      const [b, , f, h, w] = x.shape as [number, number, number, number, number];
      const [kt, kh, kw] = this.kernelSize;
      return this.tokens(x)
        .reshape(b, f / kt, h / kh, w / kw, this.outChannels)
        .permute(0, 4, 1, 2, 3)
        .contiguous();
    });
  }

  /**
   * Patchwise only: [B, C, F, H, W] -> [B, F'·H'·W', out] with tokens in (f, h, w) order, i.e.
   * forward(x).flatten(2).transpose(1, 2) without the detour.
   */
  tokens(x: Tensor): Tensor {
    if (!this.isPatchwise) throw new Error('Conv3d.tokens needs stride = kernel and no padding');
    const [kt, kh, kw] = this.kernelSize;
    const [b, c, f, h, w] = x.shape as [number, number, number, number, number];
    if (c !== this.inChannels || f % kt || h % kh || w % kw) {
      throw new ModelInputError(
        `Conv3d: input [${x.shape.join(', ')}] does not tile into ${this.inChannels}-channel patches of [${kt}, ${kh}, ${kw}]`,
      );
    }
    return scope(() => {
      const patches = x
        .reshape(b, c, f / kt, kt, h / kh, kh, w / kw, kw)
        .permute(0, 2, 4, 6, 1, 3, 5, 7)
        .reshape(b, (f / kt) * (h / kh) * (w / kw), c * kt * kh * kw);
      return linear(patches, this.weight.reshape(this.outChannels, -1), this.bias);
    });
  }
}

type Pair = readonly [number, number];
const pair = (v: number | Pair): Pair => (typeof v === 'number' ? [v, v] : v);

/** torch.nn.Conv2d (weight [out, in, kh, kw]), PyTorch's default initialisation. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: Pair;
  readonly padding: Pair;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: number | Pair,
    {
      stride = 1,
      padding = 0,
      bias = true,
      ...options
    }: LayerOptions & { stride?: number | Pair; padding?: number | Pair; bias?: boolean } = {},
  ) {
    super();
    const [kh, kw] = pair(kernelSize);
    this.stride = pair(stride);
    this.padding = pair(padding);
    const bound = 1 / Math.sqrt(inChannels * kh * kw);
    this.weight = this.registerParameter('weight', uniformParameter([outChannels, inChannels, kh, kw], bound, options));
    this.bias = bias ? this.registerParameter('bias', uniformParameter([outChannels], bound, options)) : null;
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: [...this.stride], padding: [...this.padding] });
  }
}
