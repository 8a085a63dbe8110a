import { conv3d, type Tensor } from '../torch/index.js';
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
    { stride = 1, padding = 0, bias = true, ...options }: LayerOptions & { stride?: number | Triple; padding?: number | Triple; bias?: boolean } = {},
  ) {
    super();
    this.kernelSize = triple(kernelSize);
    this.stride = triple(stride);
    this.padding = triple(padding);
    const fanIn = inChannels * this.kernelSize[0] * this.kernelSize[1] * this.kernelSize[2];
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = this.registerParameter('weight', uniformParameter([outChannels, inChannels, ...this.kernelSize], bound, options));
    this.bias = bias ? this.registerParameter('bias', uniformParameter([outChannels], bound, options)) : null;
  }

  forward(x: Tensor): Tensor {
    return conv3d(x, this.weight, this.bias, { stride: [...this.stride], padding: [...this.padding] });
  }
}
