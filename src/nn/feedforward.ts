import { scope, type Tensor } from '../torch/index.js';
import type { LayerOptions } from './init.js';
import { Linear } from './linear.js';
import { Module } from './module.js';

/** diffusers GELU(approximate='tanh'): a projection then gelu-tanh; its Linear is `proj`. */
export class GeluProjection extends Module {
  readonly proj: Linear;
  constructor(dimIn: number, dimOut: number, options: LayerOptions = {}) {
    super();
    this.proj = this.registerModule('proj', new Linear(dimIn, dimOut, options));
  }
  forward(x: Tensor): Tensor {
    return scope(() => this.proj.forward(x).gelu('tanh'));
  }
}

/** Children named '0', '1', … as nn.Sequential; dropout (index 1) has no parameters and is the identity at p = 0. */
class FeedForwardLayers extends Module {
  constructor(
    readonly act: GeluProjection,
    readonly out: Linear,
  ) {
    super();
    this.registerModule('0', act);
    this.registerModule('2', out);
  }
}

/** diffusers FeedForward with activation 'gelu-approximate': net.0.proj, then net.2 back to dim. */
export class FeedForward extends Module {
  readonly net: FeedForwardLayers;
  constructor(dim: number, innerDim: number, options: LayerOptions = {}) {
    super();
    this.net = this.registerModule(
      'net',
      new FeedForwardLayers(new GeluProjection(dim, innerDim, options), new Linear(innerDim, dim, options)),
    );
  }
  forward(x: Tensor): Tensor {
    return scope(() => this.net.out.forward(this.net.act.forward(x)));
  }
}
