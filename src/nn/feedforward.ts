import type { Tensor } from '../torch/index.js';
import type { LayerOptions } from './init.js';
import { Linear, type Layer } from './linear.js';
import { Module } from './module.js';

/** diffusers GELU(approximate='tanh'): a projection then gelu-tanh; its Linear is `proj`. */
export class GeluProjection extends Module {
  readonly proj: Linear;
  constructor(dimIn: number, dimOut: number, options: LayerOptions = {}) {
    super();
    this.proj = this.registerModule('proj', new Linear(dimIn, dimOut, options));
  }
  forward(x: Tensor): Tensor {
    const h = this.proj.forward(x);
    const y = h.gelu('tanh');
    h.dispose();
    return y;
  }
}

/**
 * diffusers FeedForward with activation 'gelu-approximate': net.0 = GeluProjection (net.0.proj),
 * net.1 = dropout (no parameters, identity at p = 0), net.2 = Linear back to dim.
 */
export class FeedForward extends Module {
  readonly net: Module;
  constructor(dim: number, innerDim: number, options: LayerOptions = {}) {
    super();
    this.net = this.registerModule('net', new FeedForwardLayers(dim, innerDim, options));
  }
  forward(x: Tensor): Tensor {
    const layers = this.net as FeedForwardLayers;
    const h = layers.act.forward(x);
    const y = layers.out.forward(h);
    h.dispose();
    return y;
  }
}

class FeedForwardLayers extends Module {
  act: GeluProjection;
  out: Layer;
  constructor(dim: number, innerDim: number, options: LayerOptions) {
    super();
    this.act = this.registerModule('0', new GeluProjection(dim, innerDim, options));
    this.out = this.registerModule('2', new Linear(innerDim, dim, options));
  }
  override replaceChild(name: string, module: Module): void {
    super.replaceChild(name, module);
    if (name === '0') this.act = module as GeluProjection;
    if (name === '2') this.out = module as Layer;
  }
}
